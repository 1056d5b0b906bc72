#include "kubesim/admission.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "base/strings.h"
#include "tls/certs.h"
#include "tls/pem.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

// A real HTTPS admission webhook on 127.0.0.1:0 whose answers the test scripts. It records every
// AdmissionReview it receives; Hang() makes it hold answers until Release() (or its end), so the
// timeout test needs no sleep.
class WebhookServer {
 public:
  struct Reply {
    json response = json::object();  // AdmissionReview.response; uid filled in unless present
    int status = 200;
    std::optional<std::string> raw_body;  // sent as is instead of an AdmissionReview
  };
  struct Received {
    std::string path;
    std::string timeout;  // the ?timeout= parameter
    std::string content_type;
    std::string host;
    json review;
  };
  using Handler = std::function<Reply(const Received&)>;

  explicit WebhookServer(std::vector<std::string> dns_names = {"hooks.webhooks.svc"}) {
    auto ca = tls::MakeCa("webhook-ca");
    EXPECT_TRUE(ca.ok()) << ca.status().message();
    ca_ = *ca;
    tls::CertRequest req;
    req.common_name = "webhook";
    req.dns_names = std::move(dns_names);
    req.ip_addresses = {"127.0.0.1"};
    auto leaf = tls::MakeLeaf(ca_, req);
    EXPECT_TRUE(leaf.ok()) << leaf.status().message();
    auto cert = tls::ParseCertificates(leaf->cert_pem, "webhook certificate");
    auto key = tls::ParsePrivateKey(leaf->key_pem, "webhook key");
    server_ = std::make_unique<httplib::SSLServer>(cert->front().get(), key->get());  // copies refs
    server_->Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Received r;
      r.path = req.path;
      r.timeout = req.get_param_value("timeout");
      r.content_type = req.get_header_value("Content-Type");
      r.host = req.get_header_value("Host");
      r.review = json::parse(req.body, nullptr, false);
      Handler handler;
      {
        std::unique_lock<std::mutex> lock(mu_);
        received_.push_back(r);
        handler = handler_;
        if (hang_) cv_.wait(lock, [this] { return released_; });
      }
      Reply reply = handler ? handler(r) : Reply{};
      res.status = reply.status;
      if (reply.raw_body) {
        res.set_content(*reply.raw_body, "application/json");
        return;
      }
      json response = reply.response;
      if (!response.contains("uid")) response["uid"] = r.review["request"]["uid"];
      if (!response.contains("allowed")) response["allowed"] = true;
      json review = {{"apiVersion", "admission.k8s.io/v1"},
                     {"kind", "AdmissionReview"},
                     {"response", response}};
      res.set_content(review.dump(), "application/json");
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    EXPECT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::yield();
  }

  ~WebhookServer() {
    Release();
    server_->stop();
    thread_.join();
  }

  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string ca_bundle() const { return Base64Encode(ca_.cert_pem); }
  void SetHandler(Handler h) {
    std::lock_guard<std::mutex> lock(mu_);
    handler_ = std::move(h);
  }
  void Hang() {
    std::lock_guard<std::mutex> lock(mu_);
    hang_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::vector<Received> received() const {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  tls::KeyPair ca_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  Handler handler_;
  std::vector<Received> received_;
  bool hang_ = false;
  bool released_ = false;
};

// The cluster state admission reads, as the server's store would provide it.
class FakeSource : public WebhookSource {
 public:
  std::vector<json> Configurations(WebhookKind kind) const override {
    std::lock_guard<std::mutex> lock(mu_);
    return kind == WebhookKind::kMutating ? mutating_ : validating_;
  }
  std::optional<json> Namespace(const std::string& name) const override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = namespaces_.find(name);
    if (it == namespaces_.end()) return std::nullopt;
    return it->second;
  }
  void Add(WebhookKind kind, const std::string& config_name, std::vector<json> webhooks) {
    std::lock_guard<std::mutex> lock(mu_);
    json c = {{"apiVersion", "admissionregistration.k8s.io/v1"},
              {"kind", kind == WebhookKind::kMutating ? "MutatingWebhookConfiguration"
                                                      : "ValidatingWebhookConfiguration"},
              {"metadata", {{"name", config_name}}},
              {"webhooks", webhooks}};
    (kind == WebhookKind::kMutating ? mutating_ : validating_).push_back(c);
  }
  void AddNamespace(const std::string& name, json labels) {
    std::lock_guard<std::mutex> lock(mu_);
    namespaces_[name] = {{"apiVersion", "v1"},
                         {"kind", "Namespace"},
                         {"metadata", {{"name", name}, {"labels", labels}}}};
  }

 private:
  mutable std::mutex mu_;
  std::vector<json> mutating_, validating_;
  std::map<std::string, json> namespaces_;
};

// A loopback port nothing listens on: bound, never listened, closed.
int ClosedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

json ConfigMap(const std::string& ns, const std::string& name, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
          {"data", {{"k", "v"}}}};
}

class AdmissionTest : public ::testing::Test {
 protected:
  AdmissionTest() {
    source_.AddNamespace("shop", {{"team", "web"}});
    source_.AddNamespace("payments", {{"team", "pay"}, {"fenced", "true"}});
  }

  // A webhook on server_ at `path`, matching every write of configmaps unless rules are given.
  json Hook(const std::string& name, const std::string& path, json extra = json::object()) {
    json w = {{"name", name},
              {"clientConfig", {{"url", server_.url(path)}, {"caBundle", server_.ca_bundle()}}},
              {"rules", json::array({{{"operations", {"*"}},
                                      {"apiGroups", {""}},
                                      {"apiVersions", {"v1"}},
                                      {"resources", {"configmaps"}}}})},
              {"sideEffects", "None"},
              {"admissionReviewVersions", {"v1"}}};
    w.merge_patch(extra);
    return w;
  }

  AdmissionRequest Create(json* object) {
    AdmissionRequest r;
    r.operation = Operation::kCreate;
    r.kind = {"", "v1", "ConfigMap"};
    r.resource = {"", "v1", "configmaps"};
    r.name = (*object)["metadata"]["name"];
    r.namespace_name = (*object)["metadata"]["namespace"];
    r.user = {"alice", "uid-alice", {"dev", "system:authenticated"}, {}};
    r.object = object;
    return r;
  }

