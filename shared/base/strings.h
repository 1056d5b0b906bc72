#pragma once

// Small string helpers shared across the library.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr {

bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
std::string_view TrimSpace(std::string_view s);
std::string ToLower(std::string_view s);
// Splits on sep, keeping empty parts ("a,,b" -> {"a","","b"}); "" -> {""}.
std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
// Quotes for a message: "\"name\"".
std::string Quote(std::string_view s);

// Standard base64 (RFC 4648 with padding). Decoding tolerates whitespace and missing padding, and
// fails with InvalidArgument naming what (`what` is e.g. "certificate-authority-data of cluster
// \"prod\"") on any other character.
std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text, std::string_view what);

// Levenshtein distance.
size_t EditDistance(std::string_view a, std::string_view b);
// The candidate nearest to `name`, when it is close enough to be a likely typo.
std::optional<std::string> NearestMatch(std::string_view name,
                                        const std::vector<std::string>& candidates);
// "; did you mean \"prod-east\"?" or "" when nothing is near.
std::string DidYouMean(std::string_view name, const std::vector<std::string>& candidates);

// Percent-encodes a URL query value (RFC 3986 unreserved characters kept).
std::string UrlEncode(std::string_view s);

}  // namespace kdr
