#include "kube/client.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/version.h"
#include "kube/discovery.h"
#include "kube/errors.h"
#include "kube/raw_list.h"
#include "kube/transport_https.h"

namespace kdr::kube {

using nlohmann::json;

namespace {

constexpr int kMaxRetries = 5;
constexpr std::chrono::milliseconds kInitialBackoff{200};
constexpr std::chrono::milliseconds kMaxBackoff{5000};
constexpr int kMaxRefusedRetries = 2;
constexpr std::chrono::seconds kMaxRetryAfter{300};

// Query string builder: skips empty values.
class Query {
 public:
  Query& Add(std::string_view key, std::string_view value) {
    if (value.empty()) return *this;
    text_ += text_.empty() ? '?' : '&';
    text_ += std::string(key) + "=" + UrlEncode(value);
    return *this;
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

// Retry-After in seconds (HTTP dates are rare from API servers and read as absent).
std::optional<std::chrono::seconds> RetryAfter(const HttpResponse& resp) {
  std::string_view v = TrimSpace(HeaderValue(resp.headers, "retry-after"));
  if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos || v.size() > 6) {
    return std::nullopt;
  }
  return std::min(std::chrono::seconds(std::stol(std::string(v))), kMaxRetryAfter);
}

std::string_view ContentType(PatchType t) {
  switch (t) {
    case PatchType::kJsonPatch:
      return "application/json-patch+json";
    case PatchType::kMergePatch:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/json";
}

std::string Describe(const Gvr& gvr, std::string_view ns, std::string_view name) {
  std::string s = gvr.GroupResource();
  if (!name.empty()) s += " " + Quote(ns.empty() ? name : std::string(ns) + "/" + std::string(name));
  else if (!ns.empty()) s += " in namespace " + Quote(ns);
  return s;
}

}  // namespace

struct Client::Call {
  std::string method = "GET";
  std::string path;
  std::string body;
  std::string content_type;
  bool idempotent = true;
  std::chrono::milliseconds timeout{0};
  std::function<bool(std::string_view)> on_body;
  std::stop_token stop;
  // Streams: once bytes were delivered, a failure is not retried (the caller saw events).
  const bool* delivered = nullptr;
};

Result<std::unique_ptr<Client>> Client::Create(const RestConfig& config, const Env& env) {
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<HttpsTransport> transport, HttpsTransport::Create(config));
  std::unique_ptr<CredentialProvider> credentials = MakeCredentialProvider(config, env);
  return std::make_unique<Client>(config, std::move(transport), std::move(credentials), env);
}

Client::Client(RestConfig config, std::unique_ptr<Transport> transport,
               std::unique_ptr<CredentialProvider> credentials, const Env& env)
    : config_(std::move(config)),
      transport_(std::move(transport)),
      https_(dynamic_cast<HttpsTransport*>(transport_.get())),
      credentials_(std::move(credentials)),
      env_(env),
      limiter_(config_.qps, config_.burst, env.clock),
      mapper_(std::make_unique<RestMapper>(this)),
      applied_cert_(config_.client_cert_pem) {}

Client::~Client() = default;

std::string Client::ResourcePath(const Gvr& gvr, std::string_view ns, std::string_view name,
                                 std::string_view subresource) {
  std::string p = gvr.group.empty() ? "/api/" + gvr.version : "/apis/" + gvr.group + "/" + gvr.version;
  if (!ns.empty()) p += "/namespaces/" + UrlEncode(ns);
  p += "/" + gvr.resource;
  if (!name.empty()) p += "/" + UrlEncode(name);
  if (!subresource.empty()) p += "/" + std::string(subresource);
  return p;
}

Status Client::Authorize(HttpRequest* request) {
  if (!credentials_) return Status::Ok();
  auto creds = credentials_->Get(false);
  if (!creds.ok()) {
    return creds.status().WithContext("getting credentials for " + transport_->base_url());
  }
  if (!creds->bearer_token.empty()) {
    request->headers.emplace_back("Authorization", "Bearer " + creds->bearer_token);
  }
  if (https_ != nullptr && !creds->client_cert_pem.empty()) {
    std::lock_guard<std::mutex> lock(cert_mu_);
    if (creds->client_cert_pem != applied_cert_) {
      KDR_RETURN_IF_ERROR(https_->SetClientCertificate(creds->client_cert_pem, creds->client_key_pem));
      applied_cert_ = creds->client_cert_pem;
    }
  }
  return Status::Ok();
}

Result<HttpResponse> Client::Do(const Call& call) {
  bool refreshed = false;
  int retries = 0;
  std::chrono::milliseconds backoff = kInitialBackoff;
  Logger* log = env_.logger;
  for (;;) {
    if (!limiter_.Wait(call.stop)) {
      return Status::Cancelled(call.method + " " + transport_->base_url() + call.path + " cancelled");
    }
    HttpRequest req;
    req.method = call.method;
    req.path = call.path;
    req.body = call.body;
    req.timeout = call.timeout;
    req.on_body = call.on_body;
    req.stop = call.stop;
    req.headers.emplace_back("User-Agent", std::string(UserAgent()));
    req.headers.emplace_back("Accept", "application/json");
    if (!call.content_type.empty()) req.headers.emplace_back("Content-Type", call.content_type);
    KDR_RETURN_IF_ERROR(Authorize(&req));
    Clock::MonoTime start = env_.clock->Monotonic();
    Result<HttpResponse> r = transport_->Send(req);
    if (log != nullptr && log->Enabled(LogLevel::kTrace)) {
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(env_.clock->Monotonic() - start);
      log->Log(LogLevel::kTrace, "http request",
               {{"method", call.method},
                {"url", transport_->base_url() + call.path},
                {"status", r.ok() ? std::to_string(r->status) : r.status().ToString()},
                {"ms", std::to_string(ms.count())}});
    }
    bool may_retry = retries < kMaxRetries && (call.delivered == nullptr || !*call.delivered);
    std::chrono::nanoseconds sleep{0};
    if (!r.ok()) {
      // A certificate that fails verification will fail the same way again.
      if (!(may_retry && call.idempotent && r.status().code() == StatusCode::kUnavailable) ||
          IsCertificateFailure(r.status())) {
        return r.status();
      }
      // Nobody listening: a restarting API server gets a moment, a dead one is reported within
      // a second instead of after the whole backoff (client-go does not retry refusals at all).
      if (IsConnectionRefused(r.status()) && retries >= kMaxRefusedRetries) return r.status();
      sleep = backoff;
    } else if (r->status == 401 && !refreshed && credentials_) {
      // The token may have expired or rotated: fetch fresh credentials once and try again.
      refreshed = true;
      auto fresh = credentials_->Get(true);
      if (!fresh.ok()) {
        return fresh.status().WithContext("refreshing credentials after 401 from " + transport_->base_url());
      }
      continue;
    } else if (r->status == 429 && may_retry) {
      sleep = RetryAfter(*r).value_or(std::chrono::seconds(1));
    } else if (r->status >= 500 && r->status != 501 && may_retry && call.idempotent) {
      sleep = std::max<std::chrono::nanoseconds>(backoff, RetryAfter(*r).value_or(std::chrono::seconds(0)));
    } else {
      return r;
    }
    if (log != nullptr) {
      log->Debug("retrying request", {{"method", call.method},
                                      {"url", transport_->base_url() + call.path},
                                      {"after", r.ok() ? "HTTP " + std::to_string(r->status) : r.status().message()},
                                      {"sleep_ms", std::to_string(sleep.count() / 1000000)}});
    }
    if (!env_.clock->SleepFor(sleep, call.stop)) {
      return Status::Cancelled(call.method + " " + transport_->base_url() + call.path + " cancelled");
    }
    ++retries;
    if (sleep == backoff) backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

Result<json> Client::DoJson(const Call& call) {
  KDR_ASSIGN_OR_RETURN(HttpResponse resp, Do(call));
  if (resp.status < 200 || resp.status >= 300) {
    return StatusFromResponse(resp, call.method, transport_->base_url() + call.path);
  }
  if (resp.body.empty()) return json::object();
  // A List nests its items 2 deep.
  Result<json> j = ParseJson(resp.body, "the answer", kMaxJsonDepth + 2);
  if (!j.ok()) {
    return Status::Unavailable("the answer to " + call.method + " " + transport_->base_url() + call.path +
                               " is not JSON (" + j.status().message() + "): " +
                               PrintableBytes(resp.body.substr(0, 100)));
  }
  return std::move(j).value();
}

Result<json> Client::Get(const Gvr& gvr, std::string_view ns, std::string_view name,
                         std::string_view subresource) {
  if (name.empty()) return Status::InvalidArgument("get " + gvr.GroupResource() + ": the name is empty");
  Call c;
  c.path = ResourcePath(gvr, ns, name, subresource);
  return DoJson(c);
}

namespace {

std::string ListPath(const Gvr& gvr, std::string_view ns, const ListOptions& o) {
  Query q;
  q.Add("labelSelector", o.label_selector)
      .Add("fieldSelector", o.field_selector)
      .Add("limit", o.limit > 0 ? std::to_string(o.limit) : "")
      .Add("continue", o.continue_token)
      .Add("resourceVersion", o.resource_version);
  return Client::ResourcePath(gvr, ns) + q.str();
}

}  // namespace

Result<json> Client::List(const Gvr& gvr, std::string_view ns, const ListOptions& o) {
  Call c;
  c.path = ListPath(gvr, ns, o);
  return DoJson(c);
}

Result<RawListPage> Client::ListRaw(const Gvr& gvr, std::string_view ns, const ListOptions& o) {
  Call c;
  c.path = ListPath(gvr, ns, o);
  KDR_ASSIGN_OR_RETURN(HttpResponse resp, Do(c));
  if (resp.status < 200 || resp.status >= 300) {
    return StatusFromResponse(resp, c.method, transport_->base_url() + c.path);
  }
  if (resp.body.empty()) return RawListPage();  // as DoJson: an empty List
  const std::string head = PrintableBytes(std::string_view(resp.body).substr(0, 100));
  // A List nests its items 2 deep, as in DoJson.
  Result<RawListPage> page = ScanListPage(std::move(resp.body), "the answer", kMaxJsonDepth + 2);
  if (!page.ok()) {
    return Status::Unavailable("the answer to " + c.method + " " + transport_->base_url() + c.path +
                               " is not a List (" + page.status().message() + "): " + head);
  }
  return page;
}

Result<json> Client::ListAll(const Gvr& gvr, std::string_view ns, ListOptions o) {
  if (o.limit <= 0) o.limit = 500;
  json all;
  json items = json::array();
  for (int page = 0;; ++page) {
    KDR_ASSIGN_OR_RETURN(json list, List(gvr, ns, o));
    if (page == 0) all = list;
    if (list.contains("items") && list["items"].is_array()) {
      for (auto& item : list["items"]) items.push_back(std::move(item));
    }
    std::string next;
    if (list.contains("metadata") && list["metadata"].is_object()) {
      const json& meta = list["metadata"];
      for (const char* key : {"continue", "resourceVersion"}) {
        if (meta.contains(key) && !meta[key].is_string() && !meta[key].is_null()) {
          return Status::Unavailable("the answer to LIST " + gvr.GroupResource() + " holds a metadata." + key +
                                     " that is not a string: " + meta[key].dump().substr(0, 100));
        }
      }
      if (meta.contains("continue") && meta["continue"].is_string()) next = meta["continue"].get<std::string>();
      all["metadata"]["resourceVersion"] =
          meta.contains("resourceVersion") && meta["resourceVersion"].is_string() ? meta["resourceVersion"] : json("");
    }
    if (next.empty()) break;
    o.continue_token = next;
    o.resource_version.clear();  // a continue token fixes the version
  }
  all["items"] = std::move(items);
  if (all.contains("metadata") && all["metadata"].is_object()) {
    all["metadata"].erase("continue");
    all["metadata"].erase("remainingItemCount");
  }
  return all;
}

Result<json> Client::Create(const Gvr& gvr, std::string_view ns, const json& object,
                            const WriteOptions& o) {
  std::string obj_ns = Namespace(object);
  if (!obj_ns.empty() && !ns.empty() && obj_ns != ns) {
    return Status::InvalidArgument("create " + gvr.GroupResource() + " " + Quote(Name(object)) +
                                   ": metadata.namespace " + Quote(obj_ns) +
                                   " does not match the request namespace " + Quote(ns));
  }
  Call c;
  c.method = "POST";
  c.idempotent = false;
  c.path = ResourcePath(gvr, ns) +
           Query().Add("dryRun", o.dry_run ? "All" : "").Add("fieldManager", o.field_manager).str();
  c.body = object.dump();
  c.content_type = "application/json";
  return DoJson(c);
}

Result<json> Client::Update(const Gvr& gvr, std::string_view ns, const json& object,
                            const WriteOptions& o) {
  std::string name = Name(object);
  if (name.empty()) return Status::InvalidArgument("update " + gvr.GroupResource() + ": metadata.name is empty");
  Call c;
  c.method = "PUT";
  c.idempotent = !ResourceVersion(object).empty();
  c.path = ResourcePath(gvr, ns, name) +
           Query().Add("dryRun", o.dry_run ? "All" : "").Add("fieldManager", o.field_manager).str();
  c.body = object.dump();
  c.content_type = "application/json";
  return DoJson(c);
}

Result<json> Client::UpdateStatus(const Gvr& gvr, std::string_view ns, const json& object,
                                  const WriteOptions& o) {
  std::string name = Name(object);
  if (name.empty()) {
    return Status::InvalidArgument("update status of " + gvr.GroupResource() + ": metadata.name is empty");
  }
  Call c;
  c.method = "PUT";
  c.idempotent = !ResourceVersion(object).empty();
  c.path = ResourcePath(gvr, ns, name, "status") +
           Query().Add("dryRun", o.dry_run ? "All" : "").Add("fieldManager", o.field_manager).str();
  c.body = object.dump();
  c.content_type = "application/json";
  return DoJson(c);
}

Result<json> Client::Patch(const Gvr& gvr, std::string_view ns, std::string_view name, PatchType type,
                           const json& patch, const PatchOptions& o) {
  if (name.empty()) return Status::InvalidArgument("patch " + gvr.GroupResource() + ": the name is empty");
  if (type == PatchType::kJsonPatch && !patch.is_array()) {
    return Status::InvalidArgument("patch " + Describe(gvr, ns, name) + ": a JSON patch must be an array of operations");
  }
  if (type != PatchType::kJsonPatch && !patch.is_object()) {
    return Status::InvalidArgument("patch " + Describe(gvr, ns, name) + ": a merge or apply patch must be an object");
  }
  if (type == PatchType::kApply && o.field_manager.empty()) {
    return Status::InvalidArgument("server-side apply of " + Describe(gvr, ns, name) +
                                   " needs a field manager (PatchOptions::field_manager)");
  }
  Call c;
  c.method = "PATCH";
  c.idempotent = type == PatchType::kMergePatch || type == PatchType::kApply;
  c.path = ResourcePath(gvr, ns, name, o.subresource) + Query()
                                                            .Add("dryRun", o.dry_run ? "All" : "")
                                                            .Add("fieldManager", o.field_manager)
                                                            .Add("force", o.force && type == PatchType::kApply ? "true" : "")
                                                            .str();
  c.body = patch.dump();
  c.content_type = std::string(ContentType(type));
  return DoJson(c);
}

Result<json> Client::Apply(const Gvr& gvr, std::string_view ns, const json& object, const PatchOptions& o) {
  return Patch(gvr, ns, Name(object), PatchType::kApply, object, o);
}

Result<json> Client::Delete(const Gvr& gvr, std::string_view ns, std::string_view name,
                            const DeleteOptions& o) {
  if (name.empty()) return Status::InvalidArgument("delete " + gvr.GroupResource() + ": the name is empty");
  json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
  if (!o.propagation_policy.empty()) body["propagationPolicy"] = o.propagation_policy;
  if (o.grace_period_seconds) body["gracePeriodSeconds"] = *o.grace_period_seconds;
  if (!o.precondition_uid.empty()) body["preconditions"]["uid"] = o.precondition_uid;
  if (!o.precondition_resource_version.empty()) {
    body["preconditions"]["resourceVersion"] = o.precondition_resource_version;
  }
  if (o.dry_run) body["dryRun"] = json::array({"All"});
  Call c;
  c.method = "DELETE";
  c.path = ResourcePath(gvr, ns, name) + Query().Add("dryRun", o.dry_run ? "All" : "").str();
  c.body = body.dump();
  c.content_type = "application/json";
  return DoJson(c);
}

Result<json> Client::GetScale(const Gvr& gvr, std::string_view ns, std::string_view name) {
  return Get(gvr, ns, name, "scale");
}

Result<json> Client::SetScale(const Gvr& gvr, std::string_view ns, std::string_view name, int32_t replicas,
                              const WriteOptions& o) {
  PatchOptions po;
  po.dry_run = o.dry_run;
  po.field_manager = o.field_manager;
  po.subresource = "scale";
  return Patch(gvr, ns, name, PatchType::kMergePatch, json{{"spec", {{"replicas", replicas}}}}, po);
}

Status Client::Watch(const Gvr& gvr, std::string_view ns, const WatchOptions& o, const WatchHandler& handler,
                     std::stop_token stop) {
  Call c;
  c.path = ResourcePath(gvr, ns) + Query()
                                       .Add("watch", "true")
                                       .Add("allowWatchBookmarks", o.allow_bookmarks ? "true" : "")
                                       .Add("resourceVersion", o.resource_version)
                                       .Add("labelSelector", o.label_selector)
                                       .Add("fieldSelector", o.field_selector)
                                       .Add("timeoutSeconds", o.timeout.count() > 0 ? std::to_string(o.timeout.count()) : "")
                                       .str();
  // The server ends the watch after timeoutSeconds; the margin notices a server that went away
  // silently instead.
  if (o.timeout.count() > 0) c.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(o.timeout) + std::chrono::seconds(30);
  c.stop = stop;
  std::string pending;
  Status failure;
  bool delivered = false;
  bool ended_by_handler = false;
  c.delivered = &delivered;
  c.on_body = [&](std::string_view chunk) {
    delivered = true;
    pending.append(chunk);
    size_t start = 0;
    for (;;) {
      size_t eol = pending.find('\n', start);
      if (eol == std::string::npos) break;
      std::string_view line(pending.data() + start, eol - start);
      start = eol + 1;
      if (TrimSpace(line).empty()) continue;
      // An event nests its object 1 deep.
      Result<json> parsed = ParseJson(line, "watch event", kMaxJsonDepth + 1);
      json event = parsed.ok() ? std::move(parsed).value() : json();
      if (!event.is_object() || !event.contains("type") || !event["type"].is_string()) {
        failure = Status::Unavailable("watch " + Describe(gvr, ns, "") + ": malformed event from " +
                                      transport_->base_url() + ": " +
                                      PrintableBytes(line.substr(0, 100)));
        return false;
      }
      const std::string type = event["type"].get<std::string>();
      const json& object = event.contains("object") ? event["object"] : json::object();
      if (type == "ERROR") {
        failure = StatusFromStatusObject(object, "watch " + Describe(gvr, ns, ""));
        return false;
      }
      if (!handler(type, object)) {
        ended_by_handler = true;
        return false;
      }
    }
    pending.erase(0, start);
    return true;
  };
  Result<HttpResponse> r = Do(c);
  if (!failure.ok()) return failure;
  if (ended_by_handler) return Status::Ok();
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kDeadlineExceeded && delivered) {
      return Status::Unavailable("watch " + Describe(gvr, ns, "") + " on " + transport_->base_url() +
                                 ": the server stopped sending");
    }
    return r.status();
  }
  if (r->status < 200 || r->status >= 300) {
    return StatusFromResponse(*r, "GET", transport_->base_url() + c.path);
  }
  return Status::Ok();
}

Result<json> Client::GetPath(std::string_view path) {
  Call c;
  c.path = std::string(path);
  return DoJson(c);
}

Result<json> Client::ServerVersion() { return GetPath("/version"); }

}  // namespace kdr::kube
