#include <nlohmann/json.hpp>

#include "api_internal.h"
#include "admission.h"
#include "schema.h"
#include "validation.h"

namespace kdr::kubesim {

using json = nlohmann::json;

ApiResponse JsonResponse(int code, const json& body) {
  ApiResponse r;
  r.status = code;
  r.body = body.dump();
  return r;
}

ApiResponse StatusResponse(int code, std::string_view reason, std::string_view message,
                           const json& details) {
  json s = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", json::object()},
            {"status", "Failure"},
            {"message", message}};
  if (!reason.empty()) s["reason"] = reason;
  if (!details.is_null()) s["details"] = details;
  s["code"] = code;
  return JsonResponse(code, s);
}

ApiResponse ErrorResponse(const Status& status, const ResourceType* type, std::string_view name) {
  json details = json::object();
  if (!name.empty()) details["name"] = name;
  if (type) {
    if (!type->group.empty()) details["group"] = type->group;
    details["kind"] = type->resource;
  }
  switch (status.code()) {
    case StatusCode::kNotFound:
      if (status.message().rfind("namespaces \"", 0) == 0) {
        // The namespace of a create is missing: kube names the namespace.
        json d = {{"name", status.message().substr(12, status.message().find('"', 12) - 12)},
                  {"kind", "namespaces"}};
        return StatusResponse(404, "NotFound", status.message(), d);
      }
      if (status.message().rfind("the server could not find", 0) == 0) return NotFoundPath();
      return StatusResponse(404, "NotFound", status.message(), details);
    case StatusCode::kAlreadyExists:
      return StatusResponse(409, "AlreadyExists", status.message(), details);
    case StatusCode::kAborted:
      return StatusResponse(409, "Conflict", status.message(), details);
    case StatusCode::kInvalidArgument: {
      if (type) details["kind"] = type->kind;
      // "Kind \"name\" is invalid: field: detail, field: detail" -> causes.
      json causes = json::array();
      const std::string& m = status.message();
      size_t at = m.find(" is invalid: ");
      if (at != std::string::npos) {
        std::string rest = m.substr(at + 13);
        if (!rest.empty() && rest.front() == '[' && rest.back() == ']') rest = rest.substr(1, rest.size() - 2);
        // One cause per "field: detail", split at ", " before the next "field: ".
        std::vector<std::string> parts;
        size_t from = 0;
        for (size_t at2 = rest.find(", "); at2 != std::string::npos; at2 = rest.find(", ", at2 + 2)) {
          size_t colon2 = rest.find(": ", at2 + 2);
          if (colon2 == std::string::npos) break;
          std::string field = rest.substr(at2 + 2, colon2 - at2 - 2);
          if (field.empty() || field.find_first_of(" \"") != std::string::npos) continue;
          parts.push_back(rest.substr(from, at2 - from));
          from = at2 + 2;
        }
        parts.push_back(rest.substr(from));
        for (const auto& part : parts) {
          size_t colon = part.find(": ");
          if (colon == std::string::npos) continue;
          std::string detail = part.substr(colon + 2);
          std::string reason = detail.rfind("Required value", 0) == 0 ? "FieldValueRequired"
                               : detail.rfind("Unsupported value", 0) == 0 ? "FieldValueNotSupported"
                               : detail.rfind("Forbidden", 0) == 0 ? "FieldValueForbidden"
                                                                   : "FieldValueInvalid";
          causes.push_back({{"reason", reason}, {"message", detail}, {"field", part.substr(0, colon)}});
        }
        details["causes"] = causes;
        return StatusResponse(422, "Invalid", m, details);
      }
      return StatusResponse(400, "BadRequest", m);
    }
    case StatusCode::kPermissionDenied:
      return StatusResponse(403, "Forbidden", status.message(), details);
    case StatusCode::kFailedPrecondition:
      return StatusResponse(410, "Expired", status.message());
    case StatusCode::kUnauthenticated:
      return StatusResponse(401, "Unauthorized", "Unauthorized");
    case StatusCode::kUnimplemented:
      return StatusResponse(415, "UnsupportedMediaType", status.message());
    default:
      return StatusResponse(500, "InternalError", "Internal error occurred: " + status.message());
  }
}

ApiResponse BadRequest(std::string_view message) { return StatusResponse(400, "BadRequest", message); }

ApiResponse NotFoundPath() {
  return StatusResponse(404, "NotFound", "the server could not find the requested resource",
                        json::object());
}

ApiResponse MethodNotAllowed() {
  return StatusResponse(405, "MethodNotAllowed",
                        "the server does not allow this method on the requested resource",
                        json::object());
}

std::optional<ApiResponse> CheckUnknownFields(const ApiRequest& req, const ResourceType& t,
                                              const std::string& version, const json& obj,
                                              std::vector<std::pair<std::string, std::string>>* warnings) {
  if (!t.custom || t.schema_json.empty()) return std::nullopt;
  const std::string mode = QueryValue(req, "fieldValidation");
  if (mode == "Ignore") return std::nullopt;
  const std::vector<std::string> unknown = UnknownFields(t, obj);
  const std::vector<std::string>* pruned = &unknown;
  if (pruned->empty()) return std::nullopt;
  if (mode == "Strict") {
    std::string fields;
    for (const auto& p : *pruned) fields += (fields.empty() ? "" : ", ") + std::string("unknown field \"") + p + "\"";
    return BadRequest(t.kind + " in version \"" + version + "\" cannot be handled as a " + t.kind +
                      ": strict decoding error: " + fields);
  }
  for (const auto& p : *pruned) warnings->emplace_back("Warning", WarningHeaderValue("unknown field \"" + p + "\""));
  return std::nullopt;
}

std::string QueryValue(const ApiRequest& req, std::string_view key) {
  auto it = req.query.find(std::string(key));
  return it == req.query.end() ? std::string() : it->second;
}

bool QueryBool(const ApiRequest& req, std::string_view key) {
  std::string v = QueryValue(req, key);
  return v == "true" || v == "1";
}

bool IsDryRun(const ApiRequest& req) {
  auto range = req.query.equal_range("dryRun");
  for (auto it = range.first; it != range.second; ++it) {
    if (it->second == "All") return true;
  }
  return false;
}

json ForVersion(const ResourceType& t, std::string_view version, json obj) {
  if (version != t.version && obj.is_object()) obj["apiVersion"] = t.GroupVersion(version);
  return obj;
}

std::string FieldManager(const ApiRequest& req) {
  std::string m = QueryValue(req, "fieldManager");
  if (!m.empty()) return m;
  std::string ua = req.user_agent.substr(0, req.user_agent.find('/'));
  return ua.empty() ? "unknown" : ua;
}

}  // namespace kdr::kubesim
