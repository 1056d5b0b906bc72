// WsapiClient against alletra-sim over real TLS: sessions, re-login, logout, credentials,
// certificates, unreachable arrays and the arrays' refusals, each with its code.

#include "storage/wsapi.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kube/rest_config.h"
#include "kube/transport_https.h"
#include "sim/alletra_sim.h"
#include "tls/certs.h"
#include "unit/storage/rigs.h"

namespace kdr::storage {
namespace {

using nlohmann::json;

class WsapiClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::AlletraSimOptions o;
    o.clock = &clock_;
    sim::GroupSpec g;
    g.name = "shop-data";
    g.primary_array = "array-a";
    g.sync_reads = 0;
    g.volumes = {{"db-a", "db-b", 1024}};
    o.spec.groups = {g};
    auto s = sim::AlletraSim::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sim_ = std::move(*s);
  }

  WsapiEndpoint Endpoint(const std::string& array) {
    WsapiEndpoint e;
    e.label = "target array " + array;
    e.url = sim_->url(array);
    e.ca_pem = sim_->ca_pem();
    e.user = "3paradm";
    e.password = "3pardata";
    e.secret = "kubectl-dr-system/alletra";
    e.url_key = "targetUrl";
    e.ca_key = "ca";
    e.user_key = "username";
    e.password_key = "password";
    return e;
  }
  std::unique_ptr<WsapiClient> Client(const WsapiEndpoint& e) {
    auto c = WsapiClient::Create(e, Env{&clock_, nullptr, nullptr});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  Deadline Long() { return Deadline::After(clock_, std::chrono::hours(1)); }

  testing::PollClock clock_;
  std::unique_ptr<sim::AlletraSim> sim_;
};

TEST_F(WsapiClientTest, LogsInOnFirstUseAndOutOnClose) {
  auto c = Client(Endpoint("array-b"));
  EXPECT_FALSE(c->logged_in());
  auto system = c->Get("system", Long());
  ASSERT_TRUE(system.ok()) << system.status().ToString();
  EXPECT_EQ((*system)["name"], "array-b");
  EXPECT_TRUE(c->logged_in());
  ASSERT_TRUE(c->Get("remotecopygroups", Long()).ok());
  EXPECT_EQ(c->logins(), 1);
  ASSERT_TRUE(c->Close(Long()).ok());
  EXPECT_FALSE(c->logged_in());
  EXPECT_TRUE(c->Close(Long()).ok());  // nothing to close
  ASSERT_TRUE(c->Get("system", Long()).ok());
  EXPECT_EQ(c->logins(), 2);
}

TEST_F(WsapiClientTest, AnExpiredKeyLogsInAgainOnce) {
  auto c = Client(Endpoint("array-b"));
  ASSERT_TRUE(c->Get("system", Long()).ok());
  clock_.Advance(std::chrono::minutes(15));
  auto again = c->Get("system", Long());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(c->logins(), 2);
  sim_->pair().ExpireSessions();
  ASSERT_TRUE(c->Put("remotecopygroups/shop-data.r188150", {{"action", 4}}, Long()).ok());
  EXPECT_EQ(c->logins(), 3);
  // Closing a key the array dropped already is fine.
  sim_->pair().ExpireSessions();
  EXPECT_TRUE(c->Close(Long()).ok());
}

TEST_F(WsapiClientTest, AWrongPasswordIsUnauthenticatedNamingSecretAndKeys) {
  auto e = Endpoint("array-b");
  e.password = "nope";
  e.password_key = "targetPassword";
  Status s = Client(e)->Get("system", Long()).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(s.message(),
            "target array array-b (" + sim_->url("array-b") + ") refused the credentials of user "
            "\"3paradm\" (keys \"username\" and \"targetPassword\" of Secret "
            "kubectl-dr-system/alletra): HTTP 403, code 5 INV_USER_PASS: invalid user or "
            "password; fix the Secret");
}

// The real transport, except that logins are answered 401 (as some WSAPI builds answer a bad
// password, where alletra-sim follows the guide's 403 code 5).
class LoginRefused final : public kube::Transport {
 public:
  explicit LoginRefused(std::unique_ptr<kube::Transport> real) : real_(std::move(real)) {}
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    if (request.path == "/api/v1/credentials") {
      return kube::HttpResponse{401, {}, R"({"code":5,"desc":"invalid username or password"})"};
    }
    return real_->Send(request);
  }
  const std::string& base_url() const override { return real_->base_url(); }

 private:
  std::unique_ptr<kube::Transport> real_;
};

