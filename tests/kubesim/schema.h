#pragma once

// Structural-schema handling of custom resources, as kube-apiserver does it for a CRD version's
// openAPIV3Schema: unknown fields are pruned (unless x-kubernetes-preserve-unknown-fields or
// additionalProperties keep them), then types, required properties and enums are validated.
// apiVersion, kind and metadata at the root are never pruned. Other keywords (patterns, bounds,
// formats, CEL rules) are not checked.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "registry.h"

namespace kdr::kubesim {

// Prunes *object by the type's schema (no-op for types without one) and returns the paths of
// the pruned fields ("spec.foo"), for fieldValidation=Strict|Warn. InvalidArgument with kube's
// 422 message (`Widget.example.com "w" is invalid: spec.size: Invalid value: "string":
// spec.size in body must be of type integer: "string"`) when the object does not validate.
Result<std::vector<std::string>> ApplySchema(const ResourceType& type, nlohmann::json* object);

// The paths ApplySchema would prune, whether or not the object validates (strict decoding comes
// before validation in kube-apiserver).
std::vector<std::string> UnknownFields(const ResourceType& type, const nlohmann::json& object);

}  // namespace kdr::kubesim
