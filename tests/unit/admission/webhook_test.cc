// The transport-free webhook layer: decoding, bad input, the panic guard, logs and metrics.

#include "admission/webhook.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/review.h"
#include "admission_testing.h"
#include "base/log.h"
#include "base/strings.h"
#include "dr/types.h"

namespace kdr::admission {
namespace {

using nlohmann::json;
using testing::Fixture;

class Throwing final : public Policy {
 public:
  Response Handle(const Request&) const override { throw std::runtime_error("boom"); }
};

class WebhookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_.UpsertPvc({"shop", "shop-inventory", {{std::string(dr::kFailedOverLabel), "p"}}, {}, ""});
    policy_ = NewFencedPvcPolicy(&cache_, "kubectl-dr-system");
    logger_ = std::make_unique<Logger>(std::make_unique<JsonLogSink>(&log_, nullptr));
    webhook_ = std::make_unique<Webhook>("validate", policy_.get(), &metrics_, logger_.get(), &clock_);
  }
  json Serve(const std::string& body, const std::string& ct = "application/json",
             bool too_large = false, int* status = nullptr) {
    HttpReply reply = webhook_->Serve(ct, body, too_large);
    if (status != nullptr) *status = reply.status;
    EXPECT_EQ(reply.content_type, "application/json");
    return json::parse(reply.body);
  }
  testutil::FakeClock clock_;
  StateCache cache_;
  Metrics metrics_;
  std::ostringstream log_;
  std::unique_ptr<Logger> logger_;
  std::unique_ptr<Policy> policy_;
  std::unique_ptr<Webhook> webhook_;
};

