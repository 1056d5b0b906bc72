// kubectl dr fence, in-process against two kubesim clusters: the target (context dr-west) holds
// the plans, the source (context prod-east) the claims to fence.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "kube/client.h"

namespace kdr {
namespace {

using nlohmann::json;
using plugin::testing::CliRun;

constexpr char kFenced[] = "dr.kubectl-dr.dev/fenced";
constexpr char kFailedOver[] = "dr.kubectl-dr.dev/failed-over";
const kube::Gvr kDeployments{"apps", "v1", "deployments"};
const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};

class FenceCliTest : public plugin::testing::TwoSitesTest {
 protected:
  void SetUp() override {
    TwoSitesTest::SetUp();
    if (HasFatalFailure()) return;
    Plan("plan/spent-plan.yaml");
    Plan("plan/ready-plan.yaml");
    // The recovery that spent shop-to-dr, of its namespaces (shop, payments, billing) as a whole.
    Make(*client_, kRecoveries, "kubectl-dr-system",
         {{"kind", "DRRecovery"},
          {"metadata", {{"name", "shop-failover"}}},
          {"spec", {{"planRef", {{"name", "shop-to-dr"}}}, {"action", "Failover"}}}});
  }

  // A Deployment of `replicas` on the source.
  void SourceDeployment(const std::string& ns, const std::string& name, int replicas) {
    json labels = {{"app", name}};
    Make(*source_client_, kDeployments, ns,
         {{"kind", "Deployment"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec", {{"containers", json::array({{{"name", name}, {"image", "nginx"}}})}}}}}}}});
  }

  std::string SourceReplicas(const std::string& ns, const std::string& name) {
    auto obj = source_client_->Get(kDeployments, ns, name);
    EXPECT_TRUE(obj.ok()) << obj.status().message();
    return obj.ok() ? std::to_string((*obj)["spec"].value("replicas", 0)) : "";
  }

  std::string SourceLabel(const kube::Gvr& gvr, const std::string& ns, const std::string& name,
                          const std::string& key) {
    auto obj = source_client_->Get(gvr, ns, name);
    EXPECT_TRUE(obj.ok()) << obj.status().message();
    if (!obj.ok()) return "";
    return (*obj)["metadata"].value("labels", json::object()).value(key, "<none>");
  }

  long long SourceVersion(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    auto obj = source_client_->Get(gvr, ns, name);
    return obj.ok() ? std::stoll((*obj)["metadata"].value("resourceVersion", "0")) : -1;
  }
};

TEST_F(FenceCliTest, FencesTheNamespaceBeforeTheInventoryClaimAndAgainChangesNothing) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory fenced\n");
  EXPECT_EQ(r.err, "plan \"shop-to-dr\": 2 object(s) fenced on the source cluster (context \"prod-east\")\n");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "true");
  EXPECT_EQ(SourceLabel(kClaims, "kubectl-dr-system", "shop-inventory", kFailedOver), "shop-to-dr");
  // The namespace was written first: a crash in between leaves no failed-over claim unchecked.
  EXPECT_LT(SourceVersion(kNamespaces, "", "kubectl-dr-system"),
            SourceVersion(kClaims, "kubectl-dr-system", "shop-inventory"));

  const long long before = SourceVersion(kClaims, "kubectl-dr-system", "shop-inventory");
  CliRun again = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out,
            "namespace kubectl-dr-system already fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory already fenced\n");
  EXPECT_EQ(SourceVersion(kClaims, "kubectl-dr-system", "shop-inventory"), before);
}

TEST_F(FenceCliTest, RepairsAFailedOverClaimLeftInAnUnfencedNamespace) {
  Namespace(*source_client_, "kubectl-dr-system", {{kFenced, "true"}});
  Claim("kubectl-dr-system", "shop-inventory", {{kFailedOver, "shop-to-dr"}});
  Namespace(*source_client_, "shop");
  Claim("shop", "data", {{kFailedOver, "shop-to-dr"}});
  Claim("shop", "cache");  // not failed over: left alone
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system already fenced\n"
            "namespace shop fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory already fenced\n"
            "persistentvolumeclaim shop/data already fenced\n");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "shop", kFenced), "true");
  EXPECT_EQ(SourceLabel(kClaims, "shop", "cache", kFailedOver), "<none>");
}

// A failover that ran with the source down fenced nothing there: the claims its recovery restored
// on the DR site are fenced on the source once it is back (those the source no longer has are
// left out; another recovery's are not touched).
TEST_F(FenceCliTest, FencesTheClaimsTheSpendingRecoveryRestoredOnTheDrSite) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  Namespace(*source_client_, "shop");
  Claim("shop", "data");
  Claim("shop", "cache");
  Namespace(*client_, "shop");
  for (const auto& [name, recovery] : std::vector<std::pair<std::string, std::string>>{
           {"data", "shop-failover"}, {"gone-from-source", "shop-failover"}, {"cache", "another-recovery"}}) {
    Make(*client_, kClaims, "shop",
         {{"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", name}, {"labels", {{"dr.kubectl-dr.dev/recovery", recovery}}}}},
          {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system fenced\n"
            "namespace shop fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory fenced\n"
            "persistentvolumeclaim shop/data fenced\n");
  EXPECT_EQ(SourceLabel(kClaims, "shop", "data", kFailedOver), "shop-to-dr");
  EXPECT_EQ(SourceLabel(kClaims, "shop", "cache", kFailedOver), "<none>");
}

