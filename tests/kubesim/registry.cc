#include "registry.h"

#include <nlohmann/json.hpp>

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

struct Builtin {
  const char* group;
  const char* version;
  const char* resource;
  const char* singular;
  const char* kind;
  bool namespaced;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool status;
  bool scale;
  bool generation;
  std::vector<std::string> field_labels;
};

std::vector<Builtin> Builtins() {
  const std::vector<std::string> all = {"all"};
  return {
      {"", "v1", "namespaces", "namespace", "Namespace", false, {"ns"}, {}, true, false, false,
       {"status.phase"}},
      {"", "v1", "configmaps", "configmap", "ConfigMap", true, {"cm"}, {}, false, false, false, {}},
      {"", "v1", "secrets", "secret", "Secret", true, {}, {}, false, false, false, {"type"}},
      {"", "v1", "services", "service", "Service", true, {"svc"}, all, true, false, false,
       {"spec.clusterIP", "spec.type"}},
      {"", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, {"sa"}, {}, false,
       false, false, {}},
      {"", "v1", "pods", "pod", "Pod", true, {"po"}, all, true, false, false,
       {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"}},
      {"", "v1", "persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", true,
       {"pvc"}, {}, true, false, false, {}},
      {"", "v1", "persistentvolumes", "persistentvolume", "PersistentVolume", false, {"pv"}, {},
       true, false, false, {}},
      {"", "v1", "events", "event", "Event", true, {"ev"}, {}, false, false, false,
       {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
        "involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion",
        "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type"}},
      {"", "v1", "endpoints", "endpoints", "Endpoints", true, {"ep"}, {}, false, false, false, {}},
      {"", "v1", "nodes", "node", "Node", false, {"no"}, {}, true, false, false,
       {"spec.unschedulable"}},
      {"", "v1", "resourcequotas", "resourcequota", "ResourceQuota", true, {"quota"}, {}, true, false,
       false, {}},
      {"", "v1", "limitranges", "limitrange", "LimitRange", true, {"limits"}, {}, false, false, false,
       {}},
      {"", "v1", "replicationcontrollers", "replicationcontroller", "ReplicationController", true,
       {"rc"}, all, true, true, true, {"status.replicas"}},
      {"discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", true, {}, {},
       false, false, false, {}},
      {"policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", true,
       {"pdb"}, {}, true, false, true, {}},
      {"autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
       "HorizontalPodAutoscaler", true, {"hpa"}, all, true, false, false, {}},
      {"networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", true,
       {"netpol"}, {}, false, false, true, {}},
      {"networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", false, {}, {},
       false, false, false, {}},
      {"node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", false, {}, {}, false, false,
       false, {}},
      {"scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", false, {"pc"},
       {}, false, false, true, {}},
      {"storage.k8s.io", "v1", "csidrivers", "csidriver", "CSIDriver", false, {}, {}, false, false,
       false, {}},
      {"storage.k8s.io", "v1", "volumeattachments", "volumeattachment", "VolumeAttachment", false,
       {}, {}, true, false, false, {}},
      {"storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", false, {"sc"}, {},
       false, false, false, {}},
      {"apps", "v1", "deployments", "deployment", "Deployment", true, {"deploy"}, all, true, true,
       true, {}},
      {"apps", "v1", "statefulsets", "statefulset", "StatefulSet", true, {"sts"}, all, true, true,
       true, {}},
      {"apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, {"ds"}, all, true, false, true,
       {}},
      {"apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, {"rs"}, all, true, true, true,
       {"status.replicas"}},
      {"batch", "v1", "jobs", "job", "Job", true, {}, all, true, false, true,
       {"status.successful"}},
      {"batch", "v1", "cronjobs", "cronjob", "CronJob", true, {"cj"}, all, true, false, true, {}},
      {"networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", true, {"ing"}, {}, true,
       false, true, {}},
      {"rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, {}, {}, false, false,
       false, {}},
      {"rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, {},
       {}, false, false, false, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, {},
       {}, false, false, false, {}},
      {"rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
       "ClusterRoleBinding", false, {}, {}, false, false, false, {}},
      {"coordination.k8s.io", "v1", "leases", "lease", "Lease", true, {}, {}, false, false, false,
       {}},
      {"apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
       "CustomResourceDefinition", false, {"crd", "crds"}, {"api-extensions"}, true, false, true,
       {}},
      {"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations",
       "mutatingwebhookconfiguration", "MutatingWebhookConfiguration", false, {},
       {"api-extensions"}, false, false, true, {}},
      {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
       "validatingwebhookconfiguration", "ValidatingWebhookConfiguration", false, {},
       {"api-extensions"}, false, false, true, {}},
  };
}

std::string Str(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::vector<std::string> Strings(const json& obj, const char* key) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

bool ResourceType::Serves(std::string_view v) const {
  for (const auto& s : versions) {
    if (s == v) return true;
  }
  return false;
}

Registry::Registry() {
  for (const auto& b : Builtins()) {
    ResourceType t;
    t.group = b.group;
    t.version = b.version;
    t.versions = {b.version};
    t.resource = b.resource;
    t.singular = b.singular;
    t.kind = b.kind;
    t.list_kind = t.kind + "List";
    t.namespaced = b.namespaced;
    t.short_names = b.short_names;
    t.categories = b.categories;
    t.status_subresource = b.status;
    t.scale_subresource = b.scale;
    t.tracks_generation = b.generation;
    t.field_labels = b.field_labels;
    if (t.scale_subresource) t.scale_selector_path = ".spec.selector";
    types_.push_back(std::move(t));
  }
}

std::optional<ResourceType> Registry::Find(const GroupResource& gr) const {
  std::shared_lock lock(mu_);
  for (const auto& t : types_) {
    if (t.group == gr.group && t.resource == gr.resource) return t;
  }
  return std::nullopt;
}

std::optional<ResourceType> Registry::FindServed(std::string_view group, std::string_view version,
                                                 std::string_view resource) const {
  std::shared_lock lock(mu_);
  for (const auto& t : types_) {
    if (t.group == group && t.resource == resource && t.Serves(version)) return t;
  }
  return std::nullopt;
}

std::optional<ResourceType> Registry::FindKind(std::string_view group,
                                               std::string_view kind) const {
  std::shared_lock lock(mu_);
  for (const auto& t : types_) {
    if (t.group == group && t.kind == kind) return t;
  }
  return std::nullopt;
}

std::vector<ResourceType> Registry::All() const {
  std::shared_lock lock(mu_);
  return types_;
}

uint64_t Registry::epoch() const {
  std::shared_lock lock(mu_);
  return epoch_;
}

Result<ResourceType> Registry::TypeFromCrd(const json& crd) {
  if (!crd.is_object()) return Status::InvalidArgument("spec: Required value");
  const json spec = crd.value("spec", json::object());
  const json names = spec.value("names", json::object());
  ResourceType t;
  t.custom = true;
  t.tracks_generation = true;
  t.group = Str(spec, "group");
  t.resource = Str(names, "plural");
  t.kind = Str(names, "kind");
  t.singular = Str(names, "singular");
  t.list_kind = Str(names, "listKind");
  t.short_names = Strings(names, "shortNames");
  t.categories = Strings(names, "categories");
  std::string scope = Str(spec, "scope");
  std::vector<std::string> errors;
  if (t.group.empty()) errors.push_back("spec.group: Required value");
  if (t.resource.empty()) errors.push_back("spec.names.plural: Required value");
  if (t.kind.empty()) errors.push_back("spec.names.kind: Required value");
  if (scope != "Namespaced" && scope != "Cluster") {
    errors.push_back(scope.empty() ? "spec.scope: Required value"
                                   : "spec.scope: Unsupported value: \"" + scope +
                                         "\": supported values: \"Cluster\", \"Namespaced\"");
  }
  const std::string name = crd.contains("metadata") ? Str(crd["metadata"], "name") : "";
  if (!t.group.empty() && !t.resource.empty() && name != t.resource + "." + t.group) {
    errors.push_back("metadata.name: Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group");
  }
  t.namespaced = scope == "Namespaced";
  if (t.singular.empty()) {
    std::string lower;
    for (char c : t.kind) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    t.singular = lower;
  }
  if (t.list_kind.empty()) t.list_kind = t.kind + "List";
  auto versions = spec.find("versions");
  if (versions == spec.end() || !versions->is_array() || versions->empty()) {
    errors.push_back("spec.versions: Invalid value: null: must have exactly one version marked as storage version");
  } else {
    int storage = 0;
    for (const auto& v : *versions) {
      const std::string vname = Str(v, "name");
      if (vname.empty()) {
        errors.push_back("spec.versions.name: Required value");
        continue;
      }
      if (v.value("served", false)) t.versions.push_back(vname);
      if (v.value("storage", false)) {
        ++storage;
        t.version = vname;
        const json sub = v.value("subresources", json::object());
        t.status_subresource = sub.contains("status");
        if (sub.contains("scale") && sub["scale"].is_object()) {
          t.scale_subresource = true;
          t.scale_spec_path = Str(sub["scale"], "specReplicasPath");
          t.scale_status_path = Str(sub["scale"], "statusReplicasPath");
          t.scale_selector_path = Str(sub["scale"], "labelSelectorPath");
        }
        for (const auto& c : v.value("additionalPrinterColumns", json::array())) {
          PrinterColumn col;
          col.name = Str(c, "name");
          col.type = Str(c, "type");
          col.json_path = Str(c, "jsonPath");
          col.description = Str(c, "description");
          col.format = Str(c, "format");
          col.priority = c.value("priority", 0);
          t.columns.push_back(std::move(col));
        }
        if (v.contains("schema") && v["schema"].contains("openAPIV3Schema")) {
          t.schema_json = v["schema"]["openAPIV3Schema"].dump();
        }
      }
    }
    if (storage != 1) {
      errors.push_back("spec.versions: Invalid value: " + versions->dump() +
                       ": must have exactly one version marked as storage version");
    }
    // The storage version is the preferred one in discovery when served.
    for (size_t i = 0; i < t.versions.size(); ++i) {
      if (t.versions[i] == t.version && i != 0) std::swap(t.versions[0], t.versions[i]);
    }
  }
  if (!errors.empty()) {
    std::string msg;
    for (const auto& e : errors) msg += (msg.empty() ? "" : ", ") + e;
    if (errors.size() > 1) msg = "[" + msg + "]";
    return Status::InvalidArgument(msg);
  }
  return t;
}

Status Registry::AddCrd(const json& crd) {
  KDR_ASSIGN_OR_RETURN(ResourceType t, TypeFromCrd(crd));
  std::unique_lock lock(mu_);
  for (auto& existing : types_) {
    if (existing.group == t.group && existing.resource == t.resource) {
      if (!existing.custom) {
        return Status::InvalidArgument("spec.group: Invalid value: \"" + t.group +
                                       "\": a built-in resource cannot be redefined");
      }
      existing = std::move(t);
      ++epoch_;
      return Status::Ok();
    }
  }
  types_.push_back(std::move(t));
  ++epoch_;
  return Status::Ok();
}

void Registry::RemoveCrd(const GroupResource& gr) {
  std::unique_lock lock(mu_);
  for (auto it = types_.begin(); it != types_.end(); ++it) {
    if (it->custom && it->group == gr.group && it->resource == gr.resource) {
      types_.erase(it);
      ++epoch_;
      return;
    }
  }
}

}  // namespace kdr::kubesim
