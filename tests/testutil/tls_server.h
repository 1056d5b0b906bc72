#pragma once

// TlsServer: a small real HTTPS server on 127.0.0.1:0 (httplib::SSLServer) with a per-run CA,
// whose answers tests script, for fault injection against the real HTTPS transport: 429 with
// Retry-After, 5xx then success, dropped connections, hanging (slow) answers, streamed bodies,
// client-certificate checks. It records every request and counts connections.
//
// Thread-safe. Hanging and held-open answers are released by Release() or by the destructor, so
// no test sleeps.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tls/certs.h"

namespace kdr::testutil {

struct ServerRequest {
  std::string method;
  std::string path;    // without the query
  std::string target;  // path and query as sent
  std::multimap<std::string, std::string> params;  // decoded query parameters
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int remote_port = 0;  // identifies the connection
  bool client_cert = false;  // a verified client certificate was presented
  std::string client_cn;      // its common name

  // First header/parameter of that name ("" when absent); header names are case-insensitive.
  std::string Header(const std::string& name) const;
  std::string Param(const std::string& name) const;
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  bool drop = false;  // close the connection without answering
  bool hang = false;  // answer only after Release() (or never, until the server stops)
  // A streamed (chunked) body: each chunk written and flushed in turn; then, with hold_open, the
  // stream stays open until Release() or the server stops.
  std::vector<std::string> chunks;
  bool hold_open = false;
  bool drop_after_chunks = false;  // then cut the connection (a stream lost mid-way)

  // {"kind":"Status",...} as the API server writes it.
  static Reply KubeStatus(int code, const std::string& reason, const std::string& message);
  static Reply Json(int status, const std::string& body);
};

class TlsServer {
 public:
  struct Options {
    std::vector<std::string> dns_names{"localhost"};
    std::vector<std::string> ip_addresses{"127.0.0.1"};
    bool require_client_cert = false;
    int threads = 40;  // concurrent handlers
  };
  using Handler = std::function<Reply(const ServerRequest&)>;

  // Starts serving at once; a setup failure fails the test (ADD_FAILURE) and leaves port() 0.
  TlsServer();
  explicit TlsServer(Options options);
  ~TlsServer();
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;

  int port() const { return port_; }
  std::string url() const;              // "https://127.0.0.1:PORT"
  const tls::KeyPair& ca() const { return ca_; }
  // A client certificate for user `cn` in `groups`, signed by this server's CA.
  tls::KeyPair MakeClientCert(const std::string& cn, const std::vector<std::string>& groups = {}) const;

  // The handler for requests with nothing enqueued (default: 404 NotFound Status).
  void SetHandler(Handler handler);
  // Scripted answers, used in order before the handler.
  void Enqueue(Reply reply);
  // Wakes every hanging or held-open answer.
  void Release();

  std::vector<ServerRequest> requests() const;
  // Distinct connections that carried at least one request.
  int connections() const;

 private:
  struct Impl;
  Reply Next(const ServerRequest& req);
  void Wait();

  Options options_;
  tls::KeyPair ca_;
  int port_ = 0;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Handler handler_;
  std::deque<Reply> queue_;
  std::vector<ServerRequest> requests_;
  std::set<int> ports_;
  long long release_generation_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kdr::testutil
