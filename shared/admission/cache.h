#pragma once

// StateCache: what the policies know about the cluster, held in memory and fed by list+watch
// (or directly by tests). Policies read it on every admission request; nothing on the request
// path calls the API server.
//
// Holds DRPlans and DRRecoveries (parsed), fenced PVCs (only PVCs carrying the failed-over label
// are kept: an upsert of an unlabelled PVC forgets it), read-only PersistentVolumes (only their
// names), workloads that can scale (only those whose pod template declares a claim with a
// read-write source, or StatefulSets with claim templates, reduced to those names), and
// ConfigMaps (the modifier files), plus compiled modifiers cached per ConfigMap resourceVersion.
// Keeping only what a policy can act on bounds the memory on a large cluster.
//
// Thread-safe: readers share a lock, writers take it alone. Readers get shared_ptrs to immutable
// values, so an entry replaced by a watch event stays valid for the request holding it.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <nlohmann/json_fwd.hpp>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "dr/types.h"

namespace kdr::admission {

struct PvcInfo {
  std::string namespace_name;
  std::string name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string volume_name;  // spec.volumeName: the bound PV, empty while unbound
};

struct PvInfo {
  std::string name;
  bool read_only = false;  // PersistentVolumeReadOnly (pod_volumes.h)
};

// A workload with a scale subresource, reduced to what the fenced-pvc policy checks when it is
// scaled up: its pod template is not in the Scale object the API server sends.
struct WorkloadInfo {
  std::string resource;  // "deployments", "statefulsets", "replicasets", "replicationcontrollers"
  std::string namespace_name;
  std::string name;
  std::vector<std::string> writable_claims;  // declared without persistentVolumeClaim.readOnly
  std::vector<std::string> claim_templates;  // StatefulSet volumeClaimTemplates[].metadata.name
};

struct ConfigMapInfo {
  std::string namespace_name;
  std::string name;
  std::string resource_version;
  std::map<std::string, std::string> data;
};

// The kinds the cache holds; each must be marked synced (its first list applied) before the
// cache is Synced().
enum class CacheKind {
  kPlans, kRecoveries, kPvcs, kConfigMaps, kPvs,
  kDeployments, kStatefulSets, kReplicaSets, kReplicationControllers,
};
inline constexpr CacheKind kAllCacheKinds[] = {
    CacheKind::kPlans,       CacheKind::kRecoveries,   CacheKind::kPvcs,
    CacheKind::kConfigMaps,  CacheKind::kPvs,          CacheKind::kDeployments,
    CacheKind::kStatefulSets, CacheKind::kReplicaSets, CacheKind::kReplicationControllers};
std::string_view CacheKindName(CacheKind kind);  // the resource: "drplans", "deployments", ...
// True for the kinds held as WorkloadInfo.
bool IsWorkloadKind(CacheKind kind);

// Objects as watched, parsed from their JSON. InvalidArgument when the name is missing.
Result<PvcInfo> PvcInfoFromJson(const nlohmann::json& object);  // metadata and spec.volumeName
Result<PvInfo> PvInfoFromJson(const nlohmann::json& object);
// `resource` is the workload's resource ("deployments"), as CacheKindName gives it.
Result<WorkloadInfo> WorkloadInfoFromJson(std::string_view resource, const nlohmann::json& object);
Result<ConfigMapInfo> ConfigMapInfoFromJson(const nlohmann::json& object);

class StateCache {
 public:
  StateCache() = default;
  StateCache(const StateCache&) = delete;
  StateCache& operator=(const StateCache&) = delete;

  // ---- writers (the populator; tests) ----
  void UpsertPlan(dr::DRPlan plan);
  void DeletePlan(std::string_view ns, std::string_view name);
  void UpsertRecovery(dr::DRRecovery recovery);
  void DeleteRecovery(std::string_view ns, std::string_view name);
  // Keeps the PVC when it carries dr::kFailedOverLabel, forgets it otherwise.
  void UpsertPvc(PvcInfo pvc);
  void DeletePvc(std::string_view ns, std::string_view name);
  // Keeps the PV when it is read-only, forgets it otherwise.
  void UpsertPv(PvInfo pv);
  void DeletePv(std::string_view name);
  // Keeps the workload when it has writable claims or claim templates, forgets it otherwise.
  void UpsertWorkload(WorkloadInfo workload);
  void DeleteWorkload(std::string_view resource, std::string_view ns, std::string_view name);
  void UpsertConfigMap(ConfigMapInfo config_map);
  void DeleteConfigMap(std::string_view ns, std::string_view name);
  // A relist: replaces every entry of the kind at once (entries absent from the list are gone).
  void ReplacePlans(std::vector<dr::DRPlan> plans);
  void ReplaceRecoveries(std::vector<dr::DRRecovery> recoveries);
  void ReplacePvcs(std::vector<PvcInfo> pvcs);
  void ReplacePvs(std::vector<PvInfo> pvs);
  // Replaces the workloads of one resource ("deployments").
  void ReplaceWorkloads(std::string_view resource, std::vector<WorkloadInfo> workloads);
  void ReplaceConfigMaps(std::vector<ConfigMapInfo> config_maps);
  // The kind's list was applied: it is in sync (again), whatever MarkStale said before.
  void MarkSynced(CacheKind kind);
  // The kind's watch failed (or stopped for good): what the cache holds of it may be out of date
  // until the next list is applied. since: when it broke (RFC 3339), kept from the first call
  // until MarkSynced; why: the error, the latest kept.
  void MarkStale(CacheKind kind, std::string since, std::string why);

