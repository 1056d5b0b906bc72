#include "admission/server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <thread>

#include "admission/http_server.h"
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

void Server::CtxFree::operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }

Status Server::Configure() {
  cert_ = std::make_unique<ServingCert>(options_.cert_file, options_.key_file, env_.fs,
                                        env_.logger);
  KDR_RETURN_IF_ERROR(cert_->Load());
  std::string client_ca;
  if (!options_.client_ca_file.empty()) {
    KDR_ASSIGN_OR_RETURN(client_ca, env_.fs->ReadFile(options_.client_ca_file));
  }
  ctx_.reset(SSL_CTX_new(TLS_server_method()));
  if (ctx_ == nullptr) {
    ERR_clear_error();
    return Status::Internal("cannot create the TLS context");
  }
  SSL_CTX* ctx = ctx_.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle keep-alive connections give their 33 KiB of record buffers back; partial writes let a
  // non-blocking answer resume where it stopped.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_cert_cb(ctx, &CertCallback, cert_.get());
  if (!client_ca.empty()) KDR_RETURN_IF_ERROR(LoadClientCa(ctx, client_ca, options_.client_ca_file));

  ServingCert* cert = cert_.get();
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

void Server::Route(const HttpServerRequest& req, HttpServerResponse* res) const {
  const Webhook* wh = req.path == "/validate" ? validate_ : req.path == "/mutate" ? mutate_ : nullptr;
  if (wh != nullptr) {
    if (req.method != "POST") {
      *res = {405, "text/plain", "use POST with an AdmissionReview\n"};
      return;
    }
    // Over the body limit too: the API server expects an AdmissionReview whatever happens.
    HttpReply reply = wh->Serve(req.content_type, req.body, req.too_large);
    res->status = reply.status;
    res->content_type = std::move(reply.content_type);
    res->body = std::move(reply.body);
    return;
  }
  if (req.too_large) {
    *res = {413, "text/plain", "request body too large\n"};
  } else if (req.path == "/healthz" || req.path == "/readyz" || req.path == "/metrics") {
    if (req.method != "GET" && req.method != "HEAD") {
      *res = {405, "text/plain", "use GET\n"};
    } else if (req.path == "/healthz") {
      res->body = "ok";
    } else if (req.path == "/readyz") {
      if (Ready()) {
        res->body = "ok";
      } else {
        res->status = 503;
        res->body = shutting_down_ ? "shutting down" : "caches not synced";
      }
    } else {
      RouteMetrics(req, res);
    }
  } else {
    *res = {404, "text/plain", "not found\n"};
  }
}

void Server::RouteMetrics(const HttpServerRequest& req, HttpServerResponse* res) const {
  if (req.path != "/metrics") {
    *res = {404, "text/plain", "not found; this listener serves /metrics only\n"};
    return;
  }
  res->content_type = "text/plain; version=0.0.4";
  res->body = metrics_->Render();
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
  HttpServer::Options o;
  o.max_body_bytes = options_.max_body_bytes;
  o.workers = options_.threads > 0
                  ? options_.threads
                  : std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  o.read_timeout = options_.read_timeout;
  o.write_timeout = options_.write_timeout;
  o.idle_timeout = options_.idle_timeout;
  o.max_connections = options_.max_connections;
  o.worker_stack_bytes = options_.worker_stack_bytes;
  http_ = std::make_unique<HttpServer>(o);
  Result<int> bound = http_->Listen(
      host, port, ctx_.get(),
      [this](const HttpServerRequest& req, HttpServerResponse* res) { Route(req, res); });
  if (!bound.ok()) {
    return Status::Unavailable("--listen " + options_.listen + ": cannot bind (" +
                               bound.status().message() +
                               "; in use, or not an address of this host)");
  }
  port_ = *bound;
  if (!options_.metrics_listen.empty()) {
    bound = http_->Listen(
        mhost, mport, nullptr,
        [this](const HttpServerRequest& req, HttpServerResponse* res) { RouteMetrics(req, res); });
    if (!bound.ok()) {
      return Status::Unavailable("--metrics-listen " + options_.metrics_listen +
                                 ": cannot bind (" + bound.status().message() + ")");
    }
    metrics_port_ = *bound;
  }
  KDR_RETURN_IF_ERROR(http_->Start());
  HttpServer* http = http_.get();
  metrics_->AddGauge("kdr_webhook_connections", "Connections open now.", [http] {
    return Metrics::GaugeValues{{"", double(http->stats().open)}};
  });
  metrics_->AddGauge("kdr_webhook_connections_closed",
                     "Connections the server closed: at a deadline (a handshake, request or "
                     "answer too slow, a keep-alive idle too long), or at the connection limit.",
                     [http] {
                       HttpServer::Stats s = http->stats();
                       return Metrics::GaugeValues{{"reason=\"timeout\"", double(s.timed_out)},
                                                   {"reason=\"limit\"", double(s.evicted)}};
                     });
  metrics_->AddGauge("kdr_webhook_request_bytes_buffered",
                     "Request bytes held beyond each request's first 16 KiB (bounded).", [http] {
                       return Metrics::GaugeValues{{"", double(http->stats().buffered)}};
                     });
  metrics_->AddGauge("kdr_webhook_request_buffer_waits",
                     "Times a request waited, unread, for room in the bounded request buffers.",
                     [http] { return Metrics::GaugeValues{{"", double(http->stats().waited)}}; });
  started_ = true;
  return Status::Ok();
}

void Server::Stop() {
  shutting_down_ = true;
  if (http_) http_->Stop();
}

}  // namespace kdr::admission
