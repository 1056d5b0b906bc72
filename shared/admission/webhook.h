#pragma once

// Webhook: the layer between HTTP and a Policy (controller-runtime's Webhook.Handle). Given the
// request's content type and body it checks them (415 not JSON, 413 over the limit, 400
// unreadable or no uid), decodes the AdmissionReview, calls the policy under a guard (an
// exception becomes Errored 500, never a crash), and encodes the answer in the request's
// apiVersion with its uid. Every answer is an AdmissionReview; every decision is counted in
// Metrics and logged as one JSON line: uid, operation, resource, namespace, name, allowed, code,
// policy, reason, us (microseconds).
//
// Transport-free, so it is tested without sockets; server.h puts it behind HTTPS.
// Thread-safe when its policy, metrics and logger are.

#include <string>
#include <string_view>

namespace kdr {
class Clock;
class Logger;
}  // namespace kdr

namespace kdr::admission {

class Metrics;
class Policy;

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class Webhook {
 public:
  // name: "validate" or "mutate" (the metrics label). None are owned; all must outlive this.
  Webhook(std::string name, const Policy* policy, Metrics* metrics, Logger* logger,
          const Clock* clock);

  // Answers one POST. too_large: the transport stopped reading the body at its limit
  // (max_body_bytes); body is then ignored. A readable review is answered with HTTP 200 (the
  // decision is inside); an unreadable one with HTTP 400/413/415 and an AdmissionReview whose
  // status carries the same code.
  HttpReply Serve(std::string_view content_type, std::string_view body, bool too_large) const;

  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  const Policy* const policy_;
  Metrics* const metrics_;
  Logger* const logger_;
  const Clock* const clock_;
};

// True for "application/json", with parameters ("; charset=utf-8") and any case.
bool IsJsonContentType(std::string_view content_type);

}  // namespace kdr::admission
