#include "kube/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "base/version.h"
#include "kube/errors.h"
#include "kube/rate_limiter.h"
#include "kube/transport_https.h"
#include "testutil/testutil.h"
#include "testutil/tls_server.h"

namespace kdr::kube {
namespace {

using nlohmann::json;
using testutil::FakeClock;
using testutil::Reply;
using testutil::ServerRequest;
using testutil::TlsServer;
using namespace std::chrono_literals;

const Gvr kPods{"", "v1", "pods"};
const Gvr kDeployments{"apps", "v1", "deployments"};

// Hands out `token`, and `refreshed` once a refresh was forced.
class TestCredentials : public CredentialProvider {
 public:
  TestCredentials(std::string token, std::string refreshed)
      : token_(std::move(token)), refreshed_(std::move(refreshed)) {}
  Result<Credentials> Get(bool force_refresh) override {
    if (force_refresh) ++forced_;
    Credentials c;
    c.bearer_token = forced_ > 0 ? refreshed_ : token_;
    return c;
  }
  int forced() const { return forced_; }

 private:
  std::string token_;
  std::string refreshed_;
  std::atomic<int> forced_{0};
};

class ClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<Client> MakeClient(RestConfig config, std::unique_ptr<CredentialProvider> creds = nullptr) {
    auto transport = HttpsTransport::Create(config);
    EXPECT_TRUE(transport.ok()) << transport.status().ToString();
    return std::make_unique<Client>(config, std::move(transport).value(), std::move(creds), env_);
  }
  RestConfig Config() {
    RestConfig c;
    c.server = server_.url();
    c.ca_pem = server_.ca().cert_pem;
    c.qps = 0;  // unlimited unless a test says otherwise
    return c;
  }
  std::unique_ptr<Client> MakeClient() { return MakeClient(Config()); }

  TlsServer server_;
  FakeClock clock_;
  Env env_{&clock_, nullptr, nullptr};
};

Reply Ok(const json& j) { return Reply::Json(200, j.dump()); }

TEST_F(ClientTest, SendsUserAgentAcceptAndBearerToken) {
  server_.SetHandler([](const ServerRequest&) { return Ok({{"kind", "Pod"}}); });
  auto client = MakeClient(Config(), std::make_unique<TestCredentials>("tok-1", "tok-2"));
  ASSERT_TRUE(client->Get(kPods, "shop", "web").ok());
  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].Header("User-Agent"), std::string(UserAgent()));
  EXPECT_EQ(reqs[0].Header("Authorization"), "Bearer tok-1");
  EXPECT_EQ(reqs[0].Header("Accept"), "application/json");
  EXPECT_EQ(reqs[0].path, "/api/v1/namespaces/shop/pods/web");
}

TEST_F(ClientTest, BuildsResourcePaths) {
  EXPECT_EQ(Client::ResourcePath(kPods, "", ""), "/api/v1/pods");
  EXPECT_EQ(Client::ResourcePath(kDeployments, "shop", "web", "scale"),
            "/apis/apps/v1/namespaces/shop/deployments/web/scale");
  EXPECT_EQ(Client::ResourcePath(Gvr{"", "v1", "namespaces"}, "", "shop"), "/api/v1/namespaces/shop");
}

TEST(StatusDecodingTest, MapsServerStatusBodiesToCodes) {
  struct Case {
    const char* fixture;
    int http;
    StatusCode want;
    const char* want_message;
  };
  const Case cases[] = {
      {"status_not_found.json", 404, StatusCode::kNotFound, "deployments.apps \"web\" not found"},
      {"status_already_exists.json", 409, StatusCode::kAlreadyExists, "already exists"},
      {"status_conflict.json", 409, StatusCode::kAborted, "the object has been modified"},
      {"status_invalid.json", 422, StatusCode::kInvalidArgument, "spec.replicas: Invalid value: -1"},
      {"status_forbidden_admission.json", 403, StatusCode::kPermissionDenied,
       "admission webhook \"fenced-pvc.dr.kubectl-dr.dev\" denied the request: persistentvolumeclaim"},
      {"status_expired.json", 410, StatusCode::kFailedPrecondition, "too old resource version"},
      {"status_unauthorized.json", 401, StatusCode::kUnauthenticated, "Unauthorized"},
      {"status_too_many_requests.json", 429, StatusCode::kResourceExhausted, "Too many requests"},
      {"status_timeout.json", 504, StatusCode::kDeadlineExceeded, "unable to return a response"},
      {"status_internal.json", 500, StatusCode::kUnavailable, "etcdserver: request timed out"},
      {"status_method_not_allowed.json", 405, StatusCode::kUnimplemented, "does not allow this method"},
      {"status_bad_request.json", 400, StatusCode::kInvalidArgument, "invalid label key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.fixture);
    HttpResponse resp;
    resp.status = c.http;
    resp.body = testutil::ReadData(std::string("kube/") + c.fixture);
    Status s = StatusFromResponse(resp, "GET", "https://h/x");
    EXPECT_EQ(s.code(), c.want) << s.ToString();
    EXPECT_NE(s.message().find(c.want_message), std::string::npos) << s.message();
  }
}

TEST(StatusDecodingTest, NonStatusBodyNamesHttpCodeAndUrl) {
  HttpResponse resp;
  resp.status = 502;
  resp.body = "<html>Bad Gateway</html>";
  Status s = StatusFromResponse(resp, "POST", "https://h:6443/api/v1/pods");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "the server answered HTTP 502 to POST https://h:6443/api/v1/pods: <html>Bad Gateway</html>");
  resp.status = 409;
  resp.body = "";
  EXPECT_EQ(StatusFromResponse(resp, "PUT", "u").code(), StatusCode::kAborted);
  EXPECT_EQ(StatusReason(testutil::ReadData("kube/status_expired.json")), "Expired");
  EXPECT_EQ(StatusReason("not json"), "");
}

