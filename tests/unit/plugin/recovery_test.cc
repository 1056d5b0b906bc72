// kubectl dr recovery create|get|describe|delete, in-process against a kubesim API server serving the
// product's CRDs (the target cluster, context dr-west).

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/yaml.h"
#include "cli_fixture.h"
#include "install/manifests.h"
#include "kube/client.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using plugin::testing::CliRun;

const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kPlans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};

class RecoveryCliTest : public plugin::testing::PluginOnKubesimTest {
 protected:
  RecoveryCliTest() { server_options_.clock = &clock_; }
  std::string context_name() const override { return "dr-west"; }

  void SetUp() override {
    PluginOnKubesimTest::SetUp();
    if (HasFatalFailure()) return;
    auto crds = install::BuildKustomization(install::EmbeddedManifests(), "crds");
    ASSERT_TRUE(crds.ok()) << crds.status().message();
    for (const json& crd : *crds) ASSERT_TRUE(client_->Create(kCrds, "", crd).ok());
    ASSERT_TRUE(client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                  {"metadata", {{"name", "kubectl-dr-system"}}}}).ok());
    Create(kPlans, "recovery/plan.yaml");
    Create(kPlans, "recovery/spent-plan.yaml");
  }

  // Creates the fixture's object, then its status through the status subresource.
  void Create(const kube::Gvr& gvr, const std::string& fixture) {
    auto obj = YamlToJson(testutil::ReadData(fixture), fixture);
    ASSERT_TRUE(obj.ok()) << obj.status().message();
    json status = obj->value("status", json());
    obj->erase("status");
    auto made = client_->Create(gvr, "kubectl-dr-system", *obj);
    ASSERT_TRUE(made.ok()) << fixture << ": " << made.status().message();
    if (!status.is_null()) {
      (*made)["status"] = status;
      ASSERT_TRUE(client_->UpdateStatus(gvr, "kubectl-dr-system", *made).ok());
    }
  }

  bool Exists(const kube::Gvr& gvr, const std::string& name) {
    return client_->Get(gvr, "kubectl-dr-system", name).ok();
  }

  size_t Count(const kube::Gvr& gvr) {
    auto list = client_->List(gvr, "kubectl-dr-system");
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? (*list)["items"].size() : 0;
  }
};

TEST_F(RecoveryCliTest, CreateStoresTheModifiersBesideTheRecoveryAndSaysWhatIsNext) {
  CliRun r = Run({"recovery", "create", "shop-failover", "--plan", "shop-to-dr", "--namespaces", "shop",
                  "--resource-modifiers", testutil::DataPath("e2e/webhook/modifiers.yaml"), "--vm-power-on=true"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "drrecovery.dr.kubectl-dr.dev/shop-failover created\n");
  EXPECT_EQ(r.err,
            "recovery \"shop-failover\": Failover of plan \"shop-to-dr\" (prod-east -> dr-west), namespaces shop\n"
            "resource modifiers: 1 rule in configmap kubectl-dr-system/shop-failover-modifiers\n"
            "next: kubectl dr failover shop-failover\n");
  auto rec = client_->Get(kRecoveries, "kubectl-dr-system", "shop-failover");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ((*rec)["spec"]["planRef"]["name"], "shop-to-dr");
  EXPECT_EQ((*rec)["spec"]["action"], "Failover");
  EXPECT_EQ((*rec)["spec"]["namespaces"], json::array({"shop"}));
  EXPECT_EQ((*rec)["spec"]["transforms"]["resourceModifiers"]["configMapRef"]["name"], "shop-failover-modifiers");
  EXPECT_EQ((*rec)["spec"]["transforms"]["vm"]["powerOn"], true);
  auto cm = client_->Get(kConfigMaps, "kubectl-dr-system", "shop-failover-modifiers");
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["data"]["modifiers.yaml"], testutil::ReadData("e2e/webhook/modifiers.yaml"));
  EXPECT_FALSE((*cm)["metadata"]["labels"].contains("dr.kubectl-dr.dev/recovery"))
      << "that label would make the webhook treat the ConfigMap as a restored object";
}

