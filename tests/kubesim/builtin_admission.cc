#include "builtin_admission.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <utility>

#include "kube/object.h"
#include "quantity.h"
#include "quota.h"
#include "store.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

const GroupResource kNamespaces{"", "namespaces"};
const GroupResource kStorageClasses{"storage.k8s.io", "storageclasses"};
const GroupResource kIngressClasses{"networking.k8s.io", "ingressclasses"};
const GroupResource kServiceAccounts{"", "serviceaccounts"};
const GroupResource kPriorityClasses{"scheduling.k8s.io", "priorityclasses"};
const GroupResource kRuntimeClasses{"node.k8s.io", "runtimeclasses"};

constexpr std::string_view kPvcProtection = "kubernetes.io/pvc-protection";
constexpr std::string_view kPvProtection = "kubernetes.io/pv-protection";

bool Is(const AdmissionRequest& r, std::string_view group, std::string_view resource) {
  return r.resource.group == group && r.resource.resource == resource;
}

std::string MetaString(const json* obj, const char* key) {
  if (obj == nullptr) return "";
  const json& v = kube::FieldAt(*obj, {"metadata", key});
  return v.is_string() ? v.get<std::string>() : "";
}

// admission.NewForbidden(attributes, err): the name is the request's, else the object's, else its
// generateName (mutating plugins run before the name is generated).
AdmissionResult Forbidden(const AdmissionRequest& r, const std::string& why) {
  std::string name = r.name;
  const json* obj = r.object != nullptr ? r.object : r.old_object;
  if (name.empty()) name = MetaString(obj, "name");
  if (name.empty()) name = MetaString(obj, "generateName");
  if (name.empty()) name = "Unknown";
  std::string resource = r.resource.group.empty() ? r.resource.resource
                                                  : r.resource.resource + "." + r.resource.group;
  json details = {{"name", name}, {"kind", r.resource.resource}};
  if (!r.resource.group.empty()) details["group"] = r.resource.group;
  AdmissionResult out;
  out.allowed = false;
  out.code = 403;
  out.reason = "Forbidden";
  out.message = resource + " " + json(name).dump() + " is forbidden: " + why;
  out.status_body = json{{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", json::object()},
                         {"status", "Failure"},
                         {"message", out.message},
                         {"reason", "Forbidden"},
                         {"details", details},
                         {"code", 403}}
                        .dump();
  return out;
}

AdmissionResult NamespaceNotFound(const std::string& ns) {
  AdmissionResult out;
  out.allowed = false;
  out.code = 404;
  out.reason = "NotFound";
  out.message = "namespaces " + json(ns).dump() + " not found";
  out.status_body = json{{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"metadata", json::object()},
                         {"status", "Failure"},
                         {"message", out.message},
                         {"reason", "NotFound"},
                         {"details", {{"name", ns}, {"kind", "namespaces"}}},
                         {"code", 404}}
                        .dump();
  return out;
}

// NamespaceLifecycle (k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle), a mutating
// plugin: it runs before every webhook.
AdmissionResult NamespaceLifecycle(const Store& store, const AdmissionRequest& r) {
  const bool namespace_kind = Is(r, "", "namespaces");
  if (r.operation == Operation::kDelete && namespace_kind &&
      (r.name == "default" || r.name == "kube-system" || r.name == "kube-public")) {
    return Forbidden(r, "this namespace may not be deleted");
  }
  if (namespace_kind || r.namespace_name.empty() || r.operation == Operation::kDelete) return {};
  auto ns = store.Get(kNamespaces, "", r.namespace_name);
  if (!ns.ok()) return NamespaceNotFound(r.namespace_name);
  if (r.operation != Operation::kCreate || kube::StringField(*ns, {"status", "phase"}) != "Terminating") {
    return {};
  }
  AdmissionResult out = Forbidden(r, "unable to create new content in namespace " + r.namespace_name +
                                         " because it is being terminated");
  json body = json::parse(out.status_body);
  body["details"]["causes"] = json::array({{{"reason", "NamespaceTerminating"},
                                            {"message", "namespace " + r.namespace_name + " is being terminated"},
                                            {"field", "metadata.namespace"}}});
  out.status_body = body.dump();
  return out;
}

// The default class among `classes` (storageutil.GetDefaultClass, and DefaultIngressClass's twin
// of it): of those annotated as default, the newest, ties broken by name; "" when none is.
std::string NewestDefault(const Store& store, const GroupResource& gr,
                          std::initializer_list<std::string_view> annotations) {
  auto list = store.List(gr, {});
  if (!list.ok()) return "";
  std::string name, created;
  for (const auto& c : list->items) {
    bool is_default = false;
    for (std::string_view a : annotations) {
      is_default = is_default || kube::FieldAt(*c, {"metadata", "annotations", a}) == "true";
    }
    if (!is_default) continue;
    std::string n = kube::StringField(*c, {"metadata", "name"});
    std::string t = kube::StringField(*c, {"metadata", "creationTimestamp"});
    if (name.empty() || t > created || (t == created && n < name)) {
      name = n;
      created = t;
    }
  }
  return name;
}

// Appends `finalizer` to the object's metadata.finalizers unless it is there.
void AddFinalizer(json* obj, std::string_view finalizer) {
  json& meta = (*obj)["metadata"];
  if (!meta.contains("finalizers") || !meta["finalizers"].is_array()) meta["finalizers"] = json::array();
  for (const auto& f : meta["finalizers"]) {
    if (f == finalizer) return;
  }
  meta["finalizers"].push_back(finalizer);
}

// ServiceAccount (plugin/pkg/admission/serviceaccount), for a pod CREATE: the default account,
// which must exist, its API token mounted (the projected kube-api-access-XXXXX volume, in every
// container not already mounting something at the token path) unless automounting is off (the
// pod's automountServiceAccountToken, else the account's), and its imagePullSecrets when the pod
// names none. Not simulated: kubernetes.io/enforce-mountable-secrets.
AdmissionResult ServiceAccount(const Store& store, const AdmissionRequest& r, json& pod) {
  if (kube::FieldAt(pod, {"metadata", "annotations", "kubernetes.io/config.mirror"}).is_string()) return {};
  json& spec = pod["spec"];
  if (kube::StringField(spec, {"serviceAccountName"}).empty()) spec["serviceAccountName"] = "default";
  const std::string name = spec["serviceAccountName"].get<std::string>();
  auto sa = store.Get(kServiceAccounts, r.namespace_name, name);
  if (!sa.ok()) {
    return Forbidden(r, "error looking up service account " + r.namespace_name + "/" + name +
                            ": serviceaccount " + json(name).dump() + " not found");
  }
  const json& pod_auto = kube::FieldAt(spec, {"automountServiceAccountToken"});
  const json& sa_auto = kube::FieldAt(*sa, {"automountServiceAccountToken"});
  bool automount = pod_auto.is_boolean() ? pod_auto.get<bool>() : sa_auto.is_boolean() ? sa_auto.get<bool>() : true;
  if (automount) {
    constexpr std::string_view kTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount";
    std::string volume;
    for (const auto& v : spec.value("volumes", json::array())) {
      std::string n = v.value("name", "");
      if (n.rfind("kube-api-access-", 0) == 0) volume = n;
    }
    const bool has_volume = !volume.empty();
    if (!has_volume) {
      static constexpr std::string_view kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
      std::random_device rd;
      volume = "kube-api-access-";
      for (int i = 0; i < 5; ++i) volume.push_back(kAlphabet[rd() % kAlphabet.size()]);
    }
    bool needed = false;
    for (const char* list : {"initContainers", "containers"}) {
      if (!spec.contains(list) || !spec[list].is_array()) continue;
      for (auto& c : spec[list]) {
        if (!c.is_object()) continue;
        bool mounted = false;
        for (const auto& m : c.value("volumeMounts", json::array())) mounted = mounted || m.value("mountPath", "") == kTokenPath;
        if (mounted) continue;
        if (!c.contains("volumeMounts") || !c["volumeMounts"].is_array()) c["volumeMounts"] = json::array();
        c["volumeMounts"].push_back({{"name", volume}, {"readOnly", true}, {"mountPath", kTokenPath}});
        needed = true;
      }
    }
    if (needed && !has_volume) {
      if (!spec.contains("volumes") || !spec["volumes"].is_array()) spec["volumes"] = json::array();
      spec["volumes"].push_back(
          {{"name", volume},
           {"projected",
            {{"defaultMode", 420},
             {"sources",
              json::array({{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
                           {{"configMap", {{"name", "kube-root-ca.crt"}, {"items", json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}}}},
                           {{"downwardAPI", {{"items", json::array({{{"path", "namespace"},
                                                                     {"fieldRef", {{"apiVersion", "v1"}, {"fieldPath", "metadata.namespace"}}}}})}}}}})}}}});
    }
  }
  const json& pull = kube::FieldAt(spec, {"imagePullSecrets"});
  const json& sa_pull = kube::FieldAt(*sa, {"imagePullSecrets"});
  if ((!pull.is_array() || pull.empty()) && sa_pull.is_array() && !sa_pull.empty()) {
    json names = json::array();
    for (const auto& p : sa_pull) names.push_back({{"name", p.value("name", "")}});
    spec["imagePullSecrets"] = names;
  }
  return {};
}

// The globalDefault PriorityClass (the lowest value when a race left several), or nullopt.
std::optional<json> DefaultPriorityClass(const Store& store) {
  auto list = store.List(kPriorityClasses, {});
  if (!list.ok()) return std::nullopt;
  std::optional<json> out;
  auto value = [](const json& pc) {
    const json& v = kube::FieldAt(pc, {"value"});
    return v.is_number_integer() ? v.get<int64_t>() : 0;
  };
  for (const auto& pc : list->items) {
    if (kube::FieldAt(*pc, {"globalDefault"}) != true) continue;
    if (!out || value(*pc) < value(*out)) out = *pc;
  }
  return out;
}

// Priority (plugin/pkg/admission/priority), for pods. CREATE: spec.priority (and
// preemptionPolicy) come from the named PriorityClass, which must exist, else from the
// globalDefault class, else 0 and PreemptLowerPriority; a pod may state them only as computed.
// UPDATE: a pod that omits them keeps the old values.
AdmissionResult Priority(const Store& store, const AdmissionRequest& r, json& pod) {
  json& spec = pod["spec"];
  if (r.operation == Operation::kUpdate) {
    const json& old = r.old_object != nullptr ? kube::FieldAt(*r.old_object, {"spec"}) : json();
    for (const char* f : {"priority", "preemptionPolicy"}) {
      if (!spec.contains(f) && old.is_object() && old.contains(f)) spec[f] = old[f];
    }
    return {};
  }
  const std::string cls = kube::StringField(spec, {"priorityClassName"});
  int64_t priority = 0;
  json policy = "PreemptLowerPriority";
  if (cls.empty()) {
    if (auto def = DefaultPriorityClass(store)) {
      spec["priorityClassName"] = kube::StringField(*def, {"metadata", "name"});
      const json& v = kube::FieldAt(*def, {"value"});
      priority = v.is_number_integer() ? v.get<int64_t>() : 0;
      policy = def->value("preemptionPolicy", json());
    }
  } else {
    auto pc = store.Get(kPriorityClasses, "", cls);
    if (!pc.ok()) return Forbidden(r, "no PriorityClass with name " + cls + " was found");
    const json& v = kube::FieldAt(*pc, {"value"});
    priority = v.is_number_integer() ? v.get<int64_t>() : 0;
    policy = pc->value("preemptionPolicy", json());
  }
  const json& stated = kube::FieldAt(spec, {"priority"});
  if (stated.is_number_integer() && stated.get<int64_t>() != priority) {
    return Forbidden(r, "the integer value of priority (" + std::to_string(stated.get<int64_t>()) +
                            ") must not be provided in pod spec; priority admission controller computed " +
                            std::to_string(priority) + " from the given PriorityClass name");
  }
  spec["priority"] = priority;
  if (policy.is_string()) {
    const json& stated_policy = kube::FieldAt(spec, {"preemptionPolicy"});
    if (stated_policy.is_string() && stated_policy != policy) {
      return Forbidden(r, "the string value of PreemptionPolicy (" + stated_policy.get<std::string>() +
                              ") must not be provided in pod spec; priority admission controller computed " +
                              policy.get<std::string>() + " from the given PriorityClass name");
    }
    spec["preemptionPolicy"] = policy;
  }
  return {};
}

// DefaultTolerationSeconds (plugin/pkg/admission/defaulttolerationseconds): a pod that does not
// tolerate the not-ready and unreachable NoExecute taints tolerates them for 300 s.
void DefaultTolerationSeconds(json& pod) {
  json& spec = pod["spec"];
  bool not_ready = false, unreachable = false;
  for (const auto& t : spec.value("tolerations", json::array())) {
    std::string key = t.value("key", ""), effect = t.value("effect", "");
    bool no_execute = effect.empty() || effect == "NoExecute";
    not_ready = not_ready || (no_execute && (key.empty() || key == "node.kubernetes.io/not-ready"));
    unreachable = unreachable || (no_execute && (key.empty() || key == "node.kubernetes.io/unreachable"));
  }
  if (not_ready && unreachable) return;
  if (!spec.contains("tolerations") || !spec["tolerations"].is_array()) spec["tolerations"] = json::array();
  for (auto [key, has] : {std::pair{"node.kubernetes.io/not-ready", not_ready},
                          std::pair{"node.kubernetes.io/unreachable", unreachable}}) {
    if (has) continue;
    spec["tolerations"].push_back(
        {{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}, {"tolerationSeconds", 300}});
  }
}

// RuntimeClass (plugin/pkg/admission/runtimeclass), for a pod CREATE naming a runtimeClassName:
// the class must exist; its overhead.podFixed becomes the pod's spec.overhead (which, when the
// pod states one, must be the same) and its scheduling merges into the pod's nodeSelector (a key
// the pod sets otherwise is a conflict) and tolerations.
AdmissionResult RuntimeClass(const Store& store, const AdmissionRequest& r, json& pod) {
  json& spec = pod["spec"];
  const json& name = kube::FieldAt(spec, {"runtimeClassName"});
  if (!name.is_string()) return {};
  auto rc = store.Get(kRuntimeClasses, "", name.get<std::string>());
  if (!rc.ok()) return Forbidden(r, "pod rejected: RuntimeClass " + name.dump() + " not found");
  const json& fixed = kube::FieldAt(*rc, {"overhead", "podFixed"});
  if (fixed.is_object()) {
    const json& stated = kube::FieldAt(spec, {"overhead"});
    if (stated.is_object() && !stated.empty() && stated != fixed) {
      return Forbidden(r, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
    }
    spec["overhead"] = fixed;
  }
  const json& selector = kube::FieldAt(*rc, {"scheduling", "nodeSelector"});
  if (selector.is_object()) {
    if (!spec.contains("nodeSelector") || !spec["nodeSelector"].is_object()) spec["nodeSelector"] = json::object();
    for (const auto& [key, want] : selector.items()) {
      const json& have = kube::FieldAt(spec, {"nodeSelector", key});
      if (have.is_string() && have != want) {
        return Forbidden(r, "conflict: runtimeClass.scheduling.nodeSelector[" + key + "] = " +
                                want.get<std::string>() + "; pod.spec.nodeSelector[" + key + "] = " +
                                have.get<std::string>());
      }
      spec["nodeSelector"][key] = want;
    }
  }
  const json& tolerations = kube::FieldAt(*rc, {"scheduling", "tolerations"});
  if (tolerations.is_array()) {
    if (!spec.contains("tolerations") || !spec["tolerations"].is_array()) spec["tolerations"] = json::array();
    for (const auto& t : tolerations) {
      if (std::find(spec["tolerations"].begin(), spec["tolerations"].end(), t) == spec["tolerations"].end()) {
        spec["tolerations"].push_back(t);
      }
    }
  }
  return {};
}

// The storage a claim requests; zero when absent, as an empty ResourceList reads in Go.
Quantity RequestedStorage(const json& pvc) {
  const json& v = kube::FieldAt(pvc, {"spec", "resources", "requests", "storage"});
  std::optional<Quantity> q = v.is_string() ? Quantity::Parse(v.get<std::string>()) : std::nullopt;
  return q ? *q : *Quantity::Parse("0");
}

// apihelper.GetPersistentVolumeClaimClass: the beta annotation wins over the field.
std::string ClaimClass(const json& pvc) {
  const json& beta = kube::FieldAt(pvc, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  if (beta.is_string()) return beta.get<std::string>();
  const json& cls = kube::FieldAt(pvc, {"spec", "storageClassName"});
  return cls.is_string() ? cls.get<std::string>() : "";
}

}  // namespace

AdmissionResult BuiltinAdmission::Mutate(const AdmissionRequest& r) const {
  if (AdmissionResult out = NamespaceLifecycle(*store_, r); !out.allowed) return out;
  if (!r.sub_resource.empty() || r.object == nullptr || !r.object->is_object()) return {};
  json& obj = *r.object;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
  if (Is(r, "", "pods") && (r.operation == Operation::kCreate || r.operation == Operation::kUpdate)) {
    if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = json::object();
    if (r.operation == Operation::kCreate) {
      if (AdmissionResult out = ServiceAccount(*store_, r, obj); !out.allowed) return out;
    }
    if (AdmissionResult out = Priority(*store_, r, obj); !out.allowed) return out;
    DefaultTolerationSeconds(obj);
    if (r.operation == Operation::kCreate) return RuntimeClass(*store_, r, obj);
    return {};
  }
  if (r.operation != Operation::kCreate) return {};
  if (Is(r, "", "persistentvolumeclaims")) {
    // DefaultStorageClass (plugin/pkg/admission/storage/storageclass/setdefault): a claim that
    // names no class, not even "" or through the beta annotation, gets the default one.
    const json& cls = kube::FieldAt(obj, {"spec", "storageClassName"});
    const json& beta = kube::FieldAt(obj, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
    if (cls.is_null() && beta.is_null() && obj.contains("spec") && obj["spec"].is_object()) {
      std::string def = NewestDefault(*store_, kStorageClasses,
                                      {"storageclass.kubernetes.io/is-default-class",
                                       "storageclass.beta.kubernetes.io/is-default-class"});
      if (!def.empty()) obj["spec"]["storageClassName"] = def;
    }
    // StorageObjectInUseProtection: the pvc-protection controller removes it once no pod uses the
    // claim (controllers.h), so a claim in use outlives its deletion.
    AddFinalizer(&obj, kPvcProtection);
  } else if (Is(r, "", "persistentvolumes")) {
    AddFinalizer(&obj, kPvProtection);  // removed once the volume is no longer Bound
  } else if (Is(r, "networking.k8s.io", "ingresses")) {
    // DefaultIngressClass (plugin/pkg/admission/network/defaultingressclass).
    const json& cls = kube::FieldAt(obj, {"spec", "ingressClassName"});
    const json& legacy = kube::FieldAt(obj, {"metadata", "annotations", "kubernetes.io/ingress.class"});
    if (cls.is_null() && legacy.is_null()) {
      std::string def = NewestDefault(*store_, kIngressClasses, {"ingressclass.kubernetes.io/is-default-class"});
      if (!def.empty()) {
        if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = json::object();
        obj["spec"]["ingressClassName"] = def;
      }
    }
  }
  return {};
}

AdmissionResult BuiltinAdmission::Validate(const AdmissionRequest& r) const {
  // RuntimeClass's validating half: the overhead is the class's, or absent without one.
  if (r.operation == Operation::kCreate && Is(r, "", "pods") && r.sub_resource.empty() && r.object != nullptr) {
    const json& overhead = kube::FieldAt(*r.object, {"spec", "overhead"});
    const json& cls = kube::FieldAt(*r.object, {"spec", "runtimeClassName"});
    json fixed;
    if (cls.is_string()) {
      auto rc = store_->Get(kRuntimeClasses, "", cls.get<std::string>());
      if (!rc.ok()) return Forbidden(r, "pod rejected: RuntimeClass " + cls.dump() + " not found");
      fixed = kube::FieldAt(*rc, {"overhead", "podFixed"});
    }
    if (fixed.is_object() && overhead != fixed) {
      return Forbidden(r, "pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead");
    }
    if (!fixed.is_object() && !overhead.is_null()) {
      return Forbidden(r, "pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead");
    }
  }
  // Priority's validating half: one globalDefault PriorityClass at most.
  if ((r.operation == Operation::kCreate || r.operation == Operation::kUpdate) &&
      Is(r, "scheduling.k8s.io", "priorityclasses") && r.sub_resource.empty() && r.object != nullptr &&
      kube::FieldAt(*r.object, {"globalDefault"}) == true) {
    auto def = DefaultPriorityClass(*store_);
    const std::string name = MetaString(r.object, "name");
    if (def && (r.operation == Operation::kCreate || kube::StringField(*def, {"metadata", "name"}) != name)) {
      return Forbidden(r, "PriorityClass " + kube::StringField(*def, {"metadata", "name"}) +
                              " is already marked as default. Only one default can exist");
    }
  }
  // PersistentVolumeClaimResize (plugin/pkg/admission/storage/persistentvolume/resize).
  if (r.operation == Operation::kUpdate && Is(r, "", "persistentvolumeclaims") &&
      r.sub_resource.empty() && r.object != nullptr && r.old_object != nullptr) {
    const json& pvc = *r.object;
    const json& old = *r.old_object;
    if (RequestedStorage(pvc) > RequestedStorage(old)) {
      const json& phase = kube::FieldAt(old, {"status", "phase"});
      if (!phase.is_string() || phase.get<std::string>() != "Bound") {
        return Forbidden(r, "Only bound persistent volume claims can be expanded");
      }
      const std::string cls = ClaimClass(pvc);
      bool allowed = false;
      if (!cls.empty() && cls == ClaimClass(old)) {
        auto sc = store_->Get(kStorageClasses, "", cls);
        allowed = sc.ok() && kube::FieldAt(*sc, {"allowVolumeExpansion"}) == true;
      }
      if (!allowed) {
        return Forbidden(r, "only dynamically provisioned pvc can be resized and the storageclass "
                            "that provisions the pvc must support resize");
      }
    }
  }
  return {};
}

AdmissionResult BuiltinAdmission::Quota(const AdmissionRequest& r) const {
  if (r.object == nullptr || !r.sub_resource.empty() || r.namespace_name.empty() || Is(r, "", "namespaces")) {
    return {};
  }
  const GroupResource gr{r.resource.group, r.resource.resource};
  // Updates are charged only where an update can grow usage: a Service's type and ports, a
  // claim's request (the services and persistentvolumeclaims evaluators handle UPDATE; pods and
  // the count/ evaluator only CREATE).
  const bool update = r.operation == Operation::kUpdate && r.old_object != nullptr;
  if (r.operation != Operation::kCreate &&
      !(update && gr.group.empty() && (gr.resource == "services" || gr.resource == "persistentvolumeclaims"))) {
    return {};
  }
  ListOptions in_ns;
  in_ns.namespace_name = r.namespace_name;
  auto quotas = store_->List({"", "resourcequotas"}, in_ns);
  if (!quotas.ok() || quotas->items.empty()) return {};
  // Constraints first, for every quota (a pod under a cpu or memory quota must say how much).
  if (gr.group.empty() && gr.resource == "pods" && r.operation == Operation::kCreate) {
    for (const auto& quota : quotas->items) {
      std::string missing = QuotaMissingRequirements(*quota, *r.object);
      if (!missing.empty()) {
        return Forbidden(r, "failed quota: " + kube::StringField(*quota, {"metadata", "name"}) + ": must specify " +
                                missing);
      }
    }
  }
  std::optional<std::vector<ObjectPtr>> existing;  // listed once, when needed
  const Quantity zero = *Quantity::Parse("0");
  for (const auto& quota : quotas->items) {
    if (!QuotaSelects(*quota, gr, *r.object)) continue;
    const json& hard = kube::FieldAt(*quota, {"spec", "hard"});
    if (!hard.is_object()) continue;
    std::string requested, used_text, limited;  // names in order, as json's object keeps them
    for (const auto& [name, limit_value] : hard.items()) {
      auto charge = QuotaCharge(name, gr, *r.object);
      auto limit = limit_value.is_string() ? Quantity::Parse(limit_value.get<std::string>()) : std::nullopt;
      if (!charge || !limit) continue;
      if (update) {
        auto before = QuotaCharge(name, gr, *r.old_object);
        if (before && QuotaSelects(*quota, gr, *r.old_object)) charge = *charge - *before;
      }
      if (*charge <= zero) continue;
      if (!existing) {
        auto listed = store_->List(gr, in_ns);
        existing = listed.ok() ? listed->items : std::vector<ObjectPtr>{};
      }
      Quantity used = zero;
      for (const auto& o : *existing) {
        if (!QuotaSelects(*quota, gr, *o)) continue;
        if (auto c = QuotaCharge(name, gr, *o)) used = used + *c;
      }
      if (used + *charge <= *limit) continue;
      const char* sep = requested.empty() ? "" : ",";
      requested += sep + name + "=" + charge->ToString();
      used_text += sep + name + "=" + used.ToString();
      limited += sep + name + "=" + limit_value.get<std::string>();
    }
    if (!requested.empty()) {
      return Forbidden(r, "exceeded quota: " + kube::StringField(*quota, {"metadata", "name"}) + ", requested: " +
                              requested + ", used: " + used_text + ", limited: " + limited);
    }
  }
  return {};
}

Result<json> CreateAdmitted(Store* store, const GroupResource& gr, std::string_view ns, json object) {
  auto t = store->registry()->Find(gr);
  if (!t) return Status::NotFound("the server could not find the requested resource (" + gr.String() + ")");
  AdmissionRequest r;
  r.operation = Operation::kCreate;
  r.kind = {t->group, t->version, t->kind};
  r.resource = {t->group, t->version, t->resource};
  r.name = kube::StringField(object, {"metadata", "name"});
  r.namespace_name = t->namespaced ? std::string(ns) : "";
  r.object = &object;
  BuiltinAdmission builtin(store);
  AdmissionResult a = builtin.Mutate(r);
  if (a.allowed) a = builtin.Validate(r);
  if (a.allowed) a = builtin.Quota(r);
  if (!a.allowed) {
    if (a.code == 404) return Status::NotFound(a.message);
    if (a.code == 403) return Status::PermissionDenied(a.message);
    return Status::Internal(a.message);
  }
  return store->Create(gr, ns, std::move(object));
}

}  // namespace kdr::kubesim
