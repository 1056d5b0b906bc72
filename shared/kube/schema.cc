#include "kube/schema.h"

#include <re2/re2.h>

#include <nlohmann/json.hpp>

#include "base/clock.h"

namespace kdr::kube {
namespace {

using nlohmann::json;

std::string TypeOf(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) {
    double d = v.get<double>();
    return d == static_cast<double>(static_cast<long long>(d)) ? "integer" : "number";
  }
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

std::string Child(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string Shown(const json& v) {
  if (v.is_string()) return v.dump();
  if (v.is_object()) return "\"object\"";
  if (v.is_array()) return "\"array\"";
  return v.dump();
}

class Validator {
 public:
  Validator(const SchemaOptions& options, std::vector<std::string>* errors)
      : options_(options), errors_(errors) {}

  void Check(const json& schema, const json& v, const std::string& path) {
    if (!schema.is_object()) return;
    if (v.is_null()) {
      if (schema.value("nullable", false)) return;
      // kube-apiserver drops nulls for non-nullable fields during defaulting; treat as absent.
      return;
    }
    const std::string name = path.empty() ? "<root>" : path;
    if (schema.value("x-kubernetes-int-or-string", false)) {
      if (!v.is_string() && TypeOf(v) != "integer") {
        Add(name + ": Invalid value: " + Shown(v) + ": " + name +
            " in body must be of type int-or-string: \"" + TypeOf(v) + "\"");
      }
      return;
    }
    std::string type = schema.value("type", "");
    std::string actual = TypeOf(v);
    if (!type.empty() && type != actual && !(type == "number" && actual == "integer")) {
      Add(name + ": Invalid value: \"" + actual + "\": " + name + " in body must be of type " +
          type + ": \"" + actual + "\"");
      return;
    }
    if (schema.contains("enum") && schema["enum"].is_array()) {
      bool found = false;
      for (const auto& e : schema["enum"]) found = found || e == v;
      if (!found) {
        std::string supported;
        for (const auto& e : schema["enum"]) supported += (supported.empty() ? "" : ", ") + e.dump();
        Add(name + ": Unsupported value: " + v.dump() + ": supported values: " + supported);
      }
    }
    if (v.is_string()) CheckString(schema, v.get_ref<const std::string&>(), name);
    if (v.is_number()) CheckNumber(schema, v, name);
    if (v.is_array()) CheckArray(schema, v, path, name);
    if (v.is_object()) CheckObject(schema, v, path);
  }

 private:
  void Add(std::string e) { errors_->push_back(std::move(e)); }

  void CheckString(const json& schema, const std::string& s, const std::string& name) {
    if (schema.contains("minLength") && s.size() < schema["minLength"].get<size_t>()) {
      Add(name + ": Invalid value: " + json(s).dump() + ": " + name + " in body should be at least " +
          std::to_string(schema["minLength"].get<size_t>()) + " chars long");
    }
    if (schema.contains("maxLength") && s.size() > schema["maxLength"].get<size_t>()) {
      Add(name + ": Too long: may not be longer than " +
          std::to_string(schema["maxLength"].get<size_t>()));
    }
    if (schema.contains("pattern") && schema["pattern"].is_string()) {
      const std::string& pattern = schema["pattern"].get_ref<const std::string&>();
      RE2 re(pattern, RE2::Quiet);
      if (re.ok() && !RE2::PartialMatch(s, re)) {
        Add(name + ": Invalid value: " + json(s).dump() + ": " + name + " in body should match '" +
            pattern + "'");
      }
    }
    if (schema.value("format", "") == "date-time") {
      Clock::WallTime t;
      if (!ParseRfc3339(s, &t)) {
        Add(name + ": Invalid value: " + json(s).dump() + ": " + name +
            " in body must be of type date-time: " + json(s).dump());
      }
    }
  }

  void CheckNumber(const json& schema, const json& v, const std::string& name) {
    double d = v.get<double>();
    if (schema.contains("minimum") && d < schema["minimum"].get<double>()) {
      Add(name + ": Invalid value: " + v.dump() + ": " + name + " in body should be greater than or equal to " +
          schema["minimum"].dump());
    }
    if (schema.contains("maximum") && d > schema["maximum"].get<double>()) {
      Add(name + ": Invalid value: " + v.dump() + ": " + name + " in body should be less than or equal to " +
          schema["maximum"].dump());
    }
  }

  void CheckArray(const json& schema, const json& v, const std::string& path, const std::string& name) {
    if (schema.contains("minItems") && v.size() < schema["minItems"].get<size_t>()) {
      Add(name + ": Invalid value: " + std::to_string(v.size()) + ": " + name +
          " in body should have at least " + std::to_string(schema["minItems"].get<size_t>()) + " items");
    }
    if (schema.contains("maxItems") && v.size() > schema["maxItems"].get<size_t>()) {
      Add(name + ": Too many: " + std::to_string(v.size()) + ": must have at most " +
          std::to_string(schema["maxItems"].get<size_t>()) + " items");
    }
    if (schema.contains("items")) {
      for (size_t i = 0; i < v.size(); ++i) {
        Check(schema["items"], v[i], path + "[" + std::to_string(i) + "]");
      }
    }
  }

  void CheckObject(const json& schema, const json& v, const std::string& path) {
    if (schema.contains("required") && schema["required"].is_array()) {
      for (const auto& r : schema["required"]) {
        if (!r.is_string()) continue;
        const std::string& key = r.get_ref<const std::string&>();
        if (!v.contains(key) || v[key].is_null()) Add(Child(path, key) + ": Required value");
      }
    }
    const bool has_props = schema.contains("properties") && schema["properties"].is_object();
    const bool preserve = schema.value("x-kubernetes-preserve-unknown-fields", false);
    for (auto it = v.begin(); it != v.end(); ++it) {
      std::string child = Child(path, it.key());
      if (has_props && schema["properties"].contains(it.key())) {
        // metadata is validated by the API machinery, not by the CRD schema.
        if (path.empty() && it.key() == "metadata") continue;
        Check(schema["properties"][it.key()], it.value(), child);
      } else if (schema.contains("additionalProperties") &&
                 schema["additionalProperties"].is_object()) {
        Check(schema["additionalProperties"], it.value(), child);
      } else if (has_props && !preserve && options_.reject_unknown_fields) {
        Add(child + ": unknown field \"" + child + "\"");
      }
    }
  }

  const SchemaOptions& options_;
  std::vector<std::string>* errors_;
};

}  // namespace

std::vector<std::string> ValidateSchema(const json& schema, const json& value,
                                        const SchemaOptions& options, const std::string& root) {
  std::vector<std::string> errors;
  Validator(options, &errors).Check(schema, value, root);
  return errors;
}

}  // namespace kdr::kube
