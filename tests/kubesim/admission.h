#pragma once

// Dynamic admission as kube-apiserver does it: kubesim calls Admission on every write, and it
// calls the registered admission webhooks over real HTTPS.
//
// Order, as in kube-apiserver: MutatingWebhookConfigurations (sorted by name, webhooks in their
// order) patch the object, then the server validates the object itself, then every matching
// ValidatingWebhookConfiguration webhook is called (in parallel) and any denial fails the write.
// Callers either call Admit (both phases) or Mutate, their own validation, then Validate.
//
// Matching (per webhook): rules (operations, apiGroups, apiVersions, resources with subresources
// such as "drplans/status", "*/status", "pods/*", "*", scope Cluster/Namespaced/*),
// namespaceSelector (the namespace's labels; for a Namespace object its own labels; ignored for
// other cluster-scoped objects), objectSelector (object or old object labels). Simplifications,
// stated: matchPolicy Exact and Equivalent both match the request's exact group/version/resource
// (kubesim serves one version per resource, so requestKind/requestResource equal kind/resource);
// reinvocationPolicy IfNeeded is not honoured (each mutating webhook is called once);
// matchConditions (CEL) are not supported and a webhook declaring them is treated as matching.
// Requests for mutating/validatingwebhookconfigurations themselves are never sent to webhooks
// (kube-apiserver exempts them so a broken webhook cannot lock itself in).
//
// Calling: clientConfig.url, or clientConfig.service {namespace, name, port (443), path}. A
// service is reached through the endpoint map (kubesim's --service-endpoint ns/name:port=
// 127.0.0.1:port, standing in for cluster networking) while TLS still verifies the serving
// certificate against "NAME.NAMESPACE.svc" and caBundle (system roots when caBundle is empty).
// POST PATH?timeout=Ns with an admission.k8s.io/v1 AdmissionReview; timeoutSeconds defaults to
// 10. The response must be an AdmissionReview whose response.uid echoes the request uid.
//
// Errors, with kube-apiserver's codes and messages (metav1.Status bodies):
//   denial      response.status.code (403 when absent or < 400), reason kept,
//               "admission webhook \"NAME\" denied the request: MESSAGE"
//               ("... denied the request without explanation" when there is no message)
//   call failed failurePolicy Fail (the default): 500 InternalError,
//               "Internal error occurred: failed calling webhook \"NAME\": failed to call
//               webhook: Post \"URL\": REASON"; Ignore: skipped, the write goes on
//   dry run     a matching webhook whose sideEffects is not None/NoneOnDryRun is not called and
//               the request fails: 400 BadRequest "admission webhook \"NAME\" does not support
//               dry run"
//   bad patch   a response patch that is not a base64 JSONPatch or does not apply: 500
//               InternalError
// Warnings from every called webhook are returned, for `Warning: 299 - "..."` headers.

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr {
class Logger;
}