  AdmissionResult Admit(const AdmissionRequest& r) {
    Admission admission(&source_, Admission::Options{endpoints_, nullptr});
    return admission.Admit(r);
  }

  WebhookServer server_;
  FakeSource source_;
  std::map<std::string, std::string> endpoints_;
};

TEST_F(AdmissionTest, SendsAdmissionReviewV1WithEveryField) {
  source_.Add(WebhookKind::kValidating, "v", {Hook("check.example.com", "/validate")});
  json obj = ConfigMap("shop", "cfg");
  AdmissionRequest r = Create(&obj);
  r.user.extra = {{"scopes", {"a", "b"}}};
  AdmissionResult res = Admit(r);
  ASSERT_TRUE(res.allowed) << res.message;
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/validate");
  EXPECT_EQ(got[0].timeout, "10s");
  EXPECT_EQ(got[0].content_type, "application/json");
  const json& review = got[0].review;
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  const json& q = review["request"];
  EXPECT_EQ(q["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(q["kind"], (json{{"group", ""}, {"version", "v1"}, {"kind", "ConfigMap"}}));
  EXPECT_EQ(q["resource"], (json{{"group", ""}, {"version", "v1"}, {"resource", "configmaps"}}));
  EXPECT_EQ(q["requestKind"], q["kind"]);
  EXPECT_EQ(q["requestResource"], q["resource"]);
  EXPECT_FALSE(q.contains("subResource"));
  EXPECT_EQ(q["name"], "cfg");
  EXPECT_EQ(q["namespace"], "shop");
  EXPECT_EQ(q["operation"], "CREATE");
  EXPECT_EQ(q["userInfo"], (json{{"username", "alice"},
                                 {"uid", "uid-alice"},
                                 {"groups", {"dev", "system:authenticated"}},
                                 {"extra", {{"scopes", {"a", "b"}}}}}));
  EXPECT_EQ(q["object"], obj);
  EXPECT_TRUE(q["oldObject"].is_null());
  EXPECT_EQ(q["dryRun"], false);
  EXPECT_EQ(q["options"], (json{{"kind", "CreateOptions"}, {"apiVersion", "meta.k8s.io/v1"}}));
  EXPECT_EQ(res.called, std::vector<std::string>{"check.example.com"});
}

TEST_F(AdmissionTest, SendsSubresourceOldObjectAndCallerOptions) {
  json rule = {{"rules", json::array({{{"operations", {"UPDATE"}},
                                       {"apiGroups", {"dr.kubectl-dr.dev"}},
                                       {"apiVersions", {"v1alpha1"}},
                                       {"resources", {"drplans/status"}}}})}};
  source_.Add(WebhookKind::kValidating, "v", {Hook("plans.example.com", "/plans", rule)});
  json old = {{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"},
              {"kind", "DRPlan"},
              {"metadata", {{"name", "p"}, {"namespace", "shop"}}},
              {"status", {{"phase", "Spent"}}}};
  json now = old;
  now["status"]["phase"] = "Ready";
  json options = {{"kind", "UpdateOptions"},
                  {"apiVersion", "meta.k8s.io/v1"},
                  {"fieldManager", "kubectl-edit"}};
  AdmissionRequest r;
  r.operation = Operation::kUpdate;
  r.kind = {"dr.kubectl-dr.dev", "v1alpha1", "DRPlan"};
  r.resource = {"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
  r.sub_resource = "status";
  r.name = "p";
  r.namespace_name = "shop";
  r.user = {"bob", "", {"system:authenticated"}, {}};
  r.object = &now;
  r.old_object = &old;
  r.options = &options;
  ASSERT_TRUE(Admit(r).allowed);
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  const json& q = got[0].review["request"];
  EXPECT_EQ(q["subResource"], "status");
  EXPECT_EQ(q["requestSubResource"], "status");
  EXPECT_EQ(q["operation"], "UPDATE");
  EXPECT_EQ(q["oldObject"], old);
  EXPECT_EQ(q["object"], now);
  EXPECT_EQ(q["options"], options);
  EXPECT_FALSE(q["userInfo"].contains("uid"));

  // The main resource does not match a rule naming only the status subresource.
  r.sub_resource = "";
  EXPECT_TRUE(Admit(r).called.empty());
}

TEST_F(AdmissionTest, DeleteSendsOldObjectAndDeleteOptions) {
  source_.Add(WebhookKind::kValidating, "v", {Hook("del.example.com", "/v")});
  json old = ConfigMap("shop", "cfg");
  AdmissionRequest r;
  r.operation = Operation::kDelete;
  r.kind = {"", "v1", "ConfigMap"};
  r.resource = {"", "v1", "configmaps"};
  r.name = "cfg";
  r.namespace_name = "shop";
  r.old_object = &old;
  r.dry_run = true;
  ASSERT_TRUE(Admit(r).allowed);
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  const json& q = got[0].review["request"];
  EXPECT_TRUE(q["object"].is_null());
  EXPECT_EQ(q["oldObject"], old);
  EXPECT_EQ(q["dryRun"], true);
  EXPECT_EQ(q["options"], (json{{"kind", "DeleteOptions"},
                                {"apiVersion", "meta.k8s.io/v1"},
                                {"dryRun", {"All"}}}));
}

TEST_F(AdmissionTest, AppliesJsonPatchesInConfigurationOrderThenValidatesMutatedObject) {
  server_.SetHandler([](const WebhookServer::Received& r) {
    WebhookServer::Reply reply;
    if (r.path == "/add-label") {
      json patch = json::array({{{"op", "add"}, {"path", "/metadata/labels/restored"},
                                 {"value", "yes"}}});
      reply.response = {{"patchType", "JSONPatch"}, {"patch", Base64Encode(patch.dump())}};
    } else if (r.path == "/copy-label") {
      // Sees the first webhook's change.
      std::string v = r.review["request"]["object"]["metadata"]["labels"].value("restored", "");
      json patch = json::array({{{"op", "add"}, {"path", "/data/seen"}, {"value", v}}});
      reply.response = {{"patchType", "JSONPatch"}, {"patch", Base64Encode(patch.dump())}};
    }
    return reply;
  });
  // Configurations run sorted by name, whatever order the store lists them in.
  source_.Add(WebhookKind::kMutating, "b-second", {Hook("copy.example.com", "/copy-label")});
  source_.Add(WebhookKind::kMutating, "a-first", {Hook("label.example.com", "/add-label")});
  source_.Add(WebhookKind::kValidating, "v", {Hook("check.example.com", "/validate")});
  json obj = ConfigMap("shop", "cfg");
  AdmissionResult res = Admit(Create(&obj));
  ASSERT_TRUE(res.allowed) << res.message;
  EXPECT_TRUE(res.mutated);
  EXPECT_EQ(obj["metadata"]["labels"]["restored"], "yes");
  EXPECT_EQ(obj["data"]["seen"], "yes");
  EXPECT_EQ(res.called, (std::vector<std::string>{"label.example.com", "copy.example.com",
                                                  "check.example.com"}));
  auto got = server_.received();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].path, "/validate");
  EXPECT_EQ(got[2].review["request"]["object"], obj);
  EXPECT_NE(got[0].review["request"]["uid"], got[1].review["request"]["uid"]);
}

TEST_F(AdmissionTest, RejectsBadPatchResponses) {
  struct Case {
    std::string name;
    json response;
    std::string want;
  };
  const json add = json::array({{{"op", "add"}, {"path", "/data/x"}, {"value", "1"}}});
  const json bad_path = json::array({{{"op", "remove"}, {"path", "/spec/none"}}});
  const Case cases[] = {
      {"patch without type", {{"patch", Base64Encode(add.dump())}},
       "webhook returned response.patch but not response.patchType"},
      {"merge patch type", {{"patchType", "MergePatch"}, {"patch", Base64Encode("{}")}},
       "invalid response.patchType of \"MergePatch\""},
      {"not base64", {{"patchType", "JSONPatch"}, {"patch", "%%%"}}, "base64"},
      {"not json", {{"patchType", "JSONPatch"}, {"patch", Base64Encode("[{")}},
       "is not a JSON patch"},
      {"path missing", {{"patchType", "JSONPatch"}, {"patch", Base64Encode(bad_path.dump())}},
       "applying the patch of webhook \"m.example.com\""},
  };
  source_.Add(WebhookKind::kMutating, "m", {Hook("m.example.com", "/m")});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    server_.SetHandler([&](const WebhookServer::Received&) {
      WebhookServer::Reply reply;
      reply.response = c.response;
      return reply;
    });
    json obj = ConfigMap("shop", "cfg");
    json before = obj;
    AdmissionResult res = Admit(Create(&obj));
    EXPECT_FALSE(res.allowed);
    EXPECT_EQ(res.code, 500);
    EXPECT_EQ(res.reason, "InternalError");
    EXPECT_NE(res.message.find("Internal error occurred: "), std::string::npos) << res.message;
    EXPECT_NE(res.message.find(c.want), std::string::npos) << res.message;
    EXPECT_EQ(obj, before);
  }
}

TEST_F(AdmissionTest, DenialsUseKubeApiserverCodeAndMessage) {
  struct Case {
    std::string name;
    json status;
    int want_code;
    std::string want_reason;
    std::string want_message;
  };
  const Case cases[] = {
      {"message, default code", {{"message", "pvc is fenced"}}, 403, "",
       "admission webhook \"deny.example.com\" denied the request: pvc is fenced"},
      {"code and reason kept", {{"code", 422}, {"reason", "Invalid"}, {"message", "bad spec"}},
       422, "Invalid", "admission webhook \"deny.example.com\" denied the request: bad spec"},
      {"code below 400 becomes 403", {{"code", 200}, {"message", "no"}}, 403, "",
       "admission webhook \"deny.example.com\" denied the request: no"},
      {"reason only", {{"reason", "Forbidden"}}, 403, "Forbidden",
       "admission webhook \"deny.example.com\" denied the request: Forbidden"},
      {"no status", nullptr, 403, "",
       "admission webhook \"deny.example.com\" denied the request without explanation"},
  };
  source_.Add(WebhookKind::kValidating, "v", {Hook("deny.example.com", "/deny")});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    server_.SetHandler([&](const WebhookServer::Received&) {
      WebhookServer::Reply reply;
      reply.response = {{"allowed", false}};
      if (!c.status.is_null()) reply.response["status"] = c.status;
      return reply;
    });
    json obj = ConfigMap("shop", "cfg");
    AdmissionResult res = Admit(Create(&obj));
    EXPECT_FALSE(res.allowed);
    EXPECT_EQ(res.code, c.want_code);
    EXPECT_EQ(res.reason, c.want_reason);
    EXPECT_EQ(res.message, c.want_message);
    json body = json::parse(res.status_body);
    EXPECT_EQ(body["kind"], "Status");
    EXPECT_EQ(body["apiVersion"], "v1");
    EXPECT_EQ(body["status"], "Failure");
    EXPECT_EQ(body["message"], c.want_message);
    EXPECT_EQ(body["code"], c.want_code);
  }
}

