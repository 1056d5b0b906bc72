#pragma once

// Api: kube-apiserver's REST surface over a Store, independent of the HTTP library (server.cc
// adapts httplib to it). Routes: /version, /healthz|livez|readyz, discovery (/api, /apis,
// /api/v1, /apis/G, /apis/G/V), /openapi/v2 and /openapi/v3[/...], and
// /api/v1/... and /apis/G/V/... resources: get, list (selectors, limit/continue, Table), watch,
// create, update, patch (merge, JSON, strategic, server-side apply), delete, deletecollection,
// the status and scale subresources and serviceaccounts/token. Errors are metav1.Status bodies
// with kube-apiserver's codes, reasons and messages. Thread-safe.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admission.h"
#include "builtin_admission.h"
#include "registry.h"
#include "store.h"

namespace kdr {
class Clock;
}

namespace kdr::kubesim {

class Authenticator;

struct ApiRequest {
  std::string method;  // GET, POST, PUT, PATCH, DELETE
  std::string path;    // without the query
  std::multimap<std::string, std::string> query;  // decoded
  std::string accept;
  std::string content_type;
  std::string user_agent;
  std::string body;
  UserInfo user;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set for watch: runs on the serving thread, writing chunks through `write` (false: the client
  // went away; stop).
  std::function<void(const std::function<bool(std::string_view)>& write)> stream;
};

class Api {
 public:
  struct Options {
    Store* store = nullptr;
    Registry* registry = nullptr;
    Clock* clock = nullptr;
    Authenticator* authenticator = nullptr;  // for serviceaccounts/token
    Admission* admission = nullptr;          // null: no dynamic admission
    // Watches send a BOOKMARK this often when allowWatchBookmarks=true.
    std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
    // Default watch length when timeoutSeconds is absent.
    std::chrono::seconds default_watch_timeout{std::chrono::minutes(30)};
    // Set at shutdown: open watches end.
    const std::atomic<bool>* stopping = nullptr;
  };

  explicit Api(Options options);
  ApiResponse Handle(const ApiRequest& request) const;

 private:
  struct Target;
  ApiResponse HandleResource(const ApiRequest& req, const Target& target) const;
  ApiResponse Get(const ApiRequest& req, const Target& t) const;
  ApiResponse List(const ApiRequest& req, const Target& t) const;
  ApiResponse Watch(const ApiRequest& req, const Target& t) const;
  ApiResponse Create(const ApiRequest& req, const Target& t) const;
  ApiResponse Update(const ApiRequest& req, const Target& t) const;
  ApiResponse Patch(const ApiRequest& req, const Target& t) const;
  ApiResponse Delete(const ApiRequest& req, const Target& t) const;
  ApiResponse DeleteCollection(const ApiRequest& req, const Target& t) const;
  ApiResponse Scale(const ApiRequest& req, const Target& t) const;
  ApiResponse TokenRequest(const ApiRequest& req, const Target& t) const;
  // SelfSubjectReview, SelfSubjectAccessReview, SelfSubjectRulesReview.
  ApiResponse SelfReview(const ApiRequest& req, const std::string& path) const;
  enum class Phase { kBoth, kMutate, kValidate };
  // Runs admission: kMutate the mutating built-in plugins then the mutating webhooks, kValidate
  // the validating built-ins then the validating webhooks (builtin_admission.h), kBoth one then
  // the other. A refusal becomes *denied (which also collects the webhooks' warnings).
  bool Admit(const ApiRequest& req, const Target& t, Operation op, nlohmann::json* object,
             const nlohmann::json* old_object, bool dry_run, ApiResponse* denied,
             Phase phase = Phase::kBoth) const;
  // Create's admission as kube-apiserver orders it: mutating plugins and webhooks, then the name
  // generated from generateName, then the object's validation (422 before any validating webhook
  // is called), then the validating plugins and webhooks (which see the final name).
  bool AdmitCreate(const ApiRequest& req, const Target& t, nlohmann::json* object, bool dry_run,
                   ApiResponse* denied) const;
  // An update's admission: mutating, the validation the write would make (with the Store's
  // WriteOptions::validate_only: 422, 409 on a stale resourceVersion), validating. False with
  // *denied set when refused; *conflict is set when the refusal is a 409 Conflict.
  bool AdmitUpdate(const ApiRequest& req, const Target& t, nlohmann::json* object,
                   const nlohmann::json& old_object, bool dry_run, ApiResponse* denied,
                   bool* conflict = nullptr) const;

  Options options_;
  BuiltinAdmission builtin_;
};

}  // namespace kdr::kubesim
