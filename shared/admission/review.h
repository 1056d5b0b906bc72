#pragma once

// AdmissionReview decoding and encoding (admission.k8s.io/v1, and v1beta1 answered in kind).
//
// DecodeReview turns a request body into a Request; EncodeReview turns a Response back into the
// AdmissionReview the API server expects, in the request's apiVersion, always echoing its uid.
// A body that cannot be read still gets an answer: the transport encodes an Errored response with
// whatever uid and version DecodeReview managed to read (see webhook.h).

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/status.h"

namespace kdr::admission {

struct Response;

enum class ReviewVersion { kV1, kV1beta1 };

// "admission.k8s.io/v1" or "admission.k8s.io/v1beta1".
std::string_view ApiVersionOf(ReviewVersion version);

// One AdmissionRequest. Cheap to copy (the objects are shared, immutable).
struct Request {
  ReviewVersion version = ReviewVersion::kV1;
  std::string uid;
  std::string operation;  // CREATE | UPDATE | DELETE | CONNECT
  // request.kind and request.resource.
  std::string group;
  std::string api_version;  // version of the kind ("v1")
  std::string kind;         // "Pod"
  std::string resource;     // "pods"
  // request.resource.group: the resource's own group, which differs from `group` (the kind's) on
  // subresources of another kind: deployments/scale is resource group "apps", kind autoscaling.
  std::string resource_group;
  std::string sub_resource; // "", "status", "scale", "ephemeralcontainers"
  std::string name;
  std::string namespace_name;
  std::string username;
  std::vector<std::string> groups;
  bool dry_run = false;
  // request.object and request.oldObject; null JSON when absent.
  std::shared_ptr<const nlohmann::json> object_ptr;
  std::shared_ptr<const nlohmann::json> old_object_ptr;

  const nlohmann::json& object() const;
  const nlohmann::json& old_object() const;
  // "pods", "deployments.apps", plus "/status" for a subresource: for logs and messages.
  std::string ResourceString() const;
};

// The deepest AdmissionReview read: an object at kube-apiserver's limit (kMaxJsonDepth, base/json.h)
// wrapped in the review and its request. Every policy must be safe on objects this deep.
inline constexpr int kMaxReviewDepth = kMaxJsonDepth + 2;

// Parses an AdmissionReview body. InvalidArgument naming the field when the body is not JSON, nests
// deeper than kMaxReviewDepth ("request body nests deeper than 10002 levels", found while parsing),
// is not an AdmissionReview of a known version, or lacks request.uid. On failure `out` still
// carries the version and uid when they could be read, so the error answer can echo them.
Status DecodeReview(std::string_view body, Request* out);

// The AdmissionReview answering a request of `version` with uid `uid`.
std::string EncodeReview(ReviewVersion version, std::string_view uid, const Response& response);

}  // namespace kdr::admission
