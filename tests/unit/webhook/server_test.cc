// The HTTPS server over real loopback sockets: routes, TLS policy, client certificates,
// certificate rotation, slow clients, body limits and graceful stop.

#include "admission/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/serving_cert.h"
#include "admission/webhook.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "dr/types.h"
#include "testutil/testutil.h"
#include "tls/certs.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  // A bound on every read, so a broken server fails the test instead of hanging it.
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

X509* ParseCert(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return x;
}

struct ClientOptions {
  std::string ca_pem;
  const tls::KeyPair* client_cert = nullptr;
  int min_version = TLS1_2_VERSION;
  int max_version = 0;
};

// A TLS client connection made with raw OpenSSL, to control protocol versions and timing.
class TlsConn {
 public:
  TlsConn(int port, const ClientOptions& o) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx_, o.min_version);
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    // Let the client offer old protocols, so a refusal is the server's.
    SSL_CTX_set_cipher_list(ctx_, "ALL:@SECLEVEL=0");
    X509* ca = ParseCert(o.ca_pem);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_), ca);
    X509_free(ca);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    if (o.client_cert != nullptr) {
      X509* c = ParseCert(o.client_cert->cert_pem);
      BIO* kb = BIO_new_mem_buf(o.client_cert->key_pem.data(), static_cast<int>(o.client_cert->key_pem.size()));
      EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
      BIO_free(kb);
      SSL_CTX_use_certificate(ctx_, c);
      SSL_CTX_use_PrivateKey(ctx_, k);
      X509_free(c);
      EVP_PKEY_free(k);
    }
    fd_ = Connect(port);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    SSL_set_tlsext_host_name(ssl_, "localhost");
    X509_VERIFY_PARAM_set1_host(SSL_get0_param(ssl_), "localhost", 0);
    handshake_ok_ = fd_ >= 0 && SSL_connect(ssl_) == 1;
    ERR_clear_error();
  }
  ~TlsConn() {
    SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
    SSL_CTX_free(ctx_);
  }
  bool handshake_ok() const { return handshake_ok_; }
  std::string PeerCommonName() const {
    X509* peer = SSL_get1_peer_certificate(ssl_);
    if (peer == nullptr) return "";
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
    X509_free(peer);
    return buf;
  }
  bool Send(const std::string& data) {
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }
  // Reads one HTTP response (Content-Length framed). "" when the connection closed first.
  std::string ReadResponse() {
    std::string buf;
    char chunk[16384];
    for (;;) {
      size_t header_end = buf.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        size_t cl = buf.find("Content-Length: ");
        size_t len = cl == std::string::npos ? 0 : std::stoul(buf.substr(cl + 16));
        if (buf.size() >= header_end + 4 + len) return buf.substr(0, header_end + 4 + len);
      }
      int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) {
        ERR_clear_error();
        return "";
      }
      buf.append(chunk, n);
    }
  }
  // True when the server closed the connection (as opposed to the read timing out).
  // Whatever the server wrote last (an HTTP error) is read and dropped.
  bool ClosedByPeer() {
    char buf[4096];
    for (;;) {
      int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) continue;
      int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      return err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SSL ||
             (err == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
    }
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  bool handshake_ok_ = false;
};

std::string Post(const std::string& path, const std::string& body,
                 const std::string& content_type = "application/json") {
  return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}
