#pragma once

// Transport: the seam between the REST client and the network. The real one speaks HTTPS with
// OpenSSL to one API server (transport_https.cc, the sole user of httplib in shared/); tests wrap
// it to inject faults (fail the Nth call) and never mock HTTP itself.

#include <chrono>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace kdr::kube {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Value of the first header named `name` (case-insensitive), or "" when absent.
std::string_view HeaderValue(const Headers& headers, std::string_view name);

// Classifies Send errors by what retrying can do: nothing listens at the address (connection
// refused), or the server's certificate failed verification (retrying cannot help).
bool IsConnectionRefused(const Status& status);
bool IsCertificateFailure(const Status& status);

struct HttpRequest {
  std::string method = "GET";
  // Path and query, e.g. "/api/v1/namespaces/shop/pods?labelSelector=app%3Dweb".
  std::string path;
  Headers headers;
  std::string body;
  // 0: the transport's default (--request-timeout, or none).
  std::chrono::milliseconds timeout{0};
  // Streaming (watch): when set, body bytes are handed over as they arrive instead of being
  // collected in HttpResponse::body. Return false to stop reading (the call then succeeds with
  // what was read).
  std::function<bool(std::string_view chunk)> on_body;
  // When stop is requested the call ends promptly with kCancelled (a watch waiting for events).
  std::stop_token stop;
};

struct HttpResponse {
  int status = 0;
  Headers headers;
  std::string body;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one request. A non-2xx answer is a successful Send (the caller decodes the Status
  // body); a Status comes back only when no HTTP answer was had: kUnavailable (connection refused
  // or reset, TLS failure: the message names the URL and the reason), kDeadlineExceeded
  // (timeout). Thread-safe: concurrent calls use parallel connections.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
  // "https://127.0.0.1:6443", for messages.
  virtual const std::string& base_url() const = 0;
};

}  // namespace kdr::kube
