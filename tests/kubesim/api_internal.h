#pragma once

// Helpers shared by the api*.cc files (not for tests or other components).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api.h"
#include "base/clock.h"
#include "base/status.h"
#include "registry.h"

namespace kdr::kubesim {

// What a resource URL names.
struct Api::Target {
  ResourceType type;
  std::string version;      // requested version
  std::string namespace_name;
  std::string name;         // "" for collections
  std::string subresource;  // "", "status", "scale", "token"
  bool watch = false;       // /watch/ path prefix
};

// A metav1.Status failure body.
ApiResponse StatusResponse(int code, std::string_view reason, std::string_view message,
                           const nlohmann::json& details = nullptr);
// A Store error mapped to kube-apiserver's code and reason, with details naming the object.
ApiResponse ErrorResponse(const Status& status, const ResourceType* type, std::string_view name);
ApiResponse BadRequest(std::string_view message);
ApiResponse NotFoundPath();
ApiResponse MethodNotAllowed();
ApiResponse JsonResponse(int code, const nlohmann::json& body);

// First value of a query parameter, or "".
std::string QueryValue(const ApiRequest& req, std::string_view key);
bool QueryBool(const ApiRequest& req, std::string_view key);
bool IsDryRun(const ApiRequest& req);

// The object as served at `version` (CRDs may serve several versions of one storage version).
nlohmann::json ForVersion(const ResourceType& t, std::string_view version, nlohmann::json obj);
// The field manager for a write: ?fieldManager=, else the user agent's program name.
std::string FieldManager(const ApiRequest& req);

// fieldValidation: the fields the strict decoder refuses fail the request with Strict (400
// "strict decoding error: ..."), become Warning headers on *warnings with Warn (the default), and
// are dropped silently with Ignore. Found: keys twice in one object of a JSON create or update
// body ("duplicate field \"data.a\"", any kind), keys a built-in kind's type does not have
// anywhere in its body (builtin_fields.h, generated from kube-apiserver's OpenAPI; an unknown key
// given twice is named once), and the unknown fields of custom resources (their schemas).
// nullopt: go on.
std::optional<ApiResponse> CheckUnknownFields(const ApiRequest& req, const ResourceType& t,
                                              const std::string& version, const nlohmann::json& obj,
                                              std::vector<std::pair<std::string, std::string>>* warnings);

// Discovery and OpenAPI documents (discovery.cc, openapi.cc).
nlohmann::json ApiVersionsDoc();
nlohmann::json ApiGroupListDoc(const Registry& registry);
std::optional<nlohmann::json> ApiGroupDoc(const Registry& registry, std::string_view group);
std::optional<nlohmann::json> ApiResourceListDoc(const Registry& registry, std::string_view group,
                                                 std::string_view version);
// /openapi/v3 and /openapi/v3/<gv path>; nullopt when the group/version is not served.
nlohmann::json OpenApiV3Root(const Registry& registry);
std::optional<nlohmann::json> OpenApiV3Doc(const Registry& registry, std::string_view gv_path);

// Table (table.cc): meta.k8s.io/v1 Table of objects, as kube-apiserver's printers build it.
// include_object: "None", "Metadata" (default) or "Object".
nlohmann::json MakeTable(const ResourceType& t, const std::vector<const nlohmann::json*>& objects,
                         const std::string& resource_version, const std::string& include_object,
                         Clock::WallTime now, bool with_columns = true);
bool WantsTable(const ApiRequest& req);

}  // namespace kdr::kubesim
