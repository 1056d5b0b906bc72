// The recovery workflow (dr/workflow.h) in-process against a kubesim target with kubectl-dr
// installed as `kubectl dr install --webhook-url` installs it (the webhook serving in this
// process), the agent local: the inventory written into an in-memory file system, the storage
// driver none (a PV is restored as captured). The source is unreachable (null), which a failover
// allows.

#include "dr/workflow.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/fs.h"
#include "base/strings.h"
#include "dr/agent_job.h"
#include "dr/inventory_volume.h"
#include "dr/types.h"
#include "install/install.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/object.h"
#include "kube/rest_config.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"
#include "unit/plugin/webhook_fixture.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kPlans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};

using testutil::YieldingClock;

// True once pred() holds, checking every 10ms for up to 20s of real time (kubesim's controllers
// and the webhook's watches are other threads: this bounds the wait, it never decides an outcome).
bool Eventually(const std::function<bool()>& pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

bool BoundEventually(kube::Client& client, const std::string& ns, const std::string& name) {
  return Eventually([&] {
    Result<json> c = client.Get(kClaims, ns, name);
    return c.ok() && kube::StringField(*c, {"status", "phase"}) == "Bound";
  });
}

json HostPathPv(const std::string& name, const std::string& path, const std::string& claim_ns,
                const std::string& claim) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"capacity", {{"storage", "1Gi"}}},
            {"accessModes", {"ReadWriteOnce"}},
            {"persistentVolumeReclaimPolicy", "Delete"},
            {"storageClassName", "manual"},
            {"hostPath", {{"path", path}}},
            {"claimRef", {{"namespace", claim_ns}, {"name", claim}}}}}};
}