  // ---- readers ----
  // True once every kind in kAllCacheKinds has been listed and none is stale now: the webhook's
  // readiness.
  bool Synced() const;
  // What keeps the cache from being Synced(), in kAllCacheKinds order; empty when it is.
  struct UnsyncedKind {
    CacheKind kind;
    bool listed = false;  // listed once, stale since then
    std::string since;    // RFC 3339; empty when not known
    std::string why;
  };
  std::vector<UnsyncedKind> UnsyncedKinds() const;
  std::shared_ptr<const dr::DRPlan> Plan(std::string_view ns, std::string_view name) const;
  std::shared_ptr<const dr::DRRecovery> Recovery(std::string_view ns,
                                                 std::string_view name) const;
  // True when some recovery in `ns` satisfies pred.
  bool AnyRecovery(std::string_view ns,
                   const std::function<bool(const dr::DRRecovery&)>& pred) const;
  std::shared_ptr<const PvcInfo> FencedPvc(std::string_view ns, std::string_view name) const;
  // Names of the fenced PVCs of a namespace, sorted. Cheap when there are none.
  std::vector<std::string> FencedPvcNames(std::string_view ns) const;
  bool AnyFencedPvcIn(std::string_view ns) const;
  bool ReadOnlyPv(std::string_view name) const;
  // The workload when it is kept (see UpsertWorkload), else null.
  std::shared_ptr<const WorkloadInfo> Workload(std::string_view resource, std::string_view ns,
                                               std::string_view name) const;
  std::shared_ptr<const ConfigMapInfo> ConfigMap(std::string_view ns,
                                                 std::string_view name) const;

  // The value compiled from `cm` at its resourceVersion: computed by compile() once per
  // resourceVersion (a failure is remembered too, so a broken ConfigMap is not recompiled on
  // every request), shared after. Logically const: a memo. compile runs without the lock held; two racing first calls may
  // both compile, one result is kept.
  template <typename T>
  Result<std::shared_ptr<const T>> Compiled(
      const ConfigMapInfo& cm, const std::function<Result<T>(const ConfigMapInfo&)>& compile) const {
    const std::string key = cm.namespace_name + "/" + cm.name;
    if (auto hit = FindCompiled(key, cm.resource_version)) {
      if (!hit->error.ok()) return hit->error;
      return std::static_pointer_cast<const T>(hit->value);
    }
    Result<T> r = compile(cm);
    auto entry = std::make_shared<CompiledEntry>();
    entry->resource_version = cm.resource_version;
    if (r.ok()) {
      entry->value = std::make_shared<const T>(std::move(r).value());
    } else {
      entry->error = r.status();
    }
    StoreCompiled(key, entry);
    if (!entry->error.ok()) return entry->error;
    return std::static_pointer_cast<const T>(entry->value);
  }

  struct Sizes {
    size_t plans = 0;
    size_t recoveries = 0;
    size_t fenced_pvcs = 0;
    size_t config_maps = 0;
    size_t compiled_modifiers = 0;
    size_t read_only_pvs = 0;
    size_t workloads = 0;
  };
  Sizes sizes() const;

 private:
  struct CompiledEntry {
    std::string resource_version;
    std::shared_ptr<const void> value;
    Status error;
  };
  std::shared_ptr<const CompiledEntry> FindCompiled(const std::string& key,
                                                    const std::string& rv) const;
  void StoreCompiled(const std::string& key, std::shared_ptr<const CompiledEntry> entry) const;

  template <typename T>
  using Map = std::map<std::string, std::shared_ptr<const T>, std::less<>>;

  mutable std::shared_mutex mu_;
  Map<dr::DRPlan> plans_;             // "ns/name"
  Map<dr::DRRecovery> recoveries_;    // "ns/name"
  Map<PvcInfo> fenced_pvcs_;          // "ns/name"
  std::map<std::string, size_t, std::less<>> fenced_per_namespace_;
  std::set<std::string, std::less<>> read_only_pvs_;
  Map<WorkloadInfo> workloads_;       // "resource/ns/name"
  Map<ConfigMapInfo> config_maps_;    // "ns/name"
  mutable Map<CompiledEntry> compiled_;  // "ns/name" of the ConfigMap; a memo, hence mutable
  unsigned synced_ = 0;               // bit per CacheKind: listed once
  struct Stale {
    std::string since;
    std::string why;
  };
  std::map<CacheKind, Stale> stale_;  // kinds whose watch broke, until their next list
};

}  // namespace kdr::admission