TEST_F(RecoveryCliTest, ADrillMapsEveryNamespaceAwayFromTheLiveOnes) {
  CliRun r = Run({"recovery", "create", "shop-drill", "--plan", "shop-to-dr", "--action", "Test",
                  "--namespace-mapping", "shop=shop-dr1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("namespaces shop, payments restored as payments -> payments-drtest, shop -> shop-dr1"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("next: kubectl dr drill shop-drill"), std::string::npos);
  auto rec = client_->Get(kRecoveries, "kubectl-dr-system", "shop-drill");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ((*rec)["spec"]["namespaceMapping"], json({{"shop", "shop-dr1"}, {"payments", "payments-drtest"}}));
}

TEST_F(RecoveryCliTest, DryRunCreatesNothingAndPrintsTheObject) {
  CliRun r = Run({"-o", "yaml", "recovery", "create", "shop-failover", "--plan", "shop-to-dr", "--dry-run",
                  "--resource-modifiers", testutil::DataPath("e2e/webhook/modifiers.yaml")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kind: DRRecovery"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("nothing was created (--dry-run)"), std::string::npos);
  EXPECT_EQ(Count(kRecoveries), 0u);
  EXPECT_FALSE(Exists(kConfigMaps, "shop-failover-modifiers"));
}

TEST_F(RecoveryCliTest, BadRequestsAreRefusedBeforeAnyWrite) {
  ASSERT_TRUE(client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                {"metadata", {{"name", "shop-taken"}}}}).ok());
  const std::string good = testutil::DataPath("e2e/webhook/modifiers.yaml");
  const std::string bad = testutil::DataPath("recovery/invalid-modifiers.yaml");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    const char* want;
  } cases[] = {
      {"invalid modifier file", {"--resource-modifiers", bad}, 2,
       "invalid-modifiers.yaml is invalid: line 5, column 25: resourceModifierRules[0].patches[0].operation: "
       "unknown operation \"explode\""},
      {"missing modifier file", {"--resource-modifiers", "/no/such/file.yaml"}, 1, "cannot read modifier file"},
      {"unknown action", {"--action", "Migrate"}, 2, "--action \"Migrate\" is not one of Failover, Failback, Test"},
      {"action in the wrong case", {"--action", "failover"}, 2, "--action \"failover\": write it \"Failover\""},
      {"a namespace the plan does not protect", {"--namespaces", "shop,paymnts"}, 2,
       "--namespaces: \"paymnts\" is not protected by plan \"shop-to-dr\" (it protects shop, payments); did you "
       "mean \"payments\"?"},
      {"an empty namespace item", {"--namespaces", "shop,,payments"}, 2, "has an empty item"},
      {"mapping on a failover", {"--namespace-mapping", "shop=x"}, 2, "--namespace-mapping is for drills"},
      {"mapping not a pair", {"--action", "Test", "--namespace-mapping", "shop"}, 2, "is not SOURCE=TARGET"},
      {"mapping onto a protected namespace", {"--action", "Test", "--namespace-mapping", "shop=payments"}, 2,
       "onto \"payments\", which plan \"shop-to-dr\" protects"},
      {"mapping onto itself", {"--action", "Test", "--namespace-mapping", "shop=shop"}, 2, "onto itself"},
      {"mapping onto an existing namespace", {"--action", "Test", "--namespace-mapping", "shop=shop-taken"}, 1,
       "namespace \"shop-taken\" already exists on the target"},
      {"two onto one", {"--action", "Test", "--namespace-mapping", "shop=x,payments=x"}, 2,
       "maps two namespaces onto \"x\""},
      {"bad vm flag", {"--vm-power-on=yes"}, 2, "--vm-power-on=yes: use true or false"},
      {"unknown plan", {"--plan", "shop-to-d"}, 1, "did you mean \"shop-to-dr\"?"},
      {"spent plan", {"--plan", "old-to-dr"}, 1,
       "plan \"old-to-dr\" was spent by \"old-failover\"; clone it: kubectl dr plan clone old-to-dr"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = {"recovery", "create", "r1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    if (std::find(c.args.begin(), c.args.end(), "--plan") == c.args.end()) {
      args.insert(args.end(), {"--plan", "shop-to-dr"});
    }
    CliRun r = Run(args);
    EXPECT_EQ(r.code, c.want_code) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(Count(kRecoveries), 0u);
  EXPECT_FALSE(Exists(kConfigMaps, "r1-modifiers"));
}

TEST_F(RecoveryCliTest, ANameInUseIsRefusedAndNothingIsLeftBehind) {
  ASSERT_EQ(Run({"recovery", "create", "shop-failover", "--plan", "shop-to-dr"}).code, 0);
  CliRun again = Run({"recovery", "create", "shop-failover", "--plan", "shop-to-dr", "--resource-modifiers",
                      testutil::DataPath("e2e/webhook/modifiers.yaml")});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("drrecovery \"shop-failover\" already exists in namespace kubectl-dr-system; choose "
                           "another NAME"),
            std::string::npos) << again.err;
  EXPECT_FALSE(Exists(kConfigMaps, "shop-failover-modifiers"));
}

TEST_F(RecoveryCliTest, GetListsPhaseStepAndCounts) {
  Create(kRecoveries, "recovery/running.yaml");
  ASSERT_EQ(Run({"recovery", "create", "shop-drill", "--plan", "shop-to-dr", "--action", "Test"}).code, 0);
  clock_.Advance(2h);
  CliRun r = Run({"recovery", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME           PLAN        ACTION    PHASE    STEP                  RESTORED  AGE\n"
            "shop-drill     shop-to-dr  Test      Pending  <none>                <none>    120m\n"
            "shop-failover  shop-to-dr  Failover  Running  SyncInventory (3/11)  0/0/0     120m\n");
  CliRun names = Run({"-o", "name", "recovery", "ls"});
  EXPECT_EQ(names.out, "shop-drill\nshop-failover\n");
  CliRun missing = Run({"recovery", "get", "shop-failovr"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("did you mean \"shop-failover\"?"), std::string::npos) << missing.err;
}

TEST_F(RecoveryCliTest, DescribeShowsTheJournal) {
  Create(kRecoveries, "recovery/running.yaml");
  CliRun r = Run({"recovery", "describe", "shop-failover"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Plan:        shop-to-dr\nAction:      Failover\nNamespaces:  shop\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Phase:       Running\n"), std::string::npos);
  EXPECT_NE(r.out.find("  SyncInventory  Running    2         2026-01-01T00:00:05Z"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  QuiesceSource  Skipped    1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("source unreachable: quiesce skipped"), std::string::npos);
}

TEST_F(RecoveryCliTest, DeleteRemovesItsConfigMapButRefusesARunningRecoveryWithoutForce) {
  ASSERT_EQ(Run({"recovery", "create", "shop-drill", "--plan", "shop-to-dr", "--action", "Test",
                 "--resource-modifiers", testutil::DataPath("e2e/webhook/modifiers.yaml")}).code, 0);
  CliRun del = Run({"recovery", "delete", "shop-drill"});
  ASSERT_EQ(del.code, 0) << del.err;
  EXPECT_EQ(del.out, "drrecovery.dr.kubectl-dr.dev \"shop-drill\" deleted\nconfigmap \"shop-drill-modifiers\" deleted\n");
  EXPECT_FALSE(Exists(kConfigMaps, "shop-drill-modifiers"));

  Create(kRecoveries, "recovery/running.yaml");
  CliRun running = Run({"recovery", "delete", "shop-failover"});
  EXPECT_EQ(running.code, 1);
  EXPECT_NE(running.err.find("recovery \"shop-failover\" is running (step SyncInventory (3/11))"), std::string::npos)
      << running.err;
  EXPECT_EQ(Count(kRecoveries), 1u);
  CliRun forced = Run({"recovery", "delete", "shop-failover", "--force"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(Count(kRecoveries), 0u);
}

}  // namespace
}  // namespace kdr
