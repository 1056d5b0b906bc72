#pragma once

// Client: the Kubernetes REST client. Objects are nlohmann::json; a REST collection is named by
// group/version/resource (Gvr, object.h) plus a namespace ("" for cluster-scoped resources and for
// lists across all namespaces). The RestMapper (discovery.h) maps kinds to resources.
//
//   KDR_ASSIGN_OR_RETURN(auto client, kube::Client::Create(config, env));
//   const kube::Gvr kDeployments{"apps", "v1", "deployments"};
//   KDR_ASSIGN_OR_RETURN(json d, client->Get(kDeployments, "shop", "web"));
//   KDR_ASSIGN_OR_RETURN(json list, client->ListAll(kDeployments, "shop", {.label_selector = "app=web"}));
//
// Every request carries `User-Agent: kdr::UserAgent()` and the CredentialProvider's bearer token;
// a client certificate from the provider (exec plugins) is presented on new connections.
//
// Errors are decoded from the server's Status (errors.h): kNotFound, kAlreadyExists, kAborted
// (409 Conflict: re-read, then retry), kInvalidArgument (400/422, the server's message naming the
// field), kPermissionDenied (403, admission denials with the webhook's message), ...
//
// Retries, sleeping through the injected Clock:
//   401            credentials re-fetched once with force_refresh, then the call is repeated
//   429            repeated after Retry-After (1s when absent), any method, up to 5 times
//   5xx, kUnavailable from the transport (connection refused/lost)
//                  repeated with exponential backoff (200ms, 400ms, ... 5s; Retry-After when
//                  larger), up to 5 times, for idempotent calls only: GET, LIST, the start of a
//                  WATCH, PUT carrying a resourceVersion, DELETE, merge patches and server-side
//                  apply; never POST, JSON patch or strategic merge patch. A refused connection
//                  (nothing listening) is retried twice only, so a dead server fails in 0.6s
//   timeouts (kDeadlineExceeded) are not retried: --request-timeout bounds the attempt
// A client-side token bucket (RestConfig::qps, burst) paces every request.
//
// Thread-safe: calls may run concurrently (the transport uses parallel connections).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "base/env.h"
#include "base/status.h"
#include "kube/credentials.h"
#include "kube/discovery.h"
#include "kube/object.h"
#include "kube/rate_limiter.h"
#include "kube/rest_config.h"
#include "kube/transport.h"

namespace kdr::kube {

class HttpsTransport;
struct RawListPage;

struct ListOptions {
  std::string label_selector;  // "app=web,tier!=db"
  std::string field_selector;  // "metadata.name=web"
  int64_t limit = 0;           // page size; 0 = the server's default (all)
  std::string continue_token;  // from the previous page's metadata.continue
  std::string resource_version;  // "" = most recent; "0" = any (cache)
};

struct WriteOptions {
  bool dry_run = false;       // dryRun=All: validated and admitted, not persisted
  std::string field_manager;  // "" = the server's default
};

enum class PatchType {
  kJsonPatch,       // application/json-patch+json (RFC 6902)
  kMergePatch,      // application/merge-patch+json (RFC 7386)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in types only)
  kApply,           // server-side apply (application/apply-patch+yaml); needs field_manager
};

struct PatchOptions {
  bool dry_run = false;
  std::string field_manager;  // required for kApply
  bool force = false;         // kApply: take ownership of conflicting fields
  std::string subresource;    // "status", "scale", ...
};

struct DeleteOptions {
  std::string propagation_policy;  // "Foreground", "Background", "Orphan"; "" = the default
  std::optional<int64_t> grace_period_seconds;
  std::string precondition_uid;               // delete only this incarnation
  std::string precondition_resource_version;  // delete only this version
  bool dry_run = false;
};

struct WatchOptions {
  std::string label_selector;
  std::string field_selector;
  std::string resource_version;  // resume after this version; "" = start from now
  bool allow_bookmarks = true;
  std::chrono::seconds timeout{300};  // the server ends the watch after this (timeoutSeconds)
};

// Called per watch event: type is ADDED, MODIFIED, DELETED or BOOKMARK; object is the object
// (for BOOKMARK only metadata.resourceVersion matters). Return false to end the watch.
using WatchHandler = std::function<bool(std::string_view type, const nlohmann::json& object)>;

class Client {
 public:
  // The client for a resolved config: the HTTPS transport and MakeCredentialProvider(config).
  // InvalidArgument when the config's server URL or certificates are malformed.
  // REQUIRES: env.clock is set; env outlives the client.
  static Result<std::unique_ptr<Client>> Create(const RestConfig& config, const Env& env);

  // With explicit seams (tests, wrappers that inject faults). credentials may be null
  // (anonymous). REQUIRES: env.clock is set.
  Client(RestConfig config, std::unique_ptr<Transport> transport,
         std::unique_ptr<CredentialProvider> credentials, const Env& env);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const RestConfig& config() const { return config_; }
  const Env& env() const { return env_; }
  Transport& transport() { return *transport_; }
  // Discovery and kind <-> resource mapping, cached for this client's life.
  RestMapper& mapper() { return *mapper_; }

