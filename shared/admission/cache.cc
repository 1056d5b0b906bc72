#include "admission/cache.h"

#include <nlohmann/json.hpp>

#include "admission/pod_volumes.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

std::string Key(std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(ns.size() + name.size() + 1);
  k.append(ns).push_back('/');
  k.append(name);
  return k;
}

std::map<std::string, std::string> StringMap(const json& obj, const char* key,
                                             const char* where, Status* status) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) {
    *status = Status::InvalidArgument(std::string(where) + ": not a map");
    return out;
  }
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) out.emplace(k, v.get<std::string>());
  }
  return out;
}

bool IsFenced(const PvcInfo& pvc) {
  return pvc.labels.count(std::string(dr::kFailedOverLabel)) > 0;
}

bool Kept(const WorkloadInfo& w) { return !w.writable_claims.empty() || !w.claim_templates.empty(); }

std::string WorkloadKey(std::string_view resource, std::string_view ns, std::string_view name) {
  std::string k(resource);
  k.push_back('/');
  k.append(Key(ns, name));
  return k;
}

// The metadata object of a watched object, or InvalidArgument naming `what`.
Result<const json*> Metadata(const json& object, const char* what) {
  if (!object.is_object()) return Status::InvalidArgument(std::string(what) + ": not an object");
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) {
    return Status::InvalidArgument(std::string(what) + " metadata: missing");
  }
  if (!md->contains("name") || !(*md)["name"].is_string() || (*md)["name"].get_ref<const std::string&>().empty()) {
    return Status::InvalidArgument(std::string(what) + " metadata.name: missing");
  }
  return &*md;
}

}  // namespace

std::string_view CacheKindName(CacheKind kind) {
  switch (kind) {
    case CacheKind::kPlans: return "drplans";
    case CacheKind::kRecoveries: return "drrecoveries";
    case CacheKind::kPvcs: return "persistentvolumeclaims";
    case CacheKind::kConfigMaps: return "configmaps";
    case CacheKind::kPvs: return "persistentvolumes";
    case CacheKind::kDeployments: return "deployments";
    case CacheKind::kStatefulSets: return "statefulsets";
    case CacheKind::kReplicaSets: return "replicasets";
    case CacheKind::kReplicationControllers: return "replicationcontrollers";
  }
  return "unknown";
}

bool IsWorkloadKind(CacheKind kind) {
  return kind == CacheKind::kDeployments || kind == CacheKind::kStatefulSets ||
         kind == CacheKind::kReplicaSets || kind == CacheKind::kReplicationControllers;
}

Result<PvcInfo> PvcInfoFromJson(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("persistentvolumeclaim: not an object");
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) {
    return Status::InvalidArgument("persistentvolumeclaim metadata: missing");
  }
  PvcInfo pvc;
  pvc.name = md->value("name", "");
  pvc.namespace_name = md->value("namespace", "");
  if (pvc.name.empty()) return Status::InvalidArgument("persistentvolumeclaim metadata.name: missing");
  Status st;
  pvc.labels = StringMap(*md, "labels", "metadata.labels", &st);
  pvc.annotations = StringMap(*md, "annotations", "metadata.annotations", &st);
  if (!st.ok()) return st.WithContext("persistentvolumeclaim " + pvc.namespace_name + "/" + pvc.name);
  if (auto spec = object.find("spec"); spec != object.end() && spec->is_object()) {
    pvc.volume_name = spec->value("volumeName", "");
  }
  return pvc;
}

Result<PvInfo> PvInfoFromJson(const json& object) {
  KDR_ASSIGN_OR_RETURN(const json* md, Metadata(object, "persistentvolume"));
  return PvInfo{(*md)["name"].get<std::string>(), PersistentVolumeReadOnly(object)};
}

Result<WorkloadInfo> WorkloadInfoFromJson(std::string_view resource, const json& object) {
  const std::string what(resource);
  KDR_ASSIGN_OR_RETURN(const json* md, Metadata(object, what.c_str()));
  WorkloadInfo w;
  w.resource = what;
  w.name = (*md)["name"].get<std::string>();
  w.namespace_name = md->value("namespace", "");
  const std::string_view group = resource == "replicationcontrollers" ? "" : "apps";
  if (auto tmpl = WorkloadPodTemplate(group, resource, object)) {
    for (const ClaimVolume& cv : ClaimVolumes(*tmpl->spec)) {
      if (!cv.read_only_source) w.writable_claims.push_back(cv.claim);
    }
  }
  if (resource == "statefulsets") {
    auto spec = object.find("spec");
    if (spec != object.end() && spec->is_object()) {
      auto templates = spec->find("volumeClaimTemplates");
      if (templates != spec->end() && templates->is_array()) {
        for (const json& t : *templates) {
          if (!t.is_object() || !t.contains("metadata") || !t["metadata"].is_object()) continue;
          std::string name = t["metadata"].value("name", "");
          if (!name.empty()) w.claim_templates.push_back(std::move(name));
        }
      }
    }
  }
  return w;
}