json Claim(const std::string& ns, const std::string& name, const std::string& volume) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", name}, {"namespace", ns}}},
          {"spec",
           {{"accessModes", {"ReadWriteOnce"}},
            {"storageClassName", "manual"},
            {"volumeName", volume},
            {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
}

inventory::VolumeMapEntry VolumeEntry(const std::string& ns, const std::string& claim, const std::string& pv,
                                      bool inventory) {
  inventory::VolumeMapEntry e;
  e.pvc_namespace = ns;
  e.pvc_name = claim;
  e.pv_name = pv;
  e.storage_class = "manual";
  e.capacity = "1Gi";
  e.access_modes = {"ReadWriteOnce"};
  e.volume_mode = "Filesystem";
  e.reclaim_policy = "Delete";
  e.inventory = inventory;
  return e;
}

class WorkflowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kubesim::Server::Options options;
    options.controllers = kubesim::ControllerOptions{};
    options.controllers->longhorn = false;
    options.controllers->resync_interval = std::chrono::milliseconds(100);
    auto server = kubesim::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    kube::RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = 0;
    auto client = kube::Client::Create(c, env());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    // The webhook's watches run on real time, as in its Deployment.
    auto watching = kube::Client::Create(c, Env{&real_clock_, &fs_, nullptr});
    ASSERT_TRUE(watching.ok()) << watching.status().ToString();
    webhook_client_ = std::move(watching).value();
    Install();
    ASSERT_FALSE(HasFatalFailure());
    webhook_.Watch(webhook_client_.get());
    json plan = {{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"},
                 {"kind", "DRPlan"},
                 {"metadata", {{"name", "shop-to-dr"}, {"namespace", "kubectl-dr-system"}}},
                 {"spec",
                  {{"sourceContext", "prod-east"},
                   {"targetContext", "dr-west"},
                   {"namespaces", {"shop"}},
                   {"inventory", {{"pvcNamespace", "kubectl-dr-system"}, {"pvcName", "shop-inventory"}}},
                   {"storage", {{"driver", "none"}}}}}};
    json made = MustCreate(kPlans, "kubectl-dr-system", plan);
    made["status"] = {{"phase", "Ready"}};
    ASSERT_TRUE(client_->UpdateStatus(kPlans, "kubectl-dr-system", made).ok());
  }

  Env env() { return Env{&clock_, &fs_, nullptr}; }

  // kubectl dr install --webhook-url URL --cert-dir DIR: the product's namespace, CRDs, RBAC and
  // webhook configurations calling the webhook of this process.
  void Install() {
    const std::string certs = dir_.path() + "/certs";
    Status started = webhook_.Start(certs);
    ASSERT_TRUE(started.ok()) << started.ToString();
    PosixFileSystem posix;
    install::Certificates c;
    for (auto [file, out] : {std::pair{"ca.crt", &c.ca_cert}, {"tls.crt", &c.tls_cert}, {"tls.key", &c.tls_key}}) {
      Result<std::string> text = posix.ReadFile(certs + "/" + file);
      ASSERT_TRUE(text.ok()) << text.status().ToString();
      *out = *text;
    }
    install::Options o;
    o.webhook_url = webhook_.url();
    o.cert_dir = certs;
    Result<std::vector<json>> objects = install::Render(o, &c);
    ASSERT_TRUE(objects.ok()) << objects.status().ToString();
    for (const json& obj : *objects) {
      Result<kube::ApiResource> res = client_->mapper().ForObject(obj);
      ASSERT_TRUE(res.ok()) << kube::Kind(obj) << ": " << res.status().ToString();
      MustCreate(res->gvr, res->namespaced ? kube::Namespace(obj) : "", obj);
    }
  }

  json MustCreate(const kube::Gvr& gvr, const std::string& ns, const json& object) {
    Result<json> r = client_->Create(gvr, ns, object);
    EXPECT_TRUE(r.ok()) << gvr.resource << " " << kube::Name(object) << ": " << r.status().ToString();
    return r.ok() ? *r : json();
  }

  json Get(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    Result<json> r = client_->Get(gvr, ns, name);
    EXPECT_TRUE(r.ok()) << gvr.resource << " " << ns << "/" << name << ": " << r.status().ToString();
    return r.ok() ? *r : json();
  }

  void Recovery(const std::string& name, const std::string& action, json mapping = json::object()) {
    json spec = {{"planRef", {{"name", "shop-to-dr"}}}, {"action", action}};
    if (!mapping.empty()) spec["namespaceMapping"] = mapping;
    MustCreate(kRecoveries, "kubectl-dr-system",
               {{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"},
                {"kind", "DRRecovery"},
                {"metadata", {{"name", name}, {"namespace", "kubectl-dr-system"}}},
                {"spec", spec}});
    // The webhook transforms what is restored for the recovery once it knows it.
    ASSERT_TRUE(Eventually([&] { return webhook_.KnowsRecovery(name); }));
  }

  // The replicated inventory of plan shop-to-dr: namespace shop and its ConfigMap, and the
  // inventory's own volume (its claim in the DR namespace, its PV on hostPath /vols/inventory).
  void WriteInventory(bool with_data_volume = false) {
    inventory::WriterOptions wo;
    wo.plan = {"kubectl-dr-system", "shop-to-dr"};
    auto writer = inventory::Writer::Begin(env(), "/inventory", wo);
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    struct Object {
      const char* resource;
      json object;
    } objects[] = {
        {"namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}}},
        {"configmaps",
         {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "settings"}, {"namespace", "shop"}}},
          {"data", {{"greeting", "hello from the primary"}}}}},
        {"persistentvolumes",
         HostPathPv("shop-inventory-pv", "/vols/inventory", "kubectl-dr-system", "shop-inventory")},
    };
    std::vector<Object> all(std::begin(objects), std::end(objects));
    if (with_data_volume) {  // the shop's data, on the replicated volume /vols/data
      all.push_back({"persistentvolumes", HostPathPv("shop-data-pv", "/vols/data", "shop", "data")});
      all.push_back({"persistentvolumeclaims", Claim("shop", "data", "shop-data-pv")});
    }
    for (const Object& o : all) {
      inventory::ObjectEntry entry;
      entry.version = "v1";
      entry.resource = o.resource;
      entry.kind = kube::Kind(o.object);
      entry.namespace_name = kube::Namespace(o.object);
      entry.name = kube::Name(o.object);
      ASSERT_TRUE((*writer)->Add(entry, o.object).ok());
    }
    inventory::Index index;
    index.plan = wo.plan;
    index.namespaces = {"shop"};
    index.volumes = {VolumeEntry("kubectl-dr-system", "shop-inventory", "shop-inventory-pv", true)};
    if (with_data_volume) index.volumes.push_back(VolumeEntry("shop", "data", "shop-data-pv", false));
    ASSERT_TRUE((*writer)->Commit(index).ok());
  }

  // What a failback's old primary holds: the inventory's claim bound to a PV of the same name on
  // the stale volume (hostPath /vols/stale), as the failover left it.
  void StaleInventoryVolume() {
    MustCreate(kVolumes, "", HostPathPv("shop-inventory-pv", "/vols/stale", "kubectl-dr-system", "shop-inventory"));
    MustCreate(kClaims, "kubectl-dr-system", Claim("kubectl-dr-system", "shop-inventory", "shop-inventory-pv"));
    ASSERT_TRUE(BoundEventually(*client_, "kubectl-dr-system", "shop-inventory"));
  }

  // `kubectl dr agent install --plan shop-to-dr` on the target, the source answering: the agent's
  // identity, and the inventory's volume (hostPath /vols/inventory) recorded in the plan.
  void InstallAgent() {
    Result<DRPlan> plan = DRPlanFromJson(Get(kPlans, "kubectl-dr-system", "shop-to-dr"));
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    Result<std::vector<json>> objects = RestoreAgentObjects(*plan, AgentOptions{});
    ASSERT_TRUE(objects.ok()) << objects.status().ToString();
    for (const json& obj : *objects) {
      Result<kube::ApiResource> res = client_->mapper().ForObject(obj);
      ASSERT_TRUE(res.ok()) << kube::Kind(obj) << ": " << res.status().ToString();
      MustCreate(res->gvr, res->namespaced ? kube::Namespace(obj) : "", obj);
    }
    inventory::RestoreInput volume;
    volume.volumes = {VolumeEntry("kubectl-dr-system", "shop-inventory", "shop-inventory-pv", true)};
    volume.objects = {HostPathPv("shop-inventory-pv", "/vols/inventory", "kubectl-dr-system", "shop-inventory")};
    Status recorded = RecordInventoryVolume(*client_, *plan, volume, clock_);
    ASSERT_TRUE(recorded.ok()) << recorded.ToString();
  }

  // timeout: fake time; a long one keeps the waits going until kubesim's controllers act, and each
  // 2 s poll of a wait costs 5 ms of real time (YieldingClock).
  Status Run(const std::string& recovery, inventory::ExistingPolicy existing, WorkflowReport* report,
             std::chrono::nanoseconds timeout = std::chrono::hours(24)) {
    WorkflowOptions o;
    o.recovery = recovery;
    o.inventory_path = "/inventory";
    o.existing = existing;
    o.holder = "workflow-test";
    o.no_wait = true;  // no kubelet runs the restored pods
    o.timeout = timeout;
    return RunRecovery(*client_, nullptr, env(), o, report);
  }

  static const StepReport* StepOf(const WorkflowReport& r, std::string_view name) {
    for (const StepReport& s : r.steps) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }

  testutil::TempDir dir_;
  YieldingClock clock_;
  RealClock real_clock_;
  testutil::MemFileSystem fs_;
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<kube::Client> client_;
  std::unique_ptr<kube::Client> webhook_client_;
  // Declared last: stopped (its watches first) before the clients and the server go.
  plugin::testing::InProcessWebhook webhook_;
};