namespace kdr::kubesim {

enum class WebhookKind { kMutating, kValidating };

// Where admission reads the cluster's state. Implemented by the server over its store.
// Must be thread-safe: Admit may run on many request threads at once.
class WebhookSource {
 public:
  virtual ~WebhookSource() = default;
  // The current MutatingWebhookConfiguration (kMutating) or ValidatingWebhookConfiguration
  // (kValidating) objects, as stored (admissionregistration.k8s.io/v1 JSON), in any order.
  virtual std::vector<nlohmann::json> Configurations(WebhookKind kind) const = 0;
  // The Namespace object named `name`, or nullopt when it does not exist. Only asked for when a
  // webhook with a non-empty namespaceSelector might match a namespaced request.
  virtual std::optional<nlohmann::json> Namespace(const std::string& name) const = 0;
};

enum class Operation { kCreate, kUpdate, kDelete, kConnect };
// "CREATE", "UPDATE", "DELETE", "CONNECT".
std::string_view OperationName(Operation op);

struct GroupVersionKind {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
};

struct GroupVersionResource {
  std::string group;
  std::string version;
  std::string resource;  // plural, "deployments"
};

struct UserInfo {
  std::string username;
  std::string uid;
  std::vector<std::string> groups;
  std::map<std::string, std::vector<std::string>> extra;
};

// One write, as the REST handler sees it after authentication and decoding. PATCH is an UPDATE
// (or a CREATE when it creates); the pointers are not owned and must outlive the call.
struct AdmissionRequest {
  Operation operation = Operation::kCreate;
  // The kind of `object` (for the scale subresource: autoscaling/v1 Scale).
  GroupVersionKind kind;
  GroupVersionResource resource;
  std::string sub_resource;  // "", "status", "scale"
  std::string name;          // may be "" for a CREATE with generateName
  // The object's namespace; "" for cluster-scoped objects. For a Namespace object kube-apiserver
  // sends the namespace's own name here, and so should the caller.
  std::string namespace_name;
  UserInfo user;
  // CREATE/UPDATE: the object about to be stored. Mutate/Admit apply webhook patches to it in
  // place. Null for DELETE and CONNECT.
  nlohmann::json* object = nullptr;
  // UPDATE/DELETE: the stored object. Null for CREATE and CONNECT.
  const nlohmann::json* old_object = nullptr;
  // The CreateOptions/UpdateOptions/DeleteOptions of the request (apiVersion meta.k8s.io/v1).
  // Null: built from the operation and dry_run.
  const nlohmann::json* options = nullptr;
  bool dry_run = false;
};

struct AdmissionResult {
  bool allowed = true;
  // When !allowed: what to send the client.
  int code = 200;            // HTTP status: 403, 400, 500, or the webhook's status.code
  // metav1 StatusReason: "InternalError", "BadRequest", "NotFound", or for a denial whatever the
  // webhook's response.status.reason said (often "", as in kube-apiserver).
  std::string reason;
  std::string message;       // "admission webhook \"x\" denied the request: ..."
  std::string status_body;   // the full metav1.Status JSON body kube-apiserver would send
  // Always: warnings from the webhooks called, in call order (raw text, not yet a header value).
  std::vector<std::string> warnings;
  bool mutated = false;      // a mutating webhook changed the object
  // Names of the webhooks called, in order (for logs and tests).
  std::vector<std::string> called;
};

class Admission {
 public:
  struct Options {
    // "NAMESPACE/NAME:PORT" -> "127.0.0.1:PORT" (host:port actually dialled). A service absent
    // from the map fails the call like an unreachable service does.
    std::map<std::string, std::string> service_endpoints;
    // Used for one line per webhook call; may be null.
    Logger* logger = nullptr;
  };

  // source must outlive this object.
  Admission(const WebhookSource* source, Options options);
  ~Admission();
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Both phases: Mutate then Validate. Thread-safe.
  AdmissionResult Admit(const AdmissionRequest& request) const;
  // The mutating phase only: matching mutating webhooks, patches applied to *request.object.
  AdmissionResult Mutate(const AdmissionRequest& request) const;
  // The validating phase only (request.object should be the mutated object).
  AdmissionResult Validate(const AdmissionRequest& request) const;

  // Adds or replaces a service endpoint at run time. Thread-safe.
  void SetServiceEndpoint(const std::string& service, const std::string& address);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses one --service-endpoint value "NAMESPACE/NAME:PORT=HOST:PORT" into *endpoints.
// InvalidArgument naming the value and the expected form when malformed.
Status ParseServiceEndpoint(std::string_view flag_value,
                            std::map<std::string, std::string>* endpoints);

// Checks a MutatingWebhookConfiguration (kMutating) or ValidatingWebhookConfiguration as
// kube-apiserver's validation does (v1: webhook names present and unique, clientConfig exactly one
// of https url or service, sideEffects None/NoneOnDryRun, admissionReviewVersions, failurePolicy,
// matchPolicy, timeoutSeconds 1-30, rule operations and scope, selector operators).
// InvalidArgument listing the field errors as kube-apiserver words them
// ("webhooks[0].sideEffects: Unsupported value: \"Some\": supported values: \"None\",
// \"NoneOnDryRun\""); the server then answers 422 Invalid with
// KIND.admissionregistration.k8s.io "NAME" is invalid: <message>.
Status ValidateConfiguration(WebhookKind kind, const nlohmann::json& configuration);

// A Warning header value as kube-apiserver writes it: 299 - "text" (quotes and backslashes
// escaped).
std::string WarningHeaderValue(std::string_view text);

}  // namespace kdr::kubesim
