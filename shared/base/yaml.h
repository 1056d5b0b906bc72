#pragma once

// YAML <-> JSON as Kubernetes tooling reads it (sigs.k8s.io/yaml over go-yaml v2): plain scalars
// are typed by YAML 1.1's rules (true/false/yes/no/on/off, ~/null, integers incl. 0x/0o, floats,
// .inf/.nan), quoted scalars are strings, mapping keys are strings. Used for kubeconfigs, manifests,
// modifier files and -o yaml.
//
// Limits, the same for every reader (a file or ConfigMap is input from outside):
//  - nesting: yaml-cpp 0.7 refuses documents nested about 500 levels deep while parsing (its
//    DepthGuard), below kMaxJsonDepth (base/json.h), so whatever is read is safe to copy, compare
//    and print;
//  - aliases: yaml-cpp keeps an alias as a second reference to one node, so "&a [*b, *b, ...]"
//    nested 8 deep is 500 bytes of text and 10^8 nodes to whoever expands it. Reading charges
//    every node, an alias at what its anchor cost, against 4 * text.size() + 1 MiB nodes plus
//    scalar bytes (a document without aliases stays under 3 * text.size()), and refuses the text
//    at the alias that crosses it, without expanding it;
//  - yaml-cpp 0.7 loops forever, allocating, on a "," it cannot place (after a quoted scalar or
//    a flow collection at the top level: "x", or {a: 1},): refused where it stands;
//  - text: every scalar and key must be well-formed UTF-8, as go-yaml requires (nlohmann's dump
//    throws on anything else).
// Each is InvalidArgument naming `what`, the line and column.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace YAML {
class Node;
}  // namespace YAML

namespace kdr {

// Parses one YAML document (an empty document is null). `what` names the source for messages
// ("kubeconfig /home/me/.kube/config"). InvalidArgument with line and column on a syntax error,
// and for more than one document.
Result<nlohmann::json> YamlToJson(std::string_view text, std::string_view what);

// Parses a stream of documents separated by "---"; empty documents are skipped.
Result<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view text, std::string_view what);

// The documents of a YAML stream as yaml-cpp nodes, for readers that walk them themselves
// (transform/rules.cc reports problems by line), after the checks above. Empty documents are kept.
// InvalidArgument "<what>: invalid YAML at line L, column C: ..." (no "<what>: " when what is
// empty) on a syntax error or a broken limit.
Result<std::vector<YAML::Node>> LoadYamlDocuments(std::string_view text, std::string_view what);

// Block-style YAML of a JSON value, the way kubectl prints -o yaml (keys in the object's order,
// strings quoted only when a plain scalar would read back as another type).
std::string JsonToYaml(const nlohmann::json& value);

}  // namespace kdr