// The inventory's PV is on the target already, on another volume than the storage gives (a
// failback's old primary, its claim bound to the stale original): under existing fail the run
// stops at the inventory's claim, naming the PV, both volumes and what to do, and leaves both as
// they were; the agent never reads the stale inventory.
TEST_F(WorkflowTest, AStaleInventoryVolumeIsRefusedUnlessExistingIsUpdate) {
  WriteInventory();
  StaleInventoryVolume();
  ASSERT_FALSE(HasFatalFailure());
  const std::string claim_uid = kube::Uid(Get(kClaims, "kubectl-dr-system", "shop-inventory"));
  Recovery("shop-failover", "Failover");

  WorkflowReport report;
  Status st = Run("shop-failover", inventory::ExistingPolicy::kFail, &report);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("persistentvolume shop-inventory-pv on the target names volume hostPath:/vols/stale, "
                              "not hostPath:/vols/inventory, which the storage gives for the inventory's claim "
                              "kubectl-dr-system/shop-inventory (existing: fail)"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("run again with --existing update"), std::string::npos) << st.message();
  const StepReport* step = StepOf(report, "RestoreInventoryVolume");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->state, StepState::kFailed);
  const StepReport* agent = StepOf(report, "StartAgent");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(agent->state, StepState::kPending);
  EXPECT_EQ(Get(kVolumes, "", "shop-inventory-pv")["spec"]["hostPath"]["path"], "/vols/stale");
  EXPECT_EQ(kube::Uid(Get(kClaims, "kubectl-dr-system", "shop-inventory")), claim_uid);
  EXPECT_FALSE(client_->Get(kNamespaces, "", "shop").ok()) << "nothing was restored";
}