TEST_F(AdmissionTest, MutatingDenialStopsBeforeValidation) {
  server_.SetHandler([](const WebhookServer::Received& r) {
    WebhookServer::Reply reply;
    if (r.path == "/m") reply.response = {{"allowed", false}, {"status", {{"message", "nope"}}}};
    return reply;
  });
  source_.Add(WebhookKind::kMutating, "m", {Hook("m.example.com", "/m")});
  source_.Add(WebhookKind::kValidating, "v", {Hook("v.example.com", "/v")});
  json obj = ConfigMap("shop", "cfg");
  AdmissionResult res = Admit(Create(&obj));
  EXPECT_FALSE(res.allowed);
  EXPECT_EQ(res.message, "admission webhook \"m.example.com\" denied the request: nope");
  EXPECT_EQ(server_.received().size(), 1u);
}

TEST_F(AdmissionTest, WarningsArePassedOnFromEveryWebhook) {
  server_.SetHandler([](const WebhookServer::Received& r) {
    WebhookServer::Reply reply;
    reply.response = {{"warnings", {"from " + r.path, "  "}}};
    return reply;
  });
  source_.Add(WebhookKind::kMutating, "m", {Hook("m.example.com", "/m")});
  source_.Add(WebhookKind::kValidating, "v", {Hook("v.example.com", "/v")});
  json obj = ConfigMap("shop", "cfg");
  AdmissionResult res = Admit(Create(&obj));
  ASSERT_TRUE(res.allowed);
  EXPECT_EQ(res.warnings, (std::vector<std::string>{"from /m", "from /v"}));
  EXPECT_EQ(WarningHeaderValue("plan \"x\" is spent"), "299 - \"plan \\\"x\\\" is spent\"");
}

