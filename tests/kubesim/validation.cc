#include "validation.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "kube/object.h"
#include "quantity.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

const json& Field(const json& obj, std::initializer_list<std::string_view> path) {
  return kube::FieldAt(obj, path);
}

bool IsDns1123Label(const std::string& s) { return kube::IsDns1123Label(s); }
bool IsDns1123Subdomain(const std::string& s) { return kube::IsDns1123Subdomain(s); }

bool IsDns1035Label(const std::string& s) {
  return IsDns1123Label(s) && s.front() >= 'a' && s.front() <= 'z';
}

constexpr const char* kSubdomainMsg =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
constexpr const char* kLabelMsg =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
constexpr const char* kDns1035Msg =
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

bool IsLabelValue(const std::string& v) {
  if (v.empty()) return true;
  if (v.size() > 63) return false;
  auto alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  for (char c : v) {
    if (!alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

bool IsQualifiedName(const std::string& k) {
  std::string name = k;
  size_t slash = k.find('/');
  if (slash != std::string::npos) {
    if (!IsDns1123Subdomain(k.substr(0, slash))) return false;
    name = k.substr(slash + 1);
  }
  return !name.empty() && name.size() <= 63 && IsLabelValue(name);
}

}  // namespace

// kube-apiserver's limits: all annotations of an object together, and a ConfigMap's or Secret's
// data.
constexpr size_t kMaxAnnotationsBytes = 256 * 1024;
constexpr size_t kMaxDataBytes = 1024 * 1024;

std::string QualifiedKind(const ResourceType& t) {
  return t.group.empty() ? t.kind : t.kind + "." + t.group;
}

Status ValidateObject(const ResourceType& t, const json& obj) {
  const json& meta = obj["metadata"];
  const std::string name = meta.value("name", "");
  std::vector<std::string> errs;
  auto invalid = [&](const std::string& field, const std::string& value, const std::string& why) {
    errs.push_back(field + ": Invalid value: " + json(value).dump() + ": " + why);
  };
  if (t.group == "rbac.authorization.k8s.io") {
    if (name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('%') != std::string::npos) {
      invalid("metadata.name", name, "may not contain '/' or '%'");
    }
  } else if (t.group.empty() && t.resource == "namespaces") {
    if (!IsDns1123Label(name)) invalid("metadata.name", name, kLabelMsg);
  } else if (t.group.empty() && t.resource == "services") {
    if (!IsDns1035Label(name)) invalid("metadata.name", name, kDns1035Msg);
  } else if (!IsDns1123Subdomain(name)) {
    invalid("metadata.name", name, kSubdomainMsg);
  }
  if (auto labels = meta.find("labels"); labels != meta.end()) {
    if (!labels->is_object() && !labels->is_null()) {
      errs.push_back("metadata.labels: Invalid value: must be a map of strings");
    } else if (labels->is_object()) {
      for (const auto& [k, v] : labels->items()) {
        if (!IsQualifiedName(k)) {
          invalid("metadata.labels", k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
        }
        if (!v.is_string() || !IsLabelValue(v.get<std::string>())) {
          invalid("metadata.labels", v.is_string() ? v.get<std::string>() : v.dump(),
                  "a valid label must be an empty string or consist of alphanumeric characters, "
                  "'-', '_' or '.', and must start and end with an alphanumeric character");
        }
      }
    }
  }
  if (auto ann = meta.find("annotations"); ann != meta.end() && ann->is_object()) {
    size_t total = 0;
    for (const auto& [k, v] : ann->items()) {
      if (!v.is_string()) {
        errs.push_back("metadata.annotations: Invalid value: " + v.dump() + ": must be a string");
      } else {
        total += k.size() + v.get_ref<const std::string&>().size();
      }
    }
    if (total > kMaxAnnotationsBytes) {
      errs.push_back("metadata.annotations: Too long: must have at most " + std::to_string(kMaxAnnotationsBytes) +
                     " bytes");
    }
  }
  if (t.group.empty() && (t.resource == "configmaps" || t.resource == "secrets")) {
    // Keys and values together (Secret data counted decoded: base64 is 4 bytes for 3).
    const bool secret = t.resource == "secrets";
    size_t total = 0;
    for (const char* f : {"data", "binaryData", "stringData"}) {
      const json& d = Field(obj, {f});
      if (!d.is_object()) continue;
      for (const auto& [k, v] : d.items()) {
        const size_t n = v.is_string() ? v.get_ref<const std::string&>().size() : 0;
        const bool encoded = (secret && std::string_view(f) == "data") || std::string_view(f) == "binaryData";
        total += k.size() + (encoded ? n / 4 * 3 : n);
      }
    }
    if (total > kMaxDataBytes) {
      errs.push_back(std::string(secret ? "data" : "[]") + ": Too long: must have at most " +
                     std::to_string(kMaxDataBytes) + " bytes");
    }
  }
  if (t.group == "scheduling.k8s.io" && t.resource == "priorityclasses") {
    const json& value = Field(obj, {"value"});
    if (name.rfind("system-", 0) == 0) {
      if (name != "system-cluster-critical" && name != "system-node-critical") {
        errs.push_back("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
                       "system use only. error: priority class " + name + " is not recognized as a system "
                       "priority class");
      } else if (const int64_t want = name == "system-node-critical" ? 2000001000 : 2000000000;
                 !value.is_number() || value.get<double>() != static_cast<double>(want)) {
        // scheduling's IsKnownSystemPriorityClass: a built-in name keeps its built-in value.
        errs.push_back("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for "
                       "system use only. error: value of " + name + " PriorityClass must be " +
                       std::to_string(want));
      }
    } else if (value.is_number() && value.get<double>() > 1e9) {
      errs.push_back("value: Forbidden: maximum allowed value of a user defined priority is 1000000000");
    }
  }
  if (t.group == "rbac.authorization.k8s.io" && (t.resource == "roles" || t.resource == "clusterroles")) {
    // ValidatePolicyRule: a rule grants verbs or nothing (a verb misspelt "verbz" leaves none).
    const json& rules = Field(obj, {"rules"});
    if (rules.is_array()) {
      for (size_t i = 0; i < rules.size(); ++i) {
        const json& verbs = Field(rules[i], {"verbs"});
        if (!verbs.is_array() || verbs.empty()) {
          errs.push_back("rules[" + std::to_string(i) + "].verbs: Required value");
        }
      }
    }
  }
  if (t.group == "coordination.k8s.io" && t.resource == "leases") {
    const json& d = Field(obj, {"spec", "leaseDurationSeconds"});
    if (d.is_number() && d.get<double>() <= 0) {
      errs.push_back("spec.leaseDurationSeconds: Invalid value: " + d.dump() + ": must be greater than 0");
    }
    const json& transitions = Field(obj, {"spec", "leaseTransitions"});
    if (transitions.is_number() && transitions.get<double>() < 0) {
      errs.push_back("spec.leaseTransitions: Invalid value: " + transitions.dump() +
                     ": must be greater than or equal to 0");
    }
  }
  if (t.group == "apps" && (t.resource == "deployments" || t.resource == "statefulsets" ||
                            t.resource == "replicasets" || t.resource == "daemonsets")) {
    const json spec = obj.value("spec", json::object());
    if (!spec.contains("selector")) errs.push_back("spec.selector: Required value");
    if (auto r = spec.find("replicas"); r != spec.end() && (!r->is_number_integer() || r->get<int64_t>() < 0)) {
      errs.push_back("spec.replicas: Invalid value: " + r->dump() + ": must be greater than or equal to 0");
    }
  }
  if (errs.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errs) msg += (msg.empty() ? "" : ", ") + e;
  if (errs.size() > 1) msg = "[" + msg + "]";
  return Status::InvalidArgument(QualifiedKind(t) + " " + json(name).dump() + " is invalid: " + msg);
}

namespace {

}  // namespace

Status ValidateGeneratedSelector(const ResourceType& t, const json& job) {
  if (t.custom || t.group != "batch" || t.resource != "jobs" || Field(job, {"spec", "manualSelector"}) == true) {
    return Status::Ok();
  }
  const std::string uid = Field(job, {"metadata", "uid"}).is_string() ? Field(job, {"metadata", "uid"}).get<std::string>() : "";
  const json& labels = Field(job, {"spec", "template", "metadata", "labels"});
  std::vector<std::string> errs;
  for (const char* k : {"controller-uid", "batch.kubernetes.io/controller-uid"}) {
    const json& v = Field(labels, {k});
    if (v.is_string() && v.get<std::string>() != uid) {
      errs.push_back(std::string("spec.template.metadata.labels[") + k + "]: Invalid value: " + labels.dump() +
                     ": must be '" + uid + "'");
    }
  }
  const json& match = Field(job, {"spec", "selector", "matchLabels"});
  bool matches = true;
  if (match.is_object()) {
    for (auto it = match.begin(); it != match.end(); ++it) {
      if (Field(labels, {it.key()}) != *it) matches = false;
    }
  }
  if (!matches) {
    errs.push_back("spec.template.metadata.labels: Invalid value: " + labels.dump() +
                   ": `selector` does not match template `labels`");
  }
  if (errs.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errs) msg += (msg.empty() ? "" : ", ") + e;
  if (errs.size() > 1) msg = "[" + msg + "]";
  return Status::InvalidArgument(QualifiedKind(t) + " " + json(Field(job, {"metadata", "name"})).dump() +
                                 " is invalid: " + msg);
}

Status ValidateUpdate(const ResourceType& t, const json& old, json* next_ptr) {
  json& next = *next_ptr;
  if (t.custom) return Status::Ok();
  const std::string k = t.group + "/" + t.kind;
  const std::string name = next["metadata"].value("name", "");
  std::vector<std::string> errs;
  auto immutable = [&](const std::string& field, const json& value) {
    errs.push_back(field + ": Invalid value: " + value.dump() + ": field is immutable");
  };
  const json& old_spec = Field(old, {"spec"});
  const json& new_spec = Field(next, {"spec"});
  if (k == "apps/Deployment" || k == "apps/ReplicaSet" || k == "apps/DaemonSet" || k == "apps/StatefulSet" ||
      k == "batch/Job") {
    if (Field(old, {"spec", "selector"}) != Field(next, {"spec", "selector"})) {
      immutable("spec.selector", Field(next, {"spec", "selector"}));
    }
  }
  if (k == "apps/StatefulSet" && old_spec.is_object() && new_spec.is_object()) {
    json a = old_spec, b = new_spec;
    for (const char* f : {"replicas", "ordinals", "template", "updateStrategy",
                          "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}) {
      a.erase(f);
      b.erase(f);
    }
    if (a != b) {
      errs.push_back("spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
                     "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' "
                     "and 'minReadySeconds' are forbidden");
    }
  }
  if (k == "batch/Job" && Field(old, {"spec", "template"}) != Field(next, {"spec", "template"})) {
    immutable("spec.template", Field(next, {"spec", "template"}));
  }
  if (k == "/PersistentVolumeClaim" && old_spec.is_object() && new_spec.is_object()) {
    json a = old_spec, b = new_spec;
    // Only a Bound claim's storage request may change (next carries the old status here).
    if (Field(next, {"status", "phase"}) == "Bound" && Field(b, {"resources", "requests"}).is_object()) {
      const json& old_storage = Field(a, {"resources", "requests", "storage"});
      if (old_storage.is_null()) {
        b["resources"]["requests"].erase("storage");
      } else {
        b["resources"]["requests"]["storage"] = old_storage;
      }
    }
    for (json* s : {&a, &b}) {
      s->erase("volumeAttributesClassName");
    }
    // The binder may set volumeName once; a class may be assigned to a claim without one
    // (retroactive default StorageClass assignment).
    if (!a.contains("volumeName")) b.erase("volumeName");
    if (!a.contains("storageClassName")) b.erase("storageClassName");
    if (a != b) {
      errs.push_back("spec: Forbidden: spec is immutable after creation except resources.requests and "
                     "volumeAttributesClassName for bound claims");
    }
    // kube-apiserver 1.28-1.31 (RecoverVolumeExpansionFailure off): no shrinking at all; 1.32
    // allows shrinking down to just above status.capacity, so this is the stricter rule.
    auto storage = [](const json& spec) {
      const json& v = Field(spec, {"resources", "requests", "storage"});
      std::optional<Quantity> q = v.is_string() ? Quantity::Parse(v.get<std::string>()) : std::nullopt;
      return q ? *q : *Quantity::Parse("0");
    };
    if (storage(new_spec) < storage(old_spec)) {
      errs.push_back("spec.resources.requests.storage: Forbidden: field can not be less than previous value");
    }
  }
  if (k == "/PersistentVolume" && old_spec.is_object() && new_spec.is_object()) {
    for (const char* src : {"csi", "hostPath", "nfs", "local", "iscsi", "fc", "awsElasticBlockStore", "gcePersistentDisk"}) {
      if (Field(old, {"spec", src}) != Field(next, {"spec", src})) {
        errs.push_back("spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation");
        break;
      }
    }
  }
  if (k == "/Service" && new_spec.is_object()) {
    const json& old_ip = Field(old, {"spec", "clusterIP"});
    if (!new_spec.contains("clusterIP") || new_spec["clusterIP"] == "") {
      if (!old_ip.is_null()) next["spec"]["clusterIP"] = old_ip;
      const json& old_ips = Field(old, {"spec", "clusterIPs"});
      if (!old_ips.is_null() && !new_spec.contains("clusterIPs")) next["spec"]["clusterIPs"] = old_ips;
    } else if (!old_ip.is_null() && new_spec["clusterIP"] != old_ip) {
      errs.push_back("spec.clusterIPs[0]: Invalid value: " + json::array({new_spec["clusterIP"]}).dump() +
                     ": may not change once set");
    }
  }
  if (k == "storage.k8s.io/StorageClass") {
    for (const char* f : {"parameters", "provisioner", "reclaimPolicy"}) {
      if (Field(old, {f}) != Field(next, {f})) {
        errs.push_back(std::string(f) + ": Forbidden: updates to " + f + " are forbidden.");
      }
    }
    if (Field(old, {"volumeBindingMode"}) != Field(next, {"volumeBindingMode"})) {
      immutable("volumeBindingMode", Field(next, {"volumeBindingMode"}));
    }
  }
  if ((k == "/ConfigMap" || k == "/Secret") && Field(old, {"immutable"}) == true) {
    for (const char* f : {"data", "binaryData"}) {
      if (Field(old, {f}) != Field(next, {f})) {
        errs.push_back(std::string(f) + ": Forbidden: field is immutable when `immutable` is set");
      }
    }
    if (Field(next, {"immutable"}) != true) {
      errs.push_back("immutable: Forbidden: field is immutable when `immutable` is set");
    }
  }
  if (errs.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errs) msg += (msg.empty() ? "" : ", ") + e;
  if (errs.size() > 1) msg = "[" + msg + "]";
  return Status::InvalidArgument(QualifiedKind(t) + " " + json(name).dump() + " is invalid: " + msg);
}

}  // namespace kdr::kubesim

namespace kdr::kubesim {

Status ValidateEphemeralContainersUpdate(const ResourceType& t, const json& pod, const json& had,
                                         const json& want) {
  const std::string name = Field(pod, {"metadata"}).value("name", "");
  std::vector<std::string> errs;
  if (!want.is_array()) {
    errs.push_back("spec.ephemeralContainers: Invalid value: " + want.dump() + ": must be a list");
  } else {
    for (size_t i = 0; i < had.size(); ++i) {
      const std::string had_name = had[i].value("name", "");
      if (i >= want.size()) {
        errs.push_back("spec.ephemeralContainers: Forbidden: existing ephemeral containers \"" + had_name +
                       "\" may not be removed");
      } else if (want[i] != had[i]) {
        errs.push_back("spec.ephemeralContainers[" + std::to_string(i) +
                       "]: Forbidden: existing ephemeral containers \"" + had_name + "\" may not be changed");
      }
    }
    std::set<std::string> names, volumes;
    for (const char* list : {"initContainers", "containers"}) {
      for (const json& c : Field(pod, {"spec", list}).is_array() ? Field(pod, {"spec", list}) : json::array()) {
        if (c.is_object()) names.insert(c.value("name", ""));
      }
    }
    for (const json& v : Field(pod, {"spec", "volumes"}).is_array() ? Field(pod, {"spec", "volumes"}) : json::array()) {
      if (v.is_object()) volumes.insert(v.value("name", ""));
    }
    for (size_t i = 0; i < want.size(); ++i) {
      const std::string at = "spec.ephemeralContainers[" + std::to_string(i) + "]";
      const json& c = want[i];
      if (!c.is_object()) {
        errs.push_back(at + ": Invalid value: " + c.dump() + ": must be an object");
        continue;
      }
      const std::string cname = c.value("name", "");
      if (cname.empty()) {
        errs.push_back(at + ".name: Required value");
      } else if (!names.insert(cname).second) {
        errs.push_back(at + ".name: Duplicate value: \"" + cname + "\"");
      }
      if (i >= had.size() && c.value("image", "").empty()) errs.push_back(at + ".image: Required value");
      const json mounts = c.value("volumeMounts", json::array());
      for (size_t m = 0; m < mounts.size(); ++m) {
        const std::string vname = mounts[m].is_object() ? mounts[m].value("name", "") : "";
        if (!volumes.count(vname)) {
          errs.push_back(at + ".volumeMounts[" + std::to_string(m) + "].name: Not found: \"" + vname + "\"");
        }
      }
    }
  }
  if (errs.empty()) return Status::Ok();
  std::string msg;
  for (const auto& e : errs) msg += (msg.empty() ? "" : ", ") + e;
  if (errs.size() > 1) msg = "[" + msg + "]";
  return Status::InvalidArgument(QualifiedKind(t) + " " + json(name).dump() + " is invalid: " + msg);
}

}  // namespace kdr::kubesim
