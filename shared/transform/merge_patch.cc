#include "transform/merge_patch.h"

#include <nlohmann/json.hpp>

namespace kdr::transform {

using nlohmann::json;

void ApplyMergePatch(nlohmann::json* doc, const nlohmann::json& patch) {
  if (!patch.is_object()) {
    *doc = patch;
    return;
  }
  if (!doc->is_object()) *doc = json::object();
  for (const auto& [key, value] : patch.items()) {
    if (value.is_null()) {
      doc->erase(key);
      continue;
    }
    // A member the document lacks still goes through the merge, so nulls nested in the patch
    // are dropped rather than stored (RFC 7386 section 2: MergePatch(undefined, value)).
    ApplyMergePatch(&(*doc)[key], value);
  }
}

nlohmann::json CreateMergePatch(const nlohmann::json& from, const nlohmann::json& to) {
  if (!from.is_object() || !to.is_object()) return to;
  json patch = json::object();
  for (const auto& [key, value] : from.items()) {
    if (!to.contains(key)) patch[key] = nullptr;
  }
  for (const auto& [key, value] : to.items()) {
    auto it = from.find(key);
    if (it == from.end()) {
      patch[key] = value;
    } else if (*it != value) {
      if (it->is_object() && value.is_object()) {
        patch[key] = CreateMergePatch(*it, value);
      } else {
        patch[key] = value;
      }
    }
  }
  return patch;
}

}  // namespace kdr::transform
