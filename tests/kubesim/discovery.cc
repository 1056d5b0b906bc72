// Legacy (non-aggregated) discovery documents. kubectl 1.32 asks for aggregated discovery first
// and, answered with plain application/json, falls back to these, as it does with older servers.

#include <nlohmann/json.hpp>

#include "api_internal.h"

namespace kdr::kubesim {

using json = nlohmann::json;

namespace {

const std::vector<std::string> kVerbs = {"create", "delete", "deletecollection", "get",
                                         "list",   "patch",  "update",           "watch"};

// Create-only review APIs served outside the registry (api.cc SelfReview).
struct Review {
  const char* group;
  const char* resource;
  const char* kind;
};
constexpr Review kReviews[] = {
    {"authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview"},
    {"authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview"},
    {"authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview"},
};

// Groups in first-registration order, each with its versions (preferred first).
std::vector<std::pair<std::string, std::vector<std::string>>> Groups(const Registry& registry) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& t : registry.All()) {
    if (t.group.empty()) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == t.group; });
    if (it == out.end()) {
      out.push_back({t.group, {}});
      it = out.end() - 1;
    }
    for (const auto& v : t.versions) {
      if (std::find(it->second.begin(), it->second.end(), v) == it->second.end()) it->second.push_back(v);
    }
  }
  for (const auto& r : kReviews) {
    if (std::none_of(out.begin(), out.end(), [&](const auto& g) { return g.first == r.group; })) {
      out.push_back({r.group, {"v1"}});
    }
  }
  return out;
}

json GroupDoc(const std::string& group, const std::vector<std::string>& versions) {
  json vs = json::array();
  for (const auto& v : versions) vs.push_back({{"groupVersion", group + "/" + v}, {"version", v}});
  return {{"name", group}, {"versions", vs}, {"preferredVersion", vs.empty() ? json::object() : vs[0]}};
}

}  // namespace

json ApiVersionsDoc() {
  return {{"kind", "APIVersions"},
          {"versions", json::array({"v1"})},
          {"serverAddressByClientCIDRs",
           json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", "127.0.0.1:6443"}}})}};
}

json ApiGroupListDoc(const Registry& registry) {
  json groups = json::array();
  for (const auto& [g, vs] : Groups(registry)) groups.push_back(GroupDoc(g, vs));
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

std::optional<json> ApiGroupDoc(const Registry& registry, std::string_view group) {
  for (const auto& [g, vs] : Groups(registry)) {
    if (g == group) {
      json doc = GroupDoc(g, vs);
      doc["kind"] = "APIGroup";
      doc["apiVersion"] = "v1";
      return doc;
    }
  }
  return std::nullopt;
}

std::optional<json> ApiResourceListDoc(const Registry& registry, std::string_view group,
                                       std::string_view version) {
  json resources = json::array();
  bool found = false;
  for (const auto& r : kReviews) {
    if (group == r.group && version == "v1") {
      found = true;
      resources.push_back({{"name", r.resource}, {"singularName", ""}, {"namespaced", false},
                           {"kind", r.kind}, {"verbs", json::array({"create"})}});
    }
  }
  for (const auto& t : registry.All()) {
    if (t.group != group || !t.Serves(version)) continue;
    found = true;
    json r = {{"name", t.resource},     {"singularName", t.singular}, {"namespaced", t.namespaced},
              {"kind", t.kind},         {"verbs", kVerbs},            {"storageVersionHash", ""}};
    if (!t.short_names.empty()) r["shortNames"] = t.short_names;
    if (!t.categories.empty()) r["categories"] = t.categories;
    resources.push_back(r);
    const json sub_verbs = json::array({"get", "patch", "update"});
    if (t.status_subresource) {
      resources.push_back({{"name", t.resource + "/status"}, {"singularName", ""},
                           {"namespaced", t.namespaced}, {"kind", t.kind}, {"verbs", sub_verbs}});
    }
    if (t.scale_subresource) {
      resources.push_back({{"name", t.resource + "/scale"}, {"singularName", ""},
                           {"namespaced", t.namespaced}, {"group", "autoscaling"},
                           {"version", "v1"}, {"kind", "Scale"}, {"verbs", sub_verbs}});
    }
    if (t.group.empty() && t.resource == "serviceaccounts") {
      resources.push_back({{"name", "serviceaccounts/token"}, {"singularName", ""},
                           {"namespaced", true}, {"group", "authentication.k8s.io"},
                           {"version", "v1"}, {"kind", "TokenRequest"},
                           {"verbs", json::array({"create"})}});
    }
  }
  if (!found) return std::nullopt;
  std::string gv = group.empty() ? std::string(version) : std::string(group) + "/" + std::string(version);
  return json{{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", gv},
              {"resources", resources}};
}

}  // namespace kdr::kubesim
