#include "kube/transport_https.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "testutil/tls_server.h"

namespace kdr::kube {
namespace {

using testutil::Reply;
using testutil::ServerRequest;
using testutil::TlsServer;

RestConfig ConfigFor(const TlsServer& server) {
  RestConfig c;
  c.server = server.url();
  c.ca_pem = server.ca().cert_pem;
  c.cluster_name = "test";
  return c;
}

std::unique_ptr<HttpsTransport> MustCreate(const RestConfig& c) {
  auto t = HttpsTransport::Create(c);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(t).value() : nullptr;
}

HttpRequest Get(std::string path) {
  HttpRequest r;
  r.path = std::move(path);
  return r;
}

TEST(HttpsTransportTest, SendsRequestAndReadsResponse) {
  TlsServer server;
  server.SetHandler([](const ServerRequest& req) {
    Reply r = Reply::Json(201, R"({"echo":")" + req.method + " " + req.target + " " + req.body + R"("})");
    r.headers.emplace_back("X-Seen", req.Header("X-Custom"));
    return r;
  });
  auto t = MustCreate(ConfigFor(server));
  HttpRequest req;
  req.method = "POST";
  req.path = "/api/v1/namespaces?x=1";
  req.body = "hello";
  req.headers.emplace_back("X-Custom", "abc");
  auto resp = t->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->status, 201);
  EXPECT_EQ(resp->body, R"({"echo":"POST /api/v1/namespaces?x=1 hello"})");
  EXPECT_EQ(HeaderValue(resp->headers, "x-seen"), "abc");
  EXPECT_EQ(server.requests().at(0).Header("Content-Type"), "application/json");
}

TEST(HttpsTransportTest, NonSuccessStatusIsASuccessfulSend) {
  TlsServer server;
  server.Enqueue(Reply::KubeStatus(404, "NotFound", "pods \"x\" not found"));
  auto t = MustCreate(ConfigFor(server));
  auto resp = t->Send(Get("/api/v1/namespaces/a/pods/x"));
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->status, 404);
  EXPECT_NE(resp->body.find("not found"), std::string::npos);
}

TEST(HttpsTransportTest, ReusesKeptAliveConnection) {
  TlsServer server;
  server.SetHandler([](const ServerRequest&) { return Reply::Json(200, "{}"); });
  auto t = MustCreate(ConfigFor(server));
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(t->Send(Get("/version")).ok());
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(t->stats().connections_opened, 1);
  EXPECT_EQ(t->stats().requests, 5);
}

TEST(HttpsTransportTest, OpensParallelConnectionsForConcurrentCalls) {
  TlsServer server;
  constexpr int kParallel = 4;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  int max_seen = 0;
  // Each handler waits until all four are in flight at once, which only parallel connections
  // allow (a cap keeps a broken transport from hanging the test).
  server.SetHandler([&](const ServerRequest&) {
    std::unique_lock<std::mutex> lock(mu);
    ++in_flight;
    max_seen = std::max(max_seen, in_flight);
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(20), [&] { return max_seen >= kParallel; });
    --in_flight;
    return Reply::Json(200, "{}");
  });
  RestConfig c = ConfigFor(server);
  c.max_connections = kParallel;
  auto t = MustCreate(c);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kParallel; ++i) {
    threads.emplace_back([&] { ok += t->Send(Get("/x")).ok() ? 1 : 0; });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), kParallel);
  {
    // The handlers wrote it on the server's threads; an answer through a socket orders nothing
    // for the memory model (TSan reported the unlocked read).
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(max_seen, kParallel);
  }
  EXPECT_EQ(server.connections(), kParallel);
}

TEST(HttpsTransportTest, NeverOpensMoreThanMaxConnections) {
  TlsServer server;
  server.SetHandler([](const ServerRequest&) { return Reply::Json(200, "{}"); });
  RestConfig c = ConfigFor(server);
  c.max_connections = 2;
  auto t = MustCreate(c);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 5; ++j) EXPECT_TRUE(t->Send(Get("/x")).ok());
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(t->stats().connections_opened, 2);
  EXPECT_LE(server.connections(), 2);
  EXPECT_EQ(server.requests().size(), 40u);
}

TEST(HttpsTransportTest, WrongCaIsUnavailableSigningAuthorityUnknown) {
  TlsServer server;
  auto other = tls::MakeCa("some-other-ca");
  ASSERT_TRUE(other.ok());
  RestConfig c = ConfigFor(server);
  c.ca_pem = other->cert_pem;
  auto t = MustCreate(c);
  auto resp = t->Send(Get("/version"));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(resp.status().message().find("cannot connect to " + server.url()), std::string::npos)
      << resp.status().message();
  EXPECT_NE(resp.status().message().find("x509: certificate signed by unknown authority"),
            std::string::npos)
      << resp.status().message();
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpsTransportTest, InsecureSkipTlsVerifyAcceptsAnyCa) {
  TlsServer server;
  server.SetHandler([](const ServerRequest&) { return Reply::Json(200, "{}"); });
  RestConfig c = ConfigFor(server);
  c.ca_pem.clear();
  c.insecure_skip_tls_verify = true;
  auto t = MustCreate(c);
  EXPECT_TRUE(t->Send(Get("/version")).ok());
}

