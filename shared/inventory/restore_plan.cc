// What the restore does with each object: its tier, whether it is skipped, where it goes, its
// REST collection, and what the target already holds (one survey before the first write).

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "inventory/restore_internal.h"
#include "kube/client.h"
#include "kube/discovery.h"

namespace kdr::inventory {

std::string ObjectRef::ToString() const {
  return kind + " " + (namespace_name.empty() ? "" : namespace_name + "/") + name;
}

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kCustomResourceDefinitions: return "crds";
    case Tier::kNamespaces: return "namespaces";
    case Tier::kClusterClasses: return "classes";
    case Tier::kPersistentVolumes: return "pvs";
    case Tier::kPersistentVolumeClaims: return "pvcs";
    case Tier::kServiceAccounts: return "serviceaccounts";
    case Tier::kConfiguration: return "config";
    case Tier::kRbac: return "rbac";
    case Tier::kServices: return "services";
    case Tier::kOther: return "other";
    case Tier::kWorkloads: return "workloads";
    case Tier::kQuotas: return "quotas";
  }
  return "other";
}

Tier TierOf(std::string_view group, std::string_view kind) {
  if (group == "apiextensions.k8s.io" && kind == "CustomResourceDefinition") return Tier::kCustomResourceDefinitions;
  if (group.empty()) {
    if (kind == "Namespace") return Tier::kNamespaces;
    if (kind == "PersistentVolume") return Tier::kPersistentVolumes;
    if (kind == "PersistentVolumeClaim") return Tier::kPersistentVolumeClaims;
    if (kind == "ServiceAccount") return Tier::kServiceAccounts;
    if (kind == "Secret" || kind == "ConfigMap") return Tier::kConfiguration;
    if (kind == "Service" || kind == "Endpoints") return Tier::kServices;
    if (kind == "Pod" || kind == "ReplicationController") return Tier::kWorkloads;
    if (kind == "ResourceQuota" || kind == "LimitRange") return Tier::kQuotas;
    return Tier::kOther;
  }
  if ((group == "storage.k8s.io" && kind == "StorageClass") ||
      (group == "scheduling.k8s.io" && kind == "PriorityClass") ||
      (group == "node.k8s.io" && kind == "RuntimeClass")) {
    return Tier::kClusterClasses;
  }
  if (group == "rbac.authorization.k8s.io") return Tier::kRbac;
  if (group == "discovery.k8s.io" && kind == "EndpointSlice") return Tier::kServices;
  if ((group == "apps" && (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
                           kind == "ReplicaSet")) ||
      (group == "batch" && (kind == "Job" || kind == "CronJob")) ||
      (group == "kubevirt.io" && kind == "VirtualMachine")) {
    return Tier::kWorkloads;
  }
  return Tier::kOther;
}

Result<ExistingPolicy> ParseExistingPolicy(std::string_view text) {
  if (text == "fail") return ExistingPolicy::kFail;
  if (text == "skip") return ExistingPolicy::kSkip;
  if (text == "update") return ExistingPolicy::kUpdate;
  return Status::InvalidArgument("existing: unknown policy " + Quote(text) + "; choose fail, skip or update" +
                                 DidYouMean(text, {"fail", "skip", "update"}));
}

std::string_view ToString(ExistingPolicy policy) {
  switch (policy) {
    case ExistingPolicy::kFail: return "fail";
    case ExistingPolicy::kSkip: return "skip";
    case ExistingPolicy::kUpdate: return "update";
  }
  return "fail";
}

