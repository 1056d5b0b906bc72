// OpenAPI v3, as much as kubectl 1.32 reads with default flags: for each group/version, every
// PATCH operation with its x-kubernetes-group-version-kind and the fieldValidation parameter, so
// `--validate=strict` (the default) hands validation to the server (fieldValidation=Strict)
// instead of validating client-side against full schemas. PATCH operations list no request body,
// so client-side apply builds strategic merge patches from kubectl's compiled-in types (built-in
// kinds) or JSON merge patches (custom resources), as it does against servers without OpenAPI.
// CRD schemas are published under components.schemas.

#include <nlohmann/json.hpp>

#include "api_internal.h"
#include "base/strings.h"

namespace kdr::kubesim {

using json = nlohmann::json;

namespace {

std::string GvPath(const ResourceType& t, const std::string& v) {
  return t.group.empty() ? "api/" + v : "apis/" + t.group + "/" + v;
}

json Param(const char* name, const char* in) {
  json p = {{"name", name}, {"in", in}, {"schema", {{"type", "string"}}}};
  if (std::string(in) == "path") p["required"] = true;
  return p;
}

}  // namespace

json OpenApiV3Root(const Registry& registry) {
  json paths = json::object();
  const std::string hash = std::to_string(registry.epoch());
  for (const auto& t : registry.All()) {
    for (const auto& v : t.versions) {
      std::string p = GvPath(t, v);
      paths[p] = {{"serverRelativeURL", "/openapi/v3/" + p + "?hash=" + hash}};
    }
  }
  return {{"paths", paths}};
}

std::optional<json> OpenApiV3Doc(const Registry& registry, std::string_view gv_path) {
  json paths = json::object();
  json schemas = json::object();
  bool found = false;
  for (const auto& t : registry.All()) {
    for (const auto& v : t.versions) {
      if (GvPath(t, v) != gv_path) continue;
      found = true;
      std::string base = "/" + GvPath(t, v) + (t.namespaced ? "/namespaces/{namespace}/" : "/") + t.resource;
      json gvk = {{"group", t.group}, {"version", v}, {"kind", t.kind}};
      json params = json::array({Param("name", "path"), Param("dryRun", "query"),
                                  Param("fieldManager", "query"), Param("fieldValidation", "query"),
                                  Param("force", "query")});
      if (t.namespaced) params.push_back(Param("namespace", "path"));
      json ok = {{"200", {{"description", "OK"}}}};
      paths[base + "/{name}"] = {
          {"get", {{"operationId", "read" + t.kind}, {"x-kubernetes-action", "get"},
                   {"x-kubernetes-group-version-kind", gvk}, {"responses", ok}}},
          {"put", {{"operationId", "replace" + t.kind}, {"x-kubernetes-action", "put"},
                   {"x-kubernetes-group-version-kind", gvk}, {"parameters", params},
                   {"responses", ok}}},
          {"patch", {{"operationId", "patch" + t.kind}, {"x-kubernetes-action", "patch"},
                     {"x-kubernetes-group-version-kind", gvk}, {"parameters", params},
                     {"responses", ok}}},
          {"delete", {{"operationId", "delete" + t.kind}, {"x-kubernetes-action", "delete"},
                      {"x-kubernetes-group-version-kind", gvk}, {"responses", ok}}}};
      paths[base] = {{"post", {{"operationId", "create" + t.kind}, {"x-kubernetes-action", "post"},
                               {"x-kubernetes-group-version-kind", gvk},
                               {"parameters", json::array({Param("dryRun", "query"),
                                                           Param("fieldManager", "query"),
                                                           Param("fieldValidation", "query")})},
                               {"responses", ok}}}};
      std::string schema_name = (t.group.empty() ? "io.k8s.api.core" : t.group) + "." + v + "." + t.kind;
      json schema = json::object();
      if (!t.schema_json.empty()) schema = json::parse(t.schema_json, nullptr, false);
      if (!schema.is_object()) schema = json::object();
      schema["x-kubernetes-group-version-kind"] = json::array({gvk});
      schemas[schema_name] = schema;
    }
  }
  if (!found) return std::nullopt;
  return json{{"openapi", "3.0.0"},
              {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
              {"paths", paths},
              {"components", {{"schemas", schemas}}}};
}

}  // namespace kdr::kubesim