// Under existing update the stale PV is replaced with its claim (the stale volume kept: Retain),
// the claim made anew and bound to the inventory's volume before the agent runs.
TEST_F(WorkflowTest, AStaleInventoryVolumeIsReplacedUnderExistingUpdate) {
  WriteInventory();
  StaleInventoryVolume();
  ASSERT_FALSE(HasFatalFailure());
  const std::string claim_uid = kube::Uid(Get(kClaims, "kubectl-dr-system", "shop-inventory"));
  Recovery("shop-failover", "Failover");

  WorkflowReport report;
  const Clock::WallTime before = clock_.Now();
  Status st = Run("shop-failover", inventory::ExistingPolicy::kUpdate, &report);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const json pv = Get(kVolumes, "", "shop-inventory-pv");
  EXPECT_EQ(pv["spec"]["hostPath"]["path"], "/vols/inventory");
  EXPECT_EQ(kube::Label(pv, kRecoveryLabel).value_or(""), "shop-failover");
  const json claim = Get(kClaims, "kubectl-dr-system", "shop-inventory");
  EXPECT_NE(kube::Uid(claim), claim_uid) << "the claim is made anew";
  EXPECT_EQ(kube::StringField(claim, {"status", "phase"}) + "/" + kube::StringField(claim, {"spec", "volumeName"}),
            "Bound/shop-inventory-pv");
  EXPECT_EQ(kube::StringField(pv, {"spec", "claimRef", "uid"}), kube::Uid(claim));
  const StepReport* step = StepOf(report, "RestoreInventoryVolume");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->state, StepState::kSucceeded);
  EXPECT_EQ(step->message,
            "persistentvolumeclaim kubectl-dr-system/shop-inventory bound to volume shop-inventory-pv; replaced: the "
            "target's PV named volume hostPath:/vols/stale (kept: reclaim policy Retain); its claim "
            "kubectl-dr-system/shop-inventory is made anew");
  EXPECT_EQ(Get(kNamespaces, "", "shop")["metadata"]["name"], "shop");
  // The RTO of a run that started and finished the recovery is its time by the clock (fake here,
  // moved by the run's sleeps and its lease's renewals), within the time the call took and no
  // less than its steps' times together.
  EXPECT_LE(report.rto, clock_.Now() - before);
  std::chrono::nanoseconds steps{0};
  for (const StepReport& s : report.steps) steps += s.elapsed;
  EXPECT_GE(report.rto, steps);
}

// The inventory's claim is there, bound to another PV than the inventory's: refused under fail,
// made anew under update (the PV it was bound to kept, Retain).
TEST_F(WorkflowTest, AnInventoryClaimBoundToAnotherVolumeIsMadeAnewOnlyUnderUpdate) {
  WriteInventory();
  MustCreate(kVolumes, "", HostPathPv("old-inventory-pv", "/vols/old", "kubectl-dr-system", "shop-inventory"));
  MustCreate(kClaims, "kubectl-dr-system", Claim("kubectl-dr-system", "shop-inventory", "old-inventory-pv"));
  ASSERT_TRUE(BoundEventually(*client_, "kubectl-dr-system", "shop-inventory"));
  Recovery("shop-failover", "Failover");

  WorkflowReport refused;
  Status st = Run("shop-failover", inventory::ExistingPolicy::kFail, &refused);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("persistentvolumeclaim kubectl-dr-system/shop-inventory (the inventory's claim) on the "
                              "target is bound to persistentvolume old-inventory-pv, not shop-inventory-pv"),
            std::string::npos)
      << st.message();
  EXPECT_EQ(Get(kClaims, "kubectl-dr-system", "shop-inventory")["spec"]["volumeName"], "old-inventory-pv");

  WorkflowReport report;
  st = Run("shop-failover", inventory::ExistingPolicy::kUpdate, &report);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const json claim = Get(kClaims, "kubectl-dr-system", "shop-inventory");
  EXPECT_EQ(kube::StringField(claim, {"status", "phase"}) + "/" + kube::StringField(claim, {"spec", "volumeName"}),
            "Bound/shop-inventory-pv");
  EXPECT_EQ(Get(kVolumes, "", "old-inventory-pv")["spec"]["persistentVolumeReclaimPolicy"], "Retain");
}

