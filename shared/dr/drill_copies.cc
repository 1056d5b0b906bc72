#include "dr/drill_copies.h"

#include "storage/driver.h"

namespace kdr::dr {

bool CopiedForDrill(const storage::ConsistencyGroup& cg, DrillCopies which) {
  return cg.role != storage::CgRole::kInventory || which == DrillCopies::kWithInventory;
}

Result<std::vector<storage::ConsistencyGroup>> PrepareDrillCopies(
    storage::Driver& driver, const std::vector<storage::ConsistencyGroup>& groups,
    const std::function<storage::Deadline()>& deadline, DrillCopies which) {
  std::vector<storage::ConsistencyGroup> copies;
  for (const storage::ConsistencyGroup& cg : groups) {
    if (!CopiedForDrill(cg, which)) continue;
    KDR_ASSIGN_OR_RETURN(storage::ConsistencyGroup copy, driver.PrepareDrill(cg, deadline()));
    copies.push_back(std::move(copy));
  }
  return copies;
}

}  // namespace kdr::dr
