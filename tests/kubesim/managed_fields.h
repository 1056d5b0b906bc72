#pragma once

// metadata.managedFields bookkeeping, as server-side apply's field manager keeps it, at the
// granularity of map keys: a list is one field (kube tracks list items by key; here a change
// to any item is a change of the list). Approximations are named in the comments below.
//
//   Update (create, update, patch, status): the manager gains the fields it set or changed
//     (on create: every field), other managers lose them; entries per (manager, operation,
//     subresource), time refreshed only when the entry changes.
//   Apply: the manager owns exactly the fields of its applied configuration; a field it applied
//     before and not now is removed from the object unless another manager owns it; a field
//     another manager owns with a different value is a conflict (409) unless force, which takes
//     ownership.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace kdr::kubesim {

struct FieldManagerWrite {
  std::string manager;
  std::string operation = "Update";  // "Update" or "Apply"
  std::string api_version;           // of the request
  std::string subresource;           // "" or "status"
  std::string time;                  // RFC 3339
  const nlohmann::json* applied = nullptr;  // Apply: the applied configuration
  bool force = false;                       // Apply: ?force=true
};

struct FieldConflict {
  std::string manager;
  std::string api_version;
  std::string path;  // ".spec.replicas"
};

// Updates (*object)["metadata"]["managedFields"] for a write that turns `old` (null for a
// create) into *object. Apply without force returns the conflicts and changes nothing.
std::vector<FieldConflict> UpdateManagedFields(nlohmann::json* object, const nlohmann::json* old,
                                               const FieldManagerWrite& write);

// kube-apiserver's message for conflicts: `Apply failed with 1 conflict: conflict with
// "kubectl" using apps/v1: .spec.replicas`.
std::string ConflictMessage(const std::vector<FieldConflict>& conflicts);

}  // namespace kdr::kubesim