// A source cut off during the failover comes back with its workloads still running: after the
// fence, the workloads of the namespaces the spending recovery moved are stopped as its quiesce
// would have stopped them (replicas remembered), and those of other namespaces are left alone.
TEST_F(FenceCliTest, StopsTheWorkloadsTheFailoverMovedThatStillRunOnTheSource) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  Namespace(*source_client_, "shop");
  Namespace(*source_client_, "blog");
  SourceDeployment("shop", "web", 3);
  SourceDeployment("blog", "site", 2);
  CliRun dry = Run({"fence", "--plan", "shop-to-dr", "--dry-run"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("deployment shop/web: 3 -> 0 replicas (server dry run)"), std::string::npos) << dry.out;
  EXPECT_EQ(SourceReplicas("shop", "web"), "3");

  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("deployment shop/web: 3 -> 0 replicas\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("plan \"shop-to-dr\": 1 workload(s) of shop stopped on the source cluster"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(SourceReplicas("shop", "web"), "0");
  auto web = source_client_->Get(kDeployments, "shop", "web");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ((*web)["metadata"]["annotations"].value("dr.kubectl-dr.dev/replicas", ""), "3");
  EXPECT_EQ(SourceReplicas("blog", "site"), "2") << "not a namespace of the plan";
}

// Without the recovery that spent the plan, which of its namespaces moved is unknown (a subset
// failover leaves the rest to a clone of the plan): nothing is stopped, and the warning says what to run.
TEST_F(FenceCliTest, WithoutTheSpendingRecoveryNoWorkloadIsStoppedAndTheWarningSaysWhatToRun) {
  ASSERT_TRUE(client_->Delete(kRecoveries, "kubectl-dr-system", "shop-failover").ok());
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  Namespace(*source_client_, "shop");
  SourceDeployment("shop", "web", 3);
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("warning: drrecovery \"shop-failover\", which spent plan \"shop-to-dr\", is not on the "
                       "target"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("kubectl dr quiesce --context prod-east --namespaces shop,payments,billing"), std::string::npos)
      << r.err;
  EXPECT_EQ(SourceReplicas("shop", "web"), "3");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "true") << "the fence itself is done";
}

TEST_F(FenceCliTest, DryRunChangesNothing) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  CliRun r = Run({"fence", "--plan", "shop-to-dr", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system fenced (server dry run)\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory fenced (server dry run)\n");
  EXPECT_NE(r.err.find("nothing was changed (--dry-run)"), std::string::npos) << r.err;
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
  EXPECT_EQ(SourceLabel(kClaims, "kubectl-dr-system", "shop-inventory", kFailedOver), "<none>");
}

TEST_F(FenceCliTest, BadRequestsChangeNothing) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  Namespace(*source_client_, "orders");
  Claim("orders", "orders-inventory");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    const char* want_substr;
  } cases[] = {
      {"plan not spent", {"fence", "--plan", "orders-to-dr"}, 1,
       "plan \"orders-to-dr\" has not failed over (phase Ready): fencing its source now would stop the "
       "workloads that run there"},
      {"unknown plan", {"fence", "--plan", "shop-to-d"}, 1,
       "drplan \"shop-to-d\" not found in namespace kubectl-dr-system of the current context; plans live "
       "on the target cluster: choose it with --context; did you mean \"shop-to-dr\"?"},
      {"invalid plan name", {"fence", "--plan", "Shop"}, 2, "--plan"},
      {"no plan", {"fence"}, 2, "--plan is required"},
      {"the source as the current context", {"--context", "prod-east", "fence", "--plan", "shop-to-dr"}, 1,
       "does not serve drplans.dr.kubectl-dr.dev: install kubectl-dr there first (kubectl dr install), or "
       "choose the target cluster with --context"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, c.want_code) << r.out << r.err;
    EXPECT_NE(r.err.find(c.want_substr), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "orders", kFenced), "<none>");
}

TEST_F(FenceCliTest, AClaimFencedForAnotherPlanStopsTheFenceBeforeAnyWrite) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory", {{kFailedOver, "other-plan"}});
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("persistentvolumeclaim kubectl-dr-system/shop-inventory is already fenced for plan "
                       "\"other-plan\", not \"shop-to-dr\""),
            std::string::npos) << r.err;
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
}

TEST_F(FenceCliTest, AMissingInventoryClaimIsNamed) {
  Namespace(*source_client_, "kubectl-dr-system");
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("fencing persistentvolumeclaim kubectl-dr-system/shop-inventory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("on the source cluster (context \"prod-east\")"), std::string::npos) << r.err;
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
}

TEST_F(FenceCliTest, AnUnreachableSourceIsNamedWithWhatToDo) {
  source_.reset();  // the old primary is still down
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the source cluster (context \"prod-east\") is unreachable; run kubectl dr fence again "
                       "once it is back"),
            std::string::npos) << r.err;
}

}  // namespace
}  // namespace kdr