TEST_F(AdmissionTest, FailurePolicyDecidesWhenTheWebhookIsDown) {
  // A port with nothing listening: bind one, then close it.
  int dead_port = ClosedPort();
  std::string url = "https://127.0.0.1:" + std::to_string(dead_port) + "/validate";
  struct Case {
    std::string name;
    std::string policy;  // "" = default (Fail)
    bool want_allowed;
  };
  const Case cases[] = {{"default fails closed", "", false},
                        {"Fail", "Fail", false},
                        {"Ignore", "Ignore", true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeSource source;
    source.AddNamespace("shop", json::object());
    json hook = Hook("down.example.com", "/validate");
    hook["clientConfig"]["url"] = url;
    if (!c.policy.empty()) hook["failurePolicy"] = c.policy;
    source.Add(WebhookKind::kValidating, "v", {hook});
    Admission admission(&source, {});
    json obj = ConfigMap("shop", "cfg");
    AdmissionResult res = admission.Admit(Create(&obj));
    EXPECT_EQ(res.allowed, c.want_allowed) << res.message;
    if (!c.want_allowed) {
      EXPECT_EQ(res.code, 500);
      EXPECT_EQ(res.reason, "InternalError");
      EXPECT_EQ(res.message.rfind("Internal error occurred: failed calling webhook "
                                  "\"down.example.com\": failed to call webhook: Post \"" +
                                      url + "?timeout=10s\": ",
                                  0),
                0u)
          << res.message;
      EXPECT_NE(res.message.find("connection refused"), std::string::npos) << res.message;
      json body = json::parse(res.status_body);
      EXPECT_EQ(body["reason"], "InternalError");
      EXPECT_EQ(body["code"], 500);
    }
  }
}

TEST_F(AdmissionTest, VerifiesTheServingCertificateAgainstCaBundle) {
  auto other_ca = tls::MakeCa("someone-else");
  ASSERT_TRUE(other_ca.ok());
  struct Case {
    std::string name;
    std::string ca_bundle;
    std::string policy;
    bool want_allowed;
    std::string want;
  };
  const Case cases[] = {
      {"right CA", server_.ca_bundle(), "Fail", true, ""},
      {"wrong CA", Base64Encode(other_ca->cert_pem), "Fail", false,
       "x509: certificate signed by unknown authority"},
      {"wrong CA ignored", Base64Encode(other_ca->cert_pem), "Ignore", true, ""},
      {"no CA: system roots", "", "Fail", false, "x509: certificate signed by unknown authority"},
      {"CA not PEM", Base64Encode("not a certificate"), "Fail", false,
       "unable to load root certificates"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeSource source;
    json hook = Hook("tls.example.com", "/v", {{"failurePolicy", c.policy}});
    if (c.ca_bundle.empty()) {
      hook["clientConfig"].erase("caBundle");
    } else {
      hook["clientConfig"]["caBundle"] = c.ca_bundle;
    }
    source.Add(WebhookKind::kValidating, "v", {hook});
    Admission admission(&source, {});
    json obj = ConfigMap("shop", "cfg");
    AdmissionResult res = admission.Admit(Create(&obj));
    EXPECT_EQ(res.allowed, c.want_allowed) << res.message;
    if (!c.want.empty()) {
      EXPECT_EQ(res.code, 500);
      EXPECT_NE(res.message.find("failed calling webhook \"tls.example.com\""), std::string::npos);
      EXPECT_NE(res.message.find(c.want), std::string::npos) << res.message;
    }
  }
}

TEST_F(AdmissionTest, ServiceClientConfigDialsTheEndpointMapAndVerifiesTheServiceName) {
  json hook = Hook("svc.example.com", "");
  hook["clientConfig"] = {
      {"service", {{"namespace", "webhooks"}, {"name", "hooks"}, {"path", "/admit"}}},
      {"caBundle", server_.ca_bundle()}};
  source_.Add(WebhookKind::kValidating, "v", {hook});
  json obj = ConfigMap("shop", "cfg");

  // No endpoint for the service: the call fails like an unreachable service.
  AdmissionResult res = Admit(Create(&obj));
  EXPECT_FALSE(res.allowed);
  EXPECT_NE(res.message.find("failed calling webhook \"svc.example.com\""), std::string::npos);
  EXPECT_NE(res.message.find("webhooks/hooks:443"), std::string::npos) << res.message;

  ASSERT_TRUE(ParseServiceEndpoint("webhooks/hooks:443=127.0.0.1:" +
                                       std::to_string(server_.port()),
                                   &endpoints_)
                  .ok());
  res = Admit(Create(&obj));
  ASSERT_TRUE(res.allowed) << res.message;
  auto got = server_.received();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/admit");
  EXPECT_EQ(got[0].host.rfind("hooks.webhooks.svc", 0), 0u) << got[0].host;

  // The certificate names hooks.webhooks.svc, not other.webhooks.svc.
  FakeSource source;
  hook["clientConfig"]["service"]["name"] = "other";
  hook["clientConfig"]["service"]["port"] = 8443;
  source.Add(WebhookKind::kValidating, "v", {hook});
  std::map<std::string, std::string> endpoints = {
      {"webhooks/other:8443", "127.0.0.1:" + std::to_string(server_.port())}};
  Admission admission(&source, {endpoints, nullptr});
  res = admission.Admit(Create(&obj));
  EXPECT_FALSE(res.allowed);
  EXPECT_NE(res.message.find("Post \"https://other.webhooks.svc:8443/admit?timeout=10s\""),
            std::string::npos)
      << res.message;
  EXPECT_NE(res.message.find("x509: certificate is not valid for other.webhooks.svc"),
            std::string::npos)
      << res.message;
}

TEST_F(AdmissionTest, InvalidResponsesAreCallFailures) {
  struct Case {
    std::string name;
    WebhookServer::Reply reply;
    std::string want;
  };
  WebhookServer::Reply wrong_uid;
  wrong_uid.response = {{"uid", "not-the-uid"}};
  WebhookServer::Reply not_json;
  not_json.raw_body = "<html>";
  WebhookServer::Reply wrong_kind;
  wrong_kind.raw_body = R"({"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"})";
  WebhookServer::Reply no_response;
  no_response.raw_body = R"({"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"})";
  WebhookServer::Reply server_error;
  server_error.status = 500;
  server_error.raw_body = "boom";
  WebhookServer::Reply validating_patch;
  validating_patch.response = {{"patchType", "JSONPatch"}, {"patch", Base64Encode("[]")}};
  const Case cases[] = {
      {"uid mismatch", wrong_uid, "expected response.uid=\""},
      {"not json", not_json, "response body is not JSON"},
      {"wrong version", wrong_kind,
       "expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got "
       "admission.k8s.io/v1beta1, Kind=AdmissionReview"},
      {"no response", no_response, "webhook response was absent"},
      {"http 500", server_error, "an error on the server (\"boom\")"},
      {"validating patch", validating_patch, "validating webhook may not return response.patch"},
  };
  source_.Add(WebhookKind::kValidating, "v", {Hook("bad.example.com", "/v")});
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    server_.SetHandler([&](const WebhookServer::Received&) { return c.reply; });
    json obj = ConfigMap("shop", "cfg");
    AdmissionResult res = Admit(Create(&obj));
    EXPECT_FALSE(res.allowed);
    EXPECT_EQ(res.code, 500);
    EXPECT_NE(res.message.find("failed calling webhook \"bad.example.com\": "), std::string::npos)
        << res.message;
    EXPECT_NE(res.message.find(c.want), std::string::npos) << res.message;
  }
}

TEST_F(AdmissionTest, TimeoutFailsTheCallAndFailurePolicyDecides) {
  server_.Hang();
  for (std::string policy : {"Fail", "Ignore"}) {
    SCOPED_TRACE(policy);
    FakeSource source;
    source.Add(WebhookKind::kValidating, "v",
               {Hook("slow.example.com", "/v",
                     {{"timeoutSeconds", 1}, {"failurePolicy", policy}})});
    Admission admission(&source, {});
    json obj = ConfigMap("shop", "cfg");
    AdmissionResult res = admission.Admit(Create(&obj));
    if (policy == "Fail") {
      EXPECT_FALSE(res.allowed);
      EXPECT_EQ(res.code, 500);
      EXPECT_NE(res.message.find("?timeout=1s\": context deadline exceeded"), std::string::npos)
          << res.message;
    } else {
      EXPECT_TRUE(res.allowed) << res.message;
    }
  }
  server_.Release();
  auto got = server_.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].timeout, "1s");
}

