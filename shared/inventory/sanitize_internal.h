#pragma once

// Helpers shared by the sanitize table (sanitize.cc) and the skip table (sanitize_skip.cc). Not a
// public interface.

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

namespace kdr::inventory::internal {

// The API group of an object's apiVersion ("" for the core group).
std::string GroupOf(const nlohmann::json& object);
// True when `kind` is one of the comma-separated `kinds` ("*" matches any).
bool KindIn(std::string_view kinds, std::string_view kind);
// True when `want` is "*" or `group`.
bool GroupMatches(std::string_view want, const std::string& group);

}  // namespace kdr::inventory::internal
