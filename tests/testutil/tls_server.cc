#include "testutil/tls_server.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "tls/pem.h"

namespace kdr::testutil {

struct TlsServer::Impl {
  std::unique_ptr<httplib::SSLServer> server;
};

std::string ServerRequest::Header(const std::string& name) const {
  std::string want = ToLower(name);
  for (const auto& [k, v] : headers) {
    if (ToLower(k) == want) return v;
  }
  return "";
}

std::string ServerRequest::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

Reply Reply::KubeStatus(int code, const std::string& reason, const std::string& message) {
  nlohmann::json s = {{"kind", "Status"},   {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                      {"status", "Failure"}, {"message", message}, {"reason", reason},
                      {"code", code}};
  return Json(code, s.dump());
}

Reply Reply::Json(int status, const std::string& body) {
  Reply r;
  r.status = status;
  r.body = body;
  return r;
}

TlsServer::TlsServer() : TlsServer(Options{}) {}

TlsServer::TlsServer(Options options) : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  auto ca = tls::MakeCa("tls-server-ca");
  if (!ca.ok()) {
    ADD_FAILURE() << ca.status().message();
    return;
  }
  ca_ = *ca;
  tls::CertRequest req;
  req.common_name = "tls-server";
  req.dns_names = options_.dns_names;
  req.ip_addresses = options_.ip_addresses;
  auto leaf = tls::MakeLeaf(ca_, req);
  if (!leaf.ok()) {
    ADD_FAILURE() << leaf.status().message();
    return;
  }
  tls::KeyPair serving = *leaf;
  bool require_client = options_.require_client_cert;
  std::string ca_pem = ca_.cert_pem;
  impl_->server = std::make_unique<httplib::SSLServer>([serving, ca_pem, require_client](SSL_CTX& ctx) {
    if (!tls::UseCertificateAndKey(&ctx, serving.cert_pem, serving.key_pem).ok()) return false;
    auto store = tls::NewCertStore(ca_pem, "test CA");
    if (!store.ok()) return false;
    SSL_CTX_set_cert_store(&ctx, store->release());
    // Ask for a client certificate always; require it only when the test says so.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER | (require_client ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       nullptr);
    return true;
  });
  httplib::SSLServer& srv = *impl_->server;
  int threads = options_.threads;
  srv.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  srv.set_keep_alive_max_count(100000);
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_timeout(60);
  auto handle = [this](const httplib::Request& hreq, httplib::Response& hres) {
    ServerRequest req;
    req.method = hreq.method;
    req.path = hreq.path;
    req.target = hreq.target;
    for (const auto& [k, v] : hreq.params) req.params.emplace(k, v);
    for (const auto& [k, v] : hreq.headers) req.headers.emplace_back(k, v);
    req.body = hreq.body;
    req.remote_port = hreq.remote_port;
    if (hreq.ssl != nullptr) {
      X509* peer = SSL_get_peer_certificate(hreq.ssl);
      if (peer != nullptr) {
        req.client_cert = SSL_get_verify_result(hreq.ssl) == X509_V_OK;
        char cn[256] = {};
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
        req.client_cn = cn;
        X509_free(peer);
      }
    }
    Reply reply = Next(req);
    if (reply.drop) {
      if (hreq.ssl != nullptr) ::shutdown(SSL_get_fd(hreq.ssl), SHUT_RDWR);
      return;
    }
    if (reply.hang) Wait();
    hres.status = reply.status;
    for (const auto& [k, v] : reply.headers) hres.set_header(k, v);
    if (!reply.chunks.empty() || reply.hold_open) {
      auto chunks = reply.chunks;
      bool hold = reply.hold_open;
      int drop_fd = reply.drop_after_chunks && hreq.ssl != nullptr ? SSL_get_fd(hreq.ssl) : -1;
      hres.set_chunked_content_provider(reply.content_type, [this, chunks, hold, drop_fd](size_t, httplib::DataSink& sink) {
        for (const auto& c : chunks) {
          if (!sink.write(c.data(), c.size())) return false;
        }
        if (drop_fd >= 0) {
          ::shutdown(drop_fd, SHUT_RDWR);
          return false;
        }
        if (hold) Wait();
        sink.done();
        return true;
      });
    } else {
      hres.set_content(reply.body, reply.content_type.c_str());
    }
  };
  srv.Get(".*", handle);
  srv.Post(".*", handle);
  srv.Put(".*", handle);
  srv.Patch(".*", handle);
  srv.Delete(".*", handle);
  port_ = srv.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) {
    ADD_FAILURE() << "tls server: cannot bind 127.0.0.1:0";
    port_ = 0;
    return;
  }
  // bind_to_any_port already listens, so clients may connect before the loop starts.
  thread_ = std::thread([&srv] { srv.listen_after_bind(); });
  // stop() is a no-op until the loop runs, so the destructor could not end a server not yet
  // running: wait for it (start-up, not a timing assumption).
  while (!srv.is_running()) std::this_thread::yield();
}

TlsServer::~TlsServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (impl_->server) impl_->server->stop();
  if (thread_.joinable()) thread_.join();
}

std::string TlsServer::url() const { return "https://127.0.0.1:" + std::to_string(port_); }

tls::KeyPair TlsServer::MakeClientCert(const std::string& cn, const std::vector<std::string>& groups) const {
  tls::CertRequest req;
  req.common_name = cn;
  req.organizations = groups;
  req.server = false;
  req.client = true;
  auto kp = tls::MakeLeaf(ca_, req);
  if (!kp.ok()) {
    ADD_FAILURE() << kp.status().message();
    return {};
  }
  return *kp;
}

void TlsServer::SetHandler(Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handler_ = std::move(handler);
}

void TlsServer::Enqueue(Reply reply) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_.push_back(std::move(reply));
}

void TlsServer::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++release_generation_;
  }
  cv_.notify_all();
}

void TlsServer::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  long long gen = release_generation_;
  cv_.wait(lock, [&] { return stopping_ || release_generation_ != gen; });
}

Reply TlsServer::Next(const ServerRequest& req) {
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(req);
    ports_.insert(req.remote_port);
    if (!queue_.empty()) {
      Reply r = std::move(queue_.front());
      queue_.pop_front();
      return r;
    }
    handler = handler_;
  }
  if (handler) return handler(req);
  return Reply::KubeStatus(404, "NotFound", "the server could not find the requested resource");
}

std::vector<ServerRequest> TlsServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

int TlsServer::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(ports_.size());
}

}  // namespace kdr::testutil