TEST_F(WsapiClientTest, A401IsUnauthenticatedToo) {
  kube::RestConfig config;
  config.server = sim_->url("array-a");
  config.ca_pem = sim_->ca_pem();
  auto real = kube::HttpsTransport::Create(config);
  ASSERT_TRUE(real.ok());
  auto e = Endpoint("array-a");
  e.label = "source array array-a";
  e.password_key = "sourcePassword";
  WsapiClient c(e, std::make_unique<LoginRefused>(std::move(*real)), Env{&clock_, nullptr, nullptr});
  Status s = c.Get("system", Long()).status();
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated);
  EXPECT_NE(s.message().find("(keys \"username\" and \"sourcePassword\" of Secret "
                             "kubectl-dr-system/alletra): HTTP 401, code 5 INV_USER_PASS"),
            std::string::npos) << s.message();
}

// The real transport, except that logins are answered by something that echoes the request it
// refused (a proxy's error page, a WSAPI build quoting the body it could not read).
class LoginEchoed final : public kube::Transport {
 public:
  LoginEchoed(std::unique_ptr<kube::Transport> real, bool json) : real_(std::move(real)), json_(json) {}
  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    if (request.path == "/api/v1/credentials") {
      nlohmann::json desc = {{"code", 0}, {"desc", "cannot read the request body " + request.body}};
      return kube::HttpResponse{400, {}, json_ ? desc.dump() : "<html>400 Bad Request: " + request.body + "</html>"};
    }
    return real_->Send(request);
  }
  const std::string& base_url() const override { return real_->base_url(); }

 private:
  std::unique_ptr<kube::Transport> real_;
  const bool json_;
};

TEST_F(WsapiClientTest, AnErrorEchoingTheLoginNeverShowsThePassword) {
  for (bool json : {true, false}) {
    SCOPED_TRACE(json ? "JSON error" : "HTML error");
    kube::RestConfig config;
    config.server = sim_->url("array-a");
    config.ca_pem = sim_->ca_pem();
    auto real = kube::HttpsTransport::Create(config);
    ASSERT_TRUE(real.ok());
    auto e = Endpoint("array-a");
    e.password = "kdr-canary-wsapi-password-0123456789";
    WsapiClient c(e, std::make_unique<LoginEchoed>(std::move(*real), json), Env{&clock_, nullptr, nullptr});
    Status s = c.Get("system", Long()).status();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("refused POST /api/v1/credentials: HTTP 400"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("3paradm"), std::string::npos) << s.message();  // the rest is shown
    EXPECT_EQ(s.message().find("kdr-canary-wsapi-password"), std::string::npos) << s.message();
  }
}

TEST_F(WsapiClientTest, AnUntrustedCertificateNamesTheCaKey) {
  auto e = Endpoint("array-b");
  auto other = tls::MakeCa("another CA");
  ASSERT_TRUE(other.ok());
  e.ca_pem = other->cert_pem;
  Status s = Client(e)->Get("system", Long()).status();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("certificate is not trusted"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("key \"ca\" of Secret kubectl-dr-system/alletra"), std::string::npos);
  e.insecure_skip_tls_verify = true;
  EXPECT_TRUE(Client(e)->Get("system", Long()).ok());
}

TEST_F(WsapiClientTest, ADownArrayIsUnavailableAtOnce) {
  ASSERT_TRUE(sim_->SetDown("array-b").ok());
  auto c = Client(Endpoint("array-b"));
  Status s = c->Get("system", Long()).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("target array array-b (https://"), std::string::npos);
  EXPECT_NE(s.message().find("connection refused"), std::string::npos) << s.message();
  EXPECT_EQ(clock_.slept(), std::chrono::nanoseconds(0));  // no retries against a dead array
}

TEST_F(WsapiClientTest, APassedDeadlineSendsNothing) {
  auto c = Client(Endpoint("array-b"));
  Status s = c->Get("system", Deadline::After(clock_, std::chrono::seconds(0))).status();
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
  EXPECT_FALSE(c->logged_in());
}

TEST_F(WsapiClientTest, ABadUrlNamesItsKey) {
  auto e = Endpoint("array-b");
  e.url = "https://10.0.0.1:443/api";
  auto c = WsapiClient::Create(e, Env{&clock_, nullptr, nullptr});
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("key \"targetUrl\" of Secret kubectl-dr-system/alletra"),
            std::string::npos) << c.status().message();
}

