#include "admission/server.h"

#include <httplib.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "admission/metrics.h"
#include "admission/serving_cert.h"
#include "admission/webhook.h"
#include "base/fs.h"
#include "base/log.h"

namespace kdr::admission {
namespace {

// OpenSSL calls this during each handshake, before the server certificate is chosen: the place
// to hand out the current (possibly just rotated) pair without touching established connections.
int CertCallback(SSL* ssl, void* arg) {
  auto* cert = static_cast<ServingCert*>(arg);
  std::shared_ptr<const ServingCert::Pair> pair = cert->Current();
  if (pair == nullptr) return 0;
  if (SSL_use_certificate(ssl, pair->leaf) != 1) return 0;
  if (SSL_use_PrivateKey(ssl, pair->key) != 1) return 0;
  SSL_clear_chain_certs(ssl);
  for (X509* c : pair->chain) {
    if (SSL_add1_chain_cert(ssl, c) != 1) return 0;
  }
  return 1;
}

Status LoadClientCa(SSL_CTX* ctx, const std::string& pem, const std::string& file) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  int count = 0;
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, ca);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    X509_free(ca);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return Status::InvalidArgument("--client-ca " + file + ": no PEM certificate in it");
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return Status::Ok();
}

}  // namespace

Status ParseListen(const std::string& value, std::string_view flag, std::string* host,
                   int* port) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument(std::string(flag) + " " + value +
                                   ": expected HOST:PORT, e.g. 0.0.0.0:8443");
  }
  std::string h = value.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string p = value.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > 65535) {
    return Status::InvalidArgument(std::string(flag) + " " + value +
                                   ": port must be a number from 0 to 65535");
  }
  *host = h.empty() ? "0.0.0.0" : h;
  *port = std::stoi(p);
  return Status::Ok();
}

Server::Server(ServerOptions options, Env env, const Webhook* validate, const Webhook* mutate,
               Metrics* metrics, std::function<bool()> ready)
    : options_(std::move(options)), env_(env), validate_(validate), mutate_(mutate),
      metrics_(metrics), ready_(std::move(ready)) {}

Server::~Server() { Stop(); }

bool Server::Ready() const { return !shutting_down_ && (!ready_ || ready_()); }

