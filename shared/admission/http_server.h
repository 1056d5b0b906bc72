#pragma once

// HttpServer: a small HTTP/1.1 server written directly on OpenSSL and epoll, for the webhook's
// few routes. It replaces httplib's thread-per-connection pool: a fixed set of worker threads
// share one epoll set, and a connection occupies a worker only while it has bytes to process, so
// idle keep-alive connections and slow clients cost a socket and a small buffer, never a thread.
//
// Protocol: HTTP/1.1 and 1.0 requests with a Content-Length or chunked body, keep-alive (HTTP/1.1
// default; "Connection: close" honoured), pipelining, "Expect: 100-continue". Query strings are
// split off the path (the API server appends ?timeout=10s to webhook URLs). Every answer carries
// a Content-Length; the answer to HEAD has no body.
//
// Limits: a request (header and body) must arrive whole within read_timeout of its first byte, and
// a TLS handshake within read_timeout of the accept; an answer must be written within
// write_timeout; an idle keep-alive connection closes after idle_timeout. Bodies over
// max_body_bytes are not read: the handler is called with too_large set, its answer is sent with
// "Connection: close", and the rest of the upload is discarded until the client closes (bounded
// by read_timeout), so the client reads the answer instead of a reset. At most max_connections
// are open: past it, the connection quiet longest (an idle one first) makes room for the next. At
// most max_buffered_bytes of requests are held beyond each one's first 16 KiB: a connection that
// would go over is not read (TCP slows its client) until there is room. Headers over 64 KiB get
// 431, a malformed request 400 as soon as the malformed part arrives (a line ended by a bare LF,
// an empty or bad chunk-size line); both close the connection.
//
// TLS: a listener given an SSL_CTX speaks TLS only (a plaintext client gets a failed handshake,
// never an HTTP answer); the context decides protocol versions, certificates (its cert callback
// runs per handshake) and client verification. A listener without one speaks plain HTTP.
//
// Lifecycle: Listen() each address, Start(), Stop(). Stop() closes the listeners, closes idle
// connections, lets each request already begun finish (its answer then closes the connection),
// and returns once every connection is closed (bounded by read_timeout + write_timeout). Handlers
// run on the worker threads and must be thread-safe. Not copyable.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace kdr::admission {

struct HttpServerRequest {
  std::string_view method;  // "GET", "POST"
  std::string_view path;    // without the query string
  std::string_view content_type;
  std::string_view body;    // decoded (chunked framing removed); empty when too_large
  bool too_large = false;   // the body was over max_body_bytes and was not read
};

struct HttpServerResponse {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

using HttpHandler = std::function<void(const HttpServerRequest&, HttpServerResponse*)>;

class HttpServer {
 public:
  struct Options {
    size_t max_body_bytes = 7 << 20;
    int workers = 2;
    std::chrono::milliseconds read_timeout{10000};
    std::chrono::milliseconds write_timeout{10000};
    std::chrono::milliseconds idle_timeout{5000};
    // Open connections at most. At the limit, the connection quiet longest is closed to admit
    // the next: an idle keep-alive quiet for a second, else a handshake or request quiet for half
    // of read_timeout; when none is, new connections wait in the kernel's backlog. So
    // connections held open cost bounded memory, and a flood cannot push out a client at work.
    int max_connections = 1024;
    // Request bytes held at once, beyond the first 16 KiB of each connection's request. A
    // connection that would go over waits, unread, until requests finish or time out; so clients
    // that send most of a large body and stall cannot make the server hold max_body_bytes each.
    size_t max_buffered_bytes = 32 << 20;
    // Stack of each worker thread; 0: kJsonThreadStackBytes (base/json.h), which the handlers'
    // recursion on the deepest accepted review is measured against.
    size_t worker_stack_bytes = 0;
  };

  explicit HttpServer(Options options);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: any free one) and returns the bound port. tls: the context for this
  // listener, or null for plain HTTP; not owned, must outlive the server. handler answers every
  // request of this listener. Unavailable when the address cannot be bound. REQUIRES: before
  // Start().
  Result<int> Listen(const std::string& host, int port, SSL_CTX* tls, HttpHandler handler);
  // Starts the worker threads. Internal if the epoll set cannot be made.
  Status Start();
  // Graceful stop (see above). Idempotent.
  void Stop();

  // Connection counts, for metrics. Thread-safe.
  struct Stats {
    size_t open = 0;         // connections open now
    uint64_t timed_out = 0;  // closed at a deadline (handshake, request, idle, write)
    uint64_t evicted = 0;    // closed at the connection limit to admit a new one
    uint64_t waited = 0;     // times a connection waited for room in the buffer pool
    size_t buffered = 0;     // request bytes held now, beyond each one's first 16 KiB
  };
  Stats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kdr::admission
