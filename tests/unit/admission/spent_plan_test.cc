#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "admission/policy.h"
#include "admission_testing.h"
#include "dr/types.h"

namespace kdr::admission {
namespace {

using nlohmann::json;
using testing::Decide;
using testing::Fixture;

class SpentPlanPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto plan = dr::DRPlanFromJson(Fixture("plan-update.json")["request"]["object"]);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    cache_.UpsertPlan(*plan);
    dr::DRPlan ready = *plan;
    ready.metadata.name = "fresh";
    ready.status = {};
    ready.status.phase = dr::PlanPhase::kReady;
    cache_.UpsertPlan(ready);
    policy_ = NewSpentPlanPolicy(&cache_);
  }
  StateCache cache_;
  std::unique_ptr<Policy> policy_;
};

struct Case {
  const char* name;
  const char* fixture;
  std::function<void(json&)> edit;
  bool allowed;
  const char* want_substr;
};

json& Obj(json& r) { return r["request"]["object"]; }
json& Old(json& r) { return r["request"]["oldObject"]; }

void AsUpdate(json& r) {
  r["request"]["operation"] = "UPDATE";
  r["request"]["oldObject"] = r["request"]["object"];
}

TEST_F(SpentPlanPolicyTest, Decisions) {
  const std::vector<Case> cases = {
      {"recovery on spent plan denied", "recovery-create.json", [](json&) {}, false,
       "creating drrecovery kubectl-dr-system/shop-failover-2 is refused: plan \"shop-to-dr\" was "
       "spent by \"shop-failover\" at 2026-11-21T08:19:00Z; clone it: kubectl dr plan clone "
       "shop-to-dr --name NEW --inventory-pvc NEW-PVC"},
      {"recovery on ready plan allowed", "recovery-create.json",
       [](json& r) { Obj(r)["spec"]["planRef"]["name"] = "fresh"; }, true, ""},
      {"recovery spec update on spent plan denied", "recovery-create.json",
       [](json& r) {
         AsUpdate(r);
         Obj(r)["spec"]["action"] = "Test";
       },
       false, "updating drrecovery kubectl-dr-system/shop-failover-2 is refused"},
      {"recovery re-pointed at a spent plan denied", "recovery-create.json",
       [](json& r) {
         AsUpdate(r);
         Old(r)["spec"]["planRef"]["name"] = "fresh";
       },
       false, "clone it"},
      {"recovery starting on spent plan via status denied", "recovery-create.json",
       [](json& r) {
         AsUpdate(r);
         r["request"]["subResource"] = "status";
         Obj(r)["status"] = {{"phase", "Running"}};
       },
       false, "was spent by"},
      {"recovery metadata-only update allowed", "recovery-create.json",
       [](json& r) {
         AsUpdate(r);
         Obj(r)["metadata"]["finalizers"] = json::array();
       },
       true, ""},
      {"the spending recovery keeps journaling", "recovery-create.json",
       [](json& r) {
         r["request"]["name"] = "shop-failover";
         AsUpdate(r);
         r["request"]["subResource"] = "status";
         Obj(r)["status"] = {{"phase", "Running"}, {"steps", json::array()}};
       },
       true, ""},
      {"finished recovery reset denied", "recovery-create.json",
       [](json& r) {
         Obj(r)["spec"]["planRef"]["name"] = "fresh";
         AsUpdate(r);
         r["request"]["subResource"] = "status";
         Old(r)["status"] = {{"phase", "Succeeded"}};
         Obj(r)["status"] = {{"phase", "Pending"}};
       },
       false, "a finished recovery cannot be re-run"},
      {"finished recovery status wiped denied", "recovery-create.json",
       [](json& r) {
         Obj(r)["spec"]["planRef"]["name"] = "fresh";
         AsUpdate(r);
         Old(r)["status"] = {{"phase", "Failed"}};
       },
       false, "it already ran (Failed)"},
      {"finished recovery message update allowed", "recovery-create.json",
       [](json& r) {
         Obj(r)["spec"]["planRef"]["name"] = "fresh";
         AsUpdate(r);
         Old(r)["status"] = {{"phase", "Failed"}};
         Obj(r)["status"] = {{"phase", "Failed"}, {"message", "see logs"}};
       },
       true, ""},
      {"recovery delete allowed", "recovery-create.json",
       [](json& r) {
         r["request"]["operation"] = "DELETE";
         r["request"]["oldObject"] = Obj(r);
         r["request"]["object"] = nullptr;
       },
       true, ""},
      {"spent plan spec change denied", "plan-update.json",
       [](json& r) { Obj(r)["spec"]["namespaces"].push_back("payments"); }, false,
       "changing the spec of drplan kubectl-dr-system/shop-to-dr is refused"},
      {"spent plan un-spent via status denied", "plan-update.json",
       [](json& r) {
         r["request"]["subResource"] = "status";
         Obj(r)["status"] = {{"phase", "Ready"}};
       },
       false, "un-spending drplan kubectl-dr-system/shop-to-dr (status.phase \"Ready\") is refused"},
      {"spent plan un-spent via main resource denied", "plan-update.json",
       [](json& r) { Obj(r)["status"].erase("phase"); }, false, "un-spending"},
      {"spent plan spentBy rewrite denied", "plan-update.json",
       [](json& r) { Obj(r)["status"]["spentBy"] = "someone-else"; }, false,
       "changing status.spentBy"},
      {"spent plan condition update allowed", "plan-update.json",
       [](json& r) {
         r["request"]["subResource"] = "status";
         Obj(r)["status"]["conditions"] = {{{"type", "Ready"}, {"status", "False"}}};
       },
       true, ""},
      {"spent plan label update allowed", "plan-update.json",
       [](json& r) { Obj(r)["metadata"]["labels"] = {{"team", "shop"}}; }, true, ""},
      {"ready plan spec change allowed", "plan-update.json",
       [](json& r) {
         Old(r)["status"] = {{"phase", "Ready"}};
         Obj(r)["status"] = {{"phase", "Ready"}};
         Obj(r)["spec"]["namespaces"].push_back("payments");
       },
       true, ""},
      {"plan being spent allowed", "plan-update.json",
       [](json& r) { Old(r)["status"] = {{"phase", "Ready"}}; }, true, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json review = Fixture(c.fixture);
    c.edit(review);
    Response r = Decide(*policy_, review);
    EXPECT_EQ(r.allowed, c.allowed) << r.message;
    if (!c.allowed) {
      EXPECT_EQ(r.code, 403);
      EXPECT_EQ(r.policy, "spent-plan");
      EXPECT_NE(r.message.find(c.want_substr), std::string::npos) << r.message;
    }
  }
}

TEST_F(SpentPlanPolicyTest, RecoveryOfUnknownPlanAllowedWithWarning) {
  json review = Fixture("recovery-create.json");
  Obj(review)["spec"]["planRef"]["name"] = "nope";
  Response r = Decide(*policy_, review);
  EXPECT_TRUE(r.allowed);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].find("plan \"nope\" not found"), std::string::npos) << r.warnings[0];
}

TEST_F(SpentPlanPolicyTest, ChainStopsAtFirstDenialAndGathersWarnings) {
  auto fenced = NewFencedPvcPolicy(&cache_, "kubectl-dr-system");
  PolicyChain chain({fenced.get(), policy_.get()});
  Response denied = Decide(chain, Fixture("recovery-create.json"));
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.policy, "spent-plan");
  json review = Fixture("recovery-create.json");
  Obj(review)["spec"]["planRef"]["name"] = "nope";
  Response warned = Decide(chain, review);
  EXPECT_TRUE(warned.allowed);
  EXPECT_EQ(warned.policy, "spent-plan");
  EXPECT_EQ(warned.warnings.size(), 1u);
  Response other = Decide(chain, Fixture("unknown-kind.json"));
  EXPECT_TRUE(other.allowed);
  EXPECT_EQ(other.policy, "");
}

}  // namespace
}  // namespace kdr::admission
