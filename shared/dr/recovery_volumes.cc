#include "dr/recovery_volumes.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/strings.h"

namespace kdr::dr {
namespace {

std::string GroupOf(const inventory::VolumeMapEntry& v) {
  auto it = v.storage.find("group");
  return it == v.storage.end() ? "" : it->second;
}

}  // namespace

Result<inventory::VolumeMap> RecoveryVolumes(const inventory::VolumeMap& volumes,
                                             const std::vector<std::string>& namespaces) {
  const std::set<std::string> wanted(namespaces.begin(), namespaces.end());
  inventory::VolumeMap kept;
  std::set<std::string> kept_groups;
  for (const inventory::VolumeMapEntry& v : volumes) {
    if (v.inventory || wanted.count(v.pvc_namespace)) {
      kept.push_back(v);
      if (!v.inventory && !GroupOf(v).empty()) kept_groups.insert(GroupOf(v));
    }
  }
  std::map<std::string, std::vector<std::string>> taken_along;  // group -> claims outside the subset
  std::set<std::string> outside_namespaces;
  for (const inventory::VolumeMapEntry& v : volumes) {
    if (v.inventory || wanted.count(v.pvc_namespace)) continue;
    if (kept_groups.count(GroupOf(v))) {
      taken_along[GroupOf(v)].push_back(v.pvc_namespace + "/" + v.pvc_name);
      outside_namespaces.insert(v.pvc_namespace);
    }
  }
  if (!taken_along.empty()) {
    std::vector<std::string> parts;
    for (const auto& [group, claims] : taken_along) {
      parts.push_back("group " + Quote(group) + " also holds " + Join(claims, ", "));
    }
    std::vector<std::string> all(namespaces);
    all.insert(all.end(), outside_namespaces.begin(), outside_namespaces.end());
    return Status::FailedPrecondition(
        "the recovery's namespaces share storage groups with namespaces it leaves on the source (" +
        Join(parts, "; ") + "): a group fails over as a whole, so those claims would move too. Recover their " +
        "namespaces with it (--namespaces " + Join(all, ",") + ") or put them in groups of their own");
  }
  return kept;
}

}  // namespace kdr::dr
