// kubectl dr plan get|list|ls and plan clone, in-process against a kubesim API server serving the
// product's CRDs (as `kubectl dr install` applies them from the embedded manifests).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "install/manifests.h"
#include "kube/client.h"
#include "kube_context.h"
#include "kubesim/server.h"
#include "cli_fixture.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

using plugin::testing::CliRun;

class PlanCliTest : public plugin::testing::PluginOnKubesimTest {
 protected:
  // Ages in tables come from the server's creationTimestamp: the fake clock makes them exact.
  PlanCliTest() { server_options_.clock = &clock_; }
  std::string context_name() const override { return "dr-west"; }

  void InstallCrds() {
    auto crds = install::BuildKustomization(install::EmbeddedManifests(), "crds");
    ASSERT_TRUE(crds.ok()) << crds.status().message();
    for (const json& crd : *crds) {
      auto made = client_->Create(kCrds, "", crd);
      ASSERT_TRUE(made.ok()) << made.status().message();
    }
    CreateNamespace("kubectl-dr-system");
  }

  void CreateNamespace(const std::string& name) {
    auto ns = client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
    ASSERT_TRUE(ns.ok()) << ns.status().message();
  }

  // Creates the fixture's object, then its status through the status subresource.
  void CreateFixture(const kube::Gvr& gvr, const std::string& fixture, const std::string& ns = "kubectl-dr-system",
                     const std::string& name = "") {
    auto obj = YamlToJson(testutil::ReadData(fixture), fixture);
    ASSERT_TRUE(obj.ok()) << obj.status().message();
    (*obj)["metadata"]["namespace"] = ns;
    if (!name.empty()) (*obj)["metadata"]["name"] = name;
    json status = obj->value("status", json());
    obj->erase("status");
    auto made = client_->Create(gvr, ns, *obj);
    ASSERT_TRUE(made.ok()) << fixture << ": " << made.status().message();
    if (!status.is_null()) {
      (*made)["status"] = status;
      auto updated = client_->UpdateStatus(gvr, ns, *made);
      ASSERT_TRUE(updated.ok()) << fixture << ": " << updated.status().message();
    }
  }

  // shop-to-dr (spent by shop-failover, which failed over "shop") and orders-to-dr (ready).
  void CreatePlans() {
    InstallCrds();
    CreateFixture(kPlans, "plan/spent-plan.yaml");
    CreateFixture(kPlans, "plan/ready-plan.yaml");
    CreateFixture(kRecoveries, "plan/partial-failover.yaml");
  }

  Result<json> GetPlan(const std::string& name, const std::string& ns = "kubectl-dr-system") {
    return client_->Get(kPlans, ns, name);
  }

  size_t PlanCount() {
    auto list = client_->List(kPlans, "");
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? (*list)["items"].size() : 0;
  }

  const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
  const kube::Gvr kNamespaces{"", "v1", "namespaces"};
  const kube::Gvr kPlans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
  const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};

};

// ---- plan get / list / ls ----------------------------------------------------------------------

