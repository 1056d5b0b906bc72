#include "dr/workloads_internal.h"

#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"

namespace kdr::dr::internal {

using nlohmann::json;

Result<std::vector<std::string>> CheckNamespaces(kube::Client& cluster, const std::vector<std::string>& namespaces,
                                                 std::string_view what) {
  if (namespaces.empty()) return Status::InvalidArgument(std::string(what) + ": no namespaces given");
  std::vector<std::string> distinct;
  std::set<std::string> seen;
  for (const std::string& ns : namespaces) {
    if (!kube::IsDns1123Label(ns)) {
      return Status::InvalidArgument(std::string(what) + ": " + Quote(ns) +
                                     " is not a namespace name (a lowercase RFC 1123 label)");
    }
    if (seen.insert(ns).second) distinct.push_back(ns);
  }
  std::vector<std::string> missing;
  for (const std::string& ns : distinct) {
    Result<json> obj = cluster.Get(kNamespaces, "", ns);
    if (obj.ok()) continue;
    if (!obj.status().IsNotFound()) return obj.status().WithContext("reading namespace " + ns);
    missing.push_back(ns);
  }
  if (missing.empty()) return distinct;
  // The nearest names are a courtesy: a cluster that refuses the list still gets the NotFound.
  std::vector<std::string> existing;
  if (Result<std::vector<json>> all = ListItems(cluster, kNamespaces, ""); all.ok()) {
    for (const json& n : *all) existing.push_back(kube::Name(n));
  }
  std::vector<std::string> named;
  for (const std::string& ns : missing) {
    std::optional<std::string> near = NearestMatch(ns, existing);
    named.push_back(Quote(ns) + (near ? " (did you mean " + Quote(*near) + "?)" : ""));
  }
  return Status::NotFound((missing.size() == 1 ? "namespace " + named[0] + " does not exist"
                                               : "namespaces " + Join(named, ", ") + " do not exist") +
                          " on " + cluster.config().server);
}

Result<std::vector<json>> ListItems(kube::Client& cluster, const kube::Gvr& gvr, std::string_view ns,
                                    const kube::ListOptions& options) {
  Result<json> list = cluster.ListAll(gvr, ns, options);
  if (!list.ok()) {
    return list.status().WithContext("listing " + gvr.GroupResource() + (ns.empty() ? "" : " in " + std::string(ns)));
  }
  std::vector<json> out;
  if (list->contains("items") && (*list)["items"].is_array()) {
    for (json& item : (*list)["items"]) out.push_back(std::move(item));
  }
  return out;
}

Result<bool> Serves(kube::Client& cluster, const kube::Gvr& gvr) {
  Result<kube::ApiResource> r = cluster.mapper().ForResource(gvr);
  if (r.ok()) return true;
  if (r.status().IsNotFound()) return false;
  return r.status().WithContext("discovering " + gvr.GroupResource());
}

std::string Describe(std::string_view kind, const json& object) {
  return std::string(kind) + " " + kube::NamespacedName(object);
}

std::string FormatDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  if (d < seconds(1)) return std::to_string(duration_cast<milliseconds>(d).count()) + "ms";
  const long long ms = duration_cast<milliseconds>(d).count();
  const long long h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
  std::string sec = std::to_string(s);
  if (frac != 0) {
    std::string f = std::to_string(frac + 1000).substr(1);  // three digits
    while (f.back() == '0') f.pop_back();
    sec += "." + f;
  }
  if (h > 0) return std::to_string(h) + "h" + std::to_string(m) + "m" + sec + "s";
  if (m > 0) return std::to_string(m) + "m" + sec + "s";
  return sec + "s";
}

}  // namespace kdr::dr::internal
