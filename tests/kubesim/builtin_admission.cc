#include "builtin_admission.h"

#include <nlohmann/json.hpp>
#include <optional>

#include "kube/object.h"
#include "quantity.h"
#include "store.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

const GroupResource kStorageClasses{"storage.k8s.io", "storageclasses"};

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

AdmissionResult BuiltinAdmission::Mutate(const AdmissionRequest& request) const {
  (void)request;
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

}  // namespace kdr::kubesim