TEST_F(PlanCliTest, ListPrintsTheTable) {
  CreatePlans();
  clock_.Advance(3h + 20min);
  CliRun r = Run({"plan", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME          PHASE  SOURCE     TARGET   NAMESPACES             DRIVER    SPENT-BY       AGE\n"
            "orders-to-dr  Ready  prod-east  dr-west  orders                 none      <none>         3h20m\n"
            "shop-to-dr    Spent  prod-east  dr-west  shop,payments,billing  longhorn  shop-failover  3h20m\n");
  EXPECT_EQ(r.err, "");
}

TEST_F(PlanCliTest, WideAddsInventoryAndSchedule) {
  CreatePlans();
  CliRun r = Run({"plan", "get", "-o", "wide", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME        PHASE  SOURCE     TARGET   NAMESPACES             DRIVER    SPENT-BY       AGE  "
            "INVENTORY                         SCHEDULE\n"
            "shop-to-dr  Spent  prod-east  dr-west  shop,payments,billing  longhorn  shop-failover  0s   "
            "kubectl-dr-system/shop-inventory  */15 * * * *\n");
}

TEST_F(PlanCliTest, AllNamespacesAddsTheNamespaceColumn) {
  CreatePlans();
  CreateNamespace("dr-other");
  CreateFixture(kPlans, "plan/ready-plan.yaml", "dr-other", "other-to-dr");
  CliRun r = Run({"plan", "ls", "-A"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = Split(TrimSpace(r.out), '\n');
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_TRUE(StartsWith(lines[0], "NAMESPACE          NAME          PHASE")) << lines[0];
  EXPECT_NE(r.out.find("\ndr-other           other-to-dr   Ready"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nkubectl-dr-system  shop-to-dr    Spent"), std::string::npos) << r.out;

  CliRun ns = Run({"plan", "get", "-n", "dr-other", "-o", "name"});
  ASSERT_EQ(ns.code, 0) << ns.err;
  EXPECT_EQ(ns.out, "other-to-dr\n");
}

TEST_F(PlanCliTest, JsonYamlAndNameOutputs) {
  CreatePlans();
  CliRun list = Run({"plan", "list", "-o", "json"});
  ASSERT_EQ(list.code, 0) << list.err;
  json doc = json::parse(list.out);
  EXPECT_EQ(doc["kind"], "List");
  ASSERT_EQ(doc["items"].size(), 2u);
  EXPECT_EQ(doc["items"][1]["status"]["spentBy"], "shop-failover");
  EXPECT_FALSE(doc["items"][0]["metadata"].contains("managedFields"));

  CliRun one = Run({"plan", "get", "shop-to-dr", "-o", "yaml"});
  ASSERT_EQ(one.code, 0) << one.err;
  auto plan = YamlToJson(one.out, "output");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ((*plan)["kind"], "DRPlan");
  EXPECT_EQ((*plan)["spec"]["namespaces"], json({"shop", "payments", "billing"}));

  CliRun two = Run({"plan", "get", "shop-to-dr", "orders-to-dr", "-o", "json"});
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_EQ(json::parse(two.out)["kind"], "List");

  CliRun names = Run({"plan", "ls", "-o", "name"});
  ASSERT_EQ(names.code, 0) << names.err;
  EXPECT_EQ(names.out, "orders-to-dr\nshop-to-dr\n");
}

TEST_F(PlanCliTest, MissingPlanIsNotFoundWithTheNearestName) {
  CreatePlans();
  CliRun r = Run({"plan", "get", "shop-to-dx"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "error: drplan \"shop-to-dx\" not found in namespace kubectl-dr-system; did you mean "
            "\"shop-to-dr\"?\n");
  EXPECT_EQ(r.out, "");

  // kubectl prints what it found, then fails for the rest.
  CliRun some = Run({"plan", "get", "orders-to-dr", "nothing-like-it", "-o", "name"});
  EXPECT_EQ(some.code, 1);
  EXPECT_EQ(some.out, "orders-to-dr\n");
  EXPECT_NE(some.err.find("drplan \"nothing-like-it\" not found"), std::string::npos) << some.err;
  EXPECT_EQ(some.err.find("did you mean"), std::string::npos) << some.err;
}

TEST_F(PlanCliTest, EmptyNamespaceSaysNoResources) {
  InstallCrds();
  CliRun r = Run({"plan", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "No resources found in kubectl-dr-system namespace.\n");
  CliRun j = Run({"plan", "list", "-o", "json"});
  EXPECT_EQ(j.code, 0) << j.err;
  EXPECT_EQ(json::parse(j.out)["items"], json::array());
}

TEST_F(PlanCliTest, ClusterWithoutTheCrdsSaysInstall) {
  CliRun r = Run({"plan", "list"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the cluster of context \"dr-west\" does not serve drplans.dr.kubectl-dr.dev/v1alpha1"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("kubectl dr install"), std::string::npos) << r.err;
}

TEST_F(PlanCliTest, GetUsageErrorsExitTwo) {
  CreatePlans();
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* want;
  };
  const Case cases[] = {
      {"bad output", {"plan", "get", "-o", "xml"}, "-o \"xml\" is not supported by plan get"},
      {"name with -A", {"plan", "get", "shop-to-dr", "-A"}, "cannot be retrieved by name across all namespaces"},
      {"bad name", {"plan", "get", "Shop"}, "plan name \"Shop\""},
      {"no verb", {"plan"}, "A subcommand is required"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

// ---- plan clone --------------------------------------------------------------------------------

TEST_F(PlanCliTest, CloneKeepsTheNamespacesThePartialFailoverLeft) {
  CreatePlans();
  CliRun r = Run({"plan", "clone", "shop-to-dr", "--name", "shop-to-dr-2", "--inventory-pvc", "shop-inventory-2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "drplan.dr.kubectl-dr.dev/shop-to-dr-2 cloned from shop-to-dr\n");
  EXPECT_NE(r.err.find("plan \"shop-to-dr-2\" protects payments, billing\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("left out shop: failed over by recovery \"shop-failover\"\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("next: create the inventory PVC kubectl-dr-system/shop-inventory-2 on the source cluster "
                       "(context \"prod-east\")"),
            std::string::npos)
      << r.err;

  auto got = GetPlan("shop-to-dr-2");
  ASSERT_TRUE(got.ok()) << got.status().message();
  EXPECT_EQ((*got)["metadata"]["annotations"]["dr.kubectl-dr.dev/cloned-from"], "shop-to-dr");
  EXPECT_EQ((*got)["metadata"]["labels"]["team"], "shop");
  EXPECT_EQ((*got)["spec"]["namespaces"], json({"payments", "billing"}));
  EXPECT_EQ((*got)["spec"]["inventory"], json({{"pvcNamespace", "kubectl-dr-system"}, {"pvcName", "shop-inventory-2"}}));
  EXPECT_EQ((*got)["spec"]["storage"]["driver"], "longhorn");
  EXPECT_EQ((*got)["spec"]["sourceContext"], "prod-east");
  EXPECT_FALSE(got->contains("status") && (*got)["status"].contains("phase")) << got->dump();

  // The clone is a plan like any other.
  CliRun list = Run({"plan", "list", "-o", "name"});
  EXPECT_EQ(list.out, "orders-to-dr\nshop-to-dr\nshop-to-dr-2\n");
}

TEST_F(PlanCliTest, CloneDryRunPrintsTheObjectAndCreatesNothing) {
  CreatePlans();
  CliRun r = Run({"plan", "clone", "shop-to-dr", "--name", "billing-to-dr", "--inventory-pvc", "billing-inventory",
                  "--inventory-namespace", "dr-inventory", "--exclude-namespaces", "payments", "--dry-run", "-o",
                  "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto obj = YamlToJson(r.out, "output");
  ASSERT_TRUE(obj.ok()) << obj.status().message() << r.out;
  EXPECT_EQ((*obj)["kind"], "DRPlan");
  EXPECT_EQ((*obj)["metadata"]["name"], "billing-to-dr");
  EXPECT_EQ((*obj)["spec"]["namespaces"], json({"billing"}));
  EXPECT_EQ((*obj)["spec"]["inventory"]["pvcNamespace"], "dr-inventory");
  EXPECT_FALSE(obj->contains("status"));
  EXPECT_NE(r.err.find("nothing was created (--dry-run)"), std::string::npos) << r.err;
  EXPECT_FALSE(GetPlan("billing-to-dr").ok());

  CliRun line = Run({"plan", "clone", "shop-to-dr", "--name", "billing-to-dr", "--inventory-pvc", "b", "--dry-run"});
  ASSERT_EQ(line.code, 0) << line.err;
  EXPECT_EQ(line.out, "drplan.dr.kubectl-dr.dev/billing-to-dr cloned from shop-to-dr (server dry run)\n");
  EXPECT_EQ(PlanCount(), 2u);
}

TEST_F(PlanCliTest, CloneOfAFullyFailedOverPlanNeedsNamespaces) {
  InstallCrds();
  CreateFixture(kPlans, "plan/spent-plan.yaml");
  CreateFixture(kRecoveries, "plan/full-failover.yaml");
  CliRun r = Run({"plan", "clone", "shop-to-dr", "--name", "shop-2", "--inventory-pvc", "inv-2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("every namespace of plan \"shop-to-dr\" (\"shop\", \"payments\", \"billing\") was failed "
                       "over by recovery \"shop-failover\""),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("with --namespaces"), std::string::npos) << r.err;
  EXPECT_EQ(PlanCount(), 1u);

  CliRun fresh = Run({"plan", "clone", "shop-to-dr", "--name", "shop-2", "--inventory-pvc", "inv-2", "--namespaces",
                      "reports,audit"});
  ASSERT_EQ(fresh.code, 0) << fresh.err;
  EXPECT_NE(fresh.err.find("protects reports, audit (not in \"shop-to-dr\": reports, audit)"), std::string::npos)
      << fresh.err;
  EXPECT_EQ((*GetPlan("shop-2"))["spec"]["namespaces"], json({"reports", "audit"}));
}

TEST_F(PlanCliTest, CloneRefusesBeforeAnyWrite) {
  CreatePlans();
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    const char* want;
  };
  const Case cases[] = {
      {"no inventory pvc", {"plan", "clone", "shop-to-dr", "--name", "n"}, 2, "--inventory-pvc is required"},
      {"no name", {"plan", "clone", "shop-to-dr", "--inventory-pvc", "p"}, 2, "--name is required"},
      {"no source", {"plan", "clone", "--name", "n", "--inventory-pvc", "p"}, 2, "SOURCE is required"},
      {"bad name", {"plan", "clone", "shop-to-dr", "--name", "New_Plan", "--inventory-pvc", "p"}, 2,
       "--name \"New_Plan\": must consist of lower case"},
      {"reused pvc", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "shop-inventory"}, 2,
       "--inventory-pvc \"shop-inventory\" is the inventory PVC of plan \"shop-to-dr\", which was failed over and "
       "can no longer be written"},
      {"name exists", {"plan", "clone", "shop-to-dr", "--name", "orders-to-dr", "--inventory-pvc", "p"}, 1,
       "drplan \"orders-to-dr\" already exists in namespace kubectl-dr-system"},
      {"missing source", {"plan", "clone", "shop-to-de", "--name", "n", "--inventory-pvc", "p"}, 1,
       "drplan \"shop-to-de\" not found in namespace kubectl-dr-system; did you mean \"shop-to-dr\"?"},
      {"failed-over namespace", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "--namespaces",
                                 "shop"},
       2, "--namespaces \"shop\" was failed over by recovery \"shop-failover\""},
      {"both namespace flags",
       {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "--namespaces", "billing",
        "--exclude-namespaces", "payments"},
       2, "cannot be used together"},
      {"empty namespace", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "--namespaces", "a,,b"},
       2, "--namespaces must not name an empty namespace"},
      {"empty flag", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "--exclude-namespaces", ""},
       2, "--exclude-namespaces must not name an empty namespace"},
      {"bad namespace", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "--namespaces",
                         "billing,Reports"},
       2, "--namespaces \"Reports\": must consist of lower case alphanumeric characters or '-'"},
      {"table output", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "-o", "wide"}, 2,
       "-o \"wide\" is not supported by plan clone: use one of yaml, json"},
      {"other namespace", {"plan", "clone", "shop-to-dr", "--name", "n", "--inventory-pvc", "p", "-n", "elsewhere"}, 1,
       "drplan \"shop-to-dr\" not found in namespace elsewhere"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, c.want_code) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(PlanCount(), 2u);
}

TEST_F(PlanCliTest, CloneOfAPlanWhoseRecoveryIsGoneNeedsNamespaces) {
  InstallCrds();
  CreateFixture(kPlans, "plan/spent-plan.yaml");
  CliRun r = Run({"plan", "clone", "shop-to-dr", "--name", "shop-2", "--inventory-pvc", "inv-2"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the recovery that spent it, \"shop-failover\", no longer exists; name the namespaces"),
            std::string::npos)
      << r.err;
}

TEST_F(PlanCliTest, CloneOfAReadyPlanKeepsAllItsNamespaces) {
  CreatePlans();
  CliRun r = Run({"plan", "clone", "orders-to-dr", "--name", "orders-2", "--inventory-pvc", "orders-inventory-2",
                  "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json created = json::parse(r.out);
  EXPECT_EQ(created["spec"]["namespaces"], json({"orders"}));
  EXPECT_FALSE(created["metadata"].value("uid", "").empty()) << "the server's object";
}

}  // namespace
}  // namespace kdr
