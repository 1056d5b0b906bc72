#include "admission/review.h"

#include <nlohmann/json.hpp>

#include "admission/response.h"
#include "base/json.h"
#include "base/strings.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

constexpr std::string_view kV1 = "admission.k8s.io/v1";
constexpr std::string_view kV1beta1 = "admission.k8s.io/v1beta1";

const json& NullJson() {
  static const json kNull;  // immutable: a shared "absent" value
  return kNull;
}

std::string StringAt(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

std::string_view ReasonOf(int code) {
  switch (code) {
    case 200: return "";
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 413: return "RequestEntityTooLarge";
    case 415: return "UnsupportedMediaType";
    default: return code >= 500 ? "InternalError" : "Invalid";
  }
}

}  // namespace

std::string_view ApiVersionOf(ReviewVersion version) {
  return version == ReviewVersion::kV1beta1 ? kV1beta1 : kV1;
}

const nlohmann::json& Request::object() const { return object_ptr ? *object_ptr : NullJson(); }
const nlohmann::json& Request::old_object() const {
  return old_object_ptr ? *old_object_ptr : NullJson();
}

std::string Request::ResourceString() const {
  std::string out = resource;
  if (!group.empty()) out += "." + group;
  if (!sub_resource.empty()) out += "/" + sub_resource;
  return out;
}

Status DecodeReview(std::string_view body, Request* out) {
  *out = Request();
  Result<json> parsed = ParseJson(body, "request body", kMaxReviewDepth);
  if (!parsed.ok()) {
    return Status::InvalidArgument(parsed.status().message() + "; send an AdmissionReview");
  }
  json& doc = *parsed;
  if (!doc.is_object()) {
    return Status::InvalidArgument("request body is not a JSON object; send an AdmissionReview");
  }
  try {
    std::string api_version = StringAt(doc, "apiVersion");
    if (api_version == kV1beta1) {
      out->version = ReviewVersion::kV1beta1;
    } else if (api_version != kV1) {
      return Status::InvalidArgument("apiVersion: unsupported value " + Quote(api_version) +
                                     "; send admission.k8s.io/v1 or v1beta1");
    }
    auto req = doc.find("request");
    if (req != doc.end() && req->is_object()) out->uid = StringAt(*req, "uid");
    if (StringAt(doc, "kind") != "AdmissionReview") {
      return Status::InvalidArgument("kind: expected AdmissionReview, got " +
                                     Quote(StringAt(doc, "kind")));
    }
    if (req == doc.end() || !req->is_object()) {
      return Status::InvalidArgument("request: missing; an AdmissionReview must carry a request");
    }
    if (out->uid.empty()) {
      return Status::InvalidArgument("request.uid: missing; the answer must echo it");
    }
    json& r = *req;
    out->operation = StringAt(r, "operation");
    if (auto k = r.find("kind"); k != r.end() && k->is_object()) {
      out->group = StringAt(*k, "group");
      out->api_version = StringAt(*k, "version");
      out->kind = StringAt(*k, "kind");
    }
    if (auto res = r.find("resource"); res != r.end() && res->is_object()) {
      out->resource = StringAt(*res, "resource");
      out->resource_group = StringAt(*res, "group");
      if (out->group.empty()) out->group = out->resource_group;
    }
    out->sub_resource = StringAt(r, "subResource");
    out->name = StringAt(r, "name");
    out->namespace_name = StringAt(r, "namespace");
    if (auto u = r.find("userInfo"); u != r.end() && u->is_object()) {
      out->username = StringAt(*u, "username");
      if (auto g = u->find("groups"); g != u->end() && g->is_array()) {
        for (const auto& group : *g) {
          if (group.is_string()) out->groups.push_back(group.get<std::string>());
        }
      }
    }
    if (auto d = r.find("dryRun"); d != r.end() && d->is_boolean()) out->dry_run = d->get<bool>();
    if (out->operation.empty()) {
      return Status::InvalidArgument("request.operation: missing");
    }
    if (auto o = r.find("object"); o != r.end() && !o->is_null()) {
      if (!o->is_object()) return Status::InvalidArgument("request.object: not a JSON object");
      out->object_ptr = std::make_shared<const json>(std::move(*o));
    }
    if (auto o = r.find("oldObject"); o != r.end() && !o->is_null()) {
      if (!o->is_object()) return Status::InvalidArgument("request.oldObject: not a JSON object");
      out->old_object_ptr = std::make_shared<const json>(std::move(*o));
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("malformed AdmissionReview: ") + e.what());
  }
  return Status::Ok();
}

std::string EncodeReview(ReviewVersion version, std::string_view uid, const Response& response) {
  json resp = json::object();
  resp["uid"] = std::string(uid);
  resp["allowed"] = response.allowed;
  // An allow's message is our reason, not the user's business; a refusal carries the status.
  if (!response.allowed) {
    json status = {{"code", response.code}, {"message", response.message}};
    if (std::string_view reason = ReasonOf(response.code); !reason.empty()) {
      status["reason"] = std::string(reason);
    }
    resp["status"] = std::move(status);
  }
  if (!response.patch.empty()) {
    resp["patchType"] = "JSONPatch";
    resp["patch"] = Base64Encode(response.patch);
  }
  if (!response.warnings.empty()) resp["warnings"] = response.warnings;
  json review = {{"apiVersion", std::string(ApiVersionOf(version))},
                 {"kind", "AdmissionReview"},
                 {"response", std::move(resp)}};
  return review.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kdr::admission
