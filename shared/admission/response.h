#pragma once

// The answer of a policy, and the helpers that build one (controller-runtime's admission
// helpers): Allowed, Denied, Patched, PatchedFrom, Errored, WithWarnings.

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace kdr::admission {

struct Response {
  bool allowed = true;
  // status.code: 200 allowed, 403 denied, 4xx/5xx errored.
  int code = 200;
  // status.message: a denial says what was blocked, why and what to do. On an allow it is the
  // reason, logged but not sent.
  std::string message;
  std::vector<std::string> warnings;
  // An RFC 6902 JSON patch (JSON text); empty when the object is not changed.
  std::string patch;
  // The policy that decided, for the log line and the metrics; "" when none had an opinion.
  std::string policy;

  // "allowed", "denied", "patched" or "errored", for logs and metrics.
  std::string_view Decision() const;
};

Response Allowed(std::string reason = "");
// 403 Forbidden with the message.
Response Denied(std::string message);
// Allowed with an RFC 6902 patch (JSON array text).
Response Patched(std::string patch_json, std::string reason = "");
// Allowed with the patch turning `original` into `modified` (the operations nlohmann::json::diff
// gives, computed in one pass); plain Allowed when they are equal. Safe on values as deep as a
// review (kMaxReviewDepth).
Response PatchedFrom(const nlohmann::json& original, const nlohmann::json& modified,
                     std::string reason = "");
// Not allowed with an HTTP-like code: 400 unreadable, 413 too large, 415 not JSON, 500 a bug.
Response Errored(int code, std::string message);
Response WithWarnings(Response response, std::vector<std::string> warnings);

}  // namespace kdr::admission