Status Server::Configure() {
  cert_ = std::make_unique<ServingCert>(options_.cert_file, options_.key_file, env_.fs,
                                        env_.logger);
  KDR_RETURN_IF_ERROR(cert_->Load());
  std::string client_ca;
  if (!options_.client_ca_file.empty()) {
    KDR_ASSIGN_OR_RETURN(client_ca, env_.fs->ReadFile(options_.client_ca_file));
  }
  Status ctx_status;
  ServingCert* cert = cert_.get();
  const std::string& ca_file = options_.client_ca_file;
  auto server = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_cert_cb(&ctx, &CertCallback, cert);
    if (!client_ca.empty()) {
      ctx_status = LoadClientCa(&ctx, client_ca, ca_file);
      if (!ctx_status.ok()) return false;
    }
    return true;
  });
  KDR_RETURN_IF_ERROR(ctx_status);
  if (!server->is_valid()) return Status::Internal("cannot create the TLS context");

  const int threads = options_.threads;
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_read_timeout(options_.read_timeout);
  server->set_write_timeout(options_.write_timeout);
  server->set_keep_alive_timeout(options_.idle_timeout.count());
  // The API server keeps connections to webhooks open; a low cap would force a TLS handshake
  // every few requests.
  server->set_keep_alive_max_count(1u << 20);
  server->set_payload_max_length(options_.max_body_bytes);
  // Headers and body go out in separate writes; without this, Nagle and delayed ACKs add 40 ms.
  server->set_tcp_nodelay(true);

  auto route = [](const Webhook* wh) {
    return [wh](const httplib::Request& req, httplib::Response& res) {
      HttpReply reply = wh->Serve(req.get_header_value("Content-Type"), req.body, false);
      res.status = reply.status;
      res.set_content(std::move(reply.body), reply.content_type.c_str());
    };
  };
  if (validate_ != nullptr) server->Post("/validate", route(validate_));
  if (mutate_ != nullptr) server->Post("/mutate", route(mutate_));
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });
  server->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    if (Ready()) {
      res.set_content("ok", "text/plain");
    } else {
      res.status = 503;
      res.set_content(shutting_down_ ? "shutting down" : "caches not synced", "text/plain");
    }
  });
  server->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->Render(), "text/plain; version=0.0.4");
  });
  // A body over the limit never reaches the route: httplib answers 413 itself, and this turns
  // that answer into an AdmissionReview, as the API server expects.
  server->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
    const Webhook* wh = req.path == "/validate" ? validate_ : req.path == "/mutate" ? mutate_ : nullptr;
    if (wh == nullptr || res.status != 413) return httplib::Server::HandlerResponse::Unhandled;
    HttpReply reply = wh->Serve(req.get_header_value("Content-Type"), "", true);
    res.status = reply.status;
    res.set_content(std::move(reply.body), reply.content_type.c_str());
    return httplib::Server::HandlerResponse::Handled;
  }));
  https_ = std::move(server);

  metrics_->AddGauge("kdr_webhook_serving_cert_expiry_seconds",
                     "Seconds until the serving certificate expires.",
                     [cert] { return Metrics::GaugeValues{{"", double(cert->SecondsUntilExpiry())}}; });
  metrics_->AddGauge("kdr_webhook_serving_cert_reloads",
                     "Times the serving certificate was reloaded after rotation.",
                     [cert] { return Metrics::GaugeValues{{"", double(cert->reloads())}}; });
  metrics_->AddGauge("kdr_webhook_ready", "1 when /readyz succeeds.",
                     [this] { return Metrics::GaugeValues{{"", Ready() ? 1.0 : 0.0}}; });
  return Status::Ok();
}

Status Server::Start() {
  std::string host;
  int port = 0;
  KDR_RETURN_IF_ERROR(ParseListen(options_.listen, "--listen", &host, &port));
  std::string mhost;
  int mport = 0;
  if (!options_.metrics_listen.empty()) {
    KDR_RETURN_IF_ERROR(ParseListen(options_.metrics_listen, "--metrics-listen", &mhost, &mport));
  }
  KDR_RETURN_IF_ERROR(Configure());
  if (port == 0) {
    port_ = https_->bind_to_any_port(host);
    if (port_ < 0) return Status::Unavailable("--listen " + options_.listen + ": cannot bind");
  } else {
    if (!https_->bind_to_port(host, port)) {
      return Status::Unavailable("--listen " + options_.listen +
                                 ": cannot bind (in use, or not an address of this host)");
    }
    port_ = port;
  }
  if (!options_.metrics_listen.empty()) {
    http_metrics_ = std::make_unique<httplib::Server>();
    http_metrics_->new_task_queue = [] { return new httplib::ThreadPool(2); };
    http_metrics_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_->Render(), "text/plain; version=0.0.4");
    });
    if (mport == 0) {
      metrics_port_ = http_metrics_->bind_to_any_port(mhost);
      if (metrics_port_ < 0) {
        return Status::Unavailable("--metrics-listen " + options_.metrics_listen + ": cannot bind");
      }
    } else if (!http_metrics_->bind_to_port(mhost, mport)) {
      return Status::Unavailable("--metrics-listen " + options_.metrics_listen + ": cannot bind");
    } else {
      metrics_port_ = mport;
    }
    metrics_thread_ = std::thread([this] { http_metrics_->listen_after_bind(); });
  }
  https_thread_ = std::thread([this] { https_->listen_after_bind(); });
  started_ = true;
  return Status::Ok();
}

void Server::Stop() {
  shutting_down_ = true;
  if (https_) https_->stop();
  if (http_metrics_) http_metrics_->stop();
  if (https_thread_.joinable()) https_thread_.join();
  if (metrics_thread_.joinable()) metrics_thread_.join();
}

}  // namespace kdr::admission
