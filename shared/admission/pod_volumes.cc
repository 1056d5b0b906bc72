#include "admission/pod_volumes.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube/object.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

// The member `key` of obj, or null when obj is not an object or has none.
const json* Find(const json& obj, const char* key) {
  const json& v = kube::FieldAt(obj, {key});
  return v.is_null() ? nullptr : &v;
}

std::string StringOr(const json* v) { return v != nullptr && v->is_string() ? v->get<std::string>() : ""; }

bool IsTrue(const json* v) { return v != nullptr && v->is_boolean() && v->get<bool>(); }

}  // namespace

std::vector<ClaimVolume> ClaimVolumes(const json& pod_spec) {
  std::vector<ClaimVolume> out;
  const json* volumes = Find(pod_spec, "volumes");
  if (volumes == nullptr || !volumes->is_array()) return out;
  for (size_t i = 0; i < volumes->size(); ++i) {
    const json& vol = (*volumes)[i];
    const json* pvc = Find(vol, "persistentVolumeClaim");
    if (pvc == nullptr) continue;
    const json* claim = Find(*pvc, "claimName");
    if (claim == nullptr || !claim->is_string()) continue;
    ClaimVolume cv;
    cv.index = i;
    cv.volume = StringOr(Find(vol, "name"));
    cv.claim = claim->get<std::string>();
    cv.read_only_source = IsTrue(Find(*pvc, "readOnly"));
    out.push_back(std::move(cv));
  }
  if (out.empty()) return out;
  static constexpr std::pair<const char*, const char*> kLists[] = {
      {"initContainers", "init container "},
      {"containers", "container "},
      {"ephemeralContainers", "ephemeral container "}};
  for (const auto& [list, label] : kLists) {
    const json* containers = Find(pod_spec, list);
    if (containers == nullptr || !containers->is_array()) continue;
    for (const json& c : *containers) {
      const std::string who = label + Quote(StringOr(Find(c, "name")));
      for (ClaimVolume& cv : out) {
        if (const json* mounts = Find(c, "volumeMounts"); mounts != nullptr && mounts->is_array()) {
          for (const json& m : *mounts) {
            if (StringOr(Find(m, "name")) != cv.volume) continue;
            cv.uses.push_back(who + (IsTrue(Find(m, "readOnly")) ? " mounts it read-only" : " mounts it"));
            break;
          }
        }
        if (const json* devices = Find(c, "volumeDevices"); devices != nullptr && devices->is_array()) {
          for (const json& d : *devices) {
            if (StringOr(Find(d, "name")) != cv.volume) continue;
            cv.uses.push_back(who + " uses it as a raw block device");
            break;
          }
        }
      }
    }
  }
  return out;
}

std::optional<PodTemplate> WorkloadPodTemplate(std::string_view group, std::string_view resource,
                                               const json& object) {
  PodTemplate t;
  if ((group == "apps" && (resource == "deployments" || resource == "statefulsets" ||
                           resource == "daemonsets" || resource == "replicasets")) ||
      (group.empty() && resource == "replicationcontrollers") ||
      (group == "batch" && resource == "jobs")) {
    t.spec = &kube::FieldAt(object, {"spec", "template", "spec"});
    t.path = "spec.template.spec";
  } else if (group == "batch" && resource == "cronjobs") {
    t.spec = &kube::FieldAt(object, {"spec", "jobTemplate", "spec", "template", "spec"});
    t.path = "spec.jobTemplate.spec.template.spec";
  }
  if (t.spec == nullptr || !t.spec->is_object()) return std::nullopt;
  return t;
}

bool PersistentVolumeReadOnly(const json& pv) {
  const json* spec = Find(pv, "spec");
  if (spec == nullptr || !spec->is_object()) return false;
  for (const auto& [key, source] : spec->items()) {
    if (source.is_object() && IsTrue(Find(source, "readOnly"))) return true;
  }
  return false;
}

}  // namespace kdr::admission