// A drill reads the replicated inventory in place and restores no inventory claim: it makes no
// drill copy of the inventory's volume and says nothing of one (driver none warns that a copy of
// its holds no data), and the live inventory claim is not touched.
TEST_F(WorkflowTest, ADrillLeavesTheInventoryVolumeOut) {
  WriteInventory();
  ASSERT_FALSE(HasFatalFailure());
  Recovery("shop-drill", "Test", {{"shop", "shop-drtest"}});

  WorkflowReport report;
  Status st = Run("shop-drill", inventory::ExistingPolicy::kFail, &report);
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (const std::string& w : report.warnings) EXPECT_EQ(w.find("shop-inventory"), std::string::npos) << w;
  const StepReport* step = StepOf(report, "PrepareDrill");
  ASSERT_NE(step, nullptr);
  EXPECT_EQ(step->state, StepState::kSucceeded);
  EXPECT_EQ(step->message, "0 drill copies of the replicated volumes (the inventory is read in place)");
  EXPECT_EQ(Get(kConfigMaps, "shop-drtest", "settings")["data"]["greeting"], "hello from the primary");
  EXPECT_FALSE(client_->Get(kVolumes, "", "shop-inventory-pv").ok());
  EXPECT_FALSE(client_->Get(kClaims, "kubectl-dr-system", "shop-inventory").ok());
}

// A drill resumed after PrepareDrill (a crash, a ^C) restores onto the drill's copies as the first
// run would have, never onto the live replicated volumes: the PV of the shop's data, on the live
// replica, is not made in the drill's namespace, resumed or not.
TEST_F(WorkflowTest, AResumedDrillRestoresOntoItsCopiesNotTheLiveVolumes) {
  WriteInventory(/*with_data_volume=*/true);
  ASSERT_FALSE(HasFatalFailure());
  Recovery("shop-drill", "Test", {{"shop", "shop-drtest"}});
  // The journal of a run that stopped right after PrepareDrill.
  json rec = Get(kRecoveries, "kubectl-dr-system", "shop-drill");
  rec["status"] = {{"phase", "Running"},
                   {"startedAt", "2026-12-03T08:00:00Z"},
                   {"steps",
                    {{{"name", "Preflight"}, {"state", "Succeeded"}, {"attempts", 1}},
                     {{"name", "PrepareDrill"}, {"state", "Succeeded"}, {"attempts", 1},
                      {"message", "1 drill copy of the replicated volumes (the inventory is read in place)"}}}}};
  ASSERT_TRUE(client_->UpdateStatus(kRecoveries, "kubectl-dr-system", rec).ok());

  // The drill's claim of the shop's data has no class to provision it here and stays Pending: the
  // restore waits its timeout for it (10 minutes of fake time), then goes on.
  WorkflowReport report;
  Status st = Run("shop-drill", inventory::ExistingPolicy::kFail, &report, std::chrono::minutes(10));
  ASSERT_TRUE(st.ok()) << st.ToString();
  const StepReport* prepared = StepOf(report, "PrepareDrill");
  ASSERT_NE(prepared, nullptr);
  EXPECT_EQ(prepared->attempts, 1) << "PrepareDrill is not run again";
  EXPECT_EQ(Get(kConfigMaps, "shop-drtest", "settings")["data"]["greeting"], "hello from the primary");
  Result<json> live = client_->Get(kVolumes, "", "shop-data-pv");
  EXPECT_FALSE(live.ok() && kube::StringField(*live, {"spec", "hostPath", "path"}) == "/vols/data")
      << "the drill made a PV on the live replica: " << (live.ok() ? live->dump() : "");
}

