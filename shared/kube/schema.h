#pragma once

// Validation of a JSON value against a structural OpenAPI v3 schema, the subset CustomResource
// Definitions use (type, properties, required, items, additionalProperties, enum, pattern,
// minLength/maxLength, minItems/maxItems, minimum/maximum, format date-time,
// x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string, nullable). Messages follow
// kube-apiserver's field errors, so what kubesim says of a bad object reads like a real cluster.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace kdr::kube {

struct SchemaOptions {
  // Fields not in `properties` are errors ("unknown field") instead of being ignored; kubectl's
  // --validate=strict behaviour. Pruning itself is the caller's business.
  bool reject_unknown_fields = false;
};

// Every violation of schema by value, one per line in kube-apiserver's form, e.g.
//   spec.storage.driver: Unsupported value: "nfs": supported values: "longhorn", "alletra", "none"
//   spec.inventory: Required value
// An empty result means valid. `root` prefixes paths ("" for the object root).
std::vector<std::string> ValidateSchema(const nlohmann::json& schema, const nlohmann::json& value,
                                        const SchemaOptions& options = {},
                                        const std::string& root = "");

}  // namespace kdr::kube