TEST_F(WebhookTest, DenialEchoesUidInV1) {
  int status = 0;
  json out = Serve(Fixture("pod-create.json").dump(), "application/json", false, &status);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(out["kind"], "AdmissionReview");
  EXPECT_EQ(out["response"]["uid"], "7f0b2c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 403);
  EXPECT_EQ(out["response"]["status"]["reason"], "Forbidden");
}

TEST_F(WebhookTest, V1beta1IsAnsweredInV1beta1) {
  json out = Serve(Fixture("pod-create-v1beta1.json").dump());
  EXPECT_EQ(out["apiVersion"], "admission.k8s.io/v1beta1");
  EXPECT_EQ(out["response"]["uid"], "7f0b2c1e-0000-4000-8000-000000000001");
}

TEST_F(WebhookTest, UnknownKindAllowedUntouched) {
  json out = Serve(Fixture("unknown-kind.json").dump());
  EXPECT_EQ(out["response"]["allowed"], true);
  EXPECT_FALSE(out["response"].contains("patch"));
  EXPECT_FALSE(out["response"].contains("status"));
}

TEST_F(WebhookTest, BadInputStillGetsAnAdmissionReview) {
  json no_uid = Fixture("pod-create.json");
  no_uid["request"].erase("uid");
  json wrong_version = Fixture("pod-create.json");
  wrong_version["apiVersion"] = "admission.k8s.io/v2";
  json object_not_object = Fixture("pod-create.json");
  object_not_object["request"]["object"] = "text";
  struct Case {
    const char* name;
    std::string body;
    std::string content_type;
    bool too_large;
    int want_code;
    std::string want_uid;
    const char* want_substr;
  } cases[] = {
      {"malformed json", "{\"apiVersion\": ", "application/json", false, 400, "", "not valid JSON"},
      {"not an object", "[1,2]", "application/json", false, 400, "", "not a JSON object"},
      {"empty body", "", "application/json", false, 400, "", "not valid JSON"},
      {"missing uid", no_uid.dump(), "application/json", false, 400, "", "request.uid: missing"},
      {"unknown review version", wrong_version.dump(), "application/json", false, 400, "",
       "apiVersion: unsupported value \"admission.k8s.io/v2\""},
      {"object not an object keeps uid", object_not_object.dump(), "application/json", false, 400,
       "7f0b2c1e-0000-4000-8000-000000000001", "request.object: not a JSON object"},
      {"wrong content type", Fixture("pod-create.json").dump(), "text/plain", false, 415, "",
       "content type \"text/plain\" is not supported"},
      {"missing content type", Fixture("pod-create.json").dump(), "", false, 415, "", "application/json"},
      {"too large", "", "application/json", true, 413, "", "size limit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    int status = 0;
    json out = Serve(c.body, c.content_type, c.too_large, &status);
    EXPECT_EQ(status, c.want_code);
    EXPECT_EQ(out["kind"], "AdmissionReview");
    EXPECT_EQ(out["response"]["uid"], c.want_uid);
    EXPECT_EQ(out["response"]["allowed"], false);
    EXPECT_EQ(out["response"]["status"]["code"], c.want_code);
    EXPECT_NE(out["response"]["status"]["message"].get<std::string>().find(c.want_substr),
              std::string::npos) << out.dump();
  }
}

TEST_F(WebhookTest, ContentTypeParametersAccepted) {
  EXPECT_TRUE(IsJsonContentType("application/json; charset=utf-8"));
  EXPECT_TRUE(IsJsonContentType("Application/JSON"));
  EXPECT_FALSE(IsJsonContentType("application/yaml"));
  EXPECT_FALSE(IsJsonContentType("application/jsonx"));
}

TEST_F(WebhookTest, PolicyExceptionBecomesErrored500WithUid) {
  Throwing throwing;
  Webhook wh("validate", &throwing, &metrics_, logger_.get(), &clock_);
  HttpReply reply = wh.Serve("application/json", Fixture("pod-create.json").dump(), false);
  json out = json::parse(reply.body);
  EXPECT_EQ(out["response"]["uid"], "7f0b2c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(out["response"]["allowed"], false);
  EXPECT_EQ(out["response"]["status"]["code"], 500);
  // The guard names the input it failed on.
  EXPECT_EQ(out["response"]["status"]["message"],
            "internal error deciding CREATE pods shop/web-0 (uid 7f0b2c1e-0000-4000-8000-000000000001): "
            "boom; the webhook logged it, please report it");
}

TEST_F(WebhookTest, OneJsonLogLinePerDecision) {
  Serve(Fixture("pod-create.json").dump());
  Serve(Fixture("unknown-kind.json").dump());
  std::vector<std::string> lines = Split(log_.str(), '\n');
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  ASSERT_EQ(lines.size(), 2u) << log_.str();
  json first = json::parse(lines[0]);
  EXPECT_EQ(first["msg"], "admission decision");
  EXPECT_EQ(first["uid"], "7f0b2c1e-0000-4000-8000-000000000001");
  EXPECT_EQ(first["operation"], "CREATE");
  EXPECT_EQ(first["resource"], "pods");
  EXPECT_EQ(first["namespace"], "shop");
  EXPECT_EQ(first["name"], "web-0");
  EXPECT_EQ(first["allowed"], "false");
  EXPECT_EQ(first["policy"], "fenced-pvc");
  EXPECT_NE(first["reason"].get<std::string>().find("is refused"), std::string::npos);
  EXPECT_TRUE(first.contains("us"));
  json second = json::parse(lines[1]);
  EXPECT_EQ(second["resource"], "widgets.example.com");
  EXPECT_EQ(second["allowed"], "true");
}

TEST_F(WebhookTest, MetricsCountByPolicyDecisionAndCode) {
  Serve(Fixture("pod-create.json").dump());
  Serve(Fixture("pod-create.json").dump());
  Serve("{", "application/json");
  std::string text = metrics_.Render();
  EXPECT_NE(text.find("kdr_webhook_requests_total{webhook=\"validate\",policy=\"fenced-pvc\","
                      "decision=\"denied\",code=\"403\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("kdr_webhook_requests_total{webhook=\"validate\",policy=\"none\","
                      "decision=\"errored\",code=\"400\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("kdr_webhook_request_duration_seconds_bucket{webhook=\"validate\",le=\"+Inf\"} 3"),
            std::string::npos) << text;
  EXPECT_NE(text.find("kdr_webhook_request_duration_seconds_count{webhook=\"validate\"} 3"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE kdr_webhook_request_duration_seconds histogram"), std::string::npos);
}

TEST(MetricsTest, GaugesRenderWithLabels) {
  Metrics m;
  m.AddGauge("kdr_webhook_cache_objects", "Objects cached.", [] {
    return Metrics::GaugeValues{{Metrics::Labels({{"kind", "drplans"}}), 3}};
  });
  std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE kdr_webhook_cache_objects gauge\n"
                      "kdr_webhook_cache_objects{kind=\"drplans\"} 3\n"), std::string::npos) << text;
}

TEST(StateCacheTest, SyncedOnlyAfterEveryKindListed) {
  StateCache cache;
  EXPECT_FALSE(cache.Synced());
  for (CacheKind k : kAllCacheKinds) {
    EXPECT_FALSE(cache.Synced());
    cache.MarkSynced(k);
  }
  EXPECT_TRUE(cache.Synced());
}

TEST(StateCacheTest, KeepsOnlyFencedPvcsAndRelistReplaces) {
  StateCache cache;
  const std::string label(dr::kFailedOverLabel);
  cache.UpsertPvc({"shop", "a", {{label, "p"}}, {}, ""});
  cache.UpsertPvc({"shop", "b", {}, {}, ""});
  cache.UpsertPvc({"pay", "c", {{label, "p"}}, {}, ""});
  EXPECT_EQ(cache.FencedPvcNames("shop"), std::vector<std::string>{"a"});
  EXPECT_TRUE(cache.AnyFencedPvcIn("pay"));
  cache.UpsertPvc({"shop", "a", {}, {}, ""});  // unfenced by failback
  EXPECT_FALSE(cache.AnyFencedPvcIn("shop"));
  cache.ReplacePvcs({{"shop", "z", {{label, "p"}}, {}, ""}, {"shop", "y", {}, {}, ""}});
  EXPECT_EQ(cache.FencedPvcNames("shop"), std::vector<std::string>{"z"});
  EXPECT_FALSE(cache.AnyFencedPvcIn("pay"));
  EXPECT_EQ(cache.sizes().fenced_pvcs, 1u);
}

TEST(StateCacheTest, ParsesWatchedObjects) {
  auto pvc = PvcInfoFromJson(json::parse(R"({"metadata":{"name":"a","namespace":"shop",
      "labels":{"dr.kubectl-dr.dev/failed-over":"p"}}})"));
  ASSERT_TRUE(pvc.ok());
  EXPECT_EQ(pvc->labels.at("dr.kubectl-dr.dev/failed-over"), "p");
  auto bad = PvcInfoFromJson(json::parse(R"({"metadata":{"namespace":"shop"}})"));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto cm = ConfigMapInfoFromJson(json::parse(R"({"metadata":{"name":"m","namespace":"x",
      "resourceVersion":"42"},"data":{"k":"v"}})"));
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ(cm->resource_version, "42");
  EXPECT_EQ(cm->data.at("k"), "v");
}

}  // namespace
}  // namespace kdr::admission
