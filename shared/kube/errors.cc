#include "kube/errors.h"

#include <nlohmann/json.hpp>

#include "base/json.h"

namespace kdr::kube {
namespace {

std::string Shorten(std::string_view body) {
  std::string s(body.substr(0, 200));
  for (char& c : s) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (body.size() > 200) s += "...";
  return s;
}

}  // namespace

StatusCode CodeForHttpStatus(int http_status, std::string_view reason) {
  switch (http_status) {
    case 400:
    case 413:
    case 415:
    case 422:
      return StatusCode::kInvalidArgument;
    case 401:
      return StatusCode::kUnauthenticated;
    case 403:
      return StatusCode::kPermissionDenied;
    case 404:
      return StatusCode::kNotFound;
    case 405:
    case 501:
      return StatusCode::kUnimplemented;
    case 409:
      return reason == "AlreadyExists" ? StatusCode::kAlreadyExists : StatusCode::kAborted;
    case 410:
      return StatusCode::kFailedPrecondition;
    case 429:
      return StatusCode::kResourceExhausted;
    case 504:
      return StatusCode::kDeadlineExceeded;
    default:
      break;
  }
  if (reason == "Timeout") return StatusCode::kDeadlineExceeded;
  if (http_status >= 500) return StatusCode::kUnavailable;
  return StatusCode::kFailedPrecondition;
}

Status StatusFromStatusObject(const nlohmann::json& status, std::string_view what) {
  int code = 500;
  std::string reason;
  std::string message;
  if (status.is_object()) {
    if (auto it = status.find("code"); it != status.end() && it->is_number_integer()) code = it->get<int>();
    if (auto it = status.find("reason"); it != status.end() && it->is_string()) reason = it->get<std::string>();
    if (auto it = status.find("message"); it != status.end() && it->is_string()) message = it->get<std::string>();
  }
  if (message.empty()) {
    message = std::string(what) + ": the server answered " + std::to_string(code) +
              (reason.empty() ? "" : " " + reason);
  }
  return Status(CodeForHttpStatus(code, reason), message);
}

namespace {

// The body as a Status object, or null. (json::value("kind", "") would throw on a non-string kind.)
nlohmann::json StatusObject(std::string_view body) {
  Result<nlohmann::json> j = ParseJson(body, "status");
  if (!j.ok() || !j->is_object()) return nullptr;
  auto kind = j->find("kind");
  if (kind == j->end() || !kind->is_string() || *kind != "Status") return nullptr;
  return std::move(j).value();
}

}  // namespace

std::string StatusReason(std::string_view body) {
  nlohmann::json j = StatusObject(body);
  if (j.is_null()) return "";
  auto it = j.find("reason");
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

Status StatusFromResponse(const HttpResponse& response, std::string_view method, std::string_view url) {
  nlohmann::json j = StatusObject(response.body);
  if (j.is_object()) {
    // The HTTP status is authoritative; a Status body without a code still decodes.
    if (!j.contains("code") || !j["code"].is_number_integer()) j["code"] = response.status;
    return StatusFromStatusObject(j, std::string(method) + " " + std::string(url));
  }
  std::string message = "the server answered HTTP " + std::to_string(response.status) + " to " +
                        std::string(method) + " " + std::string(url);
  if (!response.body.empty()) message += ": " + Shorten(response.body);
  return Status(CodeForHttpStatus(response.status, ""), message);
}

}  // namespace kdr::kube
