#include "storage/driver.h"

namespace kdr::storage {

std::string_view ToString(CgRole role) {
  return role == CgRole::kInventory ? "inventory" : "workloads";
}

std::string_view ToString(Replication r) {
  switch (r) {
    case Replication::kReplicating: return "replicating";
    case Replication::kFailingOver: return "failing over";
    case Replication::kFailedOver: return "failed over";
    case Replication::kReversed: return "reversed";
    case Replication::kExternal: return "external";
    case Replication::kUnknown: return "unknown";
  }
  return "unknown";
}

}  // namespace kdr::storage