// The dry run of a failover whose plan another recovery spent, onto a target holding one of the
// inventory's objects: every problem is listed at once (the spent plan, the conflict under
// existing fail), each step says it would run, the objects are counted by kind, and nothing on the
// target changed: no journal, no Lease, the same resourceVersions.
TEST_F(WorkflowTest, ADryRunListsEveryProblemAtOnceAndChangesNothing) {
  WriteInventory();
  ASSERT_FALSE(HasFatalFailure());
  Recovery("shop-failover", "Failover");
  json plan = Get(kPlans, "kubectl-dr-system", "shop-to-dr");
  plan["status"] = {{"phase", "Spent"}, {"spentBy", "earlier-failover"}, {"spentAt", "2026-12-01T08:00:00Z"}};
  ASSERT_TRUE(client_->UpdateStatus(kPlans, "kubectl-dr-system", plan).ok());
  MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
  MustCreate(kConfigMaps, "shop",
             {{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", "settings"}, {"namespace", "shop"}}},
              {"data", {{"greeting", "the DR site's own"}}}});
  const std::string recovery_rv = kube::StringField(Get(kRecoveries, "kubectl-dr-system", "shop-failover"),
                                                    {"metadata", "resourceVersion"});
  const std::string plan_rv =
      kube::StringField(Get(kPlans, "kubectl-dr-system", "shop-to-dr"), {"metadata", "resourceVersion"});

  WorkflowOptions o;
  o.recovery = "shop-failover";
  o.inventory_path = "/inventory";
  DryRunReport report;
  Status st = PlanRecovery(*client_, nullptr, env(), o, &report);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(report.ready());
  ASSERT_EQ(report.problems.size(), 2u) << Join(report.problems, "\n");
  EXPECT_NE(report.problems[0].find("plan \"shop-to-dr\" was spent by \"earlier-failover\"; clone it"),
            std::string::npos)
      << report.problems[0];
  // The namespace, made on the target without the recovery's label, is one of them.
  EXPECT_NE(report.problems[1].find("2 object(s) on the target were not created by this recovery"), std::string::npos)
      << report.problems[1];
  std::set<std::string> conflicts;
  for (const inventory::Conflict& c : report.conflicts) conflicts.insert(c.object.ToString());
  EXPECT_EQ(conflicts, (std::set<std::string>{"ConfigMap shop/settings", "Namespace shop"}));
  EXPECT_EQ(report.objects_by_kind["ConfigMap"], 1);
  EXPECT_EQ(report.inventory_generation, 1);
  EXPECT_FALSE(report.source_reachable);
  ASSERT_FALSE(report.steps.empty());
  EXPECT_EQ(report.steps.front().name, "Preflight");
  for (const PlannedStep& step : report.steps) EXPECT_NE(step.state, "done") << step.name;
  bool warned = false;
  for (const std::string& w : report.warnings) warned = warned || w.find("would neither quiesce nor fence") != std::string::npos;
  EXPECT_TRUE(warned) << Join(report.warnings, "\n");

  // Nothing changed: no journal, no Lease, the objects as they were.
  const json recovery = Get(kRecoveries, "kubectl-dr-system", "shop-failover");
  EXPECT_EQ(kube::StringField(recovery, {"metadata", "resourceVersion"}), recovery_rv);
  EXPECT_FALSE(kube::FieldAt(recovery, {"status", "steps"}).is_array()) << recovery.dump(2);
  EXPECT_EQ(kube::StringField(Get(kPlans, "kubectl-dr-system", "shop-to-dr"), {"metadata", "resourceVersion"}), plan_rv);
  EXPECT_FALSE(client_->Get(kube::Gvr{"coordination.k8s.io", "v1", "leases"}, "kubectl-dr-system",
                            "kubectl-dr-plan-shop-to-dr")
                   .ok());
  EXPECT_EQ(Get(kConfigMaps, "shop", "settings")["data"]["greeting"], "the DR site's own");
  EXPECT_FALSE(client_->Get(kVolumes, "", "shop-inventory-pv").ok());
}

// A dry run needs the recovery to exist and, with the agent in the plugin, the inventory's
// directory: refused naming what to do, with no report.
TEST_F(WorkflowTest, ADryRunRefusesAMissingRecoveryAndAMissingInventoryPath) {
  WorkflowOptions o;
  o.recovery = "no-such-recovery";
  o.inventory_path = "/inventory";
  DryRunReport report;
  Status st = PlanRecovery(*client_, nullptr, env(), o, &report);
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("kubectl dr recovery create no-such-recovery --plan PLAN"), std::string::npos)
      << st.message();

  o.inventory_path.clear();
  st = PlanRecovery(*client_, nullptr, env(), o, &report);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_NE(st.message().find("--inventory-path DIR"), std::string::npos) << st.message();
}