TEST_F(ClientTest, DecodesErrorsOfEachVerb) {
  auto client = MakeClient();
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "web"}, {"resourceVersion", "7"}}}};
  server_.Enqueue(Reply::Json(409, testutil::ReadData("kube/status_already_exists.json")));
  auto created = client->Create(kPods, "shop", pod);
  EXPECT_EQ(created.status().code(), StatusCode::kAlreadyExists);
  server_.Enqueue(Reply::Json(409, testutil::ReadData("kube/status_conflict.json")));
  auto updated = client->Update(kPods, "shop", pod);
  EXPECT_EQ(updated.status().code(), StatusCode::kAborted);
  EXPECT_TRUE(updated.status().IsConflict());
  server_.Enqueue(Reply::Json(403, testutil::ReadData("kube/status_forbidden_admission.json")));
  auto patched = client->Patch(kPods, "shop", "web", PatchType::kMergePatch, json{{"spec", json::object()}});
  EXPECT_EQ(patched.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(patched.status().message().find("denied the request"), std::string::npos);
  server_.Enqueue(Reply::Json(404, testutil::ReadData("kube/status_not_found.json")));
  EXPECT_TRUE(client->Delete(kPods, "shop", "web").status().IsNotFound());
}

TEST_F(ClientTest, RejectsBadCallsBeforeSending) {
  auto client = MakeClient();
  json no_name = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", json::object()}};
  json other_ns = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "a"}, {"namespace", "x"}}}};
  struct Case {
    const char* name;
    Status status;
    const char* want;
  };
  const Case cases[] = {
      {"get without name", client->Get(kPods, "shop", "").status(), "the name is empty"},
      {"update without name", client->Update(kPods, "shop", no_name).status(), "metadata.name is empty"},
      {"status without name", client->UpdateStatus(kPods, "shop", no_name).status(), "metadata.name is empty"},
      {"namespace mismatch", client->Create(kPods, "shop", other_ns).status(), "does not match the request namespace"},
      {"json patch not array", client->Patch(kPods, "shop", "a", PatchType::kJsonPatch, json::object()).status(),
       "must be an array"},
      {"merge patch not object", client->Patch(kPods, "shop", "a", PatchType::kMergePatch, json::array()).status(),
       "must be an object"},
      {"apply without manager", client->Apply(kPods, "shop", other_ns, PatchOptions{}).status(),
       "needs a field manager"},
      {"delete without name", client->Delete(kPods, "shop", "").status(), "the name is empty"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(c.status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status.message().find(c.want), std::string::npos) << c.status.message();
  }
  EXPECT_TRUE(server_.requests().empty());
}