namespace internal {
namespace {

using nlohmann::json;

bool IsLabelValue(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

Status ValidateOptions(const RestoreOptions& o, const std::set<std::string>& source_namespaces) {
  if (!IsLabelValue(o.recovery)) {
    return Status::InvalidArgument("restore: recovery " + Quote(o.recovery) +
                                   " is not a valid label value (1-63 alphanumerics, '-', '_', '.')");
  }
  if (o.parallel < 1) {
    return Status::InvalidArgument("restore: parallel is " + std::to_string(o.parallel) + "; it must be at least 1");
  }
  std::map<std::string, std::string> targets;
  for (const auto& [from, to] : o.namespace_mapping) {
    if (!kube::IsDns1123Label(from) || !kube::IsDns1123Label(to)) {
      return Status::InvalidArgument("namespace mapping " + from + " -> " + to +
                                     ": both must be DNS-1123 labels (lower-case alphanumerics and '-')");
    }
    auto [it, fresh] = targets.emplace(to, from);
    if (!fresh) {
      return Status::InvalidArgument("namespace mapping: " + it->second + " and " + from + " both map to " + to +
                                     "; each namespace needs its own target");
    }
  }
  for (const auto& [to, from] : targets) {
    if (source_namespaces.count(to) && !o.namespace_mapping.count(to)) {
      return Status::InvalidArgument("namespace mapping " + from + " -> " + to + ": " + to +
                                     " is restored too, unmapped; map it elsewhere or pick another target");
    }
  }
  return Status::Ok();
}

bool Selected(const RestoreOptions& o, const std::string& ns) {
  return o.namespaces.empty() || std::find(o.namespaces.begin(), o.namespaces.end(), ns) != o.namespaces.end();
}

// Whether a cluster-scoped object belongs to a namespace the recovery leaves out.
bool ExcludedClusterObject(const RestoreOptions& o, const Entry& e) {
  if (o.namespaces.empty()) return false;
  const json& obj = *e.captured;
  if (e.gvk.group.empty() && e.gvk.kind == "Namespace") return !Selected(o, kube::Name(obj));
  if (e.gvk.group.empty() && e.gvk.kind == "PersistentVolume") {
    std::string ns = kube::StringField(obj, {"spec", "claimRef", "namespace"});
    return !ns.empty() && !Selected(o, ns);
  }
  if (e.gvk.group == "rbac.authorization.k8s.io" && e.gvk.kind == "ClusterRoleBinding") {
    const json& subjects = obj.contains("subjects") ? obj["subjects"] : json();
    if (!subjects.is_array() || subjects.empty()) return false;
    for (const json& s : subjects) {
      if (!s.is_object() || s.value("kind", "") != "ServiceAccount" || Selected(o, s.value("namespace", ""))) {
        return false;
      }
    }
    return true;
  }
  return false;
}

// A CRD of the input: what it serves.
struct InputCrd {
  std::string name;
  std::string plural;
  bool namespaced = true;
  std::set<std::string> versions;  // served
};

std::map<std::string, InputCrd> CrdsOf(const std::vector<json>& objects) {
  std::map<std::string, InputCrd> out;  // "group/kind"
  for (const json& o : objects) {
    if (kube::Kind(o) != "CustomResourceDefinition") continue;
    InputCrd c;
    c.name = kube::Name(o);
    c.plural = kube::StringField(o, {"spec", "names", "plural"});
    c.namespaced = kube::StringField(o, {"spec", "scope"}) != "Cluster";
    const json& versions = kube::FieldAt(o, {"spec", "versions"});
    if (versions.is_array()) {
      for (const json& v : versions) {
        if (v.is_object() && v.value("served", false)) c.versions.insert(v.value("name", ""));
      }
    }
    out[kube::StringField(o, {"spec", "group"}) + "/" + kube::StringField(o, {"spec", "names", "kind"})] = c;
  }
  return out;
}

std::string GvkKey(const kube::Gvk& g) { return g.group + "/" + g.version + "/" + g.kind; }

bool IsShared(const kube::Gvk& g) {
  return (g.group == "storage.k8s.io" && g.kind == "StorageClass") ||
         (g.group == "scheduling.k8s.io" && g.kind == "PriorityClass") ||
         (g.group == "node.k8s.io" && g.kind == "RuntimeClass") ||
         (g.group == "apiextensions.k8s.io" && g.kind == "CustomResourceDefinition");
}

std::string MappingReason(const std::string& from, const std::string& to) {
  return "namespace mapping " + from + " -> " + to + ": " + to +
         " already exists on the target; map onto a namespace that does not exist";
}

void Compare(const Entry& e, const json& source, const json& target, const std::string& field,
             const json& fallback, std::vector<Difference>* out) {
  const json& s = source.is_null() ? fallback : source;
  const json& t = target.is_null() ? fallback : target;
  if (s != t) out->push_back({e.Ref(), field, s.dump(), t.dump()});
}

// The storage driver may give a PV another name than the captured one (a drill copy's PV must not
// take the name the real failover's PV needs): asked once here, before the survey, so that the
// PV is looked for and read under that name, and its claim pointed at it. An error is left to
// the PV's write, which asks again and fails with it.
void FollowDriverName(const RestoreOptions& options, Plan* plan, Entry* e) {
  e->volume = plan->set->VolumeForPv(e->name);
  if (e->volume == nullptr || !options.rewrite_volume) return;
  json pv = *e->captured;
  try {
    if (!options.rewrite_volume(*e->volume, &pv).ok()) return;
  } catch (const std::exception&) {
    return;  // nlohmann on a malformed captured PV: the PV's write reports it
  }
  const std::string name = kube::Name(pv);
  if (name.empty() || name == e->name) return;
  plan->renamed_volumes[e->name] = name;
  e->name = name;
}

}  // namespace

ObjectRef Entry::Ref() const {
  return {gvk.ApiVersion(), gvk.kind, namespace_name, name};
}

Status BuildPlan(kube::Client& target, const RestoreInput& input, const RestoreOptions& options, Plan* plan) {
  std::set<std::string> source_namespaces;
  for (const json& o : input.objects) {
    if (!kube::Namespace(o).empty()) source_namespaces.insert(kube::Namespace(o));
    if (kube::Kind(o) == "Namespace") source_namespaces.insert(kube::Name(o));
  }
  KDR_RETURN_IF_ERROR(ValidateOptions(options, source_namespaces));
  plan->sanitize.recovery = options.recovery;
  plan->sanitize.namespace_mapping = options.namespace_mapping;
  plan->sanitize.keep_node_ports = options.keep_node_ports;
  plan->sanitize.target_single_stack = options.target_single_stack;
  plan->sanitize.rerun_finished_jobs = options.rerun_finished_jobs;
  plan->set = std::make_unique<RestoreSet>(input.objects, input.volumes);
  const std::map<std::string, InputCrd> crds = CrdsOf(input.objects);

  plan->entries.resize(input.objects.size());
  // One discovery read for every kind (RestMapper::ForKind reloads discovery on each miss, and
  // the kinds of the input's own CRDs all miss); one refresh more for a kind neither served nor
  // in the input, in case its CRD was installed since the client read discovery.
  std::map<std::string, kube::ApiResource> served;  // by GvkKey
  auto load = [&]() -> Status {
    KDR_ASSIGN_OR_RETURN(std::vector<kube::ApiResource> all, target.mapper().Resources());
    served.clear();
    for (kube::ApiResource& r : all) {
      const std::string key = GvkKey(r.gvk());
      if (!served.count(key) || (r.preferred && !served[key].preferred)) served[key] = std::move(r);
    }
    return Status::Ok();
  };
  if (Status s = load(); !s.ok()) return s.WithContext("reading the target's discovery");
  bool refreshed = false;
  for (size_t i = 0; i < input.objects.size(); ++i) {
    const json& obj = input.objects[i];
    Entry& e = plan->entries[i];
    e.index = i;
    e.captured = &obj;
    e.name = kube::Name(obj);
    e.source_namespace = kube::Namespace(obj);
    e.namespace_name = TargetNamespace(plan->sanitize, e.source_namespace);
    Result<kube::Gvk> gvk = kube::GvkOf(obj);
    if (!obj.is_object() || !gvk.ok() || e.name.empty()) {
      e.gvk = gvk.ok() ? *gvk : kube::Gvk{};
      e.resolve_error = Status::InvalidArgument("object " + std::to_string(i) + " of the inventory has no " +
                                                (gvk.ok() ? "metadata.name" : "apiVersion or kind"));
      continue;
    }
    e.gvk = *gvk;
    e.tier = TierOf(e.gvk.group, e.gvk.kind);
    if (const json& refs = kube::FieldAt(obj, {"metadata", "ownerReferences"}); refs.is_array() && !refs.empty()) {
      e.owners = std::make_shared<const json>(json{{"metadata", {{"ownerReferences", refs}}}});
    }
    if (e.gvk.group.empty() && e.gvk.kind == "Namespace") e.name = TargetNamespace(plan->sanitize, e.name);
    if ((!e.source_namespace.empty() && !Selected(options, e.source_namespace)) || ExcludedClusterObject(options, e)) {
      e.outcome = Outcome::kExcluded;
      ++plan->excluded;
      continue;
    }
    e.skip = SkipReason(plan->sanitize, *plan->set, obj);
    if (e.skip) continue;

    auto crd = crds.find(e.gvk.group + "/" + e.gvk.kind);
    const bool in_input = crd != crds.end() && crd->second.versions.count(e.gvk.version);
    auto it = served.find(GvkKey(e.gvk));
    if (it == served.end() && !in_input && !refreshed) {
      refreshed = true;
      if (Status s = target.mapper().Refresh(); !s.ok()) return s.WithContext("reading the target's discovery");
      if (Status s = load(); !s.ok()) return s.WithContext("reading the target's discovery");
      it = served.find(GvkKey(e.gvk));
    }
    if (it != served.end()) {
      e.resolved = true;
      e.gvr = it->second.gvr;
      e.namespaced = it->second.namespaced;
    } else if (in_input) {
      e.awaits_crd = true;
      e.gvr = {e.gvk.group, e.gvk.version, crd->second.plural};
      e.namespaced = crd->second.namespaced;
    } else {
      e.resolve_error = Status::NotFound(
          "no CustomResourceDefinition serves kind " + e.gvk.kind + " in " + e.gvk.ApiVersion() +
          " on the target, and the inventory holds none (" +
          (crd == crds.end() ? "no CRD of group " + e.gvk.group : "its CRD does not serve " + e.gvk.version) +
          "); install the CRD on the target and restore again, or leave the object out");
      continue;
    }
    if (e.namespaced && e.source_namespace.empty()) {
      e.resolved = false;
      e.awaits_crd = false;
      e.resolve_error = Status::InvalidArgument(e.gvk.kind + " " + e.name + " is namespaced but has no metadata.namespace");
    } else if (!e.namespaced) {
      e.namespace_name.clear();
    }
    if (e.gvk.group.empty() && e.gvk.kind == "PersistentVolume") FollowDriverName(options, plan, &e);
  }
  return Status::Ok();
}

void ResolveAwaitingCrds(Plan* plan, const std::map<std::string, Status>& crd_failures) {
  std::map<std::string, const Entry*> crd_entries;  // "group/kind" -> the CRD's entry
  for (const Entry& e : plan->entries) {
    if (e.gvk.group != "apiextensions.k8s.io" || e.gvk.kind != "CustomResourceDefinition") continue;
    crd_entries[kube::StringField(*e.captured, {"spec", "group"}) + "/" +
                kube::StringField(*e.captured, {"spec", "names", "kind"})] = &e;
  }
  for (Entry& e : plan->entries) {
    if (!e.awaits_crd) continue;
    e.awaits_crd = false;
    auto found = crd_entries.find(e.gvk.group + "/" + e.gvk.kind);
    const Entry* crd_entry = found == crd_entries.end() ? nullptr : found->second;
    const std::string crd = crd_entry == nullptr ? e.gvk.group : kube::Name(*crd_entry->captured);
    auto failed = crd_failures.find(crd);
    if (failed != crd_failures.end() || crd_entry == nullptr || crd_entry->outcome == Outcome::kFailed ||
        crd_entry->outcome == Outcome::kSkipped || crd_entry->outcome == Outcome::kPending) {
      std::string why = failed != crd_failures.end() ? failed->second.message()
                        : crd_entry != nullptr && !crd_entry->status.ok() ? crd_entry->status.message()
                        : crd_entry != nullptr && !crd_entry->reason.empty() ? crd_entry->reason
                                                                              : "not restored";
      e.resolve_error = Status::FailedPrecondition("its CustomResourceDefinition " + crd + " is not ready: " + why);
      continue;
    }
    // Established: the CRD's resources are served (e.gvr and e.namespaced came from it).
    e.resolved = true;
    if (!e.namespaced) e.namespace_name.clear();
  }
}

Status Survey(kube::Client& target, Plan* plan, int parallel, std::stop_token stop) {
  struct Group {
    kube::Gvr gvr;
    std::string ns;
    std::map<std::string, Entry*> by_name;
    Status status;
  };
  std::map<std::string, Group> groups;
  for (Entry& e : plan->entries) {
    if (e.outcome != Outcome::kPending || e.skip || !e.resolved) continue;
    Group& g = groups[e.gvr.GroupResource() + "/" + e.gvr.version + "/" + e.namespace_name];
    g.gvr = e.gvr;
    g.ns = e.namespace_name;
    g.by_name[e.name] = &e;
  }
  // Nothing can exist in a namespace the target does not have: one LIST of namespaces spares a
  // LIST per resource and namespace on a fresh target (the usual failover).
  Result<json> namespaces = target.ListAll(kube::Gvr{"", "v1", "namespaces"}, "");
  if (!namespaces.ok()) return namespaces.status().WithContext("reading the target: listing namespaces");
  std::set<std::string> present;
  for (const json& ns : (*namespaces)["items"]) present.insert(kube::Name(ns));
  std::vector<Group*> list;
  for (auto& [key, g] : groups) {
    if (g.ns.empty() || present.count(g.ns)) list.push_back(&g);
  }
  RunParallel(list.size(), parallel, stop, [&](size_t i) {
    Group& g = *list[i];
    Result<json> items = target.ListAll(g.gvr, g.ns);
    if (!items.ok()) {
      // A resource that is not served has nothing of ours; anything else stops the restore.
      if (!items.status().IsNotFound()) g.status = items.status();
      return;
    }
    for (json& item : (*items)["items"]) {
      auto it = g.by_name.find(kube::Name(item));
      if (it != g.by_name.end()) it->second->found = std::make_shared<const json>(std::move(item));
    }
  });
  if (stop.stop_requested()) return Status::Cancelled("restore stopped while reading the target");
  for (Group* g : list) {
    if (!g->status.ok()) {
      return g->status.WithContext("reading the target: listing " + g->gvr.GroupResource() +
                                   (g->ns.empty() ? "" : " in namespace " + g->ns));
    }
  }
  return Status::Ok();
}

Existing Classify(const Entry& entry, const json* found, std::string_view recovery) {
  if (found == nullptr) return Existing::kNone;
  if (kube::Label(*found, kRecoveryLabel).value_or("") == recovery) return Existing::kOurs;
  if (IsMadeByTarget(*entry.captured)) return Existing::kMadeByTarget;
  if (IsShared(entry.gvk)) return Existing::kShared;
  return Existing::kConflict;
}

Result<std::vector<Conflict>> Conflicts(kube::Client& target, const Plan& plan, const RestoreOptions& options) {
  std::vector<Conflict> out;
  std::set<std::string> namespaces_in_conflict;
  for (const Entry& e : plan.entries) {
    if (e.outcome != Outcome::kPending || e.skip || !e.found) continue;
    if (Classify(e, e.found.get(), options.recovery) != Existing::kConflict) continue;
    std::optional<std::string> other = kube::Label(*e.found, kRecoveryLabel);
    std::string reason = other ? "exists on the target, restored by recovery " + Quote(*other) + ", not " +
                                     Quote(options.recovery)
                               : "exists on the target and was not created by recovery " + Quote(options.recovery);
    if (e.gvk.group.empty() && e.gvk.kind == "Namespace") {
      namespaces_in_conflict.insert(e.name);
      const std::string source = kube::Name(*e.captured);
      if (source != e.name) reason = MappingReason(source, e.name);
    }
    out.push_back({e.Ref(), std::move(reason)});
  }
  // A mapping sends objects into a namespace that must be new (a drill never writes into a live
  // one), whatever the existing policy says.
  std::set<std::string> used;
  for (const Entry& e : plan.entries) {
    if (e.outcome == Outcome::kExcluded) continue;
    if (!e.source_namespace.empty()) used.insert(e.source_namespace);
    if (e.gvk.group.empty() && e.gvk.kind == "Namespace") used.insert(kube::Name(*e.captured));
  }
  for (const auto& [from, to] : options.namespace_mapping) {
    if (!used.count(from) || namespaces_in_conflict.count(to)) continue;
    Result<json> ns = target.Get(kube::Gvr{"", "v1", "namespaces"}, "", to);
    if (!ns.ok()) {
      if (ns.status().IsNotFound()) continue;
      return ns.status().WithContext("reading namespace " + to + " on the target");
    }
    if (kube::Label(*ns, kRecoveryLabel).value_or("") == options.recovery) continue;
    out.push_back({ObjectRef{"v1", "Namespace", "", to}, MappingReason(from, to)});
  }
  return out;
}

std::vector<Difference> Differences(const Entry& e, const json& target) {
  std::vector<Difference> out;
  const json& s = *e.captured;
  auto at = [](const json& o, std::initializer_list<std::string_view> p) -> const json& { return kube::FieldAt(o, p); };
  if (e.gvk.kind == "StorageClass") {
    Compare(e, at(s, {"provisioner"}), at(target, {"provisioner"}), "provisioner", json(), &out);
    Compare(e, at(s, {"parameters"}), at(target, {"parameters"}), "parameters", json::object(), &out);
    Compare(e, at(s, {"reclaimPolicy"}), at(target, {"reclaimPolicy"}), "reclaimPolicy", "Delete", &out);
    Compare(e, at(s, {"volumeBindingMode"}), at(target, {"volumeBindingMode"}), "volumeBindingMode", "Immediate", &out);
    Compare(e, at(s, {"allowVolumeExpansion"}), at(target, {"allowVolumeExpansion"}), "allowVolumeExpansion", false, &out);
    Compare(e, at(s, {"mountOptions"}), at(target, {"mountOptions"}), "mountOptions", json::array(), &out);
  } else if (e.gvk.kind == "PriorityClass") {
    Compare(e, at(s, {"value"}), at(target, {"value"}), "value", 0, &out);
    Compare(e, at(s, {"globalDefault"}), at(target, {"globalDefault"}), "globalDefault", false, &out);
    Compare(e, at(s, {"preemptionPolicy"}), at(target, {"preemptionPolicy"}), "preemptionPolicy",
            "PreemptLowerPriority", &out);
  } else if (e.gvk.kind == "RuntimeClass") {
    Compare(e, at(s, {"handler"}), at(target, {"handler"}), "handler", json(), &out);
  } else if (e.gvk.kind == "CustomResourceDefinition") {
    Compare(e, at(s, {"spec", "scope"}), at(target, {"spec", "scope"}), "spec.scope", json(), &out);
    auto served = [](const json& crd) {
      json names = json::array();
      const json& versions = kube::FieldAt(crd, {"spec", "versions"});
      if (versions.is_array()) {
        for (const json& v : versions) {
          if (v.is_object() && v.value("served", false)) names.push_back(v.value("name", ""));
        }
      }
      return names;
    };
    json want = served(s);
    json have = served(target);
    bool missing = false;
    for (const json& v : want) missing = missing || std::find(have.begin(), have.end(), v) == have.end();
    if (missing) out.push_back({e.Ref(), "served versions", want.dump(), have.dump()});
  }
  return out;
}

}  // namespace internal
}  // namespace kdr::inventory
