#include "schema.h"

#include <nlohmann/json.hpp>

#include "validation.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

std::string JsonType(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "boolean";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

struct Walker {
  std::vector<std::string> pruned;
  std::vector<std::string> errors;

  void Walk(const json& schema, json& v, const std::string& path, bool root) {
    if (!schema.is_object()) return;
    if (v.is_null()) {
      if (!schema.value("nullable", false) && schema.contains("type") && !root) {
        // kube drops nulls of non-nullable fields during defaulting; keep it simple: accept.
      }
      return;
    }
    const std::string type = schema.value("type", "");
    const bool int_or_string = schema.value("x-kubernetes-int-or-string", false);
    if (int_or_string) {
      if (!v.is_string() && !v.is_number_integer()) {
        errors.push_back(path + ": Invalid value: \"" + JsonType(v) + "\": " + path +
                         " in body must be of type integer,string: \"" + JsonType(v) + "\"");
      }
      return;
    }
    if (!type.empty()) {
      std::string got = JsonType(v);
      bool ok = got == type || (type == "number" && got == "integer");
      if (!ok) {
        errors.push_back(path + ": Invalid value: \"" + got + "\": " + path + " in body must be of type " + type +
                         ": \"" + got + "\"");
        return;
      }
    }
    if (auto e = schema.find("enum"); e != schema.end() && e->is_array() && !e->empty()) {
      bool found = false;
      for (const auto& allowed : *e) found = found || allowed == v;
      if (!found) {
        std::string list;
        for (const auto& allowed : *e) list += (list.empty() ? "" : ", ") + allowed.dump();
        errors.push_back(path + ": Unsupported value: " + v.dump() + ": supported values: " + list);
      }
    }
    if (v.is_object()) {
      const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
      const json props = schema.value("properties", json::object());
      const json additional = schema.contains("additionalProperties") ? schema["additionalProperties"] : json();
      std::vector<std::string> drop;
      for (auto& [k, sub] : v.items()) {
        const std::string p = path.empty() ? k : path + "." + k;
        if (root && (k == "apiVersion" || k == "kind" || k == "metadata")) continue;
        if (props.contains(k)) {
          Walk(props[k], sub, p, false);
        } else if (additional.is_object()) {
          Walk(additional, sub, p, false);
        } else if (!(additional.is_boolean() && additional.get<bool>()) && !preserve) {
          drop.push_back(k);
          pruned.push_back(p);
        }
      }
      for (const auto& k : drop) v.erase(k);
      for (const auto& r : schema.value("required", json::array())) {
        if (r.is_string() && !v.contains(r.get<std::string>())) {
          errors.push_back((path.empty() ? "" : path + ".") + r.get<std::string>() + ": Required value");
        }
      }
    } else if (v.is_array() && schema.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) Walk(schema["items"], v[i], path + "[" + std::to_string(i) + "]", false);
    }
  }
};

}  // namespace

Result<std::vector<std::string>> ApplySchema(const ResourceType& t, json* object) {
  if (t.schema_json.empty() || !object->is_object()) return std::vector<std::string>{};
  json schema = json::parse(t.schema_json, nullptr, false);
  if (!schema.is_object()) return std::vector<std::string>{};
  Walker w;
  w.Walk(schema, *object, "", true);
  if (!w.errors.empty()) {
    std::string msg;
    for (const auto& e : w.errors) msg += (msg.empty() ? "" : ", ") + e;
    if (w.errors.size() > 1) msg = "[" + msg + "]";
    std::string name = object->contains("metadata") ? (*object)["metadata"].value("name", "") : "";
    return Status::InvalidArgument(QualifiedKind(t) + " " + json(name).dump() + " is invalid: " + msg);
  }
  return w.pruned;
}

std::vector<std::string> UnknownFields(const ResourceType& t, const json& object) {
  if (t.schema_json.empty() || !object.is_object()) return {};
  json schema = json::parse(t.schema_json, nullptr, false);
  if (!schema.is_object()) return {};
  json copy = object;
  Walker w;
  w.Walk(schema, copy, "", true);
  return w.pruned;
}

}  // namespace kdr::kubesim
