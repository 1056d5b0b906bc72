#pragma once

// RFC 7386 JSON Merge Patch: objects merge recursively, null deletes, anything else replaces.

#include <nlohmann/json_fwd.hpp>

namespace kdr::transform {

// Applies patch to *doc. Cannot fail: every JSON value is a valid merge patch.
void ApplyMergePatch(nlohmann::json* doc, const nlohmann::json& patch);

// The merge patch that turns `from` into `to` (for diffs and for minimal updates).
nlohmann::json CreateMergePatch(const nlohmann::json& from, const nlohmann::json& to);

}  // namespace kdr::transform
