#include "kubesim/agent_node.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "dr/agent_job.h"
#include "inventory/format.h"
#include "kubesim/hpe_csi.h"
#include "kubesim/longhorn.h"
#include "kubesim/server.h"
#include "kubesim/store.h"
#include "kubesim/test_support.h"
#include "sim/alletra_sim.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

const GroupResource kJobs{"batch", "jobs"};
const GroupResource kPods{"", "pods"};

// A kubesim whose node runs kubectl-dr's agent pods as processes of the built binary, with an
// inventory claim bound to a hostPath PV in a temp dir.
class AgentNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = testutil::BinaryDir() + "/kubectl-dr";
    if (access(binary_.c_str(), X_OK) != 0) GTEST_SKIP() << "kubectl-dr is not built at " << binary_ << "; build the kubectl-dr target";
    Server::Options o;
    ControllerOptions co;
    co.longhorn = longhorn_;
    co.longhorn_data_dir = dir_.path() + "/longhorn";
    co.hpe_array = hpe_array_;
    co.resync_interval = std::chrono::milliseconds(200);
    co.agent.binary = binary_;
    co.agent.work_dir = dir_.path() + "/node";
    o.controllers = co;
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(*s);
    for (const char* ns : {"shop", "kubectl-dr-system"}) {
      Create({"", "namespaces"}, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
    }
    Create({"", "configmaps"}, "shop",
           {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}, {"namespace", "shop"}}},
            {"data", {{"color", "blue"}}}});
    volume_dir_ = dir_.path() + "/inventory-volume";
    Create({"", "persistentvolumes"}, "",
           {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", "shop-inventory-pv"}}},
            {"spec", {{"capacity", {{"storage", "1Gi"}}}, {"accessModes", {"ReadWriteOnce"}}, {"storageClassName", ""},
                      {"hostPath", {{"path", volume_dir_}, {"type", "DirectoryOrCreate"}}}}}});
    Create({"", "persistentvolumeclaims"}, "kubectl-dr-system",
           {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", "shop-inventory"}, {"namespace", "kubectl-dr-system"}}},
            {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"storageClassName", ""}, {"volumeName", "shop-inventory-pv"},
                      {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
    plan_.metadata.name = "shop";
    plan_.spec.namespaces = {"shop"};
    plan_.spec.inventory_pvc_namespace = "kubectl-dr-system";
    plan_.spec.inventory_pvc_name = "shop-inventory";
    Create({"", "serviceaccounts"}, "kubectl-dr-system",
           {{"apiVersion", "v1"}, {"kind", "ServiceAccount"},
            {"metadata", {{"name", dr::AgentServiceAccountName("shop")}, {"namespace", "kubectl-dr-system"}}}});
  }

  void Create(const GroupResource& gr, const std::string& ns, json obj) {
    auto r = server_->store()->Create(gr, ns, std::move(obj));
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  // The capture Job as `kubectl create job --from=cronjob/...` makes it from the agent's CronJob.
  json CaptureJob(const std::string& name) {
    auto objects = dr::CaptureAgentObjects(plan_, {});
    EXPECT_TRUE(objects.ok()) << objects.status().message();
    auto job = dr::JobFromCronJob(objects->back(), name);
    EXPECT_TRUE(job.ok()) << job.status().message();
    return *job;
  }

  // Waits (on store events, at most 60 s: the agent is a real process) until pred holds.
  ::testing::AssertionResult WaitFor(const GroupResource& gr, const std::string& ns, const std::string& name,
                                     const std::function<bool(const json&)>& pred) {
    WatchOptions wo;
    wo.gr = gr;
    auto w = server_->store()->Watch(wo);
    if (!w.ok()) return ::testing::AssertionFailure() << w.status().message();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    json last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto obj = server_->store()->Get(gr, ns, name);
      if (obj.ok()) {
        last = *obj;
        if (pred(*obj)) return ::testing::AssertionSuccess();
      }
      (void)(*w)->Next(std::chrono::milliseconds(200));
    }
    return ::testing::AssertionFailure() << "timed out waiting for " << ns << "/" << name << "; last: " << last.dump();
  }

  static std::function<bool(const json&)> JobCondition(const std::string& type) {
    return [type](const json& j) {
      for (const auto& c : j.value("/status/conditions"_json_pointer, json::array())) {
        if (c.value("type", "") == type && c.value("status", "") == "True") return true;
      }
      return false;
    };
  }

  // The Job's pods (by its job-name label).
  std::vector<json> PodsOf(const std::string& job) {
    ListOptions lo;
    lo.namespace_name = "kubectl-dr-system";
    auto r = server_->store()->List(kPods, lo);
    std::vector<json> out;
    if (!r.ok()) return out;
    for (const auto& p : r->items) {
      if (p->value("/metadata/labels/job-name"_json_pointer, "") == job) out.push_back(*p);
    }
    return out;
  }

  bool longhorn_ = false;  // run kubesim's Longhorn (AgentNodeLonghornTest)
  std::shared_ptr<const HpeArray> hpe_array_;  // the cluster's HPE array (AgentNodeHpeTest)
  testutil::TempDir dir_;
  std::string binary_;
  std::string volume_dir_;
  std::unique_ptr<Server> server_;
  dr::DRPlan plan_;
};

TEST_F(AgentNodeTest, CaptureJobRunsTheAgentWithItsServiceAccountAndWritesTheClaimsDirectory) {
  Create(kJobs, "kubectl-dr-system", CaptureJob("capture-now"));
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-now", JobCondition("Complete")));

  // The inventory is in the hostPath PV's directory, as the pod's mount made it.
  PosixFileSystem fs;
  auto inv = inventory::Inventory::Open(fs, volume_dir_);
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  bool found = false;
  for (const auto& e : inv->index().objects) found |= e.kind == "ConfigMap" && e.name == "settings";
  EXPECT_TRUE(found) << "the capture missed shop/settings";

  std::vector<json> pods = PodsOf("capture-now");
  ASSERT_EQ(pods.size(), 1u);
  const json& pod = pods[0];
  EXPECT_EQ(pod.value("/status/phase"_json_pointer, ""), "Succeeded");
  const json terminated = pod.value("/status/containerStatuses/0/state/terminated"_json_pointer, json::object());
  EXPECT_EQ(terminated.value("exitCode", -1), 0);
  auto result = dr::ParseAgentResult(terminated.value("message", ""));
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_TRUE(result->ok);
  EXPECT_EQ(result->generation, inv->generation());
  EXPECT_EQ(result->objects, static_cast<int64_t>(inv->index().objects.size()));

  // The token the process was given authenticates as the pod's service account.
  const std::string pod_dir = dir_.path() + "/node/pods/kubectl-dr-system_" +
                              pod.value("/metadata/name"_json_pointer, "") + "_" +
                              pod.value("/metadata/uid"_json_pointer, "");
  auto token = fs.ReadFile(pod_dir + "/serviceaccount/token");
  ASSERT_TRUE(token.ok()) << token.status().message();
  testing::Client client(*server_, *token);
  testing::Reply review = client.Post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                      {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "SelfSubjectReview"}});
  EXPECT_EQ(review.body.value("/status/userInfo/username"_json_pointer, ""),
            "system:serviceaccount:kubectl-dr-system:" + dr::AgentServiceAccountName("shop"))
      << review.raw;
}

