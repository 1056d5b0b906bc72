#include "defaults.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

void Default(json& obj, const char* key, const json& value) {
  if (obj.is_object() && !obj.contains(key)) obj[key] = value;
}

void ContainerDefaults(json& c) {
  if (!c.is_object()) return;
  std::string image = c.value("image", "");
  size_t slash = image.rfind('/');
  std::string last = slash == std::string::npos ? image : image.substr(slash + 1);
  bool latest = last.find(':') == std::string::npos || last.substr(last.find(':') + 1) == "latest";
  if (image.find('@') != std::string::npos) latest = false;
  Default(c, "imagePullPolicy", latest ? "Always" : "IfNotPresent");
  Default(c, "terminationMessagePath", "/dev/termination-log");
  Default(c, "terminationMessagePolicy", "File");
  Default(c, "resources", json::object());
  if (c.contains("ports") && c["ports"].is_array()) {
    for (auto& p : c["ports"]) Default(p, "protocol", "TCP");
  }
}

void PodSpecDefaults(json& spec) {
  if (!spec.is_object()) return;
  Default(spec, "restartPolicy", "Always");
  Default(spec, "terminationGracePeriodSeconds", 30);
  Default(spec, "dnsPolicy", "ClusterFirst");
  Default(spec, "securityContext", json::object());
  Default(spec, "schedulerName", "default-scheduler");
  for (const char* list : {"containers", "initContainers"}) {
    if (spec.contains(list) && spec[list].is_array()) {
      for (auto& c : spec[list]) ContainerDefaults(c);
    }
  }
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (auto& v : spec["volumes"]) {
      for (const char* src : {"configMap", "secret"}) {
        if (v.is_object() && v.contains(src) && v[src].is_object()) Default(v[src], "defaultMode", 420);
      }
    }
  }
}

json* TemplateSpec(json& obj) {
  if (!obj.contains("spec") || !obj["spec"].is_object()) return nullptr;
  json& spec = obj["spec"];
  if (!spec.contains("template") || !spec["template"].is_object()) return nullptr;
  json& tmpl = spec["template"];
  if (!tmpl.contains("spec") || !tmpl["spec"].is_object()) return nullptr;
  return &tmpl["spec"];
}

}  // namespace

void ApplyDefaults(const ResourceType& t, json* object) {
  json& o = *object;
  if (!o.is_object()) return;
  const std::string k = t.group + "/" + t.kind;
  if (t.custom) return;
  if (k == "/Pod") {
    if (o.contains("spec")) PodSpecDefaults(o["spec"]);
    return;
  }
  if (k == "/Service") {
    if (!o.contains("spec") || !o["spec"].is_object()) return;
    json& spec = o["spec"];
    if (spec.contains("ports") && spec["ports"].is_array()) {
      for (auto& p : spec["ports"]) {
        Default(p, "protocol", "TCP");
        if (p.is_object() && p.contains("port")) Default(p, "targetPort", p["port"]);
      }
    }
    return;
  }
  if (k == "/Secret") {
    // Not a default but the same decoding step: kube-apiserver's v1 -> internal conversion
    // (Convert_v1_Secret_To_core_Secret) merges stringData into data, stringData winning, and
    // drops it; it is write-only, never stored, returned or shown to admission webhooks.
    if (o.contains("stringData") && o["stringData"].is_object()) {
      if (!o.contains("data") || o["data"].is_null()) o["data"] = json::object();
      if (o["data"].is_object()) {
        for (const auto& [key, value] : o["stringData"].items()) {
          if (value.is_string()) o["data"][key] = Base64Encode(value.get<std::string>());
        }
        o.erase("stringData");
      }
    }
    return;
  }
  if (k == "/PersistentVolumeClaim") {
    if (o.contains("spec") && o["spec"].is_object()) Default(o["spec"], "volumeMode", "Filesystem");
    return;
  }
  if (k == "scheduling.k8s.io/PriorityClass") {
    Default(o, "preemptionPolicy", "PreemptLowerPriority");
    return;
  }
  if (k == "/PersistentVolume") {
    if (o.contains("spec") && o["spec"].is_object()) {
      Default(o["spec"], "volumeMode", "Filesystem");
      Default(o["spec"], "persistentVolumeReclaimPolicy", "Retain");
    }
    return;
  }
  json* pod = TemplateSpec(o);
  if (pod) PodSpecDefaults(*pod);
  if (!o.contains("spec") || !o["spec"].is_object()) return;
  json& spec = o["spec"];
  if (k == "apps/Deployment") {
    Default(spec, "strategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}});
    Default(spec, "revisionHistoryLimit", 10);
    Default(spec, "progressDeadlineSeconds", 600);
  } else if (k == "apps/StatefulSet") {
    Default(spec, "podManagementPolicy", "OrderedReady");
    Default(spec, "updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 0}}}});
    Default(spec, "revisionHistoryLimit", 10);
    Default(spec, "persistentVolumeClaimRetentionPolicy", {{"whenDeleted", "Retain"}, {"whenScaled", "Retain"}});
    if (spec.contains("volumeClaimTemplates") && spec["volumeClaimTemplates"].is_array()) {
      for (auto& pvc : spec["volumeClaimTemplates"]) {
        if (pvc.is_object() && pvc.contains("spec") && pvc["spec"].is_object()) Default(pvc["spec"], "volumeMode", "Filesystem");
      }
    }
  } else if (k == "apps/DaemonSet") {
    Default(spec, "updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}, {"maxSurge", 0}}}});
    Default(spec, "revisionHistoryLimit", 10);
  } else if (k == "batch/Job") {
    Default(spec, "backoffLimit", 6);
    Default(spec, "completionMode", "NonIndexed");
    Default(spec, "suspend", false);
    Default(spec, "parallelism", 1);
    Default(spec, "completions", 1);
  } else if (k == "batch/CronJob") {
    Default(spec, "concurrencyPolicy", "Allow");
    Default(spec, "suspend", false);
    Default(spec, "successfulJobsHistoryLimit", 3);
    Default(spec, "failedJobsHistoryLimit", 1);
    if (spec.contains("jobTemplate") && spec["jobTemplate"].is_object()) {
      json& jt = spec["jobTemplate"];
      if (jt.contains("spec") && jt["spec"].is_object()) {
        Default(jt["spec"], "backoffLimit", 6);
        Default(jt["spec"], "completionMode", "NonIndexed");
        if (json* jpod = TemplateSpec(jt)) PodSpecDefaults(*jpod);
      }
    }
  }
}

}  // namespace kdr::kubesim
