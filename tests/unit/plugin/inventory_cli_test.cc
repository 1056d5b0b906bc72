// kubectl dr inventory capture|show, in-process against two kubesim clusters: the target (context
// dr-west) holds the plans, the source (context prod-east) the workloads. The inventory goes to a
// temp directory, as with --agent local on a machine that mounts the inventory volume.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/yaml.h"
#include "cli_fixture.h"
#include "dr/agent_job.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using plugin::testing::CliRun;

const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kDeployments{"apps", "v1", "deployments"};

class InventoryCliTest : public plugin::testing::TwoSitesTest {
 protected:
  void SetUp() override {
    TwoSitesTest::SetUp();
    if (HasFatalFailure()) return;
    Plan("plan/ready-plan.yaml");  // orders-to-dr: namespace orders
    Plan("plan/spent-plan.yaml");  // shop-to-dr
    inventory_ = dir_.path() + "/inventory";
  }

  // The orders namespace on the source: a config map and a deployment.
  void Orders() {
    Make(*source_client_, kNamespaces, "", {{"kind", "Namespace"}, {"metadata", {{"name", "orders"}}}});
    Make(*source_client_, kConfigMaps, "orders",
         {{"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}}}, {"data", {{"a", "1"}}}});
    json labels = {{"app", "api"}};
    Make(*source_client_, kDeployments, "orders",
         {{"kind", "Deployment"},
          {"metadata", {{"name", "api"}}},
          {"spec", {{"replicas", 1},
                    {"selector", {{"matchLabels", labels}}},
                    {"template", {{"metadata", {{"labels", labels}}},
                                  {"spec", {{"containers", json::array({{{"name", "api"}, {"image", "api:1"}}})}}}}}}}});
  }

  CliRun Capture(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"inventory", "capture", "--plan", "orders-to-dr", "--agent", "local",
                                     "--inventory-path", inventory_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  std::string inventory_;
};

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST_F(InventoryCliTest, CapturesLocallyThenShowsGenerationsKindsVolumesAndRpo) {
  Orders();
  CliRun c = Capture();
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out, "inventory generation 1 captured in " + inventory_ +
                       ": 3 objects of 3 kinds, 0 volumes, 0 left out; recovery point 2026-01-01T00:00:00Z\n");
  EXPECT_TRUE(Contains(c.err, "capturing plan \"orders-to-dr\" from the source cluster (context \"prod-east\")"))
      << c.err;
  // The plan's inventory claim does not exist on this source: said, not fatal.
  EXPECT_TRUE(Contains(c.err, "warning: cannot read the plan's inventory claim kubectl-dr-system/orders-inventory"))
      << c.err;

  clock_.Advance(std::chrono::minutes(5));
  CliRun s = Run({"inventory", "show", "--inventory-path", inventory_});
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_TRUE(Contains(s.out,
                       "GENERATION  CURRENT  CAPTURED              OBJECTS  STATE\n"
                       "1           true     2026-01-01T00:00:00Z  3        complete\n"))
      << s.out;
  for (const std::string& want :
       {std::string("Generation:  1 (current)\n"), std::string("Plan:        kubectl-dr-system/orders-to-dr\n"),
        std::string("Namespaces:  orders\n"), "Source:      " + source_->url() + " (kube-system uid ",
        std::string("Captured:    2026-01-01T00:00:00Z to 2026-01-01T00:00:00Z (0s) by kubectl-dr "),
        std::string("RPO:         5m (now - capture end)\n"), std::string("Objects:     3 (verified)\n"),
        std::string("KIND             COUNT\n"
                    "ConfigMap        1\n"
                    "Deployment.apps  1\n"
                    "Namespace        1\n"),
        std::string("No volumes.\n"), std::string("Warnings:\n  cannot read the plan's inventory claim")}) {
    EXPECT_TRUE(Contains(s.out, want)) << "want:\n" << want << "\nin:\n" << s.out;
  }
}

TEST_F(InventoryCliTest, ShowAsJsonCarriesTheIndexCountsAndRpo) {
  Orders();
  ASSERT_EQ(Capture().code, 0);
  clock_.Advance(std::chrono::seconds(90));
  CliRun s = Run({"inventory", "show", "--inventory-path", inventory_, "-o", "json"});
  ASSERT_EQ(s.code, 0) << s.err;
  json doc = json::parse(s.out);
  EXPECT_EQ(doc["generation"], 1);
  EXPECT_EQ(doc["current"], true);
  EXPECT_EQ(doc["rpoSeconds"], 90);
  EXPECT_EQ(doc["countsByKind"], json({{"ConfigMap", 1}, {"Deployment.apps", 1}, {"Namespace", 1}}));
  EXPECT_EQ(doc["index"]["plan"], json({{"namespace", "kubectl-dr-system"}, {"name", "orders-to-dr"}}));
  EXPECT_EQ(doc["index"]["objects"].size(), 3u);
  EXPECT_EQ(doc["generations"][0]["state"], "complete");
  CliRun y = Run({"inventory", "show", "--inventory-path", inventory_, "-o", "yaml"});
  ASSERT_EQ(y.code, 0) << y.err;
  auto parsed = YamlToJson(y.out, "show -o yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ((*parsed)["generation"], 1);
}

TEST_F(InventoryCliTest, KeepPrunesOlderGenerationsAndShowNamesTheKeptOnes) {
  Orders();
  ASSERT_EQ(Capture().code, 0);
  ASSERT_EQ(Capture().code, 0);
  CliRun third = Capture({"--keep", "2", "-o", "json"});
  ASSERT_EQ(third.code, 0) << third.err;
  EXPECT_EQ(json::parse(third.out)["generation"], 3);
  CliRun s = Run({"inventory", "show", "--inventory-path", inventory_, "--generation", "1"});
  EXPECT_EQ(s.code, 1);
  EXPECT_TRUE(Contains(s.err, "generation 1 is not kept in " + inventory_ + " (kept: 3, 2)")) << s.err;
  CliRun two = Run({"inventory", "show", "--inventory-path", inventory_, "--generation", "2"});
  ASSERT_EQ(two.code, 0) << two.err;
  EXPECT_TRUE(Contains(two.out, "Generation:  2\n")) << two.out;
}

TEST_F(InventoryCliTest, ShowRefusesATornGenerationListingTheOthers) {
  const std::string torn = testutil::DataPath("inventory/torn");
  CliRun s = Run({"inventory", "show", "--inventory-path", torn});
  EXPECT_EQ(s.code, 1);
  EXPECT_EQ(s.out,
            "GENERATION  CURRENT  CAPTURED              OBJECTS  STATE\n"
            "2           true     2026-01-02T00:00:07Z  2        complete\n"
            "1           false    2026-01-01T00:00:07Z  2        complete\n");
  EXPECT_TRUE(Contains(s.err, "error: generation 2 of the inventory in " + torn + " is torn: ")) << s.err;
  EXPECT_TRUE(Contains(s.err, "web.json differs from")) << s.err;
  EXPECT_TRUE(Contains(s.err, "use the previous generation: --generation 1\n")) << s.err;
  CliRun prev = Run({"inventory", "show", "--inventory-path", torn, "--generation", "1"});
  ASSERT_EQ(prev.code, 0) << prev.err;
  EXPECT_TRUE(Contains(prev.out, "Generation:  1\n")) << prev.out;

  CliRun future = Run({"inventory", "show", "--inventory-path", testutil::DataPath("inventory/future-version")});
  EXPECT_EQ(future.code, 1);
  EXPECT_TRUE(Contains(future.err, "is format v2")) << future.err;
  EXPECT_TRUE(Contains(future.err, "upgrade kubectl-dr")) << future.err;
}

TEST_F(InventoryCliTest, ASecondCaptureIsRefusedNamingTheFirst) {
  Orders();
  inventory::WriterOptions o;
  o.plan = {"kubectl-dr-system", "orders-to-dr"};
  o.holder = "capture-agent-x7k2 pid 1";
  auto running = inventory::Writer::Begin(env(), inventory_, o);
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  CliRun c = Capture();
  EXPECT_EQ(c.code, 1);
  EXPECT_TRUE(Contains(c.err, "is being captured by capture-agent-x7k2 pid 1 (plan kubectl-dr-system/orders-to-dr"))
      << c.err;
  EXPECT_TRUE(Contains(c.err, "wait for that capture to finish")) << c.err;
}

TEST_F(InventoryCliTest, BadRequestsFailWithWhatToDo) {
  Orders();
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    std::vector<std::string> want;
  };
  const std::string dir = dir_.path() + "/inv-bad";
  const Case cases[] = {
      {"capture without plan", {"inventory", "capture", "--agent", "local", "--inventory-path", dir}, 2,
       {"--plan is required"}},
      {"agent job without the cronjob", {"inventory", "capture", "--plan", "orders-to-dr"}, 1,
       {"the capture cronjob ", "/" + dr::CaptureCronJobName("orders-to-dr") + " is not on the source cluster",
        "install it: kubectl dr agent install --plan orders-to-dr", "--agent local --inventory-path DIR"}},
      {"agent job with a path", {"inventory", "capture", "--plan", "orders-to-dr", "--inventory-path", dir}, 2,
       {"--inventory-path is where --agent local writes"}},
      {"agent job bad timeout", {"inventory", "capture", "--plan", "orders-to-dr", "--timeout", "0s"}, 2,
       {"--timeout must be positive"}},
      {"agent local without path", {"inventory", "capture", "--plan", "orders-to-dr", "--agent", "local"}, 2,
       {"--agent local needs --inventory-path DIR"}},
      {"unknown agent", {"inventory", "capture", "--plan", "orders-to-dr", "--agent", "pod"}, 2,
       {"--agent \"pod\" is not one of job, local"}},
      {"keep zero", {"inventory", "capture", "--plan", "orders-to-dr", "--agent", "local", "--inventory-path", dir,
                     "--keep", "0"}, 2,
       {"--keep must be at least 1"}},
      {"output wide", {"inventory", "capture", "--plan", "orders-to-dr", "--agent", "local", "--inventory-path", dir,
                       "-o", "wide"}, 2,
       {"-o \"wide\" is not supported by inventory capture"}},
      {"plan missing", {"inventory", "capture", "--plan", "orders-to-dx", "--agent", "local", "--inventory-path", dir},
       1, {"drplan \"orders-to-dx\" not found in namespace kubectl-dr-system", "did you mean \"orders-to-dr\"?"}},
      {"plan spent", {"inventory", "capture", "--plan", "shop-to-dr", "--agent", "local", "--inventory-path", dir}, 1,
       {"plan \"shop-to-dr\" was spent by \"shop-failover\"", "kubectl dr plan clone shop-to-dr"}},
      {"show without path", {"inventory", "show"}, 2, {"needs --inventory-path DIR"}},
      {"show by plan", {"inventory", "show", "--plan", "orders-to-dr"}, 1,
       {"through its claim is not built yet", "--inventory-path DIR"}},
      {"show generation zero", {"inventory", "show", "--inventory-path", dir, "--generation", "0"}, 2,
       {"--generation must be at least 1"}},
      {"show no inventory", {"inventory", "show", "--inventory-path", dir}, 1,
       {"inventory directory " + dir + " does not exist"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, c.want_code) << r.err;
    for (const std::string& w : c.want) EXPECT_TRUE(Contains(r.err, w)) << "want \"" << w << "\" in: " << r.err;
    EXPECT_FALSE(fs_.Exists(dir)) << "nothing is written on a bad request";
  }
}

TEST_F(InventoryCliTest, APlanNamespaceMissingOnTheSourceIsNamed) {
  // No orders namespace on the source.
  CliRun c = Capture();
  EXPECT_EQ(c.code, 1);
  EXPECT_TRUE(Contains(c.err, "namespace \"orders\" of plan \"kubectl-dr-system/orders-to-dr\" does not exist on "
                              "the source cluster (" + source_->url() + ")"))
      << c.err;
  EXPECT_FALSE(fs_.Exists(inventory_));
}

}  // namespace
}  // namespace kdr
