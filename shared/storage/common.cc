#include "storage/common.h"

#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "dr/types.h"

namespace kdr::storage {

using nlohmann::json;

void CheckKeys(std::string_view where, const std::map<std::string, std::string>& values,
               std::initializer_list<KeySpec> known, std::vector<std::string>* problems) {
  std::vector<std::string> names;
  for (const KeySpec& k : known) names.emplace_back(k.key);
  for (const auto& [key, value] : values) {
    bool ok = false;
    for (const KeySpec& k : known) ok = ok || k.key == key;
    if (!ok) {
      // DidYouMean starts with "; " for flowing text; here it goes in parentheses.
      std::string hint = DidYouMean(key, names);
      if (StartsWith(hint, "; ")) hint = " (" + hint.substr(2) + ")";
      problems->push_back(std::string(where) + ": unknown key " + Quote(key) + hint);
    }
  }
  for (const KeySpec& k : known) {
    if (!k.required) continue;
    auto it = values.find(std::string(k.key));
    if (it == values.end() || it->second.empty()) {
      problems->push_back(std::string(where) + ": missing key " + Quote(k.key));
    }
  }
}

Status Problems(std::string_view what, const std::vector<std::string>& problems) {
  if (problems.empty()) return Status::Ok();
  return Status::InvalidArgument(std::string(what) + ": " + Join(problems, "; "));
}

bool IsInventory(const dr::DRPlan& plan, const inventory::VolumeMapEntry& entry) {
  return entry.inventory || (entry.pvc_namespace == plan.spec.inventory_pvc_namespace &&
                             entry.pvc_name == plan.spec.inventory_pvc_name);
}

std::string PvcName(const inventory::VolumeMapEntry& entry) {
  return entry.pvc_namespace + "/" + entry.pvc_name;
}

Result<std::vector<ConsistencyGroup>> SplitInventoryAndWorkloads(
    const dr::DRPlan& plan, const inventory::VolumeMap& volumes) {
  ConsistencyGroup inv, work;
  inv.plan = work.plan = plan.metadata.name;
  inv.role = CgRole::kInventory;
  inv.name = "inventory";
  work.role = CgRole::kWorkloads;
  work.name = "workloads";
  for (const auto& e : volumes) {
    Volume v;
    v.captured = e;
    (IsInventory(plan, e) ? inv : work).volumes.push_back(std::move(v));
  }
  if (inv.volumes.empty()) {
    return Status::FailedPrecondition(
        "the volume map has no entry for the plan's inventory pvc " +
        plan.spec.inventory_pvc_namespace + "/" + plan.spec.inventory_pvc_name +
        "; capture the inventory again (kubectl dr inventory capture --plan " +
        plan.metadata.name + ")");
  }
  std::vector<ConsistencyGroup> out{std::move(inv)};
  if (!work.volumes.empty()) out.push_back(std::move(work));
  return out;
}

json CsiPv(const inventory::VolumeMapEntry& entry, std::string_view name, std::string_view driver,
           std::string_view volume_handle) {
  json csi = {{"driver", driver}, {"volumeHandle", volume_handle}};
  if (!entry.fs_type.empty()) csi["fsType"] = entry.fs_type;
  json spec = {{"capacity", {{"storage", entry.capacity}}},
               {"accessModes", entry.access_modes},
               {"persistentVolumeReclaimPolicy",
                entry.reclaim_policy.empty() ? "Retain" : entry.reclaim_policy},
               {"volumeMode", entry.volume_mode.empty() ? "Filesystem" : entry.volume_mode},
               {"claimRef",
                {{"apiVersion", "v1"},
                 {"kind", "PersistentVolumeClaim"},
                 {"namespace", entry.pvc_namespace},
                 {"name", entry.pvc_name}}},
               {"csi", csi}};
  if (!entry.storage_class.empty()) spec["storageClassName"] = entry.storage_class;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", {{"name", name}, {"annotations", {{"pv.kubernetes.io/provisioned-by", driver}}}}},
          {"spec", spec}};
}

std::string BoundedName(std::string_view base, std::string_view suffix, size_t max) {
  if (base.size() + suffix.size() <= max) return std::string(base) + std::string(suffix);
  uint32_t h = 2166136261u;  // FNV-1a: short, stable across runs and builds
  for (unsigned char c : base) {
    h ^= c;
    h *= 16777619u;
  }
  char hex[9];
  std::snprintf(hex, sizeof(hex), "%08x", h);
  size_t keep = max - suffix.size() - 9;
  std::string out(base.substr(0, keep));
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  return out + "-" + hex + std::string(suffix);
}

}  // namespace kdr::storage
