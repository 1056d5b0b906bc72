#pragma once

// The field names of kube-apiserver's built-in kinds, for strict field validation
// (fieldValidation=Strict answers 400 "strict decoding error: unknown field \"spec.x\"" for
// built-in types as for custom ones; Warn answers 201 with a Warning header naming the field).
// The table (builtin_fields_data.cc) is generated from a real kube-apiserver's /openapi/v3 by
// tests/kubesim/builtin_schema/generate; regenerate it when the pinned Kubernetes version changes.
//
// Thread-safe: immutable once built.

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace kdr::kubesim {

// The generated table (see builtin_schema/generate for its format).
const char* BuiltinFieldsJson();

class BuiltinFields {
 public:
  // What a key names: known or not, and what its value is.
  struct Field {
    bool known = false;
    int type = -1;     // the value's type (objects, or the items of an array); -1: keys not checked
    bool map = false;  // the value is a map whose values are of `type`
  };

  // The table, parsed on first use.
  static const BuiltinFields& Get();

  // The type of `kind` served at `group_version` ("apps/v1", "v1"); -1 when not built in.
  int Root(std::string_view group_version, std::string_view kind) const;
  // The type named `name` ("meta.v1.ObjectMeta"); -1 when absent.
  int Named(std::string_view name) const;
  // The field `key` of the object type `type` (REQUIRES: type >= 0).
  Field Lookup(int type, std::string_view key) const;
  // The Kubernetes version the table was generated from ("v1.37.2").
  const std::string& version() const { return version_; }

 private:
  BuiltinFields();
  std::string version_;
  std::unordered_map<std::string, int> roots_;
  std::unordered_map<std::string, int> names_;
  std::vector<std::unordered_map<std::string, Field>> types_;
};

}  // namespace kdr::kubesim
