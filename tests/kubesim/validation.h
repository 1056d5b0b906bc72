#pragma once

// Object validation kube-apiserver does for every type (names, labels) plus the few per-type
// rules the product can trip over. Errors are InvalidArgument with kube's 422 message:
//   `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC
//    1123 subdomain must consist of ...`

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "base/status.h"
#include "registry.h"

namespace kdr::kubesim {

// "Deployment.apps", "ConfigMap": how kube names a kind in Invalid messages.
std::string QualifiedKind(const ResourceType& t);

// Validates metadata (name format for the type, label keys and values) and type rules.
Status ValidateObject(const ResourceType& t, const nlohmann::json& object);

}  // namespace kdr::kubesim
