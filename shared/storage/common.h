#pragma once

// Helpers the drivers share (not part of the storage API): parameter checking that lists every
// problem at once, plan/volume-map bookkeeping and PV building blocks.

#include <initializer_list>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "inventory/volume_map.h"
#include "storage/driver.h"

namespace kdr::dr {
struct DRPlan;
}

namespace kdr::storage {

// Labels kubectl-dr puts on the backend objects it creates (Longhorn volumes and backups).
inline constexpr std::string_view kPlanLabel = "dr.kubectl-dr.dev/plan";
inline constexpr std::string_view kSourceVolumeLabel = "dr.kubectl-dr.dev/source-volume";
inline constexpr std::string_view kDrillLabel = "dr.kubectl-dr.dev/drill";

struct KeySpec {
  std::string_view key;
  bool required = false;
};

// Appends to *problems one line per key of `values` not in `known` ("spec.storage.parameters:
// unknown key \"longhornNamespce\" (did you mean \"longhornNamespace\"?)") and per required key
// missing or empty.
void CheckKeys(std::string_view where, const std::map<std::string, std::string>& values,
               std::initializer_list<KeySpec> known, std::vector<std::string>* problems);

// Ok when problems is empty, else InvalidArgument "<what>: p1; p2; ...".
Status Problems(std::string_view what, const std::vector<std::string>& problems);

// True for the plan's inventory claim (flagged in the map, or named by spec.inventory).
bool IsInventory(const dr::DRPlan& plan, const inventory::VolumeMapEntry& entry);

// "shop/data"
std::string PvcName(const inventory::VolumeMapEntry& entry);

// The CGs of a backend without groups of its own (Longhorn, none): the inventory's entries in
// one, the rest in "workloads" (omitted when empty). FailedPrecondition when the map has no
// entry for the plan's inventory claim.
Result<std::vector<ConsistencyGroup>> SplitInventoryAndWorkloads(
    const dr::DRPlan& plan, const inventory::VolumeMap& volumes);

// A PersistentVolume named `name` with the captured claim's capacity, access modes, volume
// mode, reclaim policy, storage class and a claimRef to the captured claim (no uid), and
// spec.csi {driver, volumeHandle, fsType (when captured)}. The caller adds volumeAttributes
// and secret references.
nlohmann::json CsiPv(const inventory::VolumeMapEntry& entry, std::string_view name,
                     std::string_view driver, std::string_view volume_handle);

// A name of at most `max` characters: `base` + `suffix`, with base cut and a hash of it added
// when too long (so distinct bases stay distinct).
std::string BoundedName(std::string_view base, std::string_view suffix, size_t max);

}  // namespace kdr::storage