TEST_F(ClientTest, Honours429RetryAfterForAnyMethod) {
  Reply throttled = Reply::Json(429, testutil::ReadData("kube/status_too_many_requests.json"));
  throttled.headers.emplace_back("Retry-After", "7");
  server_.Enqueue(throttled);
  server_.SetHandler([](const ServerRequest&) { return Reply::Json(201, R"({"metadata":{"name":"web"}})"); });
  auto client = MakeClient();
  auto created = client->Create(kPods, "shop", json{{"metadata", {{"name", "web"}}}});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(clock_.slept(), 7s);
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(ClientTest, Gives429UpAsResourceExhaustedAfterRetries) {
  server_.SetHandler([](const ServerRequest&) {
    return Reply::Json(429, testutil::ReadData("kube/status_too_many_requests.json"));
  });
  auto client = MakeClient();
  auto got = client->Get(kPods, "shop", "web");
  EXPECT_EQ(got.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(server_.requests().size(), 6u);  // the call and 5 retries
  EXPECT_EQ(clock_.slept(), 5s);             // 1s each without Retry-After
}

TEST_F(ClientTest, Retries5xxWithBackoffForGet) {
  server_.Enqueue(Reply::Json(503, "overloaded"));
  server_.Enqueue(Reply::Json(500, testutil::ReadData("kube/status_internal.json")));
  server_.SetHandler([](const ServerRequest&) { return Ok({{"metadata", {{"name", "web"}}}}); });
  auto client = MakeClient();
  auto got = client->Get(kPods, "shop", "web");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(server_.requests().size(), 3u);
  EXPECT_EQ(clock_.slept(), 600ms);  // 200ms, then 400ms
}

TEST_F(ClientTest, DoesNotRetry5xxForPost) {
  server_.Enqueue(Reply::Json(503, testutil::ReadData("kube/status_internal.json")));
  server_.SetHandler([](const ServerRequest&) { return Reply::Json(201, "{}"); });
  auto client = MakeClient();
  auto created = client->Create(kPods, "shop", json{{"metadata", {{"name", "web"}}}});
  EXPECT_EQ(created.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(clock_.slept(), 0ns);
}

TEST_F(ClientTest, RetriesPutOnlyWithResourceVersion) {
  server_.SetHandler([](const ServerRequest&) { return Reply::Json(503, "busy"); });
  auto client = MakeClient();
  json blind = {{"metadata", {{"name", "web"}}}};
  EXPECT_EQ(client->Update(kPods, "shop", blind).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_.requests().size(), 1u);
  json versioned = {{"metadata", {{"name", "web"}, {"resourceVersion", "9"}}}};
  EXPECT_EQ(client->Update(kPods, "shop", versioned).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(server_.requests().size(), 7u);
}

TEST_F(ClientTest, RetriesLostConnectionForGetNotPost) {
  Reply drop;
  drop.drop = true;
  server_.Enqueue(drop);
  server_.SetHandler([](const ServerRequest&) { return Ok({{"metadata", {{"name", "web"}}}}); });
  auto client = MakeClient();
  auto got = client->Get(kPods, "shop", "web");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(clock_.slept(), 200ms);

  server_.Enqueue(drop);
  auto created = client->Create(kPods, "shop", json{{"metadata", {{"name", "web"}}}});
  EXPECT_EQ(created.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(created.status().message().find("lost"), std::string::npos) << created.status().message();
}

TEST_F(ClientTest, ServerDownIsUnavailableAfterTwoQuickRetries) {
  RestConfig c;
  std::string url;
  {
    TlsServer gone;
    url = gone.url();
    c.server = url;
    c.ca_pem = gone.ca().cert_pem;
  }
  auto client = MakeClient(c);
  auto got = client->Get(kPods, "shop", "web");
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(), "cannot connect to " + url + ": connection refused");
  EXPECT_EQ(clock_.slept(), 200ms + 400ms);
}

TEST_F(ClientTest, WrongCaFailsAtOnceWithoutRetries) {
  auto other = tls::MakeCa("other");
  ASSERT_TRUE(other.ok());
  RestConfig c = Config();
  c.ca_pem = other->cert_pem;
  auto client = MakeClient(c);
  auto got = client->Get(kPods, "shop", "web");
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(got.status().message().find("x509: certificate signed by unknown authority"), std::string::npos)
      << got.status().message();
  EXPECT_EQ(clock_.slept(), 0ns);
}

TEST_F(ClientTest, RefreshesCredentialsOnceAfter401) {
  server_.SetHandler([](const ServerRequest& req) {
    if (req.Header("Authorization") != "Bearer fresh") {
      return Reply::Json(401, testutil::ReadData("kube/status_unauthorized.json"));
    }
    return Ok({{"metadata", {{"name", "web"}}}});
  });
  auto creds = std::make_unique<TestCredentials>("stale", "fresh");
  TestCredentials* raw = creds.get();
  auto client = MakeClient(Config(), std::move(creds));
  auto got = client->Get(kPods, "shop", "web");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(raw->forced(), 1);
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(ClientTest, StillUnauthorizedAfterRefreshIsUnauthenticated) {
  server_.SetHandler([](const ServerRequest&) {
    return Reply::Json(401, testutil::ReadData("kube/status_unauthorized.json"));
  });
  auto creds = std::make_unique<TestCredentials>("bad", "still-bad");
  TestCredentials* raw = creds.get();
  auto client = MakeClient(Config(), std::move(creds));
  auto got = client->Get(kPods, "shop", "web");
  EXPECT_EQ(got.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(raw->forced(), 1);
  EXPECT_EQ(server_.requests().size(), 2u);
}

TEST_F(ClientTest, ListAllRefusesAContinueTokenThatIsNotAString) {
  server_.SetHandler([](const ServerRequest&) {
    return Ok({{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", {{"continue", 2}}}, {"items", json::array()}});
  });
  auto all = MakeClient()->ListAll(kPods, "shop");
  EXPECT_EQ(all.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(all.status().message().find("metadata.continue that is not a string: 2"), std::string::npos)
      << all.status().message();
}

TEST_F(ClientTest, ListAllFollowsContinueTokens) {
  // Five pods served two per page.
  server_.SetHandler([](const ServerRequest& req) {
    int start = req.Param("continue").empty() ? 0 : std::stoi(req.Param("continue"));
    int limit = std::stoi(req.Param("limit"));
    json items = json::array();
    for (int i = start; i < std::min(start + limit, 5); ++i) {
      items.push_back({{"metadata", {{"name", "p" + std::to_string(i)}}}});
    }
    json meta = {{"resourceVersion", "rv" + std::to_string(start)}};
    if (start + limit < 5) meta["continue"] = std::to_string(start + limit);
    return Ok({{"kind", "PodList"}, {"apiVersion", "v1"}, {"metadata", meta}, {"items", items}});
  });
  auto client = MakeClient();
  ListOptions o;
  o.limit = 2;
  o.label_selector = "app=web,tier in (a,b)";
  o.field_selector = "status.phase=Running";
  auto all = client->ListAll(kPods, "shop", o);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ((*all)["items"].size(), 5u);
  EXPECT_EQ((*all)["items"][4]["metadata"]["name"], "p4");
  EXPECT_EQ((*all)["kind"], "PodList");
  EXPECT_EQ((*all)["metadata"]["resourceVersion"], "rv4");
  EXPECT_FALSE((*all)["metadata"].contains("continue"));
  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].Param("labelSelector"), "app=web,tier in (a,b)");
  EXPECT_EQ(reqs[0].Param("fieldSelector"), "status.phase=Running");
  EXPECT_NE(reqs[0].target.find("labelSelector=app%3Dweb%2Ctier%20in%20%28a%2Cb%29"), std::string::npos)
      << reqs[0].target;
  EXPECT_EQ(reqs[1].Param("continue"), "2");
  EXPECT_EQ(reqs[2].Param("continue"), "4");
}

TEST_F(ClientTest, SendsPatchContentTypesAndApplyOptions) {
  server_.SetHandler([](const ServerRequest&) { return Ok({{"metadata", {{"name", "web"}}}}); });
  auto client = MakeClient();
  ASSERT_TRUE(client->Patch(kDeployments, "shop", "web", PatchType::kJsonPatch,
                            json::array({{{"op", "replace"}, {"path", "/spec/replicas"}, {"value", 0}}}))
                  .ok());
  ASSERT_TRUE(client->Patch(kDeployments, "shop", "web", PatchType::kMergePatch, json{{"spec", {{"replicas", 0}}}}).ok());
  ASSERT_TRUE(client->Patch(kDeployments, "shop", "web", PatchType::kStrategicMerge, json{{"spec", {{"replicas", 0}}}}).ok());
  PatchOptions apply;
  apply.field_manager = "kubectl-dr";
  apply.force = true;
  apply.dry_run = true;
  ASSERT_TRUE(client->Apply(kDeployments, "shop", json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "web"}}}}, apply).ok());
  auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json-patch+json");
  EXPECT_EQ(reqs[1].Header("Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(reqs[2].Header("Content-Type"), "application/strategic-merge-patch+json");
  EXPECT_EQ(reqs[3].Header("Content-Type"), "application/apply-patch+yaml");
  EXPECT_EQ(reqs[3].Param("fieldManager"), "kubectl-dr");
  EXPECT_EQ(reqs[3].Param("force"), "true");
  EXPECT_EQ(reqs[3].Param("dryRun"), "All");
  for (const auto& r : reqs) {
    EXPECT_EQ(r.method, "PATCH");
    EXPECT_EQ(r.path, "/apis/apps/v1/namespaces/shop/deployments/web");
  }
}

TEST_F(ClientTest, DeleteSendsPropagationAndPreconditions) {
  server_.SetHandler([](const ServerRequest&) { return Ok({{"kind", "Status"}, {"status", "Success"}}); });
  auto client = MakeClient();
  DeleteOptions o;
  o.propagation_policy = "Foreground";
  o.precondition_uid = "u-1";
  o.precondition_resource_version = "42";
  o.grace_period_seconds = 0;
  o.dry_run = true;
  ASSERT_TRUE(client->Delete(kDeployments, "shop", "web", o).ok());
  auto req = server_.requests().at(0);
  EXPECT_EQ(req.method, "DELETE");
  EXPECT_EQ(req.Param("dryRun"), "All");
  json body = json::parse(req.body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "42");
  EXPECT_EQ(body["gracePeriodSeconds"], 0);
}

TEST_F(ClientTest, StatusAndScaleSubresources) {
  server_.SetHandler([](const ServerRequest& req) { return Ok({{"path", req.path}, {"method", req.method}}); });
  auto client = MakeClient();
  json d = {{"metadata", {{"name", "web"}, {"resourceVersion", "3"}}}, {"status", {{"replicas", 1}}}};
  auto st = client->UpdateStatus(kDeployments, "shop", d);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)["path"], "/apis/apps/v1/namespaces/shop/deployments/web/status");
  EXPECT_EQ((*st)["method"], "PUT");
  auto scale = client->GetScale(kDeployments, "shop", "web");
  ASSERT_TRUE(scale.ok());
  EXPECT_EQ((*scale)["path"], "/apis/apps/v1/namespaces/shop/deployments/web/scale");
  auto set = client->SetScale(kDeployments, "shop", "web", 0);
  ASSERT_TRUE(set.ok());
  EXPECT_EQ((*set)["method"], "PATCH");
  auto last = server_.requests().back();
  EXPECT_EQ(json::parse(last.body), (json{{"spec", {{"replicas", 0}}}}));
  EXPECT_EQ(last.Header("Content-Type"), "application/merge-patch+json");
}

TEST_F(ClientTest, CreateWithDryRunAndFieldManager) {
  server_.SetHandler([](const ServerRequest& req) { return Reply::Json(201, req.body); });
  auto client = MakeClient();
  WriteOptions o;
  o.dry_run = true;
  o.field_manager = "kubectl-dr";
  auto created = client->Create(kPods, "shop", json{{"metadata", {{"name", "web"}}}}, o);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ((*created)["metadata"]["name"], "web");
  auto req = server_.requests().at(0);
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path, "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(req.Param("dryRun"), "All");
  EXPECT_EQ(req.Param("fieldManager"), "kubectl-dr");
}

TEST_F(ClientTest, RateLimitsRequestsThroughClock) {
  server_.SetHandler([](const ServerRequest&) { return Ok(json::object()); });
  RestConfig c = Config();
  c.qps = 2;
  c.burst = 3;
  auto client = MakeClient(c);
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(client->GetPath("/version").ok());
  // 3 from the burst, then 4 more at 2 per second.
  EXPECT_EQ(clock_.slept(), 2s);
}

TEST(RateLimiterTest, TokenBucketRefillsAtQps) {
  FakeClock clock;
  RateLimiter limiter(10, 5, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_FALSE(limiter.TryAcquire());
  clock.Advance(100ms);
  EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_FALSE(limiter.TryAcquire());
  clock.Advance(10s);  // refills to burst, never beyond
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.TryAcquire());
  EXPECT_FALSE(limiter.TryAcquire());
  EXPECT_TRUE(limiter.Wait());
  EXPECT_EQ(clock.slept(), 100ms);
}

TEST(RateLimiterTest, UnlimitedWhenQpsIsZeroAndStopsOnRequest) {
  FakeClock clock;
  RateLimiter unlimited(0, 1, &clock);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unlimited.Wait());
  EXPECT_EQ(clock.slept(), 0ns);
  RateLimiter limited(1, 1, &clock);
  EXPECT_TRUE(limited.Wait());
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(limited.Wait(stop.get_token()));
}

TEST_F(ClientTest, ServerVersionReadsVersionPath) {
  server_.SetHandler([](const ServerRequest& req) {
    if (req.path != "/version") return Reply::KubeStatus(404, "NotFound", "no");
    return Ok({{"major", "1"}, {"minor", "32"}, {"gitVersion", "v1.32.0"}});
  });
  auto client = MakeClient();
  auto v = client->ServerVersion();
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)["gitVersion"], "v1.32.0");
}

TEST_F(ClientTest, NonJsonSuccessIsUnavailable) {
  server_.Enqueue(Reply::Json(200, "<html>proxy login</html>"));
  auto client = MakeClient();
  auto v = client->ServerVersion();
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(v.status().message().find("is not JSON"), std::string::npos);
}

}  // namespace
}  // namespace kdr::kube
