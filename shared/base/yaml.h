#pragma once

// YAML <-> JSON as Kubernetes tooling reads it (sigs.k8s.io/yaml over go-yaml v2): plain scalars
// are typed by YAML 1.1's rules (true/false/yes/no/on/off, ~/null, integers incl. 0x/0o, floats,
// .inf/.nan), quoted scalars are strings, mapping keys are strings. Used for kubeconfigs, manifests,
// modifier files and -o yaml.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr {

// Parses one YAML document (an empty document is null). `what` names the source for messages
// ("kubeconfig /home/me/.kube/config"). InvalidArgument with line and column on a syntax error,
// and for more than one document.
Result<nlohmann::json> YamlToJson(std::string_view text, std::string_view what);

// Parses a stream of documents separated by "---"; empty documents are skipped.
Result<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view text, std::string_view what);

// Block-style YAML of a JSON value, the way kubectl prints -o yaml (keys in the object's order,
// strings quoted only when a plain scalar would read back as another type).
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace kdr