Result<ConfigMapInfo> ConfigMapInfoFromJson(const nlohmann::json& object) {
  if (!object.is_object()) return Status::InvalidArgument("configmap: not an object");
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) {
    return Status::InvalidArgument("configmap metadata: missing");
  }
  ConfigMapInfo cm;
  cm.name = md->value("name", "");
  cm.namespace_name = md->value("namespace", "");
  cm.resource_version = md->value("resourceVersion", "");
  if (cm.name.empty()) return Status::InvalidArgument("configmap metadata.name: missing");
  Status st;
  cm.data = StringMap(object, "data", "data", &st);
  if (!st.ok()) return st.WithContext("configmap " + cm.namespace_name + "/" + cm.name);
  return cm;
}

void StateCache::UpsertPlan(dr::DRPlan plan) {
  std::string k = Key(plan.metadata.namespace_name, plan.metadata.name);
  auto p = std::make_shared<const dr::DRPlan>(std::move(plan));
  std::unique_lock lock(mu_);
  plans_[std::move(k)] = std::move(p);
}

void StateCache::DeletePlan(std::string_view ns, std::string_view name) {
  std::unique_lock lock(mu_);
  plans_.erase(Key(ns, name));
}

void StateCache::UpsertRecovery(dr::DRRecovery recovery) {
  std::string k = Key(recovery.metadata.namespace_name, recovery.metadata.name);
  auto p = std::make_shared<const dr::DRRecovery>(std::move(recovery));
  std::unique_lock lock(mu_);
  recoveries_[std::move(k)] = std::move(p);
}

void StateCache::DeleteRecovery(std::string_view ns, std::string_view name) {
  std::unique_lock lock(mu_);
  recoveries_.erase(Key(ns, name));
}

void StateCache::UpsertPvc(PvcInfo pvc) {
  std::string k = Key(pvc.namespace_name, pvc.name);
  std::string ns = pvc.namespace_name;
  bool fenced = IsFenced(pvc);
  auto p = std::make_shared<const PvcInfo>(std::move(pvc));
  std::unique_lock lock(mu_);
  auto it = fenced_pvcs_.find(k);
  if (fenced) {
    if (it == fenced_pvcs_.end()) ++fenced_per_namespace_[ns];
    fenced_pvcs_[std::move(k)] = std::move(p);
  } else if (it != fenced_pvcs_.end()) {
    fenced_pvcs_.erase(it);
    if (--fenced_per_namespace_[ns] == 0) fenced_per_namespace_.erase(ns);
  }
}

void StateCache::DeletePvc(std::string_view ns, std::string_view name) {
  std::unique_lock lock(mu_);
  if (fenced_pvcs_.erase(Key(ns, name)) > 0) {
    auto it = fenced_per_namespace_.find(ns);
    if (it != fenced_per_namespace_.end() && --it->second == 0) fenced_per_namespace_.erase(it);
  }
}

void StateCache::UpsertPv(PvInfo pv) {
  std::unique_lock lock(mu_);
  if (pv.read_only) {
    read_only_pvs_.insert(std::move(pv.name));
  } else {
    read_only_pvs_.erase(pv.name);
  }
}

void StateCache::DeletePv(std::string_view name) {
  std::unique_lock lock(mu_);
  if (auto it = read_only_pvs_.find(name); it != read_only_pvs_.end()) read_only_pvs_.erase(it);
}

void StateCache::UpsertWorkload(WorkloadInfo workload) {
  std::string k = WorkloadKey(workload.resource, workload.namespace_name, workload.name);
  const bool keep = Kept(workload);
  auto p = keep ? std::make_shared<const WorkloadInfo>(std::move(workload)) : nullptr;
  std::unique_lock lock(mu_);
  if (keep) {
    workloads_[std::move(k)] = std::move(p);
  } else {
    workloads_.erase(k);
  }
}

void StateCache::DeleteWorkload(std::string_view resource, std::string_view ns,
                                std::string_view name) {
  std::string k = WorkloadKey(resource, ns, name);
  std::unique_lock lock(mu_);
  workloads_.erase(k);
}

