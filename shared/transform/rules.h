#pragma once

// Velero resource modifiers (`version: v1`, `resourceModifierRules`), parsed strictly and compiled
// once: conditions become globs, an RE2 and a label selector; JSON patches are compiled; the
// patchData of merge and strategic patches is parsed. Applying (apply.h) then parses nothing.
//
// The format, as Velero's internal/resourcemodifiers reads it:
//
//   version: v1                      # compared case-insensitively
//   resourceModifierRules:           # at least one
//   - conditions:
//       groupResource: deployments.apps        # required; a glob (see match.h)
//       resourceNameRegex: "^web"               # optional; unanchored RE2 search
//       namespaces: [shop, "team-*"]            # optional; globs
//       labelSelector: {matchLabels: {..}, matchExpressions: [{key, operator, values}]}
//       matches: [{path: /spec/replicas, value: "3"}]   # optional; exact JSON equality
//     patches:          # RFC 6902; or mergePatches / strategicPatches: [{patchData: "..."}]
//     - operation: replace              # add remove replace move copy test
//       path: /spec/replicas
//       value: "1"                      # a string typed as Velero types it (VeleroValue)
//
// Strictness: an unknown key is an error naming it and its line (keys match case-insensitively
// when not exactly, as Go's encoding/json does); so is a duplicate key, a wrong type, a bad glob,
// regex, selector, pointer or value, and a rule with more than one action list. A rule with no
// action list is accepted, as Velero accepts it, but applying it to an object it matches is an
// error (a warning says so at load).

#include <nlohmann/json_fwd.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "transform/json_patch.h"
#include "transform/match.h"

namespace kdr::transform {

enum class ActionKind { kNone, kJsonPatch, kMergePatch, kStrategicPatch };

// "patches", "mergePatches", "strategicPatches" ("no action" for kNone).
std::string_view ActionKindName(ActionKind kind);

struct ModifierRule {
  size_t index = 0;
  int line = 0;  // 1-based line of the rule in the file
  RuleConditions conditions;
  ActionKind action = ActionKind::kNone;
  JsonPatch patches;  // kJsonPatch; compiled as JsonPatchDialect::kEvanphx, as Velero applies them
  // kMergePatch / kStrategicPatch: each patchData parsed to a JSON object, in order.
  std::vector<std::shared_ptr<const nlohmann::json>> patch_data;
};

// The outcome of loading a file: every problem found (not just the first) and warnings.
struct ModifierDiagnostics {
  std::vector<std::string> problems;  // "line 7, column 5: resourceModifierRules[0]...: why"
  std::vector<std::string> warnings;
};

// A compiled modifier file. Immutable; share it between threads freely.
class ResourceModifiers {
 public:
  // Parses and compiles. `what` names the source for messages ("modifiers.yaml"). On failure:
  // InvalidArgument "what: line 3, column 7: ..." for one problem, or "what: N problems:" and one
  // indented problem a line.
  static Result<ResourceModifiers> Parse(std::string_view text, std::string_view what);

  // Like Parse, but also hands back every problem and warning (for `transforms validate`).
  // Returns the modifiers only when there is no problem.
  static std::optional<ResourceModifiers> Load(std::string_view text,
                                               ModifierDiagnostics* diagnostics);

  const std::vector<ModifierRule>& rules() const { return rules_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<ModifierRule> rules_;
  std::vector<std::string> warnings_;
};

// Velero's typing of a JSON-patch or `matches` value string (internal/resourcemodifiers
// addQuotes): "" is the empty string; a value wrapped in double quotes is that JSON string; null,
// true/false (any case), anything starting with '{' or '[', and anything Go's
// strconv.ParseFloat accepts are raw JSON; everything else is a string. Velero pastes the text
// into JSON unescaped, so a value that does not then read as JSON ("True", "01", "a\b") fails
// there; here it is InvalidArgument at load.
Result<nlohmann::json> VeleroValue(std::string_view value);

}  // namespace kdr::transform