  // GET one object (or its subresource: "status", "scale").
  Result<nlohmann::json> Get(const Gvr& gvr, std::string_view ns, std::string_view name,
                             std::string_view subresource = "");
  // One LIST call: the List object (items, metadata.resourceVersion, metadata.continue).
  Result<nlohmann::json> List(const Gvr& gvr, std::string_view ns, const ListOptions& options = {});
  // One LIST call kept as the bytes the server sent, scanned rather than parsed (raw_list.h):
  // for callers that store items as they came. Errors as List's; an answer that is not a List
  // of objects is kUnavailable, as an answer that is not JSON is.
  Result<RawListPage> ListRaw(const Gvr& gvr, std::string_view ns, const ListOptions& options = {});
  // Every page (options.limit per page, 500 when 0) joined into one List; its
  // metadata.resourceVersion is the last page's (the point to watch from).
  Result<nlohmann::json> ListAll(const Gvr& gvr, std::string_view ns, ListOptions options = {});

  // POST. The namespace comes from `ns` (the object's metadata.namespace must match or be
  // empty). kAlreadyExists when the name is taken.
  Result<nlohmann::json> Create(const Gvr& gvr, std::string_view ns, const nlohmann::json& object,
                                const WriteOptions& options = {});
  // PUT of the whole object (by its metadata.name). With metadata.resourceVersion set, a newer
  // version on the server is kAborted (Conflict).
  Result<nlohmann::json> Update(const Gvr& gvr, std::string_view ns, const nlohmann::json& object,
                                const WriteOptions& options = {});
  // PUT to the status subresource.
  Result<nlohmann::json> UpdateStatus(const Gvr& gvr, std::string_view ns,
                                      const nlohmann::json& object, const WriteOptions& options = {});
  // PATCH with `patch` (an array for kJsonPatch, an object otherwise).
  Result<nlohmann::json> Patch(const Gvr& gvr, std::string_view ns, std::string_view name,
                               PatchType type, const nlohmann::json& patch,
                               const PatchOptions& options = {});
  // Server-side apply of `object` (by its metadata.name). InvalidArgument without field_manager.
  Result<nlohmann::json> Apply(const Gvr& gvr, std::string_view ns, const nlohmann::json& object,
                               const PatchOptions& options);
  // DELETE. kNotFound when absent; kAborted when a precondition does not hold. Returns the
  // server's answer (the object being finalized, or a Status).
  Result<nlohmann::json> Delete(const Gvr& gvr, std::string_view ns, std::string_view name,
                                const DeleteOptions& options = {});

  // The scale subresource (autoscaling/v1 Scale) and setting spec.replicas through it.
  Result<nlohmann::json> GetScale(const Gvr& gvr, std::string_view ns, std::string_view name);
  Result<nlohmann::json> SetScale(const Gvr& gvr, std::string_view ns, std::string_view name,
                                  int32_t replicas, const WriteOptions& options = {});

  // Streams a watch to handler until the server ends it (Ok), handler returns false (Ok), stop
  // is requested (kCancelled) or an error: an ERROR event or answer is decoded like any Status
  // (410 Gone / "too old resource version" is kFailedPrecondition: relist, see watch.h); a lost
  // connection is kUnavailable. Only the start is retried.
  Status Watch(const Gvr& gvr, std::string_view ns, const WatchOptions& options,
               const WatchHandler& handler, std::stop_token stop = {});

  // GET of a non-resource path ("/version", "/apis"), decoded as JSON.
  Result<nlohmann::json> GetPath(std::string_view path);
  // The /version body ({"major":"1","minor":"32","gitVersion":"v1.32.0",...}).
  Result<nlohmann::json> ServerVersion();

  // "/apis/apps/v1/namespaces/shop/deployments/web/status" (core group: "/api/v1/...").
  static std::string ResourcePath(const Gvr& gvr, std::string_view ns, std::string_view name = "",
                                  std::string_view subresource = "");

 private:
  struct Call;
  Result<HttpResponse> Do(const Call& call);
  Result<nlohmann::json> DoJson(const Call& call);
  // Adds the bearer token; applies a changed client certificate to the transport.
  Status Authorize(HttpRequest* request);

  const RestConfig config_;
  std::unique_ptr<Transport> transport_;
  HttpsTransport* https_ = nullptr;  // transport_ when it is ours (client certificates)
  std::unique_ptr<CredentialProvider> credentials_;
  Env env_;
  RateLimiter limiter_;
  std::unique_ptr<RestMapper> mapper_;
  std::mutex cert_mu_;
  std::string applied_cert_;  // guarded by cert_mu_: the client certificate in use
};

}  // namespace kdr::kube
