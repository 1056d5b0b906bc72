#include "builtin_admission.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "kube/object.h"
#include "quantity.h"
#include "store.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

const GroupResource kNamespaces{"", "namespaces"};
const GroupResource kStorageClasses{"storage.k8s.io", "storageclasses"};
const GroupResource kIngressClasses{"networking.k8s.io", "ingressclasses"};

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
  if (r.operation != Operation::kCreate || !r.sub_resource.empty() || r.object == nullptr ||
      !r.object->is_object()) {
    return {};
  }
  json& obj = *r.object;
  if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = json::object();
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
  if (!a.allowed) {
    if (a.code == 404) return Status::NotFound(a.message);
    if (a.code == 403) return Status::PermissionDenied(a.message);
    return Status::Internal(a.message);
  }
  return store->Create(gr, ns, std::move(object));
}

}  // namespace kdr::kubesim