void StateCache::UpsertConfigMap(ConfigMapInfo config_map) {
  std::string k = Key(config_map.namespace_name, config_map.name);
  auto p = std::make_shared<const ConfigMapInfo>(std::move(config_map));
  std::unique_lock lock(mu_);
  config_maps_[std::move(k)] = std::move(p);
}

void StateCache::DeleteConfigMap(std::string_view ns, std::string_view name) {
  std::string k = Key(ns, name);
  std::unique_lock lock(mu_);
  config_maps_.erase(k);
  compiled_.erase(k);
}

void StateCache::ReplacePlans(std::vector<dr::DRPlan> plans) {
  Map<dr::DRPlan> fresh;
  for (auto& p : plans) {
    std::string k = Key(p.metadata.namespace_name, p.metadata.name);
    fresh[std::move(k)] = std::make_shared<const dr::DRPlan>(std::move(p));
  }
  std::unique_lock lock(mu_);
  plans_.swap(fresh);
}

void StateCache::ReplaceRecoveries(std::vector<dr::DRRecovery> recoveries) {
  Map<dr::DRRecovery> fresh;
  for (auto& r : recoveries) {
    std::string k = Key(r.metadata.namespace_name, r.metadata.name);
    fresh[std::move(k)] = std::make_shared<const dr::DRRecovery>(std::move(r));
  }
  std::unique_lock lock(mu_);
  recoveries_.swap(fresh);
}

void StateCache::ReplacePvcs(std::vector<PvcInfo> pvcs) {
  Map<PvcInfo> fresh;
  std::map<std::string, size_t, std::less<>> per_ns;
  for (auto& p : pvcs) {
    if (!IsFenced(p)) continue;
    std::string k = Key(p.namespace_name, p.name);
    if (fresh.count(k) == 0) ++per_ns[p.namespace_name];
    fresh[std::move(k)] = std::make_shared<const PvcInfo>(std::move(p));
  }
  std::unique_lock lock(mu_);
  fenced_pvcs_.swap(fresh);
  fenced_per_namespace_.swap(per_ns);
}

void StateCache::ReplacePvs(std::vector<PvInfo> pvs) {
  std::set<std::string, std::less<>> fresh;
  for (auto& pv : pvs) {
    if (pv.read_only) fresh.insert(std::move(pv.name));
  }
  std::unique_lock lock(mu_);
  read_only_pvs_.swap(fresh);
}

void StateCache::ReplaceWorkloads(std::string_view resource, std::vector<WorkloadInfo> workloads) {
  Map<WorkloadInfo> fresh;
  for (auto& w : workloads) {
    if (!Kept(w)) continue;
    std::string k = WorkloadKey(resource, w.namespace_name, w.name);
    fresh[std::move(k)] = std::make_shared<const WorkloadInfo>(std::move(w));
  }
  const std::string prefix = std::string(resource) + "/";
  std::unique_lock lock(mu_);
  auto first = workloads_.lower_bound(prefix);
  auto last = first;
  while (last != workloads_.end() && last->first.compare(0, prefix.size(), prefix) == 0) ++last;
  workloads_.erase(first, last);
  workloads_.merge(fresh);
}

void StateCache::ReplaceConfigMaps(std::vector<ConfigMapInfo> config_maps) {
  Map<ConfigMapInfo> fresh;
  for (auto& c : config_maps) {
    std::string k = Key(c.namespace_name, c.name);
    fresh[std::move(k)] = std::make_shared<const ConfigMapInfo>(std::move(c));
  }
  std::unique_lock lock(mu_);
  config_maps_.swap(fresh);
  // Compiled entries of vanished ConfigMaps go; the others are keyed by resourceVersion anyway.
  for (auto it = compiled_.begin(); it != compiled_.end();) {
    it = config_maps_.count(it->first) ? std::next(it) : compiled_.erase(it);
  }
}

void StateCache::MarkSynced(CacheKind kind) {
  std::unique_lock lock(mu_);
  synced_ |= 1u << static_cast<unsigned>(kind);
  stale_.erase(kind);
}

void StateCache::MarkStale(CacheKind kind, std::string since, std::string why) {
  std::unique_lock lock(mu_);
  auto [it, fresh] = stale_.try_emplace(kind, Stale{std::move(since), ""});
  it->second.why = std::move(why);
}