// Every refusal the arrays send for remote-copy actions reaches the caller with the array's
// HTTP status, code, symbol and description.
TEST_F(WsapiClientTest, EveryRefusalCarriesTheArraysCodeAndDescription) {
  auto a = Client(Endpoint("array-a"));
  auto b = Client(Endpoint("array-b"));
  const std::string pa = "remotecopygroups/shop-data";
  const std::string pb = "remotecopygroups/shop-data.r188150";
  struct Case {
    std::string name;
    WsapiClient* client;
    std::string path;
    bool post;
    json body;
    StatusCode want_code;
    std::string want;  // in the message
  };
  // The group starts Primary/Secondary, started, synced; sync_reads 0 keeps a sync running.
  const std::vector<Case> cases = {
      {"start a started group", a.get(), pa, false, {{"action", 3}},
       StatusCode::kFailedPrecondition, "HTTP 403, code 215 RCOPY_GROUP_STARTED: remote copy group shop-data has already been started"},
      {"start on the secondary", b.get(), pb, false, {{"action", 3}},
       StatusCode::kFailedPrecondition, "code 218 RCOPY_GROUP_OPERATION_ONLY_ON_PRIMARY_SIDE: start should only be issued on the primary side"},
      {"failover on the primary", a.get(), pa, true, {{"action", 7}},
       StatusCode::kFailedPrecondition, "code 219 RCOPY_GROUP_OPERATION_ONLY_ON_SECONDARY_SIDE"},
      {"failover while started", b.get(), pb, true, {{"action", 7}},
       StatusCode::kFailedPrecondition, "code 217 RCOPY_GROUP_NOT_STOPPED: remote copy group shop-data.r188150 is not stopped"},
      {"recover in the natural direction", b.get(), pb, true, {{"action", 9}},
       StatusCode::kFailedPrecondition, "code 220 INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT"},
      {"a target that is not the peer", a.get(), pa, false, {{"action", 5}, {"targetName", "array-z"}},
       StatusCode::kFailedPrecondition, "code 225 RCOPY_GROUP_INV_TARGET"},
      {"sync", a.get(), pa, false, {{"action", 5}}, StatusCode::kOk, ""},
      {"sync while syncing", a.get(), pa, false, {{"action", 5}},
       StatusCode::kFailedPrecondition, "code 223 RCOPY_GROUP_INVOLVED_IN_SYNCHRONIZATION"},
      {"stop", b.get(), pb, false, {{"action", 4}}, StatusCode::kOk, ""},
      {"stop a stopped group", b.get(), pb, false, {{"action", 4}},
       StatusCode::kFailedPrecondition, "code 216 RCOPY_GROUP_NOT_STARTED"},
      {"failover", b.get(), pb, true, {{"action", 7}}, StatusCode::kOk, ""},
      {"start in failover", a.get(), pa, false, {{"action", 3}},
       StatusCode::kFailedPrecondition, "code 224 RCOPY_GROUP_IN_FAILOVER_STATE"},
      {"restore before recover", b.get(), pb, true, {{"action", 10}},
       StatusCode::kFailedPrecondition, "code 220 INV_OPERATION_RCOPY_GROUP_ROLE_CONFLICT"},
      {"recover", b.get(), pb, true, {{"action", 9}}, StatusCode::kOk, ""},
      {"restore while syncing", b.get(), pb, true, {{"action", 10}},
       StatusCode::kFailedPrecondition, "code 222 RCOPY_GROUP_IS_BUSY"},
      {"an action the array does not have", b.get(), pb, true, {{"action", 8}},
       StatusCode::kUnimplemented, "HTTP 501, code 9 UNSUP_OP"},
      {"a bad enum", b.get(), pb, true, {{"action", 42}},
       StatusCode::kInvalidArgument, "HTTP 400, code 46 INV_INPUT_BAD_ENUM_VALUE: invalid input: bad enum value - action (member \"action\")"},
      {"an unknown group", b.get(), "remotecopygroups/nope", true, {{"action", 7}},
       StatusCode::kNotFound, "HTTP 404, code 187 NON_EXISTENT_RCOPY_GROUP"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = c.post ? c.client->Post(c.path, c.body, Long()) : c.client->Put(c.path, c.body, Long());
    if (c.want_code == StatusCode::kOk) {
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      continue;
    }
    EXPECT_EQ(r.status().code(), c.want_code) << r.status().ToString();
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(" refused "), std::string::npos) << r.status().message();
  }
  // A target array down: the primary side says its target is not ready.
  ASSERT_TRUE(sim_->pair().CompleteSync("shop-data").ok());
  ASSERT_TRUE(sim_->SetDown("array-a").ok());
  auto r = b->Post(pb, {{"action", 10}}, Long());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_NE(r.status().message().find("code 221 RCOPY_TARGET_IS_NOT_READY"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace kdr::storage
