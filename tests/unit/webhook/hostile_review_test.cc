// Hostile AdmissionReviews against the real server over loopback TLS, wired as
// kubectl-dr-webhook wires it (fenced-PVC and spent-plan policies on /validate, the transform
// engine on /mutate): reviews nested past what kube-apiserver sends get a 400 and leave the webhook
// serving; reviews at exactly the deepest accepted depth are decided by every policy, on workers
// given half their usual stack.

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/populator.h"
#include "admission/review.h"
#include "admission/server.h"
#include "admission/transform_engine.h"
#include "admission/webhook.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "testutil/testutil.h"
#include "tls/certs.h"
#include "tls/pem.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

constexpr char kDrNamespace[] = "kubectl-dr-system";

std::string NestedArrays(int levels, int bottom) {
  return std::string(levels, '[') + std::to_string(bottom) + std::string(levels, ']');
}

// A fixture review whose object.spec (and oldObject.spec, when there is one) carries
// "x": [[...bottom...]] nested `levels` arrays deep. Built as text: the deep part is never a json
// value here, so the test itself does not recurse.
std::string DeepReview(const std::string& fixture, int levels, int bottom = 1,
                       int old_bottom = 1) {
  json review = json::parse(testutil::ReadData("admission/" + fixture));
  review["request"]["object"]["spec"]["x"] = "@new@";
  json& old = review["request"]["oldObject"];
  if (old.is_object()) old["spec"]["x"] = "@old@";
  std::string text = review.dump();
  text.replace(text.find("\"@new@\""), 7, NestedArrays(levels, bottom));
  if (size_t at = text.find("\"@old@\""); at != std::string::npos) {
    text.replace(at, 7, NestedArrays(levels, old_bottom));
  }
  return text;
}

// Levels of "x" that put a review at exactly `depth`: review, request, object, spec, then x.
int XLevelsFor(int depth) { return depth - 4; }

// The JSON pointer of the innermost element of spec.x nested `levels` deep.
std::string BottomPointer(int levels) {
  std::string p = "/spec/x";
  for (int i = 0; i < levels; ++i) p += "/0";
  return p;
}

std::string ModifiersConfigMap(int x_levels) {
  return "apiVersion: v1\n"
         "kind: ConfigMap\n"
         "metadata: {name: deep-modifiers, namespace: kubectl-dr-system}\n"
         "data:\n"
         "  modifiers.yaml: |\n"
         "    version: v1\n"
         "    resourceModifierRules:\n"
         "    - conditions: {groupResource: ingresses.networking.k8s.io}\n"
         "      patches:\n"
         "      - {operation: replace, path: " + BottomPointer(x_levels) + ", value: \"2\"}\n"
         "    - conditions: {groupResource: ingresses.networking.k8s.io}\n"
         "      mergePatches:\n"
         "      - patchData: '{\"metadata\": {\"labels\": {\"merged\": \"yes\"}}}'\n"
         "    - conditions: {groupResource: ingresses.networking.k8s.io}\n"
         "      strategicPatches:\n"
         "      - patchData: '{\"metadata\": {\"annotations\": {\"strategic\": \"yes\"}}}'\n";
}

class HostileReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tls::MakeCa("hostile-review-ca");
    ASSERT_TRUE(ca.ok());
    ca_pem_ = ca->cert_pem;
    tls::CertRequest req;
    req.common_name = "webhook";
    req.ip_addresses = {"127.0.0.1"};
    auto leaf = tls::MakeLeaf(*ca, req);
    ASSERT_TRUE(leaf.ok());
    options_.listen = "127.0.0.1:0";
    options_.key_file = dir_.Write("tls.key", leaf->key_pem, 0600);
    options_.cert_file = dir_.Write("tls.crt", leaf->cert_pem);
    options_.threads = 2;
    // Half the workers' usual stack: the deepest review must still be decided.
    options_.worker_stack_bytes = kJsonThreadStackBytes / 2;

    const int x_levels = XLevelsFor(kMaxReviewDepth);
    Status seeded = SeedCache(&cache_,
                              testutil::ReadData("admission/deep-review-state.yaml") + "---\n" +
                                  ModifiersConfigMap(x_levels),
                              "deep-review-state.yaml");
    ASSERT_TRUE(seeded.ok()) << seeded.ToString();
    server_ = std::make_unique<Server>(options_, Env{&clock_, &fs_, &logger_}, &validate_, &mutate_,
                                       &metrics_, [] { return true; });
    Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // POSTs over TLS, verifying the server against the CA: {HTTP status, the AdmissionReview}.
  std::pair<int, json> Post(const std::string& path, const std::string& body) {
    httplib::SSLClient cli("127.0.0.1", server_->port());
    cli.set_ca_cert_store(tls::NewCertStore(ca_pem_, "test CA")->release());
    cli.enable_server_certificate_verification(true);
    cli.set_read_timeout(60, 0);
    auto r = cli.Post(path.c_str(), body, "application/json");
    if (!r) return {0, json()};
    return {r->status, json::parse(r->body, nullptr, false)};
  }

  testutil::TempDir dir_;
  std::string ca_pem_;
  RealClock clock_;
  PosixFileSystem fs_;
  std::ostringstream log_;
  Logger logger_{std::make_unique<JsonLogSink>(&log_, nullptr)};
  StateCache cache_;
  Metrics metrics_;
  std::unique_ptr<TransformEngine> engine_ = NewResourceModifierEngine();
  std::unique_ptr<Policy> fenced_ = NewFencedPvcPolicy(&cache_, kDrNamespace);
  std::unique_ptr<Policy> spent_ = NewSpentPlanPolicy(&cache_);
  std::unique_ptr<Policy> transforms_ = NewTransformsPolicy(&cache_, engine_.get(), kDrNamespace);
  PolicyChain validating_{{fenced_.get(), spent_.get()}};
  Webhook validate_{"validate", &validating_, &metrics_, &logger_, &clock_};
  Webhook mutate_{"mutate", transforms_.get(), &metrics_, &logger_, &clock_};
  ServerOptions options_;
  std::unique_ptr<Server> server_;
};

