#include "admission/webhook.h"

#include <exception>

#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/response.h"
#include "admission/review.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/strings.h"

namespace kdr::admission {

namespace {

// "UPDATE persistentvolumeclaims shop/data (uid 7f0b...)": the input of an internal error, as far
// as it was decoded.
std::string Describe(const Request& req) {
  if (req.uid.empty() && req.operation.empty()) return "the request";
  std::string out = req.operation.empty() ? "request" : req.operation;
  if (!req.resource.empty()) out += " " + req.ResourceString();
  if (!req.name.empty()) {
    out += " " + (req.namespace_name.empty() ? req.name : req.namespace_name + "/" + req.name);
  }
  if (!req.uid.empty()) out += " (uid " + req.uid + ")";
  return out;
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  return ToLower(TrimSpace(media)) == "application/json";
}

Webhook::Webhook(std::string name, const Policy* policy, Metrics* metrics, Logger* logger,
                 const Clock* clock)
    : name_(std::move(name)), policy_(policy), metrics_(metrics), logger_(logger),
      clock_(clock) {}

HttpReply Webhook::Serve(std::string_view content_type, std::string_view body,
                         bool too_large) const {
  const Clock::MonoTime start = clock_->Monotonic();
  Request req;
  Response resp;
  int http_status = 200;
  if (!IsJsonContentType(content_type)) {
    resp = Errored(415, "content type " + Quote(content_type) +
                            " is not supported; send an AdmissionReview as application/json");
    http_status = 415;
  } else if (too_large) {
    resp = Errored(413, "request body is over the webhook's size limit; the object is too large "
                        "to review");
    http_status = 413;
  } else {
    // The guard: nothing a request does may escape as an exception (the HTTP server would answer
    // a bare 500 the API server cannot read). It covers decoding too.
    try {
      if (Status st = DecodeReview(body, &req); !st.ok()) {
        resp = Errored(400, st.message());
        http_status = 400;
      } else {
        resp = policy_->Handle(req);
      }
    } catch (const std::exception& e) {
      resp = Errored(500, "internal error deciding " + Describe(req) + ": " + e.what() +
                              "; the webhook logged it, please report it");
    } catch (...) {
      resp = Errored(500, "internal error deciding " + Describe(req) + "; please report it");
    }
  }
  HttpReply reply;
  reply.status = http_status;
  try {
    reply.body = EncodeReview(req.version, req.uid, resp);
  } catch (...) {
    // Only allocation can fail here; answer something the API server can read.
    reply.status = 500;
    reply.body = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                 "\"response\":{\"uid\":\"\",\"allowed\":false,\"status\":{\"code\":500}}}";
  }
  const auto elapsed = clock_->Monotonic() - start;
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  const std::string_view decision = resp.Decision();
  metrics_->ObserveRequest(name_, resp.policy, decision, resp.code, elapsed);
  if (logger_->Enabled(LogLevel::kInfo)) {
    logger_->Info("admission decision",
                  {{"webhook", name_},
                   {"uid", req.uid},
                   {"operation", req.operation},
                   {"resource", req.ResourceString()},
                   {"namespace", req.namespace_name},
                   {"name", req.name},
                   {"allowed", resp.allowed ? "true" : "false"},
                   {"decision", std::string(decision)},
                   {"code", std::to_string(resp.code)},
                   {"policy", resp.policy.empty() ? "none" : resp.policy},
                   {"reason", resp.message},
                   {"us", std::to_string(micros)}});
  }
  return reply;
}

}  // namespace kdr::admission