TEST_F(AgentNodeTest, FailingAgentFailsItsPodWithTheTerminationMessageAndTheJob) {
  json job = CaptureJob("capture-bad");
  // Without --namespaces and with no plan on this cluster the agent refuses to guess.
  job["spec"]["template"]["spec"]["containers"][0]["args"] =
      json::array({"agent", "capture", "--plan", "shop", "--inventory-path", std::string(dr::kInventoryMountPath)});
  Create(kJobs, "kubectl-dr-system", job);
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-bad", JobCondition("Failed")));

  std::vector<json> pods = PodsOf("capture-bad");
  ASSERT_EQ(pods.size(), 1u) << "backoffLimit 0: one pod, no retry";
  EXPECT_EQ(pods[0].value("/status/phase"_json_pointer, ""), "Failed");
  const json terminated = pods[0].value("/status/containerStatuses/0/state/terminated"_json_pointer, json::object());
  EXPECT_EQ(terminated.value("exitCode", -1), 1);
  EXPECT_EQ(terminated.value("reason", ""), "Error");
  auto result = dr::ParseAgentResult(terminated.value("message", ""));
  ASSERT_TRUE(result.ok()) << terminated.dump();
  EXPECT_FALSE(result->ok);
  EXPECT_NE(result->message.find("is not on this cluster"), std::string::npos) << result->message;
  auto j = server_->store()->Get(kJobs, "kubectl-dr-system", "capture-bad");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->value("/status/failed"_json_pointer, 0), 1);
}

TEST_F(AgentNodeTest, AgentPodWaitsForItsClaimBeforeItRuns) {
  json job = CaptureJob("capture-unbound");
  job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "missing";
  Create(kJobs, "kubectl-dr-system", job);
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-unbound",
                      [](const json& j) { return j.value("/status/active"_json_pointer, 0) == 1; }));
  std::vector<json> pods;
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-unbound", [&](const json&) {
    pods = PodsOf("capture-unbound");
    return pods.size() == 1 && pods[0].value("/status/phase"_json_pointer, "") == "Pending";
  }));
  EXPECT_FALSE(pods[0].contains("/status/containerStatuses"_json_pointer)) << "no process before the claim binds";
}

