#pragma once

// The real Transport: HTTP/1.1 over TLS (OpenSSL) to one API server, with keep-alive connection
// reuse and a pool of up to RestConfig::max_connections parallel connections.
//
// TLS follows kubectl: the server certificate is verified against RestConfig::ca_pem only (the
// system trust store when it is empty), for the URL's host or tls_server_name when set (which is
// also the SNI name); insecure_skip_tls_verify turns verification off. A client certificate (PEM
// in memory) is presented when configured.
//
// Timeouts: HttpRequest::timeout, else RestConfig::request_timeout, bounds the whole call
// (connect, TLS handshake, request and response); none when both are 0 (connecting alone is then
// bounded by 30s, as Go's dialer).
//
// Errors (no HTTP answer was had): kUnavailable "cannot connect to https://h:p: connection
// refused", "...: tls: failed to verify certificate: x509: certificate signed by unknown
// authority", "connection to https://h:p lost: ..."; kDeadlineExceeded "request to https://h:p/path
// timed out after 2s"; kCancelled when HttpRequest::stop fires.

#include <memory>
#include <string>

#include "base/status.h"
#include "kube/rest_config.h"
#include "kube/transport.h"

namespace kdr::kube {

class HttpsTransport : public Transport {
 public:
  // Counters for tests and benchmarks.
  struct Stats {
    long long connections_opened = 0;
    long long requests = 0;
  };

  // InvalidArgument when the server URL is not https://host[:port], or the CA or client
  // certificate PEM does not parse (naming which).
  static Result<std::unique_ptr<HttpsTransport>> Create(const RestConfig& config);

  ~HttpsTransport() override;
  HttpsTransport(const HttpsTransport&) = delete;
  HttpsTransport& operator=(const HttpsTransport&) = delete;

  Result<HttpResponse> Send(const HttpRequest& request) override;
  const std::string& base_url() const override;

  // Replaces the client certificate presented on new connections (an exec plugin returned a new
  // pair) and closes idle connections. Empty strings: none. InvalidArgument when it does not
  // parse. Thread-safe.
  Status SetClientCertificate(const std::string& cert_pem, const std::string& key_pem);

  Stats stats() const;

 private:
  struct Impl;
  explicit HttpsTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kdr::kube