bool StateCache::Synced() const {
  unsigned all = 0;
  for (CacheKind k : kAllCacheKinds) all |= 1u << static_cast<unsigned>(k);
  std::shared_lock lock(mu_);
  return (synced_ & all) == all && stale_.empty();
}

std::vector<StateCache::UnsyncedKind> StateCache::UnsyncedKinds() const {
  std::vector<UnsyncedKind> out;
  std::shared_lock lock(mu_);
  for (CacheKind k : kAllCacheKinds) {
    const bool listed = (synced_ & (1u << static_cast<unsigned>(k))) != 0;
    auto it = stale_.find(k);
    if (listed && it == stale_.end()) continue;
    UnsyncedKind u{k, listed, "", ""};
    if (it != stale_.end()) {
      u.since = it->second.since;
      u.why = it->second.why;
    }
    out.push_back(std::move(u));
  }
  return out;
}

std::shared_ptr<const dr::DRPlan> StateCache::Plan(std::string_view ns,
                                                   std::string_view name) const {
  std::string k = Key(ns, name);
  std::shared_lock lock(mu_);
  auto it = plans_.find(k);
  return it == plans_.end() ? nullptr : it->second;
}

std::shared_ptr<const dr::DRRecovery> StateCache::Recovery(std::string_view ns,
                                                           std::string_view name) const {
  std::string k = Key(ns, name);
  std::shared_lock lock(mu_);
  auto it = recoveries_.find(k);
  return it == recoveries_.end() ? nullptr : it->second;
}

bool StateCache::AnyRecovery(std::string_view ns,
                             const std::function<bool(const dr::DRRecovery&)>& pred) const {
  std::shared_lock lock(mu_);
  std::string prefix = Key(ns, "");
  for (auto it = recoveries_.lower_bound(prefix);
       it != recoveries_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    if (pred(*it->second)) return true;
  }
  return false;
}

std::shared_ptr<const PvcInfo> StateCache::FencedPvc(std::string_view ns,
                                                     std::string_view name) const {
  std::string k = Key(ns, name);
  std::shared_lock lock(mu_);
  auto it = fenced_pvcs_.find(k);
  return it == fenced_pvcs_.end() ? nullptr : it->second;
}

std::vector<std::string> StateCache::FencedPvcNames(std::string_view ns) const {
  std::vector<std::string> out;
  std::string prefix = Key(ns, "");
  std::shared_lock lock(mu_);
  if (fenced_per_namespace_.find(ns) == fenced_per_namespace_.end()) return out;
  for (auto it = fenced_pvcs_.lower_bound(prefix);
       it != fenced_pvcs_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.push_back(it->second->name);
  }
  return out;
}

bool StateCache::AnyFencedPvcIn(std::string_view ns) const {
  std::shared_lock lock(mu_);
  return fenced_per_namespace_.find(ns) != fenced_per_namespace_.end();
}

bool StateCache::ReadOnlyPv(std::string_view name) const {
  std::shared_lock lock(mu_);
  return read_only_pvs_.find(name) != read_only_pvs_.end();
}

std::shared_ptr<const WorkloadInfo> StateCache::Workload(std::string_view resource,
                                                         std::string_view ns,
                                                         std::string_view name) const {
  std::string k = WorkloadKey(resource, ns, name);
  std::shared_lock lock(mu_);
  auto it = workloads_.find(k);
  return it == workloads_.end() ? nullptr : it->second;
}

std::shared_ptr<const ConfigMapInfo> StateCache::ConfigMap(std::string_view ns,
                                                           std::string_view name) const {
  std::string k = Key(ns, name);
  std::shared_lock lock(mu_);
  auto it = config_maps_.find(k);
  return it == config_maps_.end() ? nullptr : it->second;
}

std::shared_ptr<const StateCache::CompiledEntry> StateCache::FindCompiled(
    const std::string& key, const std::string& rv) const {
  std::shared_lock lock(mu_);
  auto it = compiled_.find(key);
  if (it == compiled_.end() || it->second->resource_version != rv) return nullptr;
  return it->second;
}

void StateCache::StoreCompiled(const std::string& key,
                               std::shared_ptr<const CompiledEntry> entry) const {
  std::unique_lock lock(mu_);
  compiled_[key] = std::move(entry);
}

StateCache::Sizes StateCache::sizes() const {
  std::shared_lock lock(mu_);
  return Sizes{plans_.size(),  recoveries_.size(),    fenced_pvcs_.size(), config_maps_.size(),
               compiled_.size(), read_only_pvs_.size(), workloads_.size()};
}

}  // namespace kdr::admission
