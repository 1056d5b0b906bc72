#pragma once

// Discovery and the REST mapper: which resources the server serves (/api, /api/v1, /apis,
// /apis/GROUP/VERSION), their kinds, whether they are namespaced, their short names.
//
// The first lookup loads everything; the result is cached for the client's life and reloaded once
// when a lookup misses (a CRD installed meanwhile). A group version whose discovery fails (an
// aggregated API that is down) is left out, as kubectl does; /api or /apis failing is an error.
//
// Thread-safe.

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "kube/object.h"

namespace kdr::kube {

class Client;

struct ApiResource {
  Gvr gvr;
  std::string kind;
  bool namespaced = false;
  std::string singular;
  std::vector<std::string> short_names;
  std::vector<std::string> verbs;
  std::vector<std::string> subresources;  // "status", "scale"
  bool preferred = false;  // its version is the group's preferred version

  Gvk gvk() const { return Gvk{gvr.group, gvr.version, kind}; }
  bool HasSubresource(std::string_view name) const;
};

class RestMapper {
 public:
  // client is not owned and must outlive the mapper.
  explicit RestMapper(Client* client);
  RestMapper(const RestMapper&) = delete;
  RestMapper& operator=(const RestMapper&) = delete;

  // The resource serving exactly this group/version/kind. NotFound: "no resource for kind
  // \"Foo\" in apps/v1 (is its CRD installed?)".
  Result<ApiResource> ForKind(const Gvk& gvk);
  // ForKind of the object's apiVersion and kind (InvalidArgument when it has none).
  Result<ApiResource> ForObject(const nlohmann::json& object);
  // The resource of this group/version/resource.
  Result<ApiResource> ForResource(const Gvr& gvr);
  // kubectl-style names: "deployments", "deployment", "deploy", "Deployment",
  // "deployments.apps", "deployments.v1.apps", "drp". Preferred versions win. NotFound with
  // "did you mean ...?" otherwise.
  Result<ApiResource> Resolve(std::string_view name);

  // Everything served (subresources excluded).
  Result<std::vector<ApiResource>> Resources();
  // Drops the cache and loads again now.
  Status Refresh();

 private:
  Status LoadLocked();
  template <typename Pred>
  Result<ApiResource> FindLocked(Pred pred, bool* found);

  Client* const client_;
  std::mutex mu_;
  bool loaded_ = false;  // guarded by mu_
  std::vector<ApiResource> resources_;  // guarded by mu_
};

}  // namespace kdr::kube
