#pragma once

// The transform engine: compiled resource modifiers (rules.h) and VM options (vm.h) applied to
// one Kubernetes object. The same code runs in the mutating webhook, in the restore and offline
// in `kubectl dr transforms apply`.
//
// Semantics (Velero's, with one deliberate difference):
//   - Rules run in file order. Each rule's conditions are judged against the object as it was
//     before any rule ran; its action applies to the object as the earlier rules left it.
//   - A rule's JSON patches apply atomically; a failed `test` drops that whole rule and later
//     rules still run. A `test` fails when the value differs, or when the member it names is
//     missing from an existing object and the value is not null (evanphx/json-patch reads the
//     missing member as null). A `test` whose path cannot be resolved (a missing parent, an
//     array index out of range) is not a failed test but an error, as in Velero: the object is
//     not transformed. mergePatches and strategicPatches apply their patchData in order.
//   - The difference: where Velero would log an error and restore a half-transformed object, the
//     object is transformed completely or not at all, and the error names the rule.
// Applying parses nothing: all parsing happened when the modifiers were loaded.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "transform/resource.h"
#include "transform/rules.h"

namespace kdr::transform {

// What happened to one object, for logs, the CLI and the webhook's audit line.
struct ApplyTrace {
  std::string group_resource;           // what the conditions were matched against
  std::vector<size_t> applied;          // rules that matched and changed (or kept) the object
  std::vector<size_t> skipped_by_test;  // rules dropped by a failed JSON-patch `test`
  bool vm_power_changed = false;
};

// Applies every matching rule to *object, an object of group_resource ("deployments.apps").
// All or nothing: on error *object is unchanged. Errors are FailedPrecondition naming the rule
// (index and line), its action, the operation and path, and why:
//   "rule 1 (patches, line 12): operation 0 (remove /metadata/labels/x): path not found"
//   "rule 0 (patches, line 3): operation 0 (test /metadata/annotations/team): path not found
//    (/metadata has no member \"annotations\"); as in velero, only a test whose value differs
//    skips its rule, ...: to skip objects without /metadata/annotations, move the test into the
//    rule's conditions.matches, ..."
//   "rule 2 (strategicPatches, line 20): strategic merge patch is not supported for
//    example.com/v1, Kind=Widget ..."
//   "rule 3 (no action, line 30): matches the object but has no patches, mergePatches or
//    strategicPatches"
// Thread-safe for distinct objects.
Status ApplyModifiers(const ResourceModifiers& modifiers, std::string_view group_resource,
                      nlohmann::json* object, ApplyTrace* trace = nullptr);

// Everything a recovery asks of one object.
struct TransformOptions {
  const ResourceModifiers* modifiers = nullptr;  // none: no rules
  std::optional<bool> vm_power_on;               // set: power KubeVirt VMs on (true) or off
  const ResourceMapper* mapper = nullptr;        // null: the built-in table (resource.h)
};

// Checks the object (a JSON object with string apiVersion and kind: InvalidArgument otherwise),
// finds its groupResource (given, or from the mapper), applies the modifiers, then the VM
// options. All or nothing, as ApplyModifiers.
Status TransformObject(const TransformOptions& options, nlohmann::json* object,
                       std::optional<std::string_view> group_resource = std::nullopt,
                       ApplyTrace* trace = nullptr);

}  // namespace kdr::transform