TEST(HttpsTransportTest, ServerDownIsUnavailableNamingUrl) {
  std::string url;
  RestConfig c;
  {
    TlsServer gone;
    c = ConfigFor(gone);
    url = gone.url();
  }
  auto t = MustCreate(c);
  auto resp = t->Send(Get("/version"));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(resp.status().message(), "cannot connect to " + url + ": connection refused");
}

TEST(HttpsTransportTest, SlowServerTimesOutWithDeadlineExceeded) {
  TlsServer server;
  // A first answer opens the connection the slow one is asked on: the 150 ms are the answer's
  // alone, not a handshake's (which takes longer than that under TSan on a loaded machine).
  server.Enqueue(Reply::Json(200, "{}"));
  Reply slow = Reply::Json(200, "{}");
  slow.hang = true;
  server.Enqueue(slow);
  auto t = MustCreate(ConfigFor(server));
  ASSERT_TRUE(t->Send(Get("/version")).ok());
  HttpRequest slow_request = Get("/api/v1/pods");
  slow_request.timeout = std::chrono::milliseconds(150);
  auto resp = t->Send(slow_request);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(resp.status().message().find("GET " + server.url() + "/api/v1/pods timed out after 150ms"),
            std::string::npos)
      << resp.status().message();
  server.Release();
}

TEST(HttpsTransportTest, PerRequestTimeoutOverridesDefault) {
  TlsServer server;
  Reply slow = Reply::Json(200, "{}");
  slow.hang = true;
  server.Enqueue(slow);
  auto t = MustCreate(ConfigFor(server));  // no default timeout
  HttpRequest req = Get("/x");
  req.timeout = std::chrono::milliseconds(100);
  auto resp = t->Send(req);
  EXPECT_EQ(resp.status().code(), StatusCode::kDeadlineExceeded);
  server.Release();
}

