#include "admission/response.h"

#include <nlohmann/json.hpp>

namespace kdr::admission {

std::string_view Response::Decision() const {
  if (!allowed) return code == 403 ? "denied" : "errored";
  return patch.empty() ? "allowed" : "patched";
}

Response Allowed(std::string reason) {
  Response r;
  r.message = std::move(reason);
  return r;
}

Response Denied(std::string message) {
  Response r;
  r.allowed = false;
  r.code = 403;
  r.message = std::move(message);
  return r;
}

Response Patched(std::string patch_json, std::string reason) {
  Response r = Allowed(std::move(reason));
  r.patch = std::move(patch_json);
  return r;
}

Response PatchedFrom(const nlohmann::json& original, const nlohmann::json& modified,
                     std::string reason) {
  nlohmann::json ops = nlohmann::json::diff(original, modified);
  if (ops.empty()) return Allowed(std::move(reason));
  return Patched(ops.dump(), std::move(reason));
}

Response Errored(int code, std::string message) {
  Response r;
  r.allowed = false;
  r.code = code;
  r.message = std::move(message);
  return r;
}

Response WithWarnings(Response response, std::vector<std::string> warnings) {
  for (auto& w : warnings) response.warnings.push_back(std::move(w));
  return response;
}

}  // namespace kdr::admission