// The node with kubesim's Longhorn: a claim on a Longhorn CSI PV mounts as the Longhorn volume's
// directory.
class AgentNodeLonghornTest : public AgentNodeTest {
 protected:
  AgentNodeLonghornTest() { longhorn_ = true; }

  // An active Longhorn volume `volume`, a CSI PV on it and the claim kubectl-dr-system/`claim`.
  void LonghornClaim(const std::string& claim, const std::string& volume) {
    ASSERT_TRUE(WaitFor({"longhorn.io", "backuptargets"}, "longhorn-system", "default", [](const json&) { return true; }));
    Create(kLonghornVolumes, "longhorn-system",
           {{"apiVersion", "longhorn.io/v1beta2"}, {"kind", "Volume"},
            {"metadata", {{"name", volume}, {"namespace", "longhorn-system"}}},
            {"spec", {{"size", "1073741824"}, {"numberOfReplicas", 3}, {"frontend", "blockdev"}}}});
    ASSERT_TRUE(WaitFor(kLonghornVolumes, "longhorn-system", volume, LonghornVolumeActive));
    Create({"", "persistentvolumes"}, "",
           {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", volume + "-pv"}}},
            {"spec", {{"capacity", {{"storage", "1Gi"}}}, {"accessModes", {"ReadWriteOnce"}}, {"storageClassName", ""},
                      {"csi", {{"driver", std::string(kLonghornCsiDriver)}, {"volumeHandle", volume}}}}}});
    Create({"", "persistentvolumeclaims"}, "kubectl-dr-system",
           {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", claim}, {"namespace", "kubectl-dr-system"}}},
            {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"storageClassName", ""}, {"volumeName", volume + "-pv"},
                      {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
    ASSERT_TRUE(WaitFor({"", "persistentvolumeclaims"}, "kubectl-dr-system", claim,
                        [](const json& c) { return c.value("/status/phase"_json_pointer, "") == "Bound"; }));
  }

  json CaptureJobOn(const std::string& name, const std::string& claim) {
    json job = CaptureJob(name);
    job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = claim;
    return job;
  }

  const GroupResource kLonghornVolumes{"longhorn.io", "volumes"};
};

TEST_F(AgentNodeLonghornTest, ALonghornClaimMountsAsTheLonghornVolumesDirectory) {
  LonghornClaim("lh-inventory", "inv-vol");
  Create(kJobs, "kubectl-dr-system", CaptureJobOn("capture-lh", "lh-inventory"));
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-lh", JobCondition("Complete")));
  PosixFileSystem fs;
  auto inv = inventory::Inventory::Open(fs, LonghornVolumeDir(dir_.path() + "/longhorn", "inv-vol"));
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  EXPECT_FALSE(inv->index().objects.empty());
  EXPECT_FALSE(fs.Exists(dir_.path() + "/node/volumes/inv-vol-pv")) << "not the node's scratch directory";
}

// A volume being restored has no frontend: the pod fails as the mount would, saying why.
TEST_F(AgentNodeLonghornTest, AVolumeThatIsNotActiveIsNotMountedAndThePodFailsSayingWhy) {
  LonghornClaim("lh-inventory", "inv-vol");
  // As a restore started on it would (the status subresource).
  WriteOptions status;
  status.subresource = "status";
  ASSERT_TRUE(server_->store()
                  ->Modify(kLonghornVolumes, "longhorn-system", "inv-vol",
                           [](json* v) {
                             (*v)["status"]["restoreRequired"] = true;
                             return Status::Ok();
                           },
                           status)
                  .ok());
  ASSERT_TRUE(WaitFor(kLonghornVolumes, "longhorn-system", "inv-vol",
                      [](const json& v) { return !LonghornVolumeActive(v); }));
  Create(kJobs, "kubectl-dr-system", CaptureJobOn("capture-restoring", "lh-inventory"));
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-restoring", JobCondition("Failed")));
  std::vector<json> pods = PodsOf("capture-restoring");
  ASSERT_EQ(pods.size(), 1u);
  const json terminated = pods[0].value("/status/containerStatuses/0/state/terminated"_json_pointer, json::object());
  EXPECT_EQ(terminated.value("reason", ""), "StartError");
  const std::string message = terminated.value("message", "");
  EXPECT_NE(message.find("volume \"inv-vol-pv\""), std::string::npos) << message;
  EXPECT_NE(message.find("longhorn volume \"inv-vol\" is a standby (DR) volume or still restoring"),
            std::string::npos)
      << message;
  PosixFileSystem fs;
  EXPECT_FALSE(fs.Exists(LonghornVolumeDir(dir_.path() + "/longhorn", "inv-vol") + "/kubectl-dr"))
      << "nothing was written to the volume";
}

// The node of a cluster whose hosts use array-b of an alletra-sim: a claim on an HPE CSI PV
// mounts as the directory alletra-sim keeps for the volume on array-b, while array-b may write it.
class AgentNodeHpeTest : public AgentNodeTest {
 protected:
  void SetUp() override {
    sim::AlletraSimOptions so;
    sim::GroupSpec g;
    g.name = "inv";
    g.primary_array = "array-a";
    g.volumes.push_back({"inv-a", "inv-b", 1024});
    so.spec.groups.push_back(g);
    auto s = sim::AlletraSim::Start(std::move(so));
    ASSERT_TRUE(s.ok()) << s.status().message();
    sim_ = std::move(*s);
    HpeArrayOptions ho;
    ho.array = "array-b";
    ho.alletra_url = sim_->admin_url();
    ho.ca_pem = sim_->ca_pem();
    ho.data_dir = sim_->data_dir();
    auto hpe = HpeArray::Connect(ho);
    ASSERT_TRUE(hpe.ok()) << hpe.status().message();
    hpe_array_ = std::move(*hpe);
    AgentNodeTest::SetUp();
  }
  void TearDown() override { server_.reset(); }  // before the sim its controllers ask

  void Act(const std::string& array, const std::string& group, int action) {
    auto e = sim_->pair().Act(sim_->pair().ArrayIndex(array), group, action, {});
    ASSERT_FALSE(e.has_value()) << e->desc;
  }

  // A csi.hpe.com PV on array volume `volume` and the claim kubectl-dr-system/`claim` on it.
  void HpeClaim(const std::string& claim, const std::string& volume) {
    Create({"", "persistentvolumes"}, "",
           {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", volume + "-pv"}}},
            {"spec", {{"capacity", {{"storage", "1Gi"}}}, {"accessModes", {"ReadWriteOnce"}}, {"storageClassName", ""},
                      {"csi", {{"driver", std::string(kHpeCsiDriver)}, {"volumeHandle", volume}}}}}});
    Create({"", "persistentvolumeclaims"}, "kubectl-dr-system",
           {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", claim}, {"namespace", "kubectl-dr-system"}}},
            {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"storageClassName", ""}, {"volumeName", volume + "-pv"},
                      {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }

  json CaptureJobOn(const std::string& name, const std::string& claim) {
    json job = CaptureJob(name);
    job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = claim;
    return job;
  }

  std::unique_ptr<sim::AlletraSim> sim_;
};

TEST_F(AgentNodeHpeTest, AnHpeClaimMountsAsTheArrayVolumesDirectoryOnlyWhileTheArrayMayWriteIt) {
  // Failed over to array-b: its replica is writable there.
  Act("array-a", "inv", sim::kActionStop);
  Act("array-b", "inv.r188150", sim::kActionFailover);
  HpeClaim("hpe-inventory", "inv-b");
  ASSERT_TRUE(WaitFor({"", "persistentvolumeclaims"}, "kubectl-dr-system", "hpe-inventory",
                      [](const json& c) { return c.value("/status/phase"_json_pointer, "") == "Bound"; }));
  Create(kJobs, "kubectl-dr-system", CaptureJobOn("capture-hpe", "hpe-inventory"));
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-hpe", JobCondition("Complete")));
  PosixFileSystem fs;
  const std::string volume_dir = sim::ArrayVolumeDir(sim_->data_dir(), "array-b", "inv-b");
  auto inv = inventory::Inventory::Open(fs, volume_dir);
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  EXPECT_FALSE(inv->index().objects.empty());

  // Back in the natural direction (recover, then restore): array-b holds a read-only secondary,
  // which a pod of this cluster cannot mount any more.
  Act("array-b", "inv.r188150", sim::kActionRecover);
  ASSERT_TRUE(sim_->pair().CompleteSync("inv").ok());
  Act("array-b", "inv.r188150", sim::kActionRestore);
  Create(kJobs, "kubectl-dr-system", CaptureJobOn("capture-secondary", "hpe-inventory"));
  ASSERT_TRUE(WaitFor(kJobs, "kubectl-dr-system", "capture-secondary", JobCondition("Failed")));
  std::vector<json> pods = PodsOf("capture-secondary");
  ASSERT_EQ(pods.size(), 1u);
  const json terminated = pods[0].value("/status/containerStatuses/0/state/terminated"_json_pointer, json::object());
  EXPECT_EQ(terminated.value("reason", ""), "StartError");
  const std::string message = terminated.value("message", "");
  EXPECT_NE(message.find("volume \"inv-b\" is not writable on array array-b"), std::string::npos) << message;
}

}  // namespace
}  // namespace kdr::kubesim
