#include "transform/apply.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "transform/json_patch.h"
#include "transform/merge_patch.h"
#include "transform/strategic.h"
#include "transform/vm.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

std::string_view StringField(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get_ref<const std::string&>();
}

std::string RuleHead(const ModifierRule& rule) {
  return "rule " + std::to_string(rule.index) + " (" + std::string(ActionKindName(rule.action)) +
         ", line " + std::to_string(rule.line) + ")";
}

// What to do about a `test` whose path did not resolve in doc. Velero's JSONPatcher.Patch
// forgives only jsonpatch.ErrTestFailed; anything else is "error in applying JSON Patch" and the
// object is not restored. Its conditions.matches (matchConditions) also forgives ErrMissing, so a
// test moved there skips objects whose parent is missing, but not a bad index of an array.
std::string UnresolvedTestAdvice(const JsonPatch::Operation& op, const json& doc) {
  if (op.path_tokens.empty()) return "";  // the root always resolves
  const std::string parent = op.path.substr(0, op.path.rfind('/'));
  const json* p = ResolvePointer(
      doc, std::vector<std::string>(op.path_tokens.begin(), op.path_tokens.end() - 1));
  std::string out = "; as in velero, only a test whose value differs skips its rule, and a test "
                    "whose path does not resolve fails the object: ";
  if (p != nullptr && p->is_array()) {
    return out + "test an index that every object the rule matches has, or narrow the rule's "
                 "conditions to those objects";
  }
  return out + "to skip objects without " + parent +
         ", move the test into the rule's conditions.matches, where a missing parent means the "
         "rule does not match";
}

}  // namespace

Status ApplyModifiers(const ResourceModifiers& modifiers, std::string_view group_resource,
                      nlohmann::json* object, ApplyTrace* trace) {
  // Conditions read *object, which stays as it was until every rule has succeeded; actions edit
  // a copy made when the first rule matches (objects no rule matches are never copied).
  const json& original = *object;
  std::optional<json> working;
  for (const ModifierRule& rule : modifiers.rules()) {
    if (!rule.conditions.Matches(original, group_resource)) continue;
    if (!working) working.emplace(original);
    json& doc = *working;
    switch (rule.action) {
      case ActionKind::kNone:
        return Status::FailedPrecondition(
            RuleHead(rule) + ": matches the object but has no patches, mergePatches or "
                             "strategicPatches; give it one action list or remove it");
      case ActionKind::kJsonPatch: {
        size_t failed = 0;
        Status s = rule.patches.Apply(&doc, &failed);
        if (s.code() == StatusCode::kFailedPrecondition) {
          // A failed `test` drops this rule (the patch left doc untouched); later rules run.
          if (trace != nullptr) trace->skipped_by_test.push_back(rule.index);
          continue;
        }
        if (!s.ok()) {
          std::string msg = RuleHead(rule) + ": " + s.message();
          const JsonPatch::Operation& op = rule.patches.operations()[failed];
          if (op.op == JsonPatchOp::kTest) msg += UnresolvedTestAdvice(op, doc);
          return Status::FailedPrecondition(std::move(msg));
        }
        break;
      }
      case ActionKind::kMergePatch:
        for (const auto& patch : rule.patch_data) ApplyMergePatch(&doc, *patch);
        break;
      case ActionKind::kStrategicPatch: {
        const std::string api_version(StringField(doc, "apiVersion"));
        const std::string kind(StringField(doc, "kind"));
        if (!IsStrategicMergeKnownKind(api_version, kind)) {
          return Status::FailedPrecondition(
              RuleHead(rule) + ": strategic merge patch is not supported for " + api_version +
              ", Kind=" + kind + ": a custom resource has no patch merge keys; use mergePatches "
              "or patches");
        }
        for (size_t i = 0; i < rule.patch_data.size(); ++i) {
          Status s = ApplyStrategicMergePatch(&doc, *rule.patch_data[i], api_version, kind);
          if (!s.ok()) {
            return Status::FailedPrecondition(RuleHead(rule) + ": strategicPatches[" +
                                              std::to_string(i) + "]: " + s.message());
          }
        }
        break;
      }
    }
    if (trace != nullptr) trace->applied.push_back(rule.index);
  }
  if (working) *object = std::move(*working);
  return Status::Ok();
}

Status TransformObject(const TransformOptions& options, nlohmann::json* object,
                       std::optional<std::string_view> group_resource, ApplyTrace* trace) {
  if (!object->is_object()) {
    return Status::InvalidArgument("not a Kubernetes object: expected a mapping with apiVersion, "
                                   "kind and metadata");
  }
  std::string_view api_version = StringField(*object, "apiVersion");
  std::string_view kind = StringField(*object, "kind");
  if (api_version.empty() || kind.empty()) {
    std::string missing = api_version.empty() && kind.empty() ? "apiVersion and kind"
                          : api_version.empty()               ? "apiVersion"
                                                              : "kind";
    return Status::InvalidArgument("object has no " + missing +
                                   ": every object needs both to know which rules apply");
  }
  std::string gr;
  if (group_resource) {
    gr = std::string(*group_resource);
  } else {
    ResourceMapper builtin;
    const ResourceMapper& mapper = options.mapper != nullptr ? *options.mapper : builtin;
    KDR_ASSIGN_OR_RETURN(gr, mapper.GroupResource(api_version, kind));
  }
  if (trace != nullptr) trace->group_resource = gr;

  bool vm = options.vm_power_on.has_value() && IsVirtualMachine(*object);
  if (!vm) {
    if (options.modifiers == nullptr) return Status::Ok();
    return ApplyModifiers(*options.modifiers, gr, object, trace);
  }
  json work = *object;
  if (options.modifiers != nullptr) {
    KDR_RETURN_IF_ERROR(ApplyModifiers(*options.modifiers, gr, &work, trace));
  }
  KDR_ASSIGN_OR_RETURN(bool changed, ApplyVmPowerOn(*options.vm_power_on, &work));
  if (trace != nullptr) trace->vm_power_changed = changed;
  *object = std::move(work);
  return Status::Ok();
}

}  // namespace kdr::transform