TEST_F(AdmissionTest, DryRunSkipsWebhooksWithSideEffects) {
  struct Case {
    std::string side_effects;  // "" = unset
    bool want_called;
    bool want_allowed;
  };
  const Case cases[] = {{"None", true, true},
                        {"NoneOnDryRun", true, true},
                        {"Some", false, false},
                        {"Unknown", false, false},
                        {"", false, false}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.side_effects);
    FakeSource source;
    json hook = Hook("dry.example.com", "/v");
    if (c.side_effects.empty()) {
      hook.erase("sideEffects");
    } else {
      hook["sideEffects"] = c.side_effects;
    }
    source.Add(WebhookKind::kMutating, "m", {hook});
    Admission admission(&source, {});
    json obj = ConfigMap("shop", "cfg");
    AdmissionRequest r = Create(&obj);
    r.dry_run = true;
    size_t before = server_.received().size();
    AdmissionResult res = admission.Admit(r);
    EXPECT_EQ(res.allowed, c.want_allowed) << res.message;
    EXPECT_EQ(server_.received().size() - before, c.want_called ? 1u : 0u);
    if (c.want_called) {
      const json q = server_.received().back().review["request"];
      EXPECT_EQ(q["dryRun"], true);
      EXPECT_EQ(q["options"]["dryRun"], json::array({"All"}));
    } else {
      EXPECT_EQ(res.code, 400);
      EXPECT_EQ(res.reason, "BadRequest");
      EXPECT_EQ(res.message, "admission webhook \"dry.example.com\" does not support dry run");
    }
    // Without dry run the same webhook is called.
    r.dry_run = false;
    EXPECT_TRUE(admission.Admit(r).allowed);
  }
}

