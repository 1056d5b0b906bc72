// Server-side printing (meta.k8s.io/v1 Table), as kube-apiserver's printers do for the built-in
// kinds kubectl users look at most, additionalPrinterColumns for custom resources, and NAME/AGE
// for the rest.

#include <cstdio>
#include <nlohmann/json.hpp>

#include "api_internal.h"
#include "base/strings.h"
#include "kube/object.h"

namespace kdr::kubesim {

using json = nlohmann::json;

namespace {

using kube::FieldAt;

// k8s.io/apimachinery/pkg/util/duration.HumanDuration.
std::string HumanDuration(long long secs) {
  char buf[32];
  if (secs < -1) return "<invalid>";
  if (secs < 0) return "0s";
  long long mins = secs / 60, hours = secs / 3600, days = hours / 24, years = days / 365;
  if (secs < 120) std::snprintf(buf, sizeof buf, "%llds", secs);
  else if (mins < 10) {
    if (secs % 60 == 0) std::snprintf(buf, sizeof buf, "%lldm", mins);
    else std::snprintf(buf, sizeof buf, "%lldm%llds", mins, secs % 60);
  } else if (mins < 180) std::snprintf(buf, sizeof buf, "%lldm", mins);
  else if (hours < 8) {
    if (mins % 60 == 0) std::snprintf(buf, sizeof buf, "%lldh", hours);
    else std::snprintf(buf, sizeof buf, "%lldh%lldm", hours, mins % 60);
  } else if (hours < 48) std::snprintf(buf, sizeof buf, "%lldh", hours);
  else if (hours < 24 * 8) {
    if (hours % 24 == 0) std::snprintf(buf, sizeof buf, "%lldd", days);
    else std::snprintf(buf, sizeof buf, "%lldd%lldh", days, hours % 24);
  } else if (days < 365 * 2) std::snprintf(buf, sizeof buf, "%lldd", days);
  else if (years < 8) std::snprintf(buf, sizeof buf, "%lldy%lldd", years, days % 365);
  else std::snprintf(buf, sizeof buf, "%lldy", years);
  return buf;
}

std::string Age(const json& ts, Clock::WallTime now) {
  Clock::WallTime t;
  if (!ts.is_string() || !ParseRfc3339(ts.get<std::string>(), &t)) return "<unknown>";
  return HumanDuration(std::chrono::duration_cast<std::chrono::seconds>(now - t).count());
}

std::string S(const json& v, const char* fallback = "<none>") {
  if (v.is_string()) return v.get<std::string>().empty() ? fallback : v.get<std::string>();
  if (v.is_null()) return fallback;
  return v.dump();
}

long long N(const json& v) { return v.is_number() ? v.get<long long>() : 0; }

// A tiny JSONPath for printer columns: .a.b, [n], [*], [?(@.k=="v")].
void Eval(const json& cur, std::string_view path, std::vector<const json*>* out) {
  if (path.empty()) {
    out->push_back(&cur);
    return;
  }
  if (path[0] == '.') {
    size_t end = path.find_first_of(".[", 1);
    std::string key(path.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
    if (!cur.is_object()) return;
    auto it = cur.find(key);
    if (it == cur.end()) return;
    Eval(*it, end == std::string_view::npos ? "" : path.substr(end), out);
    return;
  }
  if (path[0] == '[') {
    size_t close = path.find(']');
    if (close == std::string_view::npos || !cur.is_array()) return;
    std::string_view inner = path.substr(1, close - 1);
    std::string_view rest = path.substr(close + 1);
    if (inner == "*") {
      for (const auto& e : cur) Eval(e, rest, out);
    } else if (inner.rfind("?(@.", 0) == 0) {
      size_t eq = inner.find("==");
      if (eq == std::string_view::npos) return;
      std::string key(inner.substr(4, eq - 4));
      std::string want(inner.substr(eq + 2));
      if (!want.empty() && want.back() == ')') want.pop_back();
      if (want.size() >= 2 && (want.front() == '"' || want.front() == '\'')) want = want.substr(1, want.size() - 2);
      for (const auto& e : cur) {
        if (e.is_object() && e.contains(key) && S(e[key], "") == want) Eval(e, rest, out);
      }
    } else {
      int idx = std::atoi(std::string(inner).c_str());
      if (idx < 0) idx += static_cast<int>(cur.size());
      if (idx >= 0 && idx < static_cast<int>(cur.size())) Eval(cur[idx], rest, out);
    }
  }
}

json Cell(const PrinterColumn& c, const json& obj, Clock::WallTime now) {
  std::vector<const json*> vals;
  std::string path = c.json_path;
  if (!path.empty() && path[0] != '.') path = "." + path;
  Eval(obj, path, &vals);
  if (vals.empty()) return nullptr;
  if (c.type == "date") return Age(*vals[0], now);
  if (c.type == "integer" || c.type == "number" || c.type == "boolean") return *vals[0];
  std::vector<std::string> parts;
  for (const json* v : vals) parts.push_back(v->is_string() ? v->get<std::string>() : v->dump());
  return Join(parts, ",");
}

json Col(const char* name, const char* type, int priority = 0, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

std::string ContainerList(const json& obj, const char* field) {
  std::vector<std::string> out;
  for (const auto& c : FieldAt(obj, {"spec", "template", "spec", "containers"})) {
    if (c.contains(field)) out.push_back(S(c[field], ""));
  }
  return Join(out, ",");
}

// Built-in printers: the columns (after Name) and the cells for one object.
bool Builtin(const ResourceType& t, json* cols, const json* obj, json* cells, Clock::WallTime now) {
  const std::string k = t.group + "/" + t.kind;
  auto age = [&] { return Age(FieldAt(*obj, {"metadata", "creationTimestamp"}), now); };
  if (k == "/Namespace") {
    *cols = {Col("Status", "string"), Col("Age", "string")};
    if (obj) *cells = {S(FieldAt(*obj, {"status", "phase"}), ""), age()};
  } else if (k == "/ConfigMap") {
    *cols = {Col("Data", "string"), Col("Age", "string")};
    if (obj) *cells = {FieldAt(*obj, {"data"}).size() + FieldAt(*obj, {"binaryData"}).size(), age()};
  } else if (k == "/Secret") {
    *cols = {Col("Type", "string"), Col("Data", "string"), Col("Age", "string")};
    if (obj) *cells = {S(FieldAt(*obj, {"type"}), "Opaque"), FieldAt(*obj, {"data"}).size(), age()};
  } else if (k == "/Service") {
    *cols = {Col("Type", "string"), Col("Cluster-IP", "string"), Col("External-IP", "string"),
             Col("Port(s)", "string"), Col("Age", "string"), Col("Selector", "string", 1)};
    if (obj) {
      std::vector<std::string> ports, sel;
      for (const auto& p : FieldAt(*obj, {"spec", "ports"})) {
        std::string s = S(p.value("port", json()), "");
        if (p.contains("nodePort")) s += ":" + S(p["nodePort"], "");
        ports.push_back(s + "/" + p.value("protocol", "TCP"));
      }
      for (const auto& [kk, v] : FieldAt(*obj, {"spec", "selector"}).items()) sel.push_back(kk + "=" + S(v, ""));
      *cells = {S(FieldAt(*obj, {"spec", "type"}), "ClusterIP"), S(FieldAt(*obj, {"spec", "clusterIP"})),
                "<none>", ports.empty() ? "<none>" : Join(ports, ","), age(),
                sel.empty() ? "<none>" : Join(sel, ",")};
    }
  } else if (k == "/Pod") {
    *cols = {Col("Ready", "string"), Col("Status", "string"), Col("Restarts", "string"),
             Col("Age", "string"), Col("IP", "string", 1), Col("Node", "string", 1),
             Col("Nominated Node", "string", 1), Col("Readiness Gates", "string", 1)};
    if (obj) {
      size_t total = FieldAt(*obj, {"spec", "containers"}).size(), ready = 0;
      long long restarts = 0;
      for (const auto& cs : FieldAt(*obj, {"status", "containerStatuses"})) {
        if (cs.value("ready", false)) ++ready;
        restarts += N(cs.value("restartCount", json()));
      }
      std::string status = S(FieldAt(*obj, {"status", "phase"}), "Unknown");
      if (FieldAt(*obj, {"status", "reason"}).is_string()) status = S(FieldAt(*obj, {"status", "reason"}));
      if (FieldAt(*obj, {"metadata", "deletionTimestamp"}).is_string()) status = "Terminating";
      *cells = {std::to_string(ready) + "/" + std::to_string(total), status, restarts, age(),
                S(FieldAt(*obj, {"status", "podIP"})), S(FieldAt(*obj, {"spec", "nodeName"})), "<none>", "<none>"};
    }
  } else if (k == "/PersistentVolumeClaim") {
    *cols = {Col("Status", "string"), Col("Volume", "string"), Col("Capacity", "string"),
             Col("Access Modes", "string"), Col("StorageClass", "string"),
             Col("VolumeAttributesClass", "string"), Col("Age", "string"), Col("VolumeMode", "string", 1)};
    if (obj) {
      std::vector<std::string> modes;
      for (const auto& m : FieldAt(*obj, {"status", "accessModes"})) {
        std::string s = S(m, "");
        modes.push_back(s == "ReadWriteOnce" ? "RWO" : s == "ReadOnlyMany" ? "ROX" : s == "ReadWriteMany" ? "RWX" : s == "ReadWriteOncePod" ? "RWOP" : s);
      }
      *cells = {S(FieldAt(*obj, {"status", "phase"}), ""), S(FieldAt(*obj, {"spec", "volumeName"}), ""),
                S(FieldAt(*obj, {"status", "capacity", "storage"}), ""), Join(modes, ","),
                S(FieldAt(*obj, {"spec", "storageClassName"})), "<unset>", age(),
                S(FieldAt(*obj, {"spec", "volumeMode"}), "Filesystem")};
    }
  } else if (k == "/PersistentVolume") {
    *cols = {Col("Capacity", "string"), Col("Access Modes", "string"), Col("Reclaim Policy", "string"),
             Col("Status", "string"), Col("Claim", "string"), Col("StorageClass", "string"),
             Col("VolumeAttributesClass", "string"), Col("Reason", "string"), Col("Age", "string"),
             Col("VolumeMode", "string", 1)};
    if (obj) {
      std::vector<std::string> modes;
      for (const auto& m : FieldAt(*obj, {"spec", "accessModes"})) {
        std::string s = S(m, "");
        modes.push_back(s == "ReadWriteOnce" ? "RWO" : s == "ReadOnlyMany" ? "ROX" : s == "ReadWriteMany" ? "RWX" : s == "ReadWriteOncePod" ? "RWOP" : s);
      }
      const json& claim = FieldAt(*obj, {"spec", "claimRef"});
      std::string c = claim.is_object() ? S(claim.value("namespace", json()), "") + "/" + S(claim.value("name", json()), "") : "";
      *cells = {S(FieldAt(*obj, {"spec", "capacity", "storage"}), ""), Join(modes, ","),
                S(FieldAt(*obj, {"spec", "persistentVolumeReclaimPolicy"}), "Retain"),
                S(FieldAt(*obj, {"status", "phase"}), ""), c, S(FieldAt(*obj, {"spec", "storageClassName"}), ""),
                "<unset>", S(FieldAt(*obj, {"status", "reason"}), ""), age(),
                S(FieldAt(*obj, {"spec", "volumeMode"}), "Filesystem")};
    }
  } else if (k == "apps/Deployment" || k == "apps/StatefulSet") {
    bool dep = k == "apps/Deployment";
    *cols = dep ? json{Col("Ready", "string"), Col("Up-to-date", "integer"), Col("Available", "integer"),
                       Col("Age", "string"), Col("Containers", "string", 1), Col("Images", "string", 1),
                       Col("Selector", "string", 1)}
                : json{Col("Ready", "string"), Col("Age", "string"), Col("Containers", "string", 1),
                       Col("Images", "string", 1)};
    if (obj) {
      std::string ready = std::to_string(N(FieldAt(*obj, {"status", "readyReplicas"}))) + "/" +
                          std::to_string(N(FieldAt(*obj, {"spec", "replicas"})));
      if (dep) {
        std::vector<std::string> sel;
        for (const auto& [kk, v] : FieldAt(*obj, {"spec", "selector", "matchLabels"}).items()) sel.push_back(kk + "=" + S(v, ""));
        *cells = {ready, N(FieldAt(*obj, {"status", "updatedReplicas"})), N(FieldAt(*obj, {"status", "availableReplicas"})),
                  age(), ContainerList(*obj, "name"), ContainerList(*obj, "image"), Join(sel, ",")};
      } else {
        *cells = {ready, age(), ContainerList(*obj, "name"), ContainerList(*obj, "image")};
      }
    }
  } else if (k == "apps/ReplicaSet") {
    *cols = {Col("Desired", "integer"), Col("Current", "integer"), Col("Ready", "integer"), Col("Age", "string")};
    if (obj) *cells = {N(FieldAt(*obj, {"spec", "replicas"})), N(FieldAt(*obj, {"status", "replicas"})),
                       N(FieldAt(*obj, {"status", "readyReplicas"})), age()};
  } else if (k == "batch/Job") {
    *cols = {Col("Status", "string"), Col("Completions", "string"), Col("Duration", "string"), Col("Age", "string")};
    if (obj) {
      std::string status = "Running";
      for (const auto& c : FieldAt(*obj, {"status", "conditions"})) {
        if (c.value("status", "") == "True" && c.value("type", "") == "Complete") status = "Complete";
        if (c.value("status", "") == "True" && c.value("type", "") == "Failed") status = "Failed";
      }
      long long completions = FieldAt(*obj, {"spec", "completions"}).is_number() ? N(FieldAt(*obj, {"spec", "completions"})) : 1;
      *cells = {status, std::to_string(N(FieldAt(*obj, {"status", "succeeded"}))) + "/" + std::to_string(completions),
                Age(FieldAt(*obj, {"status", "startTime"}), now), age()};
    }
  } else if (k == "storage.k8s.io/StorageClass") {
    *cols = {Col("Provisioner", "string"), Col("ReclaimPolicy", "string"), Col("VolumeBindingMode", "string"),
             Col("AllowVolumeExpansion", "string"), Col("Age", "string")};
    if (obj) *cells = {S(FieldAt(*obj, {"provisioner"})), S(FieldAt(*obj, {"reclaimPolicy"}), "Delete"),
                       S(FieldAt(*obj, {"volumeBindingMode"}), "Immediate"),
                       FieldAt(*obj, {"allowVolumeExpansion"}).is_boolean() ? FieldAt(*obj, {"allowVolumeExpansion"}).dump() : "false",
                       age()};
  } else if (k == "coordination.k8s.io/Lease") {
    *cols = {Col("Holder", "string"), Col("Age", "string")};
    if (obj) *cells = {S(FieldAt(*obj, {"spec", "holderIdentity"}), ""), age()};
  } else if (k == "apiextensions.k8s.io/CustomResourceDefinition") {
    *cols = {Col("Created At", "date")};
    if (obj) *cells = {S(FieldAt(*obj, {"metadata", "creationTimestamp"}), "")};
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool WantsTable(const ApiRequest& req) { return req.accept.find("as=Table") != std::string::npos; }

json MakeTable(const ResourceType& t, const std::vector<const json*>& objects,
               const std::string& resource_version, const std::string& include_object,
               Clock::WallTime now, bool with_columns) {
  json cols = json::array({Col("Name", "string", 0, "name")});
  json extra;
  json ignored;
  bool builtin = !t.custom && Builtin(t, &extra, nullptr, &ignored, now);
  if (builtin) {
    for (auto& c : extra) cols.push_back(c);
  } else if (!t.columns.empty()) {
    for (const auto& c : t.columns) {
      cols.push_back({{"name", c.name}, {"type", c.type == "date" ? "date" : c.type}, {"format", c.format},
                      {"description", c.description}, {"priority", c.priority}});
    }
  } else {
    cols.push_back({{"name", "Age"}, {"type", "date"}, {"format", ""},
                    {"description", "CreationTimestamp is a timestamp representing the server time when this object was created."},
                    {"priority", 0}});
  }
  json rows = json::array();
  for (const json* obj : objects) {
    json cells = json::array({FieldAt(*obj, {"metadata", "name"})});
    if (builtin) {
      json more;
      Builtin(t, &extra, obj, &more, now);
      for (auto& c : more) cells.push_back(c);
    } else if (!t.columns.empty()) {
      for (const auto& c : t.columns) cells.push_back(Cell(c, *obj, now));
    } else {
      cells.push_back(Age(FieldAt(*obj, {"metadata", "creationTimestamp"}), now));
    }
    json row = {{"cells", cells}};
    if (include_object == "Object") {
      row["object"] = *obj;
    } else if (include_object != "None") {
      json meta = obj->contains("metadata") ? (*obj)["metadata"] : json::object();
      row["object"] = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", meta}};
    }
    rows.push_back(std::move(row));
  }
  json table = {{"kind", "Table"}, {"apiVersion", "meta.k8s.io/v1"},
                {"metadata", {{"resourceVersion", resource_version}}}, {"rows", rows}};
  if (with_columns) table["columnDefinitions"] = cols;
  return table;
}

}  // namespace kdr::kubesim