std::string Get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}
int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::stoi(response.substr(9, 3)) : 0;
}
std::string BodyOf(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tls::MakeCa("webhook-test-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    WriteServingCert("webhook-a");
    logger_ = std::make_unique<Logger>(std::make_unique<JsonLogSink>(&log_, nullptr));
    env_ = Env{&clock_, &fs_, logger_.get()};
    cache_.UpsertPvc({"shop", "shop-inventory", {{std::string(dr::kFailedOverLabel), "p"}}, {}, ""});
    policy_ = NewFencedPvcPolicy(&cache_, "kubectl-dr-system");
    validate_ = std::make_unique<Webhook>("validate", policy_.get(), &metrics_, logger_.get(), &clock_);
    options_.listen = "127.0.0.1:0";
    options_.cert_file = dir_.path() + "/tls.crt";
    options_.key_file = dir_.path() + "/tls.key";
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }
  void WriteServingCert(const std::string& cn) {
    tls::CertRequest req;
    req.common_name = cn;
    req.dns_names = {"localhost"};
    req.ip_addresses = {"127.0.0.1"};
    auto leaf = tls::MakeLeaf(ca_, req);
    ASSERT_TRUE(leaf.ok());
    // Key first, then certificate, each an atomic rename, as a Secret volume swap is.
    ASSERT_TRUE(fs_.WriteFile(dir_.path() + "/tls.key", leaf->key_pem, 0600).ok());
    ASSERT_TRUE(fs_.WriteFile(dir_.path() + "/tls.crt", leaf->cert_pem).ok());
  }
  void StartServer() {
    server_ = std::make_unique<Server>(options_, env_, validate_.get(), nullptr, &metrics_,
                                       [this] { return cache_.Synced(); });
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  ClientOptions Client() const { return ClientOptions{ca_.cert_pem}; }
  std::string Roundtrip(const std::string& request, const ClientOptions& o) {
    TlsConn conn(server_->port(), o);
    if (!conn.handshake_ok() || !conn.Send(request)) return "";
    return conn.ReadResponse();
  }
  std::string Roundtrip(const std::string& request) { return Roundtrip(request, Client()); }

  testutil::TempDir dir_;
  RealClock clock_;
  PosixFileSystem fs_;
  std::ostringstream log_;
  std::unique_ptr<Logger> logger_;
  Env env_;
  tls::KeyPair ca_;
  StateCache cache_;
  Metrics metrics_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Webhook> validate_;
  ServerOptions options_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ValidatesOverTlsEchoingUid) {
  StartServer();
  std::string resp = Roundtrip(Post("/validate", testutil::ReadData("admission/pod-create.json")));
  ASSERT_EQ(StatusOf(resp), 200) << resp;
  json out = json::parse(BodyOf(resp));
  EXPECT_EQ(out["response"]["uid"], "7f0b2c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_NE(out["response"]["status"]["message"].get<std::string>().find("fenced"), std::string::npos);
}

TEST_F(ServerTest, KeepAliveServesManyRequestsOnOneConnection) {
  StartServer();
  TlsConn conn(server_->port(), Client());
  ASSERT_TRUE(conn.handshake_ok());
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(conn.Send(Post("/validate", testutil::ReadData("admission/unknown-kind.json"))));
    ASSERT_EQ(StatusOf(conn.ReadResponse()), 200) << i;
  }
}

TEST_F(ServerTest, HealthReadinessAndMetrics) {
  options_.metrics_listen = "127.0.0.1:0";
  StartServer();
  EXPECT_EQ(StatusOf(Roundtrip(Get("/healthz"))), 200);
  std::string not_ready = Roundtrip(Get("/readyz"));
  EXPECT_EQ(StatusOf(not_ready), 503);
  EXPECT_NE(BodyOf(not_ready).find("caches not synced"), std::string::npos);
  for (CacheKind k : kAllCacheKinds) cache_.MarkSynced(k);
  EXPECT_EQ(StatusOf(Roundtrip(Get("/readyz"))), 200);
  server_->BeginShutdown();
  std::string stopping = Roundtrip(Get("/readyz"));
  EXPECT_EQ(StatusOf(stopping), 503);
  EXPECT_NE(BodyOf(stopping).find("shutting down"), std::string::npos);
  EXPECT_EQ(StatusOf(Roundtrip(Get("/healthz"))), 200);

  Roundtrip(Post("/validate", testutil::ReadData("admission/pod-create.json")));
  std::string metrics = BodyOf(Roundtrip(Get("/metrics")));
  EXPECT_NE(metrics.find("kdr_webhook_requests_total{webhook=\"validate\",policy=\"fenced-pvc\","
                         "decision=\"denied\",code=\"403\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("kdr_webhook_serving_cert_expiry_seconds "), std::string::npos);
  EXPECT_NE(metrics.find("kdr_webhook_ready 0"), std::string::npos);

  // The plain-HTTP metrics listener.
  int fd = Connect(server_->metrics_port());
  ASSERT_GE(fd, 0);
  std::string req = Get("/metrics") ;
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[4096];
  while (got.find("kdr_webhook_serving_cert_expiry_seconds") == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, n);
  }
  close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
}

TEST_F(ServerTest, BadRequestsGetAdmissionReviews) {
  options_.max_body_bytes = 2048;
  StartServer();
  struct Case {
    const char* name;
    std::string request;
    int want;
  } cases[] = {
      {"too large", Post("/validate", std::string(8192, 'x')), 413},
      {"wrong content type", Post("/validate", "{}", "text/plain"), 415},
      {"malformed", Post("/validate", "{\"apiVersion\":"), 400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string resp = Roundtrip(c.request);
    EXPECT_EQ(StatusOf(resp), c.want) << resp;
    json out = json::parse(BodyOf(resp));
    EXPECT_EQ(out["kind"], "AdmissionReview");
    EXPECT_EQ(out["response"]["status"]["code"], c.want);
    EXPECT_EQ(out["response"]["allowed"], false);
  }
}

TEST_F(ServerTest, PlaintextGetsNothing) {
  StartServer();
  int fd = Connect(server_->port());
  ASSERT_GE(fd, 0);
  std::string req = Post("/validate", "{}");
  ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[1024];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) got.append(buf, n);
  close(fd);
  EXPECT_EQ(got.find("HTTP/"), std::string::npos) << got;
  EXPECT_EQ(got.find("AdmissionReview"), std::string::npos);
}

TEST_F(ServerTest, RefusesTls11) {
  StartServer();
  ClientOptions old = Client();
  old.min_version = TLS1_VERSION;
  old.max_version = TLS1_1_VERSION;
  EXPECT_FALSE(TlsConn(server_->port(), old).handshake_ok());
  ClientOptions tls12 = Client();
  tls12.max_version = TLS1_2_VERSION;
  EXPECT_TRUE(TlsConn(server_->port(), tls12).handshake_ok());
}

TEST_F(ServerTest, ClientCertificateRequiredWhenClientCaSet) {
  auto client_ca = tls::MakeCa("apiserver-client-ca");
  ASSERT_TRUE(client_ca.ok());
  options_.client_ca_file = dir_.Write("client-ca.crt", client_ca->cert_pem);
  StartServer();
  tls::CertRequest req;
  req.common_name = "kube-apiserver";
  req.server = false;
  req.client = true;
  auto good = tls::MakeLeaf(*client_ca, req);
  auto stranger_ca = tls::MakeCa("stranger");
  auto bad = tls::MakeLeaf(*stranger_ca, req);
  ASSERT_TRUE(good.ok() && bad.ok());
  const std::string request = Get("/healthz");

  ClientOptions with_cert = Client();
  with_cert.client_cert = &*good;
  EXPECT_EQ(StatusOf(Roundtrip(request, with_cert)), 200);
  EXPECT_EQ(Roundtrip(request, Client()), "");  // no certificate
  ClientOptions wrong = Client();
  wrong.client_cert = &*bad;
  EXPECT_EQ(Roundtrip(request, wrong), "");
}

TEST_F(ServerTest, RotatedCertificateServesNewConnectionsWhileInFlightRequestCompletes) {
  StartServer();
  const std::string body = testutil::ReadData("admission/pod-create.json");
  const std::string request = Post("/validate", body);
  TlsConn in_flight(server_->port(), Client());
  ASSERT_TRUE(in_flight.handshake_ok());
  EXPECT_EQ(in_flight.PeerCommonName(), "webhook-a");
  // Half of the request now, the rest after the rotation.
  ASSERT_TRUE(in_flight.Send(request.substr(0, request.size() / 2)));

  WriteServingCert("webhook-b");
  TlsConn fresh(server_->port(), Client());
  ASSERT_TRUE(fresh.handshake_ok());
  EXPECT_EQ(fresh.PeerCommonName(), "webhook-b");
  EXPECT_EQ(server_->serving_cert()->reloads(), 1);

  ASSERT_TRUE(in_flight.Send(request.substr(request.size() / 2)));
  std::string resp = in_flight.ReadResponse();
  EXPECT_EQ(StatusOf(resp), 200) << resp;
  EXPECT_EQ(json::parse(BodyOf(resp))["response"]["uid"], "7f0b2c1e-0000-4000-8000-000000000001");
}

TEST_F(ServerTest, BrokenRotationKeepsServingThePreviousCertificate) {
  StartServer();
  ASSERT_TRUE(fs_.WriteFile(options_.cert_file, "not a certificate").ok());
  TlsConn conn(server_->port(), Client());
  ASSERT_TRUE(conn.handshake_ok());
  EXPECT_EQ(conn.PeerCommonName(), "webhook-a");
  EXPECT_NE(log_.str().find("cannot be loaded"), std::string::npos);
}

TEST_F(ServerTest, SlowClientTimesOutWithoutBlockingOthers) {
  options_.read_timeout = std::chrono::seconds(1);
  options_.threads = 4;
  StartServer();
  TlsConn slow(server_->port(), Client());
  ASSERT_TRUE(slow.handshake_ok());
  ASSERT_TRUE(slow.Send("POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Le"));
  // Others are served while the slow client stalls.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(StatusOf(Roundtrip(Post("/validate", testutil::ReadData("admission/unknown-kind.json")))),
              200);
  }
  // The server gives up on the slow one (bounded by the socket's 30 s read timeout).
  EXPECT_TRUE(slow.ClosedByPeer());
}