TEST_F(AdmissionTest, RulesMatchOperationsGroupsVersionsResourcesAndScope) {
  struct Case {
    std::string name;
    json rule;
    Operation op;
    GroupVersionResource resource;
    std::string sub;
    std::string ns;
    bool want;
  };
  auto rule = [](json ops, json groups, json versions, json resources,
                 std::string scope = "") {
    json r = {{"operations", ops}, {"apiGroups", groups}, {"apiVersions", versions},
              {"resources", resources}};
    if (!scope.empty()) r["scope"] = scope;
    return r;
  };
  const GroupVersionResource cm{"", "v1", "configmaps"};
  const GroupVersionResource deploy{"apps", "v1", "deployments"};
  const GroupVersionResource plans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
  const GroupVersionResource nss{"", "v1", "namespaces"};
  const GroupVersionResource pvs{"", "v1", "persistentvolumes"};
  const auto C = Operation::kCreate, U = Operation::kUpdate, D = Operation::kDelete,
             X = Operation::kConnect;
  const Case cases[] = {
      {"exact", rule({"CREATE"}, {""}, {"v1"}, {"configmaps"}), C, cm, "", "shop", true},
      {"other operation", rule({"CREATE"}, {""}, {"v1"}, {"configmaps"}), U, cm, "", "shop",
       false},
      {"operation star", rule({"*"}, {""}, {"v1"}, {"configmaps"}), D, cm, "", "shop", true},
      {"connect", rule({"CONNECT"}, {""}, {"v1"}, {"configmaps"}), X, cm, "", "shop", true},
      {"several operations", rule({"CREATE", "DELETE"}, {""}, {"v1"}, {"configmaps"}), D, cm, "",
       "shop", true},
      {"other group", rule({"*"}, {"apps"}, {"v1"}, {"configmaps"}), C, cm, "", "shop", false},
      {"group star", rule({"*"}, {"*"}, {"v1"}, {"deployments"}), C, deploy, "", "shop", true},
      {"other version", rule({"*"}, {"dr.kubectl-dr.dev"}, {"v1"}, {"drplans"}), C, plans, "",
       "shop", false},
      {"version star", rule({"*"}, {"dr.kubectl-dr.dev"}, {"*"}, {"drplans"}), C, plans, "",
       "shop", true},
      {"other resource", rule({"*"}, {""}, {"v1"}, {"secrets"}), C, cm, "", "shop", false},
      {"resource star", rule({"*"}, {""}, {"v1"}, {"*"}), C, cm, "", "shop", true},
      {"star skips subresources", rule({"*"}, {"*"}, {"*"}, {"*"}), U, plans, "status", "shop",
       false},
      {"star/star", rule({"*"}, {"*"}, {"*"}, {"*/*"}), U, plans, "status", "shop", true},
      {"named subresource", rule({"UPDATE"}, {"*"}, {"*"}, {"drplans/status"}), U, plans,
       "status", "shop", true},
      {"named subresource, main resource", rule({"UPDATE"}, {"*"}, {"*"}, {"drplans/status"}), U,
       plans, "", "shop", false},
      {"star/status", rule({"UPDATE"}, {"*"}, {"*"}, {"*/status"}), U, deploy, "status", "shop",
       true},
      {"star/status, scale", rule({"UPDATE"}, {"*"}, {"*"}, {"*/status"}), U, deploy, "scale",
       "shop", false},
      {"resource/star", rule({"UPDATE"}, {"*"}, {"*"}, {"deployments/*"}), U, deploy, "scale",
       "shop", true},
      {"main and status", rule({"UPDATE"}, {"*"}, {"*"}, {"drplans", "drplans/status"}), U,
       plans, "", "shop", true},
      {"Namespaced, namespaced object", rule({"*"}, {""}, {"v1"}, {"*"}, "Namespaced"), C, cm, "",
       "shop", true},
      {"Namespaced, cluster object", rule({"*"}, {""}, {"v1"}, {"*"}, "Namespaced"), C, pvs, "",
       "", false},
      {"Cluster, cluster object", rule({"*"}, {""}, {"v1"}, {"*"}, "Cluster"), C, pvs, "", "",
       true},
      {"Cluster, namespaced object", rule({"*"}, {""}, {"v1"}, {"*"}, "Cluster"), C, cm, "",
       "shop", false},
      {"Cluster, a namespace (carries its own name)",
       rule({"*"}, {""}, {"v1"}, {"namespaces"}, "Cluster"), U, nss, "", "shop", true},
      {"Namespaced, a namespace", rule({"*"}, {""}, {"v1"}, {"namespaces"}, "Namespaced"), U, nss,
       "", "shop", false},
      {"scope star", rule({"*"}, {""}, {"v1"}, {"*"}, "*"), C, pvs, "", "", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeSource source;
    source.AddNamespace("shop", json::object());
    json hook = Hook("rule.example.com", "/v");
    hook["rules"] = json::array({c.rule});
    source.Add(WebhookKind::kValidating, "v", {hook});
    Admission admission(&source, {});
    json obj = {{"metadata", {{"name", "x"}, {"labels", json::object()}}}};
    json old = obj;
    AdmissionRequest r;
    r.operation = c.op;
    r.kind = {c.resource.group, c.resource.version, "Thing"};
    r.resource = c.resource;
    r.sub_resource = c.sub;
    r.name = "x";
    r.namespace_name = c.ns;
    if (c.op == Operation::kCreate || c.op == Operation::kUpdate) r.object = &obj;
    if (c.op == Operation::kUpdate || c.op == Operation::kDelete) r.old_object = &old;
    AdmissionResult res = admission.Admit(r);
    EXPECT_TRUE(res.allowed) << res.message;
    EXPECT_EQ(!res.called.empty(), c.want);
  }
}

TEST_F(AdmissionTest, NamespaceSelectorMatchesNamespaceLabels) {
  json selector = {{"namespaceSelector",
                    {{"matchExpressions",
                      json::array({{{"key", "fenced"}, {"operator", "In"}, {"values", {"true"}}}})}}}};
  source_.Add(WebhookKind::kValidating, "v", {Hook("ns.example.com", "/v", selector)});
  json in_fenced = ConfigMap("payments", "cfg");
  EXPECT_EQ(Admit(Create(&in_fenced)).called.size(), 1u);
  json elsewhere = ConfigMap("shop", "cfg");
  EXPECT_TRUE(Admit(Create(&elsewhere)).called.empty());

  // A namespace that does not exist: kube-apiserver's 404.
  json nowhere = ConfigMap("ghost", "cfg");
  AdmissionResult res = Admit(Create(&nowhere));
  EXPECT_FALSE(res.allowed);
  EXPECT_EQ(res.code, 404);
  EXPECT_EQ(res.reason, "NotFound");
  EXPECT_EQ(res.message, "namespaces \"ghost\" not found");
}

TEST_F(AdmissionTest, NamespaceSelectorUsesANamespacesOwnLabels) {
  json hook = Hook("ns.example.com", "/v",
                   {{"namespaceSelector", {{"matchLabels", {{"fenced", "true"}}}}}});
  hook["rules"][0]["resources"] = {"namespaces"};
  source_.Add(WebhookKind::kValidating, "v", {hook});
  json ns = {{"apiVersion", "v1"},
             {"kind", "Namespace"},
             {"metadata", {{"name", "newns"}, {"labels", {{"fenced", "true"}}}}}};
  AdmissionRequest r;
  r.operation = Operation::kCreate;
  r.kind = {"", "v1", "Namespace"};
  r.resource = {"", "v1", "namespaces"};
  r.name = "newns";
  r.object = &ns;
  EXPECT_EQ(Admit(r).called.size(), 1u);  // not stored yet: its own labels decide
  ns["metadata"]["labels"] = json::object();
  EXPECT_TRUE(Admit(r).called.empty());

  // DELETE: the stored namespace's labels.
  AdmissionRequest del;
  del.operation = Operation::kDelete;
  del.kind = r.kind;
  del.resource = r.resource;
  del.name = "payments";
  del.namespace_name = "payments";
  json old = *source_.Namespace("payments");
  del.old_object = &old;
  EXPECT_EQ(Admit(del).called.size(), 1u);
}

TEST_F(AdmissionTest, NamespaceSelectorDoesNotExemptClusterScopedObjects) {
  source_.Add(WebhookKind::kValidating, "v",
              {Hook("ns.example.com", "/v",
                    {{"namespaceSelector", {{"matchLabels", {{"fenced", "true"}}}}},
                     {"rules", json::array({{{"operations", {"*"}},
                                             {"apiGroups", {""}},
                                             {"apiVersions", {"v1"}},
                                             {"resources", {"persistentvolumes"}}}})}})});
  json pv = {{"metadata", {{"name", "pv1"}}}};
  AdmissionRequest r;
  r.kind = {"", "v1", "PersistentVolume"};
  r.resource = {"", "v1", "persistentvolumes"};
  r.name = "pv1";
  r.object = &pv;
  EXPECT_EQ(Admit(r).called.size(), 1u);
}

TEST_F(AdmissionTest, ObjectSelectorMatchesObjectOrOldObjectLabels) {
  json hook = Hook("obj.example.com", "/v",
                   {{"objectSelector",
                     {{"matchExpressions", json::array({{{"key", "dr.kubectl-dr.dev/recovery"},
                                                         {"operator", "Exists"}}})}}}});
  source_.Add(WebhookKind::kValidating, "v", {hook});
  json labelled = ConfigMap("shop", "a", {{"dr.kubectl-dr.dev/recovery", "r1"}});
  json plain = ConfigMap("shop", "b");
  EXPECT_EQ(Admit(Create(&labelled)).called.size(), 1u);
  EXPECT_TRUE(Admit(Create(&plain)).called.empty());

  // UPDATE removing the label: the old object still matches.
  AdmissionRequest up = Create(&plain);
  up.operation = Operation::kUpdate;
  up.old_object = &labelled;
  EXPECT_EQ(Admit(up).called.size(), 1u);

  // DELETE: the old object's labels.
  AdmissionRequest del = Create(&plain);
  del.operation = Operation::kDelete;
  del.object = nullptr;
  del.old_object = &labelled;
  EXPECT_EQ(Admit(del).called.size(), 1u);
  del.old_object = &plain;
  EXPECT_TRUE(Admit(del).called.empty());
}

TEST_F(AdmissionTest, SelectorOperatorsTable) {
  struct Case {
    std::string name;
    json selector;
    bool want;
  };
  // Object labels: app=web, tier=front.
  const Case cases[] = {
      {"empty", json::object(), true},
      {"matchLabels", {{"matchLabels", {{"app", "web"}}}}, true},
      {"matchLabels differ", {{"matchLabels", {{"app", "db"}}}}, false},
      {"In", {{"matchExpressions", {{{"key", "tier"}, {"operator", "In"}, {"values", {"a", "front"}}}}}}, true},
      {"NotIn", {{"matchExpressions", {{{"key", "tier"}, {"operator", "NotIn"}, {"values", {"front"}}}}}}, false},
      {"NotIn absent key", {{"matchExpressions", {{{"key", "x"}, {"operator", "NotIn"}, {"values", {"front"}}}}}}, true},
      {"Exists", {{"matchExpressions", {{{"key", "app"}, {"operator", "Exists"}}}}}, true},
      {"DoesNotExist", {{"matchExpressions", {{{"key", "app"}, {"operator", "DoesNotExist"}}}}}, false},
      {"all must hold", {{"matchLabels", {{"app", "web"}}}, {"matchExpressions", {{{"key", "x"}, {"operator", "Exists"}}}}}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeSource source;
    source.AddNamespace("shop", json::object());
    source.Add(WebhookKind::kValidating, "v", {Hook("sel.example.com", "/v", {{"objectSelector", c.selector}})});
    Admission admission(&source, {});
    json obj = ConfigMap("shop", "cfg", {{"app", "web"}, {"tier", "front"}});
    AdmissionResult res = admission.Admit(Create(&obj));
    EXPECT_TRUE(res.allowed) << res.message;
    EXPECT_EQ(!res.called.empty(), c.want);
  }
}

TEST_F(AdmissionTest, WebhookConfigurationsAreNeverSentToWebhooks) {
  json hook = Hook("all.example.com", "/v");
  hook["rules"] = json::array({{{"operations", {"*"}}, {"apiGroups", {"*"}},
                                {"apiVersions", {"*"}}, {"resources", {"*"}}}});
  source_.Add(WebhookKind::kValidating, "v", {hook});
  json config = {{"metadata", {{"name", "x"}}}};
  AdmissionRequest r;
  r.kind = {"admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"};
  r.resource = {"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"};
  r.name = "x";
  r.object = &config;
  EXPECT_TRUE(Admit(r).called.empty());
  json obj = ConfigMap("shop", "cfg");
  EXPECT_EQ(Admit(Create(&obj)).called.size(), 1u);
}

TEST_F(AdmissionTest, ValidatingWebhooksAllRunAndTheFirstDenialInOrderIsReported) {
  server_.SetHandler([](const WebhookServer::Received& r) {
    WebhookServer::Reply reply;
    if (r.path != "/ok") {
      reply.response = {{"allowed", false}, {"status", {{"message", "no from " + r.path}}}};
    }
    return reply;
  });
  source_.Add(WebhookKind::kValidating, "v",
              {Hook("a.example.com", "/ok"), Hook("b.example.com", "/b"),
               Hook("c.example.com", "/c")});
  json obj = ConfigMap("shop", "cfg");
  AdmissionResult res = Admit(Create(&obj));
  EXPECT_FALSE(res.allowed);
  EXPECT_EQ(res.message, "admission webhook \"b.example.com\" denied the request: no from /b");
  EXPECT_EQ(server_.received().size(), 3u);
}

TEST_F(AdmissionTest, RequiresV1AdmissionReviewVersion) {
  source_.Add(WebhookKind::kValidating, "v",
              {Hook("old.example.com", "/v", {{"admissionReviewVersions", {"v1beta1"}}})});
  json obj = ConfigMap("shop", "cfg");
  AdmissionResult res = Admit(Create(&obj));
  EXPECT_FALSE(res.allowed);
  EXPECT_NE(res.message.find("does not accept v1 AdmissionReview"), std::string::npos);
  EXPECT_TRUE(server_.received().empty());
}

TEST(ParseServiceEndpointTest, AcceptsTheFlagFormAndRejectsOthers) {
  std::map<std::string, std::string> endpoints;
  ASSERT_TRUE(
      ParseServiceEndpoint("kubectl-dr-system/kubectl-dr-webhook:443=127.0.0.1:8443", &endpoints)
          .ok());
  EXPECT_EQ(endpoints["kubectl-dr-system/kubectl-dr-webhook:443"], "127.0.0.1:8443");
  struct Case {
    std::string value;
    std::string want;
  };
  const Case cases[] = {
      {"ns/name:443", "missing '='"},
      {"name:443=127.0.0.1:1", "NAMESPACE/NAME:PORT"},
      {"ns/name=127.0.0.1:1", "NAMESPACE/NAME:PORT"},
      {"ns/name:http=127.0.0.1:1", "service port"},
      {"ns/name:443=127.0.0.1", "HOST:PORT"},
      {"ns/name:443=127.0.0.1:99999", "address port"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Status s = ParseServiceEndpoint(c.value, &endpoints);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("--service-endpoint"), std::string::npos);
  }
}

TEST(ValidateConfigurationTest, AcceptsAValidConfiguration) {
  json c = {{"metadata", {{"name", "kdr"}}},
            {"webhooks",
             json::array({{{"name", "fenced-pvcs.dr.kubectl-dr.dev"},
                           {"clientConfig",
                            {{"service", {{"namespace", "kubectl-dr-system"},
                                          {"name", "kubectl-dr-webhook"},
                                          {"path", "/validate"}}},
                             {"caBundle", Base64Encode("x")}}},
                           {"rules", json::array({{{"operations", {"UPDATE", "DELETE"}},
                                                   {"apiGroups", {""}},
                                                   {"apiVersions", {"v1"}},
                                                   {"resources", {"persistentvolumeclaims"}},
                                                   {"scope", "Namespaced"}}})},
                           {"failurePolicy", "Fail"},
                           {"matchPolicy", "Equivalent"},
                           {"sideEffects", "None"},
                           {"timeoutSeconds", 5},
                           {"admissionReviewVersions", {"v1"}}}})}};
  EXPECT_TRUE(ValidateConfiguration(WebhookKind::kValidating, c).ok());
}

TEST(ValidateConfigurationTest, RejectsWhatKubeApiserverRejects) {
  json good = {{"name", "a.example.com"},
               {"clientConfig", {{"url", "https://127.0.0.1:1/v"}}},
               {"sideEffects", "None"},
               {"admissionReviewVersions", {"v1"}}};
  struct Case {
    std::string name;
    json patch;  // merged into `good`
    std::string want;
  };
  const Case cases[] = {
      {"no name", {{"name", nullptr}}, "webhooks[0].name: Required value"},
      {"name not a domain", {{"name", "hook"}}, "should be a domain with at least three"},
      {"no client config", {{"clientConfig", nullptr}},
       "webhooks[0].clientConfig: Required value: exactly one of url or service is required"},
      {"both url and service",
       {{"clientConfig", {{"service", {{"namespace", "a"}, {"name", "b"}}}}}},
       "exactly one of url or service"},
      {"http url", {{"clientConfig", {{"url", "http://x/v"}}}},
       "'https' is the only allowed URL scheme"},
      {"side effects Some", {{"sideEffects", "Some"}},
       "webhooks[0].sideEffects: Unsupported value: \"Some\": supported values: \"None\", "
       "\"NoneOnDryRun\""},
      {"side effects missing", {{"sideEffects", nullptr}}, "sideEffects: Required value"},
      {"no review versions", {{"admissionReviewVersions", nullptr}},
       "admissionReviewVersions: Required value"},
      {"failure policy", {{"failurePolicy", "Maybe"}}, "failurePolicy: Unsupported value"},
      {"match policy", {{"matchPolicy", "Loose"}}, "matchPolicy: Unsupported value"},
      {"timeout", {{"timeoutSeconds", 31}}, "between 1 and 30 seconds"},
      {"bad operator",
       {{"objectSelector", {{"matchExpressions", {{{"key", "a"}, {"operator", "Like"}}}}}}},
       "not a valid selector operator"},
      {"In without values",
       {{"namespaceSelector", {{"matchExpressions", {{{"key", "a"}, {"operator", "In"}}}}}}},
       "values: Required value"},
      {"bad operation",
       {{"rules", {{{"operations", {"PATCH"}}, {"apiGroups", {""}}, {"apiVersions", {"v1"}},
                    {"resources", {"pods"}}}}}},
       "rules[0].operations: Unsupported value: \"PATCH\""},
      {"bad scope",
       {{"rules", {{{"operations", {"*"}}, {"apiGroups", {""}}, {"apiVersions", {"v1"}},
                    {"resources", {"pods"}}, {"scope", "Global"}}}}},
       "rules[0].scope: Unsupported value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    json w = good;
    w.merge_patch(c.patch);
    json config = {{"metadata", {{"name", "x"}}}, {"webhooks", json::array({w})}};
    Status s = ValidateConfiguration(WebhookKind::kMutating, config);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
  json dup = {{"webhooks", json::array({good, good})}};
  Status s = ValidateConfiguration(WebhookKind::kValidating, dup);
  EXPECT_NE(s.message().find("webhooks[1].name: Duplicate value: \"a.example.com\""),
            std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace kdr::kubesim
