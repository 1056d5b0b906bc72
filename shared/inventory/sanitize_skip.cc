// The skip table: what a restore leaves to the target (what it makes itself, what a restored
// controller recreates) and what it must not run again.

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "inventory/sanitize.h"
#include "inventory/sanitize_internal.h"
#include "kube/object.h"

namespace kdr::inventory {
namespace {

using internal::GroupMatches;
using internal::GroupOf;
using internal::KindIn;
using nlohmann::json;

bool TrueCondition(const json& object, std::string_view type) {
  const json& conditions = kube::FieldAt(object, {"status", "conditions"});
  if (!conditions.is_array()) return false;
  for (const json& c : conditions) {
    if (c.is_object() && c.value("type", "") == type && c.value("status", "") == "True") return true;
  }
  return false;
}

int64_t IntField(const json& object, std::initializer_list<std::string_view> path, int64_t fallback) {
  const json& v = kube::FieldAt(object, path);
  return v.is_number_integer() ? v.get<int64_t>() : fallback;
}

// The controller reference (controller: true) of an object, or null.
const json* ControllerRef(const json& object) {
  const json& refs = kube::FieldAt(object, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return nullptr;
  for (const json& r : refs) {
    if (r.is_object() && r.value("controller", false)) return &r;
  }
  return nullptr;
}

// ---- the skip table -------------------------------------------------------------------------

struct SkipCtx {
  const SanitizeOptions& options;
  const RestoreSet& set;
};

struct SkipRule {
  std::string_view group;  // "*" = any
  SanitizeRow doc;         // doc.kinds also selects the kinds the rule looks at
  std::optional<std::string> (*check)(const SkipCtx&, const json&);
};

std::optional<std::string> Always(const SkipCtx&, const json&) {
  return "events record the source's past, not its state";
}

std::optional<std::string> RootCaConfigMap(const SkipCtx&, const json& o) {
  if (kube::Name(o) != "kube-root-ca.crt") return std::nullopt;
  return "made by the target: its root-ca-cert-publisher writes kube-root-ca.crt in every "
         "namespace and reverts other content";
}

std::optional<std::string> TokenSecret(const SkipCtx&, const json& o) {
  if (kube::StringField(o, {"type"}) != "kubernetes.io/service-account-token") return std::nullopt;
  return "made by the target: a service-account token Secret is deleted by the token controller "
         "when its ServiceAccount is missing or has another uid, and filled with a new token "
         "otherwise";
}

std::optional<std::string> SystemNamespace(const SkipCtx&, const json& o) {
  const std::string name = kube::Name(o);
  if (name != "default" && name != "kube-system" && name != "kube-public" && name != "kube-node-lease") {
    return std::nullopt;
  }
  return "exists by default: namespace " + name + " is on every cluster";
}

std::optional<std::string> KubernetesService(const SkipCtx&, const json& o) {
  if (kube::Name(o) != "kubernetes" || kube::Namespace(o) != "default") return std::nullopt;
  return "made by the target: the API server keeps its own Service default/kubernetes";
}

std::optional<std::string> BootstrapRbac(const SkipCtx&, const json& o) {
  const std::string name = kube::Name(o);
  const std::string kind = kube::Kind(o);
  const std::string ns = kube::Namespace(o);
  bool bootstrap = false;
  if (kind == "ClusterRole") {
    bootstrap = name == "cluster-admin" || name == "admin" || name == "edit" || name == "view" ||
                StartsWith(name, "system:");
  } else if (kind == "ClusterRoleBinding") {
    bootstrap = name == "cluster-admin" || StartsWith(name, "system:");
  } else {  // Role, RoleBinding: the bootstrap ones live in kube-system and kube-public
    // Not all of them are system: (kube-system's extension-apiserver-authentication-reader),
    // but every one carries the bootstrapping label.
    bootstrap = (StartsWith(name, "system:") ||
                 kube::StringField(o, {"metadata", "labels", "kubernetes.io/bootstrapping"}) == "rbac-defaults") &&
                (ns == "kube-system" || ns == "kube-public");
  }
  if (!bootstrap) return std::nullopt;
  return "exists by default: " + kind + " " + Quote(name) +
         " is bootstrap policy, reconciled by every API server at start";
}

std::optional<std::string> SystemPriorityClass(const SkipCtx&, const json& o) {
  if (!StartsWith(kube::Name(o), "system-")) return std::nullopt;
  return "exists by default: PriorityClass " + Quote(kube::Name(o)) +
         " is built in (the system- prefix is reserved: 422 on create)";
}

std::optional<std::string> SelectorEndpoints(const SkipCtx& c, const json& o) {
  if (!c.set.HasSelectorService(kube::Namespace(o), kube::Name(o))) return std::nullopt;
  return "made by the target: the endpoints controller fills the Endpoints of Service " +
         kube::NamespacedName(o) + " from its selector";
}

std::optional<std::string> ControllerSlice(const SkipCtx&, const json& o) {
  if (kube::Label(o, "endpointslice.kubernetes.io/managed-by").value_or("") !=
      "endpointslice-controller.k8s.io") {
    return std::nullopt;
  }
  return "made by the target: the endpointslice controller makes the slices of selector Services";
}

// Which owners' controllers recreate which dependents.
bool Recreates(const RestoreSet::Member& owner, const std::string& dependent_kind) {
  const std::string& k = owner.kind;
  if (dependent_kind == "ReplicaSet") return k == "Deployment";
  if (dependent_kind == "Pod") {
    return k == "ReplicaSet" || k == "ReplicationController" || k == "StatefulSet" ||
           k == "DaemonSet" || k == "Job";
  }
  if (dependent_kind == "ControllerRevision") return k == "StatefulSet" || k == "DaemonSet";
  if (dependent_kind == "Job") return k == "CronJob";
  if (dependent_kind == "VirtualMachineInstance") return k == "VirtualMachine";
  return false;
}

std::optional<std::string> ControllerOwned(const SkipCtx& c, const json& o) {
  const json* ref = ControllerRef(o);
  if (ref == nullptr) return std::nullopt;
  const RestoreSet::Member* owner = c.set.FindByUid(ref->value("uid", ""));
  if (owner == nullptr || !Recreates(*owner, kube::Kind(o))) return std::nullopt;
  return "made by its controller: " + owner->kind + " " +
         (owner->namespace_name.empty() ? "" : owner->namespace_name + "/") + owner->name +
         " is restored and recreates it";
}

std::optional<std::string> FinishedJob(const SkipCtx& c, const json& o) {
  if (c.options.rerun_finished_jobs) return std::nullopt;
  const json& completion = kube::FieldAt(o, {"status", "completionTime"});
  const int64_t succeeded = IntField(o, {"status", "succeeded"}, 0);
  const int64_t completions = IntField(o, {"spec", "completions"}, 1);
  std::string how;
  if (TrueCondition(o, "Complete") || completion.is_string() || (succeeded > 0 && succeeded >= completions)) {
    how = "completed";
  } else if (TrueCondition(o, "Failed")) {
    how = "failed";
  } else {
    return std::nullopt;
  }
  return "finished on the source (" + how + "); restored as it was it would run again "
         "(set rerun_finished_jobs to run it)";
}

std::optional<std::string> InventoryVolume(const SkipCtx& c, const json& o) {
  const VolumeMapEntry* entry = kube::Kind(o) == "PersistentVolume"
                                    ? c.set.VolumeForPv(kube::Name(o))
                                    : c.set.VolumeForClaim(kube::Namespace(o), kube::Name(o));
  if (entry == nullptr || !entry->inventory) return std::nullopt;
  return "the inventory volume: the failover restores it before the agent starts";
}

// Each row: the server or controller behaviour it answers, with the source.
const SkipRule kSkipRules[] = {
    // kube-apiserver keeps events for --event-ttl (1h); they describe the source's past.
    {"", {"Event", "skip", "events describe the source cluster's past (kube-apiserver --event-ttl)"}, Always},
    {"events.k8s.io", {"Event", "skip", "as core Events"}, Always},
    // pkg/controller/certificates/rootcacertpublisher: writes kube-root-ca.crt, reverts edits.
    {"", {"ConfigMap", "skip kube-root-ca.crt", "root-ca-cert-publisher writes it and reverts other data"},
     RootCaConfigMap},
    // pkg/controller/serviceaccount/tokens_controller.go: deletes a token Secret whose
    // ServiceAccount is missing or has another uid, fills it otherwise.
    {"", {"Secret", "skip type kubernetes.io/service-account-token",
          "the token controller deletes it (SA missing or another uid) or refills it"},
     TokenSecret},
    // pkg/controlplane/controller/systemnamespaces: default, kube-system, kube-public, kube-node-lease.
    {"", {"Namespace", "skip default, kube-system, kube-public, kube-node-lease", "exist on every cluster"},
     SystemNamespace},
    // pkg/controlplane/controller/kubernetesservice: the API server's own Service.
    {"", {"Service", "skip default/kubernetes", "the API server reconciles its own Service"},
     KubernetesService},
    // plugin/pkg/auth/authorizer/rbac/bootstrappolicy: reconciled at start; create is 409.
    {"rbac.authorization.k8s.io",
     {"ClusterRole, ClusterRoleBinding, Role, RoleBinding",
      "skip cluster-admin, admin, edit, view, system:*", "bootstrap policy exists by default (409)"},
     BootstrapRbac},
    // pkg/apis/scheduling: system-node-critical, system-cluster-critical; prefix reserved (422).
    {"scheduling.k8s.io", {"PriorityClass", "skip system-*", "built in; the prefix is reserved (422)"},
     SystemPriorityClass},
    // pkg/controller/endpoint: the Endpoints of a selector Service exist first: 409.
    {"", {"Endpoints", "skip those of a selector Service", "the endpoints controller made them (409)"},
     SelectorEndpoints},
    // pkg/controller/endpointslice: slices labelled managed-by the controller are its own.
    {"discovery.k8s.io", {"EndpointSlice", "skip controller-managed slices", "the endpointslice controller makes them"},
     ControllerSlice},
    // The owner's controller recreates (or adopts) them: a restored copy duplicates pods.
    {"*", {"ReplicaSet, Pod, ControllerRevision, Job, VirtualMachineInstance",
           "skip when their controller owner is restored", "the owner's controller recreates them"},
     ControllerOwned},
    // Status is dropped on create (batch/job strategy): a finished Job restored runs again.
    {"batch", {"Job", "skip finished Jobs (rerun_finished_jobs: restore)", "a finished Job restored runs again"},
     FinishedJob},
    // The failover restores the inventory PVC/PV itself (DESIGN step 6), before the agent.
    {"", {"PersistentVolume, PersistentVolumeClaim", "skip the inventory volume", "restored by step 6"},
     InventoryVolume},
};

}  // namespace

std::optional<std::string> SkipReason(const SanitizeOptions& options, const RestoreSet& set,
                                      const json& object) {
  const std::string group = GroupOf(object);
  const std::string kind = kube::Kind(object);
  SkipCtx ctx{options, set};
  for (const SkipRule& rule : kSkipRules) {
    if (!GroupMatches(rule.group, group) || !KindIn(rule.doc.kinds, kind)) continue;
    if (auto why = rule.check(ctx, object)) return why;
  }
  return std::nullopt;
}

bool IsMadeByTarget(const json& object) {
  if (!GroupOf(object).empty()) return false;
  const std::string kind = kube::Kind(object);
  const std::string name = kube::Name(object);
  return (kind == "ServiceAccount" && name == "default") ||
         (kind == "ConfigMap" && name == "kube-root-ca.crt") ||
         (kind == "Service" && name == "kubernetes" && kube::Namespace(object) == "default");
}

std::span<const SanitizeRow> SkipTable() {
  static const std::vector<SanitizeRow> rows = [] {  // immutable after first use
    std::vector<SanitizeRow> out;
    for (const SkipRule& r : kSkipRules) out.push_back(r.doc);
    return out;
  }();
  return rows;
}

}  // namespace kdr::inventory