TEST_F(ServerTest, StopFinishesRequestInFlight) {
  options_.idle_timeout = std::chrono::seconds(1);
  StartServer();
  const std::string request = Post("/validate", testutil::ReadData("admission/pod-create.json"));
  TlsConn conn(server_->port(), Client());
  ASSERT_TRUE(conn.handshake_ok());
  ASSERT_TRUE(conn.Send(request.substr(0, 100)));
  auto stopped = std::async(std::launch::async, [this] { server_->Stop(); });
  ASSERT_TRUE(conn.Send(request.substr(100)));
  std::string resp = conn.ReadResponse();
  EXPECT_EQ(StatusOf(resp), 200) << resp;
  stopped.get();
}

TEST_F(ServerTest, StartErrorsNameTheFlag) {
  ServerOptions bad = options_;
  bad.listen = "nonsense";
  Server s1(bad, env_, validate_.get(), nullptr, &metrics_, nullptr);
  Status st = s1.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--listen nonsense"), std::string::npos);
  bad = options_;
  bad.key_file = dir_.Write("other.key", "garbage");
  Server s2(bad, env_, validate_.get(), nullptr, &metrics_, nullptr);
  st = s2.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("--tls-key"), std::string::npos) << st.message();
  bad = options_;
  bad.cert_file = dir_.path() + "/missing.crt";
  Server s3(bad, env_, validate_.get(), nullptr, &metrics_, nullptr);
  EXPECT_EQ(s3.Start().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kdr::admission