TEST_F(HostileReviewTest, ReviewsNestedPastTheLimitGet400AndTheWebhookLivesOn) {
  struct Case {
    const char* name;
    const char* path;
    std::string body;
  } cases[] = {
      // The reported triggers: each overflowed a worker's stack and killed the process.
      {"pvc update 200,000 deep (~800 KB)", "/validate", DeepReview("pvc-update.json", 200000)},
      {"drplan update 200,000 deep", "/validate", DeepReview("plan-update.json", 200000)},
      {"restored object 100,000 deep (~200 KB)", "/mutate", DeepReview("ingress-restore.json", 100000)},
      // One level past the limit.
      {"pvc update one level too deep", "/validate",
       DeepReview("pvc-update.json", XLevelsFor(kMaxReviewDepth) + 1)},
      {"restored object one level too deep", "/mutate",
       DeepReview("ingress-restore.json", XLevelsFor(kMaxReviewDepth) + 1)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto [status, review] = Post(c.path, c.body);
    ASSERT_EQ(status, 400) << review.dump();
    EXPECT_EQ(review["kind"], "AdmissionReview");
    EXPECT_EQ(review["response"]["allowed"], false);
    EXPECT_EQ(review["response"]["status"]["code"], 400);
    EXPECT_EQ(review["response"]["status"]["message"],
              "request body nests deeper than 10002 levels; kube-apiserver refuses objects nested "
              "deeper than 10000; send an AdmissionReview");
    // Still serving.
    auto [ok_status, ok_review] = Post("/validate", testutil::ReadData("admission/unknown-kind.json"));
    EXPECT_EQ(ok_status, 200);
    EXPECT_EQ(ok_review["response"]["allowed"], true);
  }
}

TEST_F(HostileReviewTest, EveryPolicyDecidesTheDeepestReviewAccepted) {
  const int x = XLevelsFor(kMaxReviewDepth);
  struct Case {
    const char* name;
    const char* path;
    std::string body;
    bool want_allowed;
    std::string want_message;  // a part of it; "" for an allowed review
  } cases[] = {
      // Each compares the deep specs in full: equal, or different at the very bottom.
      {"fenced pvc, spec unchanged", "/validate", DeepReview("pvc-update.json", x), true, ""},
      {"fenced pvc, spec changed at the bottom", "/validate", DeepReview("pvc-update.json", x, 2),
       false, "updating the spec of persistentvolumeclaim shop/shop-inventory is refused"},
      {"spent plan, spec changed at the bottom", "/validate", DeepReview("plan-update.json", x, 2),
       false, "changing the spec of drplan"},
      {"pod mounting the fenced pvc", "/validate", DeepReview("pod-create.json", x), false,
       "is fenced (failed over by plan"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto [status, review] = Post(c.path, c.body);
    ASSERT_EQ(status, 200) << review.dump().substr(0, 500);
    EXPECT_EQ(review["response"]["allowed"], c.want_allowed) << review.dump().substr(0, 500);
    if (!c.want_message.empty()) {
      EXPECT_NE(review["response"]["status"]["message"].get<std::string>().find(c.want_message),
                std::string::npos)
          << review["response"]["status"]["message"];
    }
  }

  // The mutate path: a JSON patch replacing the innermost value (the diff then descends all the
  // way), a merge patch and a strategic merge patch, answered as one JSONPatch.
  auto [status, review] = Post("/mutate", DeepReview("ingress-restore.json", x));
  ASSERT_EQ(status, 200) << review.dump().substr(0, 500);
  ASSERT_EQ(review["response"]["allowed"], true) << review.dump().substr(0, 500);
  Result<std::string> patch_text =
      Base64Decode(review["response"]["patch"].get<std::string>(), "patch");
  ASSERT_TRUE(patch_text.ok());
  Result<json> patch = ParseJson(*patch_text, "patch", kMaxReviewDepth);
  ASSERT_TRUE(patch.ok()) << patch.status().message();
  ASSERT_EQ(patch->size(), 3u);
  EXPECT_EQ((*patch)[0], json({{"op", "add"}, {"path", "/metadata/annotations/strategic"},
                               {"value", "yes"}}));
  EXPECT_EQ((*patch)[1], json({{"op", "add"}, {"path", "/metadata/labels/merged"}, {"value", "yes"}}));
  EXPECT_EQ((*patch)[2]["op"], "replace");
  EXPECT_EQ((*patch)[2]["value"], 2);
  // (Not EXPECT_EQ: a failure would print 20 KB of "/0".)
  EXPECT_TRUE((*patch)[2]["path"] == BottomPointer(x));
}

}  // namespace
}  // namespace kdr::admission
