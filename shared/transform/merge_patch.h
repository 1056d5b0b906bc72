#pragma once

// RFC 7386 JSON Merge Patch: objects merge recursively, null deletes, anything else replaces.

#include <nlohmann/json_fwd.hpp>

namespace kdr::transform {

// Applies patch to *doc. Cannot fail: every JSON value is a valid merge patch.
void ApplyMergePatch(nlohmann::json* doc, const nlohmann::json& patch);

// The minimal merge patch that turns `from` into `to` (for diffs and for minimal updates): members
// missing from `to` become null, changed objects recurse, everything else (arrays included) is
// replaced wholesale; equal objects give {}. When either side is not an object the patch is `to`.
// Inherent to RFC 7386: a null *value* inside `to` cannot be expressed (it would delete), so
// ApplyMergePatch(from, CreateMergePatch(from, to)) == to holds for documents without nulls.
nlohmann::json CreateMergePatch(const nlohmann::json& from, const nlohmann::json& to);

}  // namespace kdr::transform
