#include "kube/discovery.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube/client.h"

namespace kdr::kube {

using nlohmann::json;

namespace {

std::vector<std::string> StringList(const json& j, std::string_view key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// Resources of one APIResourceList; subresources ("deployments/scale") attach to their parent.
std::vector<ApiResource> ParseResourceList(const json& list, const std::string& group,
                                           const std::string& version, bool preferred) {
  std::vector<ApiResource> out;
  if (!list.is_object() || !list.contains("resources") || !list["resources"].is_array()) return out;
  std::vector<std::pair<std::string, std::string>> subs;
  for (const auto& r : list["resources"]) {
    if (!r.is_object()) continue;
    std::string name = r.value("name", "");
    if (name.empty()) continue;
    size_t slash = name.find('/');
    if (slash != std::string::npos) {
      subs.emplace_back(name.substr(0, slash), name.substr(slash + 1));
      continue;
    }
    ApiResource a;
    // A resource may live in another group/version than the list (rare); honour it.
    a.gvr = Gvr{r.value("group", group), r.value("version", version), name};
    if (a.gvr.group.empty() && !group.empty()) a.gvr.group = group;
    if (a.gvr.version.empty()) a.gvr.version = version;
    a.kind = r.value("kind", "");
    a.namespaced = r.value("namespaced", false);
    a.singular = r.value("singularName", "");
    a.short_names = StringList(r, "shortNames");
    a.verbs = StringList(r, "verbs");
    a.preferred = preferred;
    out.push_back(std::move(a));
  }
  for (const auto& [parent, sub] : subs) {
    for (auto& a : out) {
      if (a.gvr.resource == parent) a.subresources.push_back(sub);
    }
  }
  return out;
}

}  // namespace

bool ApiResource::HasSubresource(std::string_view name) const {
  return std::find(subresources.begin(), subresources.end(), name) != subresources.end();
}

RestMapper::RestMapper(Client* client) : client_(client) {}

Status RestMapper::LoadLocked() {
  std::vector<ApiResource> all;
  KDR_ASSIGN_OR_RETURN(json core, client_->GetPath("/api"));
  for (const std::string& v : StringList(core, "versions")) {
    KDR_ASSIGN_OR_RETURN(json list, client_->GetPath("/api/" + v));
    auto rs = ParseResourceList(list, "", v, v == "v1");
    all.insert(all.end(), rs.begin(), rs.end());
  }
  KDR_ASSIGN_OR_RETURN(json groups, client_->GetPath("/apis"));
  if (groups.contains("groups") && groups["groups"].is_array()) {
    for (const auto& g : groups["groups"]) {
      if (!g.is_object()) continue;
      std::string name = g.value("name", "");
      std::string preferred;
      if (g.contains("preferredVersion") && g["preferredVersion"].is_object()) {
        preferred = g["preferredVersion"].value("version", "");
      }
      if (!g.contains("versions") || !g["versions"].is_array()) continue;
      for (const auto& v : g["versions"]) {
        std::string version = v.value("version", "");
        if (version.empty()) continue;
        auto list = client_->GetPath("/apis/" + name + "/" + version);
        // An aggregated API that is down hides only itself, as in kubectl.
        if (!list.ok()) continue;
        auto rs = ParseResourceList(*list, name, version, version == preferred || preferred.empty());
        all.insert(all.end(), rs.begin(), rs.end());
      }
    }
  }
  resources_ = std::move(all);
  loaded_ = true;
  return Status::Ok();
}

template <typename Pred>
Result<ApiResource> RestMapper::FindLocked(Pred pred, bool* found) {
  *found = false;
  for (int pass = 0; pass < 2; ++pass) {
    if (!loaded_ || pass == 1) KDR_RETURN_IF_ERROR(LoadLocked());
    const ApiResource* best = nullptr;
    for (const auto& r : resources_) {
      if (!pred(r)) continue;
      if (best == nullptr || (r.preferred && !best->preferred)) best = &r;
    }
    if (best != nullptr) {
      *found = true;
      return *best;
    }
  }
  return Status::NotFound("not found");
}

Result<ApiResource> RestMapper::ForKind(const Gvk& gvk) {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  auto r = FindLocked(
      [&](const ApiResource& a) {
        return a.kind == gvk.kind && a.gvr.group == gvk.group && a.gvr.version == gvk.version;
      },
      &found);
  if (found || !r.status().IsNotFound()) return r;
  return Status::NotFound("the server " + client_->transport().base_url() + " has no resource for kind " +
                          Quote(gvk.kind) + " in " + gvk.ApiVersion() + " (is its CRD installed?)");
}

Result<ApiResource> RestMapper::ForObject(const json& object) {
  KDR_ASSIGN_OR_RETURN(Gvk gvk, GvkOf(object));
  return ForKind(gvk);
}

Result<ApiResource> RestMapper::ForResource(const Gvr& gvr) {
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  auto r = FindLocked([&](const ApiResource& a) { return a.gvr == gvr; }, &found);
  if (found || !r.status().IsNotFound()) return r;
  return Status::NotFound("the server " + client_->transport().base_url() + " does not serve " +
                          gvr.GroupResource() + " in " + gvr.ApiVersion());
}

Result<ApiResource> RestMapper::Resolve(std::string_view name) {
  std::string lower = ToLower(name);
  std::vector<std::string> parts = Split(lower, '.');
  std::string resource = parts.empty() ? lower : parts[0];
  std::string version;
  std::string group;
  bool qualified = parts.size() > 1;
  if (parts.size() >= 3 && parts[1].size() > 1 && parts[1][0] == 'v' && std::isdigit(static_cast<unsigned char>(parts[1][1]))) {
    version = parts[1];
    group = Join(std::vector<std::string>(parts.begin() + 2, parts.end()), ".");
  } else if (qualified) {
    group = Join(std::vector<std::string>(parts.begin() + 1, parts.end()), ".");
  }
  auto matches_name = [&](const ApiResource& a) {
    if (a.gvr.resource == resource || a.singular == resource || ToLower(a.kind) == resource) return true;
    return std::find(a.short_names.begin(), a.short_names.end(), resource) != a.short_names.end();
  };
  std::lock_guard<std::mutex> lock(mu_);
  bool found = false;
  auto r = FindLocked(
      [&](const ApiResource& a) {
        if (!matches_name(a)) return false;
        if (qualified && a.gvr.group != group) return false;
        if (!version.empty() && a.gvr.version != version) return false;
        return true;
      },
      &found);
  if (found || !r.status().IsNotFound()) return r;
  std::vector<std::string> names;
  for (const auto& a : resources_) {
    names.push_back(a.gvr.resource);
    if (!a.gvr.group.empty()) names.push_back(a.gvr.GroupResource());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return Status::NotFound("the server " + client_->transport().base_url() +
                          " doesn't have a resource type " + Quote(name) + DidYouMean(name, names));
}

Result<std::vector<ApiResource>> RestMapper::Resources() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!loaded_) KDR_RETURN_IF_ERROR(LoadLocked());
  return resources_;
}

Status RestMapper::Refresh() {
  std::lock_guard<std::mutex> lock(mu_);
  return LoadLocked();
}

}  // namespace kdr::kube
