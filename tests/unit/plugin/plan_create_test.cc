// kubectl dr plan create|describe|delete, in-process against two kubesim clusters in one
// kubeconfig: the target (context dr-west) holding the product's CRDs and the plans, the source
// (context prod-east) the workloads. The Longhorn tests run kubesim's Longhorn simulation on both
// sites over a shared backup store.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "cli_fixture.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kubesim/controllers.h"
#include "kubesim/longhorn.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using plugin::testing::CliRun;

const kube::Gvr kSecrets{"", "v1", "secrets"};
const kube::Gvr kPvs{"", "v1", "persistentvolumes"};
const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};
const kube::Gvr kLhVolumes{"longhorn.io", "v1beta2", "volumes"};
const kube::Gvr kLhBackupTargets{"longhorn.io", "v1beta2", "backuptargets"};

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// True once pred() holds, checking every 10ms for up to 20s of real time (kubesim's controllers
// are other threads: this bounds the wait, it never decides an outcome).
bool Eventually(const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class PlanCreateTest : public plugin::testing::TwoSitesTest {
 protected:
  void SetUp() override {
    TwoSitesTest::SetUp();
    if (HasFatalFailure()) return;
    Namespace(*source_client_, "shop");
    Namespace(*source_client_, "payments");
    Namespace(*source_client_, "kubectl-dr-system");
    Claim("kubectl-dr-system", "shop-inventory");
  }

  // plan create NAME with a valid set of flags, `extra` appended (a repeated flag replaces the
  // earlier value, as CLI11 keeps the last).
  CliRun Create(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"plan", "create", name, "--source-context", "prod-east", "--target-context",
                                     "dr-west", "--namespaces", "shop,payments", "--inventory-pvc",
                                     "kubectl-dr-system/shop-inventory", "--storage", "none"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  size_t PlanCount() {
    auto list = client_->List(kPlans, "kubectl-dr-system");
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? (*list)["items"].size() : 0;
  }

  // A recovery of `plan` on the target, in `phase` ("" = not started).
  void Recovery(const std::string& name, const std::string& plan, const std::string& phase) {
    auto made = client_->Create(kRecoveries, "kubectl-dr-system",
                                {{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"},
                                 {"kind", "DRRecovery"},
                                 {"metadata", {{"name", name}}},
                                 {"spec", {{"planRef", {{"name", plan}}}, {"action", "Failover"}}}});
    ASSERT_TRUE(made.ok()) << made.status().message();
    if (phase.empty()) return;
    (*made)["status"] = {{"phase", phase},
                         {"steps", json::array({{{"name", "Preflight"}, {"state", "Succeeded"}, {"attempts", 1}},
                                                {{"name", "QuiesceSource"}, {"state", "Running"}, {"attempts", 1}}})}};
    ASSERT_TRUE(client_->UpdateStatus(kRecoveries, "kubectl-dr-system", *made).ok());
  }
};

// ---- create ------------------------------------------------------------------------------------

TEST_F(PlanCreateTest, WritesThePlanToTheTargetReadyAndSaysWhatItDid) {
  CliRun r = Create("shop-to-dr", {"--schedule", " */15 * * * * "});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "drplan.dr.kubectl-dr.dev/shop-to-dr created\n");
  EXPECT_TRUE(Contains(r.err, "plan \"shop-to-dr\" on context \"dr-west\": protects shop, payments of prod-east, "
                              "inventory kubectl-dr-system/shop-inventory, storage none"))
      << r.err;
  EXPECT_TRUE(Contains(r.err, "schedule \"*/15 * * * *\" stored in the plan; install the capture CronJob on the "
                              "source with: kubectl dr --context dr-west agent install --plan shop-to-dr"))
      << r.err;

  auto plan = client_->Get(kPlans, "kubectl-dr-system", "shop-to-dr");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const json& spec = (*plan)["spec"];
  EXPECT_EQ(spec["sourceContext"], "prod-east");
  EXPECT_EQ(spec["targetContext"], "dr-west");
  EXPECT_EQ(spec["namespaces"], json({"shop", "payments"}));
  EXPECT_EQ(spec["inventory"], json({{"pvcNamespace", "kubectl-dr-system"}, {"pvcName", "shop-inventory"}}));
  EXPECT_EQ(spec["storage"]["driver"], "none");
  EXPECT_EQ(spec["schedule"], "*/15 * * * *");
  EXPECT_EQ((*plan)["status"]["phase"], "Ready");
  // Nothing of the plan on the source.
  EXPECT_FALSE(source_client_->Get(kPlans, "kubectl-dr-system", "shop-to-dr").ok());
}

TEST_F(PlanCreateTest, PrintsTheCreatedPlanAsYaml) {
  CliRun r = Create("shop-to-dr", {"-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "kind: DRPlan")) << r.out;
  EXPECT_TRUE(Contains(r.out, "uid: ")) << "the object as the server stored it:\n" << r.out;
  EXPECT_TRUE(Contains(r.out, "phase: Ready")) << r.out;
}

TEST_F(PlanCreateTest, DryRunPrintsThePlanAndWritesNothing) {
  CliRun r = Create("shop-to-dr", {"--dry-run", "-o", "yaml"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "name: shop-to-dr")) << r.out;
  EXPECT_TRUE(Contains(r.out, "sourceContext: prod-east")) << r.out;
  EXPECT_TRUE(Contains(r.err, "nothing was created (--dry-run)")) << r.err;
  EXPECT_EQ(PlanCount(), 0u);
}

struct BadFlags {
  std::string name;
  std::vector<std::string> extra;
  std::string want;
};

TEST_F(PlanCreateTest, RefusesBadFlagsBeforeReachingAnyCluster) {
  const BadFlags cases[] = {
      {"plan name", {}, "NAME (the plan) \"Shop\""},
      {"same contexts", {"--source-context", "dr-west"}, "--source-context and --target-context are both \"dr-west\""},
      {"empty namespace item", {"--namespaces", "shop,,payments"}, "--namespaces \"shop,,payments\" has an empty item"},
      {"bad namespace", {"--namespaces", "Shop"}, "--namespaces \"Shop\""},
      {"namespace twice", {"--namespaces", "shop,shop"}, "--namespaces names \"shop\" twice"},
      {"pvc without namespace", {"--inventory-pvc", "shop-inventory"}, "is not NAMESPACE/NAME"},
      {"pvc with two slashes", {"--inventory-pvc", "a/b/c"}, "is not NAMESPACE/NAME"},
      {"bad pvc name", {"--inventory-pvc", "shop/Inv_1"}, "--inventory-pvc name \"Inv_1\""},
      {"unknown driver", {"--storage", "longhron"}, "--storage \"longhron\" is not one of alletra, longhorn, none; "
                                                    "did you mean \"longhorn\"?"},
      {"param without =", {"--storage", "longhorn", "--storage-param", "longhornNamespace"},
       "--storage-param \"longhornNamespace\" is not KEY=VALUE"},
      {"param twice", {"--storage", "longhorn", "--storage-param", "longhornNamespace=a", "--storage-param",
                       "longhornNamespace=b"}, "--storage-param gives \"longhornNamespace\" twice"},
      {"unknown longhorn param", {"--storage", "longhorn", "--storage-param", "longhornNamspace=x"},
       "longhornNamspace"},
      {"alletra without arrays", {"--storage", "alletra"}, "sourceArray"},
      {"bad secret name", {"--credentials-secret", "Arrays!"}, "--credentials-secret \"Arrays!\""},
      {"schedule fields", {"--schedule", "*/15 * * *"}, "--schedule \"*/15 * * *\": has 4 fields"},
      {"schedule range", {"--schedule", "0 25 * * *"}, "hour \"25\" is out of range 0-23"},
      {"schedule day 7", {"--schedule", "0 0 * * 7"}, "day of week \"7\" is out of range 0-6"},
      {"schedule name", {"--schedule", "0 0 * foo *"}, "month \"foo\" is not a number or a name (jan-dec)"},
      {"schedule step", {"--schedule", "*/0 * * * *"}, "the step after / must be a positive number"},
      {"schedule reversed range", {"--schedule", "0 9-5 * * *"}, "hour range \"9-5\" ends before it starts"},
      {"schedule descriptor", {"--schedule", "@fortnightly"}, "unknown descriptor"},
      {"schedule every", {"--schedule", "@every 0m"}, "@every needs a positive duration"},
      {"schedule time zone", {"--schedule", "TZ=UTC 0 0 * * *"}, "a time zone in the schedule is refused"},
      {"timeout", {"--timeout", "soon"}, "soon"},
      {"output", {"-o", "table"}, "-o \"table\" is not supported by plan create"},
  };
  for (const BadFlags& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Create(c.name == "plan name" ? "Shop" : "shop-to-dr", c.extra);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_TRUE(Contains(r.err, c.want)) << r.err;
  }
  EXPECT_EQ(PlanCount(), 0u);
}

TEST_F(PlanCreateTest, AcceptsEveryScheduleFormKubernetesAccepts) {
  const char* schedules[] = {"*/15 * * * *", "0 2 * * mon-fri", "30 1 1,15 * *", "0 0 1 JAN ?", "5-55/10 */2 * * 0",
                             "@hourly", "@daily", "@every 30m", "  0   3 * * sun  "};
  int i = 0;
  for (const char* s : schedules) {
    SCOPED_TRACE(s);
    CliRun r = Create("plan-" + std::to_string(i++), {"--schedule", s, "--dry-run"});
    EXPECT_EQ(r.code, 0) << r.err;
  }
}

TEST_F(PlanCreateTest, ListsEveryFlagProblemAtOnce) {
  CliRun r = Run({"plan", "create", "shop-to-dr", "--source-context", "prod-east", "--target-context", "dr-west",
                  "--namespaces", "shop,,Pay", "--inventory-pvc", "inventory", "--storage", "nfs", "--schedule",
                  "every hour"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(Contains(r.err, "error: plan \"shop-to-dr\" not created: 5 problems:\n")) << r.err;
  for (const char* part : {"has an empty item", "--namespaces \"Pay\"", "is not NAMESPACE/NAME",
                           "--storage \"nfs\" is not one of", "--schedule \"every hour\": has 2 fields"}) {
    EXPECT_TRUE(Contains(r.err, part)) << part << " in:\n" << r.err;
  }
}

TEST_F(PlanCreateTest, ListsEveryProblemOnTheSitesAtOnceAndWritesNothing) {
  Plan("plan/ready-plan.yaml");  // orders-to-dr, whose inventory is kubectl-dr-system/orders-inventory
  CliRun r = Run({"plan", "create", "orders-to-dr", "--source-context", "prod-east", "--target-context", "dr-west",
                  "--namespaces", "shop,shp,billing", "--inventory-pvc", "kubectl-dr-system/shop-inventroy",
                  "--storage", "alletra", "--storage-param", "sourceArray=array-a", "--storage-param",
                  "targetArray=array-b", "--credentials-secret", "arrays"});
  EXPECT_EQ(r.code, 1) << r.err;
  for (const char* part :
       {"drplan \"orders-to-dr\" already exists in namespace kubectl-dr-system on the target",
        "namespace \"shp\" (--namespaces) does not exist on the source (context \"prod-east\"); did you mean \"shop\"?",
        "namespace \"billing\" (--namespaces) does not exist on the source",
        "--inventory-pvc kubectl-dr-system/shop-inventroy does not exist on the source (context \"prod-east\"): create "
        "it there first",
        "did you mean \"shop-inventory\"?", "--credentials-secret: Secret kubectl-dr-system/arrays"}) {
    EXPECT_TRUE(Contains(r.err, part)) << part << " in:\n" << r.err;
  }
  EXPECT_TRUE(Contains(r.err, "5 problems:")) << r.err;
  EXPECT_EQ(PlanCount(), 1u);
}

TEST_F(PlanCreateTest, RefusesAnInventoryClaimAnotherPlanUses) {
  Claim("kubectl-dr-system", "orders-inventory");
  Plan("plan/ready-plan.yaml");
  CliRun r = Create("shop-to-dr", {"--inventory-pvc", "kubectl-dr-system/orders-inventory"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "already holds the inventory of plan \"orders-to-dr\": each plan needs its own"))
      << r.err;
}

TEST_F(PlanCreateTest, NamesAContextMissingFromTheKubeconfig) {
  CliRun r = Create("shop-to-dr", {"--source-context", "prod-eats"});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(Contains(r.err, "reaching the source cluster (context \"prod-eats\")")) << r.err;
  EXPECT_TRUE(Contains(r.err, "prod-east")) << "the nearest context is offered:\n" << r.err;
  EXPECT_EQ(PlanCount(), 0u);
}

TEST_F(PlanCreateTest, ChecksTheCredentialsSecretWithTheDriver) {
  Make(*client_, kSecrets, "kubectl-dr-system",
       {{"kind", "Secret"}, {"metadata", {{"name", "arrays"}}}, {"data", {{"username", "M3BhcmFkbQ=="}}}});
  CliRun r = Create("shop-to-dr", {"--storage", "alletra", "--storage-param", "sourceArray=array-a",
                                   "--storage-param", "targetArray=array-b", "--credentials-secret", "arrays"});
  EXPECT_EQ(r.code, 2) << r.err;
  for (const char* key : {"sourceUrl", "targetUrl", "password"}) {
    EXPECT_TRUE(Contains(r.err, key)) << key << " in:\n" << r.err;
  }
  EXPECT_EQ(PlanCount(), 0u);
}

TEST_F(PlanCreateTest, RefusesATargetWithoutKubectlDr) {
  // The source has no DRPlan CRD: used as the target, it is named with what to do.
  CliRun r = Create("shop-to-dr", {"--source-context", "dr-west", "--target-context", "prod-east"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "does not serve drplans.dr.kubectl-dr.dev: install kubectl-dr there first (kubectl dr "
                              "install --context prod-east)"))
      << r.err;
}

// ---- describe ----------------------------------------------------------------------------------

TEST_F(PlanCreateTest, DescribeShowsTheSpecPhaseAndTheRecoveriesUsingIt) {
  ASSERT_EQ(Create("shop-to-dr", {"--schedule", "@hourly"}).code, 0);
  Recovery("shop-failover", "shop-to-dr", "");
  Recovery("shop-drill", "shop-to-dr", "Running");
  Recovery("other", "orders-to-dr", "");
  CliRun r = Run({"plan", "describe", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* line : {"Name:           shop-to-dr\n", "Source:         context \"prod-east\"\n",
                           "Target:         context \"dr-west\"\n", "Namespaces:     shop, payments\n",
                           "Inventory PVC:  kubectl-dr-system/shop-inventory\n", "Storage:        none\n",
                           "Parameters:     <none>\n", "Schedule:       @hourly\n", "Phase:          Ready\n",
                           "Last capture:   <none recorded>", "Recoveries:\n"}) {
    EXPECT_TRUE(Contains(r.out, line)) << line << " in:\n" << r.out;
  }
  EXPECT_TRUE(Contains(r.out, "shop-failover  Failover  Pending")) << r.out;
  EXPECT_TRUE(Contains(r.out, "shop-drill     Failover  Running  QuiesceSource (2/")) << r.out;
  EXPECT_FALSE(Contains(r.out, "other")) << r.out;
}

TEST_F(PlanCreateTest, DescribeShowsTheRecoveryThatSpentThePlan) {
  Plan("plan/spent-plan.yaml");
  CliRun r = Run({"plan", "describe", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Phase:          Spent (by recovery \"shop-failover\"")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Storage:        longhorn\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "Recoveries:     <none>")) << r.out;
}

TEST_F(PlanCreateTest, DescribeShowsTheLastCaptureTheAgentRecorded) {
  ASSERT_EQ(Create("shop-to-dr").code, 0);
  auto plan = client_->Get(kPlans, "kubectl-dr-system", "shop-to-dr");
  ASSERT_TRUE(plan.ok());
  // As kubectl-dr agent capture records it.
  (*plan)["status"]["lastCapture"] = {{"generation", 7}, {"capturedAt", "2025-12-31T23:55:00Z"}, {"objects", 412}};
  ASSERT_TRUE(client_->UpdateStatus(kPlans, "kubectl-dr-system", *plan).ok());
  CliRun r = Run({"plan", "describe", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "Last capture:   2025-12-31T23:55:00Z (5m ago), generation 7, 412 objects\n")) << r.out;
}

TEST_F(PlanCreateTest, DescribeOffersTheNearestPlanName) {
  Plan("plan/ready-plan.yaml");
  CliRun r = Run({"plan", "describe", "orders-to-rd"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "drplan \"orders-to-rd\" not found in namespace kubectl-dr-system")) << r.err;
  EXPECT_TRUE(Contains(r.err, "did you mean \"orders-to-dr\"?")) << r.err;
}

// ---- delete ------------------------------------------------------------------------------------

TEST_F(PlanCreateTest, DeleteRefusesWhileARecoveryOfThePlanRuns) {
  ASSERT_EQ(Create("shop-to-dr").code, 0);
  Recovery("shop-failover", "shop-to-dr", "Running");
  CliRun r = Run({"plan", "delete", "shop-to-dr", "--yes"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "plan \"shop-to-dr\" is in use by running recovery shop-failover (step QuiesceSource"))
      << r.err;
  EXPECT_EQ(PlanCount(), 1u);
}

TEST_F(PlanCreateTest, DeleteAsksFirstAndRefusesWithoutATerminal) {
  ASSERT_EQ(Create("shop-to-dr").code, 0);
  CliRun r = Run({"plan", "delete", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Contains(r.err, "stdin is not a terminal to ask: add --yes")) << r.err;
  EXPECT_EQ(PlanCount(), 1u);
}

TEST_F(PlanCreateTest, DeleteWithYesDeletesThePlanAndNamesTheRecoveriesLeft) {
  ASSERT_EQ(Create("shop-to-dr").code, 0);
  Recovery("shop-failover", "shop-to-dr", "");
  CliRun r = Run({"plan", "delete", "shop-to-dr", "--yes"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "drplan.dr.kubectl-dr.dev \"shop-to-dr\" deleted\n");
  EXPECT_TRUE(Contains(r.err, "recoveries shop-failover still name it")) << r.err;
  EXPECT_EQ(PlanCount(), 0u);
}

// ---- Longhorn ----------------------------------------------------------------------------------

// A Clock whose sleeps advance fake time at once and let a little real time pass (a hundredth,
// at most 10ms): Protect's polls wait on simulated controllers in other threads. Fake deadlines
// decide every outcome.
class PollClock final : public Clock {
 public:
  WallTime Now() const override { return fake_.Now(); }
  MonoTime Monotonic() const override { return fake_.Monotonic(); }
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override {
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(d / 100, std::chrono::milliseconds(10)));
    return fake_.SleepFor(d, stop);
  }

 private:
  testutil::FakeClock fake_;
};

// Both sites run kubesim's Longhorn over one backup store; the source holds active Longhorn
// volumes bound to the plan's claims.
class LonghornPlanCreateTest : public PlanCreateTest {
 protected:
  LonghornPlanCreateTest() {
    kubesim::ControllerOptions c;
    c.pvc = false;
    c.workloads = false;
    c.longhorn_backupstore = store_.path();
    c.resync_interval = std::chrono::milliseconds(200);
    c.longhorn_data_dir = target_volumes_.path();
    server_options_.controllers = c;
    c.longhorn_data_dir = source_volumes_.path();
    source_options_.controllers = c;
  }

  void SetUp() override {
    PlanCreateTest::SetUp();
    if (HasFatalFailure()) return;
    for (kube::Client* c : {client_.get(), source_client_.get()}) {
      ASSERT_TRUE(Eventually([&] { return c->Get(kLhBackupTargets, "longhorn-system", "default").ok(); }));
    }
    LonghornClaim("shop", "orders", "shop-orders-vol");
    LonghornClaim("kubectl-dr-system", "lh-inventory", "shop-inventory-vol");
  }

  // An active Longhorn volume on the source holding "v1 of VOLUME" (its file "data"), its CSI PV
  // and a claim on it.
  void LonghornClaim(const std::string& ns, const std::string& pvc, const std::string& volume) {
    PosixFileSystem fs;
    const std::string dir = kubesim::LonghornVolumeDir(source_volumes_.path(), volume);
    ASSERT_TRUE(fs.MakeDirs(dir).ok());
    ASSERT_TRUE(fs.WriteFile(dir + "/data", "v1 of " + volume).ok());
    Make(*source_client_, kLhVolumes, "longhorn-system",
         {{"kind", "Volume"},
          {"metadata", {{"name", volume}}},
          {"spec", {{"size", "1073741824"}, {"numberOfReplicas", 3}, {"frontend", "blockdev"}, {"standby", false}}}});
    Make(*source_client_, kPvs, "",
         {{"kind", "PersistentVolume"},
          {"metadata", {{"name", volume + "-pv"}}},
          {"spec",
           {{"capacity", {{"storage", "1Gi"}}},
            {"accessModes", {"ReadWriteOnce"}},
            {"persistentVolumeReclaimPolicy", "Retain"},
            {"csi", {{"driver", "driver.longhorn.io"}, {"volumeHandle", volume}, {"fsType", "ext4"}}}}}});
    Make(*source_client_, kClaims, ns,
         {{"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", pvc}}},
          {"spec",
           {{"accessModes", {"ReadWriteOnce"}},
            {"volumeName", volume + "-pv"},
            {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }

  CliRun CreateLonghorn(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--kubeconfig", kubeconfig_, "plan", "create", "shop-to-dr", "--source-context",
                                     "prod-east", "--target-context", "dr-west", "--namespaces", "shop",
                                     "--inventory-pvc", "kubectl-dr-system/lh-inventory", "--storage", "longhorn"};
    args.insert(args.end(), extra.begin(), extra.end());
    return plugin::testing::RunCli(args, Env{&poll_clock_, &fs_, nullptr});
  }

  testutil::TempDir store_;
  testutil::TempDir source_volumes_;  // each site's Longhorn volume contents
  testutil::TempDir target_volumes_;
  PollClock poll_clock_;
};

TEST_F(LonghornPlanCreateTest, ProtectMakesStandbyVolumesOnTheTargetFromTheSourcesBackups) {
  CliRun r = CreateLonghorn();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "pvc shop/orders: standby volume shop-orders-vol on the target")) << r.err;
  EXPECT_TRUE(Contains(r.err, "pvc kubectl-dr-system/lh-inventory: standby volume shop-inventory-vol on the target"))
      << r.err;
  for (const char* volume : {"shop-orders-vol", "shop-inventory-vol"}) {
    SCOPED_TRACE(volume);
    auto v = client_->Get(kLhVolumes, "longhorn-system", volume);
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ((*v)["spec"]["standby"], true);
    EXPECT_EQ(kube::Label(*v, "dr.kubectl-dr.dev/plan"), "shop-to-dr");
    EXPECT_EQ(PosixFileSystem().ReadFile(kubesim::LonghornVolumeDir(target_volumes_.path(), volume) + "/data").value_or(""),
              "v1 of " + std::string(volume));
  }
  auto plan = client_->Get(kPlans, "kubectl-dr-system", "shop-to-dr");
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)["spec"]["storage"]["driver"], "longhorn");
}

TEST_F(LonghornPlanCreateTest, DryRunMakesNoStandbyVolume) {
  CliRun r = CreateLonghorn({"--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Contains(r.err, "nothing was created (--dry-run)")) << r.err;
  auto list = client_->List(kLhVolumes, "longhorn-system");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_TRUE((*list)["items"].empty()) << (*list)["items"].dump();
  EXPECT_EQ(PlanCount(), 0u);
}

}  // namespace
}  // namespace kdr
