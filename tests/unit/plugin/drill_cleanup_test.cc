// kubectl dr drill cleanup NAME against kubesim: what a drill made on the DR site (objects labelled
// with it, the namespaces it created, its volumes) goes, and nothing else; the questions, refusals,
// idempotency and the lease.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/strings.h"
#include "cli_fixture.h"
#include "inventory/format.h"
#include "kube/lease.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;
using testing::CliRun;

const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kDeployments{"apps", "v1", "deployments"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};
const kube::Gvr kLeases{"coordination.k8s.io", "v1", "leases"};
const kube::Gvr kWidgetCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kWidgets{"example.com", "v1", "widgets"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};

using testutil::YieldingClock;

json Labelled(json meta, const std::string& recovery) {
  meta["labels"]["dr.kubectl-dr.dev/recovery"] = recovery;
  return meta;
}

class DrillCleanupTest : public testing::TwoSitesTest {
 protected:
  DrillCleanupTest() {
    // The namespace controller empties and removes deleted namespaces.
    server_options_.controllers = kubesim::ControllerOptions{};
    server_options_.controllers->longhorn = false;
    server_options_.controllers->resync_interval = std::chrono::milliseconds(100);
  }

  void SetUp() override {
    TwoSitesTest::SetUp();
    if (HasFatalFailure()) return;
    Plan("plan/ready-plan.yaml");  // orders-to-dr, driver none, namespaces [orders]
    ASSERT_FALSE(HasFatalFailure());
    Recovery("orders-drill", "Test", {{"orders", "orders-drtest"}});
  }

  void Recovery(const std::string& name, const std::string& action, json mapping = json::object()) {
    json spec = {{"planRef", {{"name", "orders-to-dr"}}}, {"action", action}};
    if (!mapping.empty()) spec["namespaceMapping"] = mapping;
    Make(*client_, kRecoveries, "kubectl-dr-system",
         {{"kind", "DRRecovery"}, {"metadata", {{"name", name}}}, {"spec", spec}});
  }

  // What the drill made: its namespace (labelled), objects in it, a PV of its claim, and a
  // labelled ClusterRole; plus an unlabelled object the namespace controller's own ServiceAccount
  // stands for.
  void MakeDrill() {
    Namespace(*client_, "orders-drtest", {{"dr.kubectl-dr.dev/recovery", "orders-drill"}});
    Make(*client_, kConfigMaps, "orders-drtest",
         {{"kind", "ConfigMap"}, {"metadata", Labelled({{"name", "settings"}}, "orders-drill")}, {"data", {{"a", "b"}}}});
    Make(*client_, kDeployments, "orders-drtest",
         {{"kind", "Deployment"},
          {"metadata", Labelled({{"name", "api"}}, "orders-drill")},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", {{"app", "api"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "api"}}}}},
              {"spec", {{"containers", json::array({{{"name", "api"}, {"image", "nginx"}}})}}}}}}}});
    Make(*client_, kVolumes, "",
         {{"kind", "PersistentVolume"},
          {"metadata", Labelled({{"name", "orders-data-drill"}}, "orders-drill")},
          {"spec",
           {{"capacity", {{"storage", "1Gi"}}},
            {"accessModes", {"ReadWriteOnce"}},
            {"hostPath", {{"path", "/tmp/orders-drill"}}},
            {"claimRef", {{"namespace", "orders-drtest"}, {"name", "data"}}}}}});
    // Provisioned for the drill's claim, so not labelled: it goes with the namespace it serves.
    Make(*client_, kVolumes, "",
         {{"kind", "PersistentVolume"},
          {"metadata", {{"name", "pvc-provisioned"}}},
          {"spec",
           {{"capacity", {{"storage", "1Gi"}}},
            {"accessModes", {"ReadWriteOnce"}},
            {"hostPath", {{"path", "/tmp/pvc-provisioned"}}},
            {"claimRef", {{"namespace", "orders-drtest"}, {"name", "cache"}}}}}});
  }

  CliRun Cleanup(std::vector<std::string> args, const std::string& stdin_text = "") {
    args.insert(args.begin(), {"--kubeconfig", kubeconfig_, "drill", "cleanup"});
    return testing::RunCli(std::move(args), Env{&yielding_, &fs_, nullptr}, stdin_text);
  }

  bool Exists(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    return client_->Get(gvr, ns, name).ok();
  }

  YieldingClock yielding_;
};

