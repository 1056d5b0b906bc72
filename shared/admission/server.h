#pragma once

// Server: the webhook's HTTPS front (kubectl-dr-webhook's main() is a thin wrapper around it).
//
// Routes on the TLS listener: POST /validate and /mutate (Webhooks), GET /healthz (always ok
// while serving), /readyz (ok while the readiness check passes — every cache listed and no watch
// broken since — and never again after BeginShutdown), /metrics (Prometheus text). /metrics is also served in plain HTTP on
// metrics_listen when set (Prometheus scrapes without TLS; nothing else is served there).
//
// TLS: 1.2 and newer only; a plaintext or older-protocol client gets nothing but a failed
// handshake. The certificate is picked per handshake from ServingCert, so a rotated pair is used
// by new connections while established ones finish on the old one. With client_ca_file every
// client must present a certificate signed by that CA (the API server's client certificate).
//
// Serving (http_server.h): `threads` workers share one epoll set; a connection takes a worker only
// while it has bytes to process, so slow clients and idle keep-alive connections hold no thread.
// A request must arrive whole within read_timeout of its first byte (a client trickling bytes is
// cut off), an answer be written within write_timeout; idle keep-alive connections close after
// idle_timeout. At most max_connections are open (the quietest makes room for a new one) and
// request bodies share a bounded buffer pool, so clients that hold connections or stall large
// uploads cost bounded memory. Every failure is the connection's own; the others are unaffected.
//
// Lifecycle: Start() binds and serves in background threads; BeginShutdown() flips /readyz to
// failing; Stop() stops accepting, closes idle connections, lets requests in flight finish, and
// joins. Not copyable.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/env.h"
#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace kdr::admission {

class HttpServer;
class Metrics;
class ServingCert;
class Webhook;
struct HttpServerRequest;
struct HttpServerResponse;

struct ServerOptions {
  std::string listen = "0.0.0.0:8443";  // host:port; port 0 picks a free one (tests)
  std::string metrics_listen;           // host:port for plain-HTTP /metrics; empty: none
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // empty: client certificates not required
  size_t max_body_bytes = 7 << 20;
  int threads = 0;  // workers; 0: one per core, at least 2
  // A TLS handshake must finish, and a request (header and body) arrive whole, within this of the
  // accept or of the request's first byte: a client trickling bytes cannot hold a connection.
  std::chrono::seconds read_timeout{10};
  // An answer must be written within this.
  std::chrono::seconds write_timeout{10};
  // Idle keep-alive connections close after this (at once on Stop()).
  std::chrono::seconds idle_timeout{5};
  // Open connections at most; past it, the one waiting longest in its phase is closed to admit
  // a new one (http_server.h). Each costs a socket and up to ~50 KiB (a TLS handshake under way,
  // the first 16 KiB of a request), so the limit bounds what idle or stalled clients can hold.
  int max_connections = 1024;
  // Stack of each worker; 0: the default (kJsonThreadStackBytes, base/json.h). Tests halve it to
  // show that the deepest review accepted is decided with room to spare.
  size_t worker_stack_bytes = 0;
};

class Server {
 public:
  // validate/mutate may be null (route not served). ready: the readiness check (caches synced);
  // called from server threads, must be thread-safe. None owned; all must outlive the Server.
  Server(ServerOptions options, Env env, const Webhook* validate, const Webhook* mutate,
         Metrics* metrics, std::function<bool()> ready);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Loads the certificate (and client CA), binds, and starts serving. InvalidArgument for a bad
  // listen address or unreadable/mismatched certificate files, Unavailable when a port cannot be
  // bound. Registers the certificate gauges on `metrics`.
  Status Start();
  // The bound ports (after Start).
  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  // /readyz fails from now on (SIGTERM: let the endpoints drop us before we stop).
  void BeginShutdown() { shutting_down_ = true; }
  bool Ready() const;
  // Stops accepting, finishes requests in flight, joins. Idempotent.
  void Stop();

  ServingCert* serving_cert() { return cert_.get(); }

 private:
  Status Configure();
  void Route(const HttpServerRequest& req, HttpServerResponse* res) const;
  void RouteMetrics(const HttpServerRequest& req, HttpServerResponse* res) const;

  struct CtxFree {
    void operator()(SSL_CTX* ctx) const;
  };

  const ServerOptions options_;
  const Env env_;
  const Webhook* const validate_;
  const Webhook* const mutate_;
  Metrics* const metrics_;
  const std::function<bool()> ready_;
  // Declared in this order so the server goes first, then the context, then the certificate its
  // callback reads.
  std::unique_ptr<ServingCert> cert_;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> started_{false};
  int port_ = 0;
  int metrics_port_ = 0;
};

// Splits "host:port" ("[::1]:8443" too). InvalidArgument naming the flag when malformed.
Status ParseListen(const std::string& value, std::string_view flag, std::string* host, int* port);

}  // namespace kdr::admission