TEST(HttpsTransportTest, TlsServerNameIsVerifiedInsteadOfHost) {
  TlsServer::Options o;
  o.dns_names = {"kube.internal"};
  o.ip_addresses = {};
  TlsServer server(o);
  server.SetHandler([](const ServerRequest&) { return Reply::Json(200, "{}"); });
  RestConfig c = ConfigFor(server);

  auto plain = MustCreate(c);
  auto bad = plain->Send(Get("/version"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(bad.status().message().find("x509: certificate is valid for kube.internal, not 127.0.0.1"),
            std::string::npos)
      << bad.status().message();

  c.tls_server_name = "kube.internal";
  auto named = MustCreate(c);
  auto good = named->Send(Get("/version"));
  EXPECT_TRUE(good.ok()) << good.status().ToString();
}

TEST(HttpsTransportTest, PresentsClientCertificate) {
  TlsServer::Options o;
  o.require_client_cert = true;
  TlsServer server(o);
  server.SetHandler([](const ServerRequest& req) { return Reply::Json(200, "{\"cn\":\"" + req.client_cn + "\"}"); });
  RestConfig c = ConfigFor(server);
  tls::KeyPair client = server.MakeClientCert("alice", {"system:masters"});
  c.client_cert_pem = client.cert_pem;
  c.client_key_pem = client.key_pem;
  auto t = MustCreate(c);
  auto resp = t->Send(Get("/version"));
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(resp->body, R"({"cn":"alice"})");

  c.client_cert_pem.clear();
  c.client_key_pem.clear();
  auto anonymous = MustCreate(c);
  auto denied = anonymous->Send(Get("/version"));
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kUnavailable);
}

TEST(HttpsTransportTest, SetClientCertificateAppliesToNewConnections) {
  TlsServer server;
  server.SetHandler([](const ServerRequest& req) { return Reply::Json(200, req.client_cn); });
  auto t = MustCreate(ConfigFor(server));
  auto first = t->Send(Get("/x"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->body, "");
  tls::KeyPair bob = server.MakeClientCert("bob");
  ASSERT_TRUE(t->SetClientCertificate(bob.cert_pem, bob.key_pem).ok());
  auto second = t->Send(Get("/x"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->body, "bob");
  EXPECT_EQ(t->stats().connections_opened, 2);
}

TEST(HttpsTransportTest, StreamsBodyToOnBody) {
  TlsServer server;
  Reply stream;
  stream.chunks = {"{\"a\":1}\n", "{\"a\":2}\n", "{\"a\":3}\n"};
  server.Enqueue(stream);
  auto t = MustCreate(ConfigFor(server));
  std::string got;
  HttpRequest req = Get("/watch");
  req.on_body = [&](std::string_view chunk) {
    got += chunk;
    return true;
  };
  auto resp = t->Send(req);
  ASSERT_TRUE(resp.ok()) << resp.status().ToString();
  EXPECT_EQ(got, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
  EXPECT_TRUE(resp->body.empty());
}

TEST(HttpsTransportTest, StopTokenCancelsOpenStream) {
  TlsServer server;
  Reply stream;
  stream.chunks = {"{\"type\":\"ADDED\"}\n"};
  stream.hold_open = true;
  server.Enqueue(stream);
  auto t = MustCreate(ConfigFor(server));
  std::stop_source stop;
  HttpRequest req = Get("/watch");
  req.stop = stop.get_token();
  req.on_body = [&](std::string_view) {
    stop.request_stop();
    return true;
  };
  auto resp = t->Send(req);
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kCancelled);
  server.Release();
}

TEST(HttpsTransportTest, OnBodyReturningFalseEndsTheCall) {
  TlsServer server;
  Reply stream;
  stream.chunks = {"first\n"};
  stream.hold_open = true;
  server.Enqueue(stream);
  server.SetHandler([](const ServerRequest&) { return Reply::Json(200, "{}"); });
  auto t = MustCreate(ConfigFor(server));
  HttpRequest req = Get("/watch");
  req.on_body = [](std::string_view) { return false; };
  auto resp = t->Send(req);
  EXPECT_TRUE(resp.ok()) << resp.status().ToString();
  server.Release();
  // The abandoned stream's connection is not reused.
  EXPECT_TRUE(t->Send(Get("/x")).ok());
  EXPECT_EQ(t->stats().connections_opened, 2);
}

TEST(HttpsTransportTest, DroppedConnectionIsUnavailable) {
  TlsServer server;
  Reply drop;
  drop.drop = true;
  server.Enqueue(drop);
  auto t = MustCreate(ConfigFor(server));
  auto resp = t->Send(Get("/api/v1/pods"));
  ASSERT_FALSE(resp.ok());
  EXPECT_EQ(resp.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(resp.status().message().find("connection to " + server.url() + " lost"), std::string::npos)
      << resp.status().message();
}

TEST(HttpsTransportTest, RejectsBadConfiguration) {
  struct Case {
    const char* name;
    RestConfig config;
    const char* want;
  };
  RestConfig bad_ca;
  bad_ca.server = "https://127.0.0.1:6443";
  bad_ca.ca_pem = "not a pem";
  RestConfig half_cert = bad_ca;
  half_cert.ca_pem.clear();
  half_cert.client_cert_pem = "x";
  RestConfig bad_key = half_cert;
  auto ca = tls::MakeCa("ca");
  ASSERT_TRUE(ca.ok());
  bad_key.client_cert_pem = ca->cert_pem;
  bad_key.client_key_pem = "garbage";
  auto with_server = [](std::string s) {
    RestConfig c;
    c.server = std::move(s);
    return c;
  };
  const Case cases[] = {
      {"plain http", with_server("http://127.0.0.1:8080"), "must be an https:// URL"},
      {"no host", with_server("https://"), "is not https://host[:port]"},
      {"port out of range", with_server("https://h:99999"), "is not https://host[:port]"},
      {"port not numeric", with_server("https://h:abc"), "is not https://host[:port]"},
      {"unclosed ipv6", with_server("https://[::1:6443"), "unclosed ["},
      {"bad ca pem", bad_ca, "certificate-authority data: no PEM certificate"},
      {"cert without key", half_cert, "must be given together"},
      {"bad key", bad_key, "client-key data: no PEM private key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto t = HttpsTransport::Create(c.config);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(c.want), std::string::npos) << t.status().message();
  }
}

TEST(HttpsTransportTest, ServerUrlPathPrefixIsPrepended) {
  TlsServer server;
  server.SetHandler([](const ServerRequest& req) { return Reply::Json(200, req.path); });
  RestConfig c = ConfigFor(server);
  c.server = server.url() + "/k8s/clusters/c-1/";
  auto t = MustCreate(c);
  auto resp = t->Send(Get("/version"));
  ASSERT_TRUE(resp.ok());
  EXPECT_EQ(resp->body, "/k8s/clusters/c-1/version");
  EXPECT_EQ(t->base_url(), server.url() + "/k8s/clusters/c-1");
}

}  // namespace
}  // namespace kdr::kube