TEST_F(DrillCleanupTest, RemovesWhatTheDrillMadeAndKeepsEverythingElse) {
  MakeDrill();
  ASSERT_FALSE(HasFatalFailure());
  // The DR site's own: a namespace and PV the drill did not make, an object another drill made.
  Namespace(*client_, "orders");
  Make(*client_, kConfigMaps, "orders", {{"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}}}});
  Make(*client_, kConfigMaps, "orders",
       {{"kind", "ConfigMap"}, {"metadata", Labelled({{"name", "other"}}, "other-drill")}});
  Make(*client_, kVolumes, "",
       {{"kind", "PersistentVolume"},
        {"metadata", {{"name", "live"}}},
        {"spec", {{"capacity", {{"storage", "1Gi"}}}, {"accessModes", {"ReadWriteOnce"}}, {"hostPath", {{"path", "/tmp/live"}}}}}});

  CliRun r = Cleanup({"orders-drill", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  // Workloads before what they use, namespaces before the volumes of their claims.
  EXPECT_EQ(r.out,
            "KIND              NAMESPACE      NAME\n"
            "Deployment        orders-drtest  api\n"
            "ConfigMap         orders-drtest  settings\n"
            "Namespace         <none>         orders-drtest\n"
            "PersistentVolume  <none>         orders-data-drill\n"
            "PersistentVolume  <none>         pvc-provisioned\n"
            "drill orders-drill (plan orders-to-dr): removed 5 object(s)\n");
  EXPECT_NE(r.err.find("deleted Namespace orders-drtest"), std::string::npos) << r.err;

  EXPECT_FALSE(Exists(kNamespaces, "", "orders-drtest"));
  EXPECT_FALSE(Exists(kVolumes, "", "orders-data-drill"));
  EXPECT_FALSE(Exists(kVolumes, "", "pvc-provisioned"));
  EXPECT_TRUE(Exists(kConfigMaps, "orders", "settings"));
  EXPECT_TRUE(Exists(kConfigMaps, "orders", "other"));
  EXPECT_TRUE(Exists(kVolumes, "", "live"));

  // Again: nothing left, said so, exit 0.
  CliRun again = Cleanup({"orders-drill", "--yes"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, "drill orders-drill (plan orders-to-dr): removed 0 object(s); nothing was left to remove\n");
}

// A cleanup that died half way (its objects gone, the namespace and volumes not yet): run again,
// it finishes with what is left.
TEST_F(DrillCleanupTest, ARunAfterAnInterruptedOneFinishesTheJob) {
  MakeDrill();
  ASSERT_TRUE(client_->Delete(kDeployments, "orders-drtest", "api").ok());
  ASSERT_TRUE(client_->Delete(kConfigMaps, "orders-drtest", "settings").ok());
  CliRun r = Cleanup({"orders-drill", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "KIND              NAMESPACE  NAME\n"
            "Namespace         <none>     orders-drtest\n"
            "PersistentVolume  <none>     orders-data-drill\n"
            "PersistentVolume  <none>     pvc-provisioned\n"
            "drill orders-drill (plan orders-to-dr): removed 3 object(s)\n");
  EXPECT_FALSE(Exists(kNamespaces, "", "orders-drtest"));
  EXPECT_FALSE(Exists(kVolumes, "", "orders-data-drill"));
}

TEST_F(DrillCleanupTest, InANamespaceItDidNotCreateRemovesOnlyItsObjects) {
  // A drill mapped into an existing namespace that carries no recovery label.
  Namespace(*client_, "orders-drtest");
  Make(*client_, kConfigMaps, "orders-drtest",
       {{"kind", "ConfigMap"}, {"metadata", Labelled({{"name", "restored"}}, "orders-drill")}});
  Make(*client_, kConfigMaps, "orders-drtest", {{"kind", "ConfigMap"}, {"metadata", {{"name", "local"}}}});

  CliRun r = Cleanup({"orders-drill", "--yes", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json report = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << r.out;
  ASSERT_EQ(report["removed"].size(), 1u) << r.out;
  EXPECT_EQ(report["removed"][0]["name"], "restored");
  EXPECT_TRUE(Exists(kNamespaces, "", "orders-drtest"));
  EXPECT_TRUE(Exists(kConfigMaps, "orders-drtest", "local"));
  EXPECT_FALSE(Exists(kConfigMaps, "orders-drtest", "restored"));
}

TEST_F(DrillCleanupTest, KeepsACrdItMadeWhileObjectsOfItsKindRemain) {
  MakeDrill();
  json crd = {{"kind", "CustomResourceDefinition"},
              {"metadata", Labelled({{"name", "widgets.example.com"}}, "orders-drill")},
              {"spec",
               {{"group", "example.com"},
                {"scope", "Namespaced"},
                {"names", {{"kind", "Widget"}, {"plural", "widgets"}, {"singular", "widget"}, {"listKind", "WidgetList"}}},
                {"versions", json::array({{{"name", "v1"}, {"served", true}, {"storage", true},
                                           {"schema", {{"openAPIV3Schema", {{"type", "object"},
                                                                            {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}};
  Make(*client_, kWidgetCrds, "", crd);
  ASSERT_FALSE(HasFatalFailure());
  // Someone else's widget, outside the drill's namespace.
  Namespace(*client_, "team");
  Result<json> w = client_->Create(kWidgets, "team", {{"apiVersion", "example.com/v1"}, {"kind", "Widget"},
                                                      {"metadata", {{"name", "w1"}}}});
  ASSERT_TRUE(w.ok()) << w.status().message();

  CliRun r = Cleanup({"orders-drill", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kept: CustomResourceDefinition widgets.example.com: objects of its kind remain"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(Exists(kWidgetCrds, "", "widgets.example.com"));
  EXPECT_TRUE(Exists(kWidgets, "team", "w1"));
}

TEST_F(DrillCleanupTest, RefusalsChangeNothing) {
  MakeDrill();
  Recovery("orders-failover", "Failover");
  ASSERT_FALSE(HasFatalFailure());
  struct Case {
    std::string name;
    std::vector<std::string> args;
    int code;
    std::string want;
  } cases[] = {
      {"not confirmed, no terminal", {"orders-drill"}, 1,
       "drill cleanup of \"orders-drill\" removes 5 object(s) from the DR site; it is not confirmed and stdin is not a "
       "terminal to ask: add --yes (--dry-run lists them)"},
      {"a failover", {"orders-failover", "--yes"}, 1,
       "recovery \"orders-failover\" is a Failover, not a drill: drill cleanup removes only what a drill (a Test "
       "recovery) made"},
      {"no such recovery", {"orders-gone", "--yes"}, 1, "drrecovery \"orders-gone\" not found in namespace kubectl-dr-system"},
      {"bad name", {"Orders_Drill", "--yes"}, 2, "NAME (the drill's recovery)"},
      {"bad timeout", {"orders-drill", "--yes", "--timeout", "soon"}, 2, "soon"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Cleanup(c.args);
    EXPECT_EQ(r.code, c.code) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
  }
  // --dry-run lists and changes nothing.
  CliRun dry = Cleanup({"orders-drill", "--dry-run"});
  ASSERT_EQ(dry.code, 0) << dry.err;
  EXPECT_NE(dry.out.find("would remove 5 object(s)"), std::string::npos) << dry.out;
  EXPECT_TRUE(Exists(kNamespaces, "", "orders-drtest"));
  EXPECT_TRUE(Exists(kVolumes, "", "orders-data-drill"));
}

TEST_F(DrillCleanupTest, ALonghornPlanNeedsTheInventoryToFindTheDrillCopies) {
  Result<json> plan = client_->Get(kPlans, "kubectl-dr-system", "orders-to-dr");
  ASSERT_TRUE(plan.ok());
  (*plan)["spec"]["storage"] = {{"driver", "longhorn"}, {"parameters", {{"longhornNamespace", "longhorn-system"}}}};
  ASSERT_TRUE(client_->Update(kPlans, "kubectl-dr-system", *plan).ok());
  MakeDrill();
  CliRun r = Cleanup({"orders-drill", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("uses the longhorn driver, whose drill copies of the volumes are found through the inventory's "
                       "volume map: add --inventory-path DIR"),
            std::string::npos)
      << r.err;
  EXPECT_TRUE(Exists(kNamespaces, "", "orders-drtest"));
}

TEST_F(DrillCleanupTest, WaitsForARunHoldingThePlansLease) {
  MakeDrill();
  auto lease = kube::Lease::Acquire(client_.get(), {"kubectl-dr-system", "kubectl-dr-plan-orders-to-dr",
                                                    "alice@laptop pid 42"},
                                    &yielding_);
  ASSERT_TRUE(lease.ok()) << lease.status().message();
  CliRun r = Cleanup({"orders-drill", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("is held by alice@laptop pid 42"), std::string::npos) << r.err;
  EXPECT_TRUE(Exists(kNamespaces, "", "orders-drtest"));
  ASSERT_TRUE((*lease)->Release().ok());
  CliRun after = Cleanup({"orders-drill", "--yes"});
  EXPECT_EQ(after.code, 0) << after.err;
  EXPECT_FALSE(Exists(kNamespaces, "", "orders-drtest"));
}

// A drill copies the workloads' volumes only (dr/drill_copies.h): the cleanup asks the driver for
// those, and names them, not the inventory's.
TEST_F(DrillCleanupTest, TheDrillCopiesItRemovesAreTheWorkloadVolumesOnly) {
  const std::string inventory = dir_.path() + "/inventory";
  inventory::WriterOptions wo;
  wo.plan = {"kubectl-dr-system", "orders-to-dr"};
  auto writer = inventory::Writer::Begin(env(), inventory, wo);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  inventory::ObjectEntry entry;
  entry.version = "v1";
  entry.resource = "configmaps";
  entry.kind = "ConfigMap";
  entry.namespace_name = "orders";
  entry.name = "settings";
  ASSERT_TRUE((*writer)->Add(entry, {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
                                     {"metadata", {{"name", "settings"}, {"namespace", "orders"}}}})
                  .ok());
  inventory::Index index;
  index.plan = wo.plan;
  inventory::VolumeMapEntry inv;
  inv.pvc_namespace = "kubectl-dr-system";
  inv.pvc_name = "orders-inventory";
  inv.pv_name = "orders-inventory-pv";
  inv.inventory = true;
  inventory::VolumeMapEntry data = inv;
  data.pvc_namespace = "orders";
  data.pvc_name = "data";
  data.pv_name = "orders-data-pv";
  data.inventory = false;
  index.volumes = {inv, data};
  ASSERT_TRUE((*writer)->Commit(index).ok());

  CliRun r = Cleanup({"orders-drill", "--yes", "--inventory-path", inventory});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_EQ(r.out, "drill orders-drill (plan orders-to-dr): removed 0 object(s) and the drill copies of 1 volume(s) "
                   "(orders/data)\n");
}

// A drill whose agent ran as Jobs left, in the inventory claim's namespace, a claim of its own on
// the inventory (its PV labelled with it) and a failed agent Job kept for diagnosis: the cleanup
// removes them, and leaves the plan's inventory claim, which is not the drill's.
TEST_F(DrillCleanupTest, AfterADrillWithTheAgentAsJobsRemovesItsInventoryClaimAndTheKeptJob) {
  MakeDrill();
  ASSERT_FALSE(HasFatalFailure());
  const std::string claim = "kubectl-dr-inventory-orders-drill";
  Make(*client_, kVolumes, "",
       {{"kind", "PersistentVolume"},
        {"metadata", Labelled({{"name", claim}}, "orders-drill")},
        {"spec",
         {{"capacity", {{"storage", "1Gi"}}},
          {"accessModes", {"ReadWriteOnce"}},
          {"persistentVolumeReclaimPolicy", "Retain"},
          {"hostPath", {{"path", "/tmp/orders-inventory"}}},
          {"claimRef", {{"namespace", "kubectl-dr-system"}, {"name", claim}}}}}});
  for (const std::string& name : {claim, std::string("orders-inventory")}) {
    json meta = {{"name", name}};
    if (name == claim) meta = Labelled(meta, "orders-drill");
    Make(*client_, kClaims, "kubectl-dr-system",
         {{"kind", "PersistentVolumeClaim"},
          {"metadata", meta},
          {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }
  Make(*client_, kJobs, "kubectl-dr-system",
       {{"kind", "Job"},
        {"metadata",
         {{"name", "kubectl-dr-restore-orders-drill"}, {"labels", {{"dr.kubectl-dr.dev/agent-for", "orders-drill"}}}}},
        {"spec",
         {{"backoffLimit", 0},
          {"template",
           {{"spec",
             {{"restartPolicy", "Never"},
              {"containers", json::array({{{"name", "agent"}, {"image", "ghcr.io/kubectl-dr/kubectl-dr:v0.1.0"}}})}}}}}}}});

  CliRun r = Cleanup({"orders-drill", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  // The rows of what it removed: KIND NAMESPACE NAME.
  auto listed = [&](const std::string& kind, const std::string& ns, const std::string& name) {
    for (const std::string& line : Split(r.out, '\n')) {
      std::vector<std::string> cells;
      for (const std::string& cell : Split(line, ' ')) {
        if (!cell.empty()) cells.push_back(cell);
      }
      if (cells == std::vector<std::string>{kind, ns, name}) return true;
    }
    return false;
  };
  EXPECT_TRUE(listed("Job", "kubectl-dr-system", "kubectl-dr-restore-orders-drill")) << r.out;
  EXPECT_TRUE(listed("PersistentVolumeClaim", "kubectl-dr-system", claim)) << r.out;
  EXPECT_TRUE(listed("PersistentVolume", "<none>", claim)) << r.out;
  EXPECT_FALSE(Exists(kJobs, "kubectl-dr-system", "kubectl-dr-restore-orders-drill"));
  EXPECT_FALSE(Exists(kClaims, "kubectl-dr-system", claim));
  EXPECT_FALSE(Exists(kVolumes, "", claim));
  EXPECT_TRUE(Exists(kClaims, "kubectl-dr-system", "orders-inventory")) << "the plan's inventory claim is not the drill's";
}

}  // namespace
}  // namespace kdr::plugin