// A drill with its agent as Jobs on the DR site mounts a claim of its own, never the plan's
// inventory claim, which a failover restores there. Driver none's drill copies hold no data, so
// the claim is on the inventory's volume as captured (hostPath /vols/inventory), read in place:
// its PV keeps the volume on deletion (Retain) and the agent's Job mounts it read-only. kubesim
// runs no agent binary here (its node pretends to run the pod, which ends without the agent's
// result), so the run stops at StartAgent.
TEST_F(WorkflowTest, ADrillWithTheAgentAsJobsMountsAClaimOfItsOwnOnTheInventoryNeverThePlans) {
  InstallAgent();
  ASSERT_FALSE(HasFatalFailure());
  Recovery("shop-drill", "Test", {{"shop", "shop-drtest"}});

  WorkflowOptions o;
  o.recovery = "shop-drill";
  o.agent = WorkflowOptions::Agent::kJob;
  o.holder = "workflow-test";
  o.timeout = std::chrono::minutes(2);
  WorkflowReport report;
  Status st = RunRecovery(*client_, nullptr, env(), o, &report);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition) << st.ToString();
  EXPECT_NE(st.message().find("the agent (job kubectl-dr-system/kubectl-dr-describe-shop-drill) ended without a result"),
            std::string::npos)
      << st.message();

  const StepReport* prepared = StepOf(report, "PrepareDrill");
  ASSERT_NE(prepared, nullptr);
  EXPECT_EQ(prepared->state, StepState::kSucceeded);
  EXPECT_EQ(prepared->message,
            "no copy of the inventory's volume (the storage's drill copies hold no data): the agent's Jobs read it in "
            "place, read-only; the workloads' volumes are copied once the agent has read the volume map (StartAgent)");
  const StepReport* claimed = StepOf(report, "RestoreInventoryVolume");
  ASSERT_NE(claimed, nullptr);
  EXPECT_EQ(claimed->state, StepState::kSucceeded);
  EXPECT_EQ(claimed->message,
            "persistentvolumeclaim kubectl-dr-system/kubectl-dr-inventory-shop-drill bound to the inventory's volume "
            "as captured, read in place (the storage's drill copies hold no data), for the agent's Jobs to mount "
            "read-only");
  const StepReport* agent = StepOf(report, "StartAgent");
  ASSERT_NE(agent, nullptr);
  EXPECT_EQ(agent->state, StepState::kFailed);

  const json pv = Get(kVolumes, "", "kubectl-dr-inventory-shop-drill");
  EXPECT_EQ(kube::StringField(pv, {"spec", "hostPath", "path"}), "/vols/inventory");
  EXPECT_EQ(kube::StringField(pv, {"spec", "persistentVolumeReclaimPolicy"}), "Retain");
  EXPECT_EQ(kube::StringField(pv, {"spec", "claimRef", "namespace"}) + "/" +
                kube::StringField(pv, {"spec", "claimRef", "name"}),
            "kubectl-dr-system/kubectl-dr-inventory-shop-drill");
  EXPECT_EQ(kube::Label(pv, kRecoveryLabel).value_or(""), "shop-drill");
  const json claim = Get(kClaims, "kubectl-dr-system", "kubectl-dr-inventory-shop-drill");
  EXPECT_EQ(kube::StringField(claim, {"status", "phase"}), "Bound");
  EXPECT_EQ(kube::Label(claim, kRecoveryLabel).value_or(""), "shop-drill");
  // The plan's inventory claim and PV are the failover's: not made by a drill.
  EXPECT_FALSE(client_->Get(kVolumes, "", "shop-inventory-pv").ok());
  EXPECT_FALSE(client_->Get(kClaims, "kubectl-dr-system", "shop-inventory").ok());

  const json job = Get(kJobs, "kubectl-dr-system", DescribeJobName("shop-drill"));
  const json& volumes = kube::FieldAt(job, {"spec", "template", "spec", "volumes"});
  ASSERT_TRUE(volumes.is_array() && volumes.size() == 1) << job.dump(2);
  EXPECT_EQ(volumes[0]["persistentVolumeClaim"]["claimName"], "kubectl-dr-inventory-shop-drill");
  EXPECT_EQ(volumes[0]["persistentVolumeClaim"]["readOnly"], true);
  const json& mounts = kube::FieldAt(job, {"spec", "template", "spec", "containers"})[0]["volumeMounts"];
  EXPECT_EQ(mounts[0]["readOnly"], true);
}

}  // namespace
}  // namespace kdr::dr
