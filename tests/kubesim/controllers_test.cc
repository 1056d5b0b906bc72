#include "kubesim/controllers.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "kubesim/registry.h"
#include "kubesim/store.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

const GroupResource kPvcs{"", "persistentvolumeclaims"};
const GroupResource kPvs{"", "persistentvolumes"};
const GroupResource kPods{"", "pods"};
const GroupResource kClasses{"storage.k8s.io", "storageclasses"};
const GroupResource kDeployments{"apps", "deployments"};
const GroupResource kReplicaSets{"apps", "replicasets"};
const GroupResource kStatefulSets{"apps", "statefulsets"};
const GroupResource kJobs{"batch", "jobs"};

// A store with controllers running on it, and waits driven by the store's own watch.
class ControllersTest : public ::testing::Test {
 protected:
  void Start(ControllerOptions options = {}) {
    auto store = Store::Open(&registry_, Store::Options{&clock_, 10000, ""});
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    options.clock = &clock_;
    options.logger = &logger_;
    options.longhorn = false;  // Longhorn has its own suite
    options.resync_interval = std::chrono::milliseconds(200);
    auto c = Controllers::Start(store_.get(), options);
    ASSERT_TRUE(c.ok()) << c.status().message();
    controllers_ = std::move(*c);
    ASSERT_TRUE(store_->Create({"", "namespaces"}, "",
                               {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                {"metadata", {{"name", "shop"}}}})
                    .ok());
  }

  void TearDown() override {
    if (controllers_) controllers_->Stop();
  }

  json Create(const GroupResource& gr, const std::string& ns, json obj) {
    auto r = store_->Create(gr, ns, std::move(obj));
    EXPECT_TRUE(r.ok()) << r.status().message();
    return r.ok() ? *r : json();
  }

  // Waits (on store events, at most 20 s) until pred holds for the object.
  ::testing::AssertionResult WaitFor(const GroupResource& gr, const std::string& ns,
                                     const std::string& name,
                                     const std::function<bool(const json&)>& pred) {
    WatchOptions wo;
    wo.gr = gr;
    auto w = store_->Watch(wo);
    if (!w.ok()) return ::testing::AssertionFailure() << w.status().message();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    json last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto obj = store_->Get(gr, ns, name);
      if (obj.ok()) {
        last = *obj;
        if (pred(*obj)) return ::testing::AssertionSuccess();
      }
      (void)(*w)->Next(std::chrono::milliseconds(200));
    }
    return ::testing::AssertionFailure() << "timed out waiting for " << gr.String() << " " << ns
                                         << "/" << name << "; last: " << last.dump();
  }

  // Waits (on store events, at most 20 s) until the object is gone.
  bool WaitGone(const GroupResource& gr, const std::string& ns, const std::string& name) {
    WatchOptions wo;
    wo.gr = gr;
    auto w = store_->Watch(wo);
    if (!w.ok()) return false;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!store_->Get(gr, ns, name).ok()) return true;
      (void)(*w)->Next(std::chrono::milliseconds(200));
    }
    return false;
  }

  static std::function<bool(const json&)> Phase(const std::string& phase) {
    return [phase](const json& o) { return o.value("/status/phase"_json_pointer, "") == phase; };
  }

  json Class(const std::string& name, const std::string& provisioner, json annotations = json::object(),
             const std::string& reclaim = "Delete") {
    return {{"apiVersion", "storage.k8s.io/v1"},
            {"kind", "StorageClass"},
            {"metadata", {{"name", name}, {"annotations", annotations}}},
            {"provisioner", provisioner},
            {"reclaimPolicy", reclaim}};
  }

  static json Pvc(const std::string& name, std::optional<std::string> cls,
                  const std::string& volume = "") {
    json spec = {{"accessModes", {"ReadWriteOnce"}},
                 {"resources", {{"requests", {{"storage", "2Gi"}}}}}};
    if (cls) spec["storageClassName"] = *cls;
    if (!volume.empty()) spec["volumeName"] = volume;
    return {{"apiVersion", "v1"},
            {"kind", "PersistentVolumeClaim"},
            {"metadata", {{"name", name}, {"namespace", "shop"}}},
            {"spec", spec}};
  }

  static json Pv(const std::string& name, json claim_ref = nullptr) {
    json pv = {{"apiVersion", "v1"},
               {"kind", "PersistentVolume"},
               {"metadata", {{"name", name}}},
               {"spec",
                {{"capacity", {{"storage", "5Gi"}}},
                 {"accessModes", {"ReadWriteOnce"}},
                 {"persistentVolumeReclaimPolicy", "Retain"},
                 {"hostPath", {{"path", "/data/" + name}}}}}};
    if (!claim_ref.is_null()) pv["spec"]["claimRef"] = claim_ref;
    return pv;
  }

  testutil::FakeClock clock_;
  Logger logger_{std::make_unique<TextLogSink>(&std::cerr, nullptr), LogLevel::kWarning};
  Registry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Controllers> controllers_;
};

TEST_F(ControllersTest, ProvisionsAndBindsAClaimOfAKubesimClass) {
  Start();
  Create(kClasses, "", Class("fast", std::string(kHostpathProvisioner)));
  json pvc = Create(kPvcs, "shop", Pvc("data", "fast"));
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "data", Phase("Bound")));
  json got = *store_->Get(kPvcs, "shop", "data");
  std::string pv_name = "pvc-" + pvc["metadata"]["uid"].get<std::string>();
  EXPECT_EQ(got["spec"]["volumeName"], pv_name);
  EXPECT_EQ(got["status"]["capacity"]["storage"], "2Gi");
  EXPECT_EQ(got["status"]["accessModes"], json::array({"ReadWriteOnce"}));
  EXPECT_EQ(got["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes");
  EXPECT_EQ(got["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"],
            kHostpathProvisioner);
  ASSERT_TRUE(WaitFor(kPvs, "", pv_name, Phase("Bound")));
  json pv = *store_->Get(kPvs, "", pv_name);
  EXPECT_EQ(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
  EXPECT_EQ(pv["spec"]["claimRef"]["namespace"], "shop");
  EXPECT_EQ(pv["spec"]["storageClassName"], "fast");
  EXPECT_EQ(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
  EXPECT_EQ(pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"], kHostpathProvisioner);
}

TEST_F(ControllersTest, UsesTheDefaultClassAndAnnotatedClasses) {
  Start();
  Create(kClasses, "", Class("std", "example.com/other",
                             {{"storageclass.kubernetes.io/is-default-class", "true"},
                              {std::string(kProvisionAnnotation), "true"}}));
  Create(kPvcs, "shop", Pvc("nocls", std::nullopt));
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "nocls", Phase("Bound")));
  EXPECT_EQ(store_->Get(kPvcs, "shop", "nocls")->at("spec").value("storageClassName", ""), "std");
}

TEST_F(ControllersTest, LeavesClaimsOfForeignClassesPending) {
  Start();
  Create(kClasses, "", Class("ebs", "ebs.csi.aws.com"));
  Create(kClasses, "", Class("fast", std::string(kHostpathProvisioner)));
  Create(kPvcs, "shop", Pvc("foreign", "ebs"));
  Create(kPvcs, "shop", Pvc("ours", "fast"));
  // Every pending claim is examined in the same pass, so once "ours" is bound "foreign" was seen.
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "ours", Phase("Bound")));
  EXPECT_EQ(store_->Get(kPvcs, "shop", "foreign")->value("/status/phase"_json_pointer, ""),
            "Pending");
}

TEST_F(ControllersTest, ClaimNamingAVolumeBindsOnceThePvExists) {
  Start();
  Create(kPvcs, "shop", Pvc("restored", "", "pv-restored"));
  Create(kPvcs, "shop", Pvc("prebound", ""));
  // A restored PV pointing at its claim by name (the uid was dropped on restore).
  Create(kPvs, "", Pv("pv-prebound", {{"kind", "PersistentVolumeClaim"}, {"namespace", "shop"},
                                      {"name", "prebound"}}));
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "prebound", Phase("Bound")));
  EXPECT_EQ(store_->Get(kPvcs, "shop", "restored")->value("/status/phase"_json_pointer, ""),
            "Pending");
  Create(kPvs, "", Pv("pv-restored"));
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "restored", Phase("Bound")));
  ASSERT_TRUE(WaitFor(kPvs, "", "pv-restored", Phase("Bound")));
  json pv = *store_->Get(kPvs, "", "pv-restored");
  EXPECT_EQ(pv["spec"]["claimRef"]["name"], "restored");
  EXPECT_EQ(pv["status"]["phase"], "Bound");
  json prebound = *store_->Get(kPvcs, "shop", "prebound");
  EXPECT_EQ(prebound["spec"]["volumeName"], "pv-prebound");
  EXPECT_EQ(store_->Get(kPvs, "", "pv-prebound")->at("spec")["claimRef"]["uid"],
            prebound["metadata"]["uid"]);
}

TEST_F(ControllersTest, DeletedClaimReleasesItsVolumeByReclaimPolicy) {
  Start();
  Create(kClasses, "", Class("fast", std::string(kHostpathProvisioner)));
  Create(kClasses, "", Class("keep", std::string(kHostpathProvisioner), json::object(), "Retain"));
  json gone = Create(kPvcs, "shop", Pvc("gone", "fast"));
  json kept = Create(kPvcs, "shop", Pvc("kept", "keep"));
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "gone", Phase("Bound")));
  ASSERT_TRUE(WaitFor(kPvcs, "shop", "kept", Phase("Bound")));
  ASSERT_TRUE(store_->Delete(kPvcs, "shop", "gone").ok());
  ASSERT_TRUE(store_->Delete(kPvcs, "shop", "kept").ok());
  std::string gone_pv = "pvc-" + gone["metadata"]["uid"].get<std::string>();
  std::string kept_pv = "pvc-" + kept["metadata"]["uid"].get<std::string>();
  ASSERT_TRUE(WaitFor(kPvs, "", kept_pv, Phase("Released")));
  // Released after the delete was handled in the same pass.
  EXPECT_TRUE(store_->Get(kPvs, "", gone_pv).status().IsNotFound());
}

json Deployment(const std::string& name, int replicas, json volumes = json::array()) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}}}}},
              {"spec",
               {{"containers", json::array({{{"name", "app"}, {"image", "nginx:1.27"}}})},
                {"volumes", volumes}}}}}}}};
}

TEST_F(ControllersTest, DeploymentReportsItsReplicasReadyAndScalesToZero) {
  Start();
  Create(kDeployments, "shop", Deployment("web", 3));
  auto ready3 = [](const json& d) {
    return d.value("/status/readyReplicas"_json_pointer, 0) == 3 &&
           d.value("/status/availableReplicas"_json_pointer, 0) == 3 &&
           d.value("/status/updatedReplicas"_json_pointer, 0) == 3 &&
           d.value("/status/replicas"_json_pointer, 0) == 3;
  };
  ASSERT_TRUE(WaitFor(kDeployments, "shop", "web", ready3));
  json d = *store_->Get(kDeployments, "shop", "web");
  EXPECT_EQ(d["status"]["observedGeneration"], d["metadata"]["generation"]);
  bool available = false;
  for (const auto& c : d["status"]["conditions"]) {
    if (c["type"] == "Available") available = c["status"] == "True";
  }
  EXPECT_TRUE(available);
  ListOptions lo;
  lo.namespace_name = "shop";
  auto sets = store_->List(kReplicaSets, lo);
  ASSERT_TRUE(sets.ok());
  ASSERT_EQ(sets->items.size(), 1u);
  EXPECT_EQ((*sets->items[0])["metadata"]["ownerReferences"][0]["uid"], d["metadata"]["uid"]);
  lo.label_selector = "app=web";
  auto pods = store_->List(kPods, lo);
  ASSERT_EQ(pods->items.size(), 3u);
  EXPECT_EQ((*pods->items[0])["status"]["phase"], "Running");

  ASSERT_TRUE(store_
                  ->Modify(kDeployments, "shop", "web",
                           [](json* o) {
                             (*o)["spec"]["replicas"] = 0;
                             return Status::Ok();
                           })
                  .ok());
  ASSERT_TRUE(WaitFor(kDeployments, "shop", "web", [](const json& d) {
    return d["status"]["observedGeneration"] == d["metadata"]["generation"] &&
           !d["status"].contains("replicas") && !d["status"].contains("readyReplicas");
  }));
  EXPECT_TRUE(store_->List(kPods, lo)->items.empty());
}

TEST_F(ControllersTest, PodsWaitForTheirClaimsToBind) {
  ControllerOptions o;
  o.pvc = false;  // nothing binds
  Start(o);
  Create(kPvcs, "shop", Pvc("data", "fast"));
  Create(kDeployments, "shop",
         Deployment("db", 1, json::array({{{"name", "data"},
                                           {"persistentVolumeClaim", {{"claimName", "data"}}}}})));
  Create(kDeployments, "shop", Deployment("web", 1));
  ASSERT_TRUE(WaitFor(kDeployments, "shop", "web", [](const json& d) {
    return d.value("/status/readyReplicas"_json_pointer, 0) == 1;
  }));
  ASSERT_TRUE(WaitFor(kDeployments, "shop", "db", [](const json& d) {
    return d.value("/status/replicas"_json_pointer, 0) == 1;
  }));
  json db = *store_->Get(kDeployments, "shop", "db");
  EXPECT_FALSE(db["status"].contains("readyReplicas"));
  EXPECT_EQ(db["status"]["unavailableReplicas"], 1);
  ListOptions lo;
  lo.namespace_name = "shop";
  lo.label_selector = "app=db";
  auto pods = store_->List(kPods, lo);
  ASSERT_EQ(pods->items.size(), 1u);
  const json& pod = *pods->items[0];
  EXPECT_EQ(pod["status"]["phase"], "Pending");
  EXPECT_NE(pod["status"]["conditions"][0]["message"].get<std::string>().find(
                "pod has unbound immediate PersistentVolumeClaims"),
            std::string::npos);
}

// A restored pod naming the source's node never runs: no such node (on the real pair it stays
// {phase: Pending, qosClass: BestEffort}, untouched, until the pod GC deletes it 40 to 60 s
// later); unbound ones and this node's run.
TEST_F(ControllersTest, APodBoundToAnotherNodeNeverRuns) {
  Start();
  auto pod = [](const std::string& name, const std::string& node) {
    json spec = {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}};
    if (!node.empty()) spec["nodeName"] = node;
    return json{{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", "shop"}}},
                {"spec", spec}};
  };
  struct Case {
    const char* name;
    const char* node;
    bool runs;
  } cases[] = {
      {"ghost", "source-node-7", false},
      {"unbound", "", true},
      {"here", "kubesim-node", true},
  };
  std::map<std::string, json> created;
  for (const auto& tc : cases) created[tc.name] = Create(kPods, "shop", pod(tc.name, tc.node));
  for (const auto& tc : cases) {
    if (!tc.runs) continue;
    SCOPED_TRACE(tc.name);
    EXPECT_TRUE(WaitFor(kPods, "shop", tc.name, Phase("Running")));
  }
  // The kubelet has seen every pod of the namespace by now (one pass handles them all).
  for (const auto& tc : cases) {
    if (tc.runs) continue;
    SCOPED_TRACE(tc.name);
    json now = *store_->Get(kPods, "shop", tc.name);
    EXPECT_EQ(now["status"], json({{"phase", "Pending"}, {"qosClass", "BestEffort"}}));
    EXPECT_EQ(now["metadata"]["resourceVersion"], created[tc.name]["metadata"]["resourceVersion"]);
  }
  // The pod GC deletes it once its node has been missing for 40 s; the others stay.
  clock_.Advance(std::chrono::seconds(39));
  ASSERT_TRUE(WaitFor(kPods, "shop", "here", Phase("Running")));
  EXPECT_TRUE(store_->Get(kPods, "shop", "ghost").ok());
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(WaitGone(kPods, "shop", "ghost"));
  EXPECT_TRUE(store_->Get(kPods, "shop", "here").ok());
}

TEST_F(ControllersTest, StatefulSetCreatesOrdinalPodsAndClaimsFromTemplates) {
  Start();
  Create(kClasses, "", Class("fast", std::string(kHostpathProvisioner)));
  json sts = {{"apiVersion", "apps/v1"},
              {"kind", "StatefulSet"},
              {"metadata", {{"name", "pg"}, {"namespace", "shop"}}},
              {"spec",
               {{"replicas", 2},
                {"serviceName", "pg"},
                {"selector", {{"matchLabels", {{"app", "pg"}}}}},
                {"template",
                 {{"metadata", {{"labels", {{"app", "pg"}}}}},
                  {"spec", {{"containers", json::array({{{"name", "pg"}, {"image", "postgres"}}})}}}}},
                {"volumeClaimTemplates",
                 json::array({{{"metadata", {{"name", "data"}}},
                               {"spec",
                                {{"accessModes", {"ReadWriteOnce"}},
                                 {"storageClassName", "fast"},
                                 {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}})}}}};
  Create(kStatefulSets, "shop", sts);
  ASSERT_TRUE(WaitFor(kStatefulSets, "shop", "pg", [](const json& s) {
    return s.value("/status/readyReplicas"_json_pointer, 0) == 2 &&
           s.value("/status/availableReplicas"_json_pointer, 0) == 2;
  }));
  for (const char* pod : {"pg-0", "pg-1"}) {
    SCOPED_TRACE(pod);
    auto p = store_->Get(kPods, "shop", pod);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ((*p)["status"]["phase"], "Running");
    EXPECT_EQ((*p)["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], pod);
    EXPECT_EQ(store_->Get(kPvcs, "shop", std::string("data-") + pod)
                  ->value("/status/phase"_json_pointer, ""),
              "Bound");
  }
}

// podManagementPolicy: OrderedReady (the default) makes a pod and its claims only once every
// lower ordinal is Running and Ready; Parallel makes them all at once. Nothing binds here, so
// a pod waits for its claim until the test binds it.
TEST_F(ControllersTest, StatefulSetOrderedReadyMakesOnePodAtATime) {
  ControllerOptions o;
  o.pvc = false;
  Start(o);
  auto sts = [](const std::string& name, const char* policy) {
    json spec = {{"replicas", 3},
                 {"serviceName", name},
                 {"selector", {{"matchLabels", {{"app", name}}}}},
                 {"template",
                  {{"metadata", {{"labels", {{"app", name}}}}},
                   {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "postgres"}}})}}}}},
                 {"volumeClaimTemplates",
                  json::array({{{"metadata", {{"name", "data"}}},
                                {"spec", {{"accessModes", {"ReadWriteOnce"}},
                                          {"storageClassName", "fast"},
                                          {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}})}};
    if (policy != nullptr) spec["podManagementPolicy"] = policy;
    return json{{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"},
                {"metadata", {{"name", name}, {"namespace", "shop"}}}, {"spec", spec}};
  };
  auto names = [&](const GroupResource& gr, const std::string& prefix) {
    std::vector<std::string> out;
    ListOptions lo;
    lo.namespace_name = "shop";
    auto listed = store_->List(gr, lo);
    for (const auto& obj : listed->items) {
      const std::string n = (*obj)["metadata"]["name"];
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    return out;
  };
  auto bind = [&](const std::string& claim) {
    json pvc = *store_->Get(kPvcs, "shop", claim);
    pvc["status"]["phase"] = "Bound";
    ASSERT_TRUE(store_->Update(kPvcs, "shop", pvc, {false, "status"}).ok());
  };
  Create(kStatefulSets, "shop", sts("ordered", nullptr));
  Create(kStatefulSets, "shop", sts("parallel", "Parallel"));
  ASSERT_TRUE(WaitFor(kStatefulSets, "shop", "parallel", [](const json& s) {
    return s.value("/status/replicas"_json_pointer, 0) == 3;
  }));
  EXPECT_EQ(names(kPvcs, "data-parallel-"), (std::vector<std::string>{"data-parallel-0", "data-parallel-1",
                                                                       "data-parallel-2"}));
  // Both sets are reconciled in the same passes: the ordered one stopped at its first pod.
  EXPECT_EQ(names(kPods, "ordered-"), std::vector<std::string>{"ordered-0"});
  EXPECT_EQ(names(kPvcs, "data-ordered-"), std::vector<std::string>{"data-ordered-0"});
  // Ready, it lets the next ordinal come, and only that one.
  bind("data-ordered-0");
  ASSERT_TRUE(WaitFor(kPods, "shop", "ordered-1", [](const json&) { return true; }));
  EXPECT_EQ(store_->Get(kPods, "shop", "ordered-0")->value("/status/phase"_json_pointer, ""), "Running");
  EXPECT_EQ(names(kPvcs, "data-ordered-"), (std::vector<std::string>{"data-ordered-0", "data-ordered-1"}));
  EXPECT_EQ(names(kPods, "ordered-"), (std::vector<std::string>{"ordered-0", "ordered-1"}));
  bind("data-ordered-1");
  ASSERT_TRUE(WaitFor(kPods, "shop", "ordered-2", [](const json&) { return true; }));
  bind("data-ordered-2");
  ASSERT_TRUE(WaitFor(kStatefulSets, "shop", "ordered", [](const json& s) {
    return s.value("/status/readyReplicas"_json_pointer, 0) == 3;
  }));
}

TEST_F(ControllersTest, JobsCompleteFailOrHoldAsAnnotated) {
  Start();
  auto job = [](const std::string& name, const std::string& outcome) {
    json j = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", name}, {"namespace", "shop"}}},
              {"spec",
               {{"backoffLimit", 2},
                {"template",
                 {{"spec",
                   {{"restartPolicy", "Never"},
                    {"containers", json::array({{{"name", "agent"}, {"image", "kdr"}}})}}}}}}}};
    if (!outcome.empty()) {
      j["metadata"]["annotations"] = {{std::string(kJobOutcomeAnnotation), outcome}};
    }
    return j;
  };
  auto has = [](const std::string& type) {
    return [type](const json& j) {
      for (const auto& c : j.value("/status/conditions"_json_pointer, json::array())) {
        if (c["type"] == type && c["status"] == "True") return true;
      }
      return false;
    };
  };
  Create(kJobs, "shop", job("ok", ""));
  Create(kJobs, "shop", job("bad", "fail"));
  Create(kJobs, "shop", job("held", "hold"));
  ASSERT_TRUE(WaitFor(kJobs, "shop", "ok", has("Complete")));
  json ok = *store_->Get(kJobs, "shop", "ok");
  EXPECT_EQ(ok["status"]["succeeded"], 1);
  EXPECT_TRUE(ok["status"].contains("completionTime"));
  EXPECT_TRUE(has("SuccessCriteriaMet")(ok));
  ASSERT_TRUE(WaitFor(kJobs, "shop", "bad", has("Failed")));
  EXPECT_EQ(store_->Get(kJobs, "shop", "bad")->at("status")["conditions"][1]["reason"],
            "BackoffLimitExceeded");
  json held = *store_->Get(kJobs, "shop", "held");
  EXPECT_EQ(held["status"].value("active", 0), 1);
  EXPECT_FALSE(has("Complete")(held));
  ASSERT_TRUE(store_
                  ->Modify(kJobs, "shop", "held",
                           [](json* o) {
                             (*o)["metadata"]["annotations"].erase(std::string(kJobOutcomeAnnotation));
                             return Status::Ok();
                           })
                  .ok());
  ASSERT_TRUE(WaitFor(kJobs, "shop", "held", has("Complete")));
}

TEST_F(ControllersTest, EveryNamespaceGetsWhatARealClusterPutsInIt) {
  ControllerOptions o;
  o.cluster_ca_pem = "-----BEGIN CERTIFICATE-----\nkubesim\n-----END CERTIFICATE-----\n";
  Start(o);
  EXPECT_TRUE(WaitFor({"", "serviceaccounts"}, "shop", "default", [](const json&) { return true; }));
  EXPECT_TRUE(WaitFor({"", "configmaps"}, "shop", "kube-root-ca.crt", [&](const json& cm) {
    return cm["data"]["ca.crt"] == o.cluster_ca_pem;
  }));
  ASSERT_TRUE(store_->Create({"", "namespaces"}, "",
                             {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "default"}}}})
                  .ok() ||
              store_->Get({"", "namespaces"}, "", "default").ok());
  EXPECT_TRUE(WaitFor({"", "services"}, "default", "kubernetes", [](const json& svc) {
    return svc["spec"]["ports"][0]["port"] == 443;
  }));
  // Deleted by a user, it comes back, as on a cluster.
  ASSERT_TRUE(store_->Delete({"", "serviceaccounts"}, "shop", "default", {}).ok());
  EXPECT_TRUE(WaitFor({"", "serviceaccounts"}, "shop", "default", [](const json&) { return true; }));
}

// The root-ca-cert-publisher writes back kube-root-ca.crt: a restored copy of the source's CA, an
// extra key or a lost description annotation is reverted (on the real pair within a second);
// labels and other annotations are kept; a deleted one comes back.
TEST_F(ControllersTest, KubeRootCaCrtIsWrittenBack) {
  ControllerOptions o;
  o.cluster_ca_pem = "-----BEGIN CERTIFICATE-----\ntarget\n-----END CERTIFICATE-----\n";
  Start(o);
  const GroupResource cms{"", "configmaps"};
  ASSERT_TRUE(WaitFor(cms, "shop", "kube-root-ca.crt", [](const json&) { return true; }));
  struct Case {
    const char* name;  // also a label value
    std::function<void(json*)> edit;
  } cases[] = {
      {"source-ca", [](json* cm) { (*cm)["data"]["ca.crt"] = "-----BEGIN CERTIFICATE-----\nsource\n"; }},
      {"extra-key", [](json* cm) { (*cm)["data"]["extra"] = "x"; }},
      {"no-description", [](json* cm) { (*cm)["metadata"]["annotations"].erase("kubernetes.io/description"); }},
  };
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto m = store_->Modify(cms, "shop", "kube-root-ca.crt", [&](json* cm) {
      tc.edit(cm);
      (*cm)["metadata"]["labels"]["kept"] = tc.name;
      return Status::Ok();
    });
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_TRUE(WaitFor(cms, "shop", "kube-root-ca.crt", [&](const json& cm) {
      return cm["data"] == json{{"ca.crt", o.cluster_ca_pem}} &&
             cm["metadata"]["annotations"].contains("kubernetes.io/description") &&
             cm["metadata"]["labels"].value("kept", "") == tc.name;
    }));
  }
  ASSERT_TRUE(store_->Delete(cms, "shop", "kube-root-ca.crt", {}).ok());
  EXPECT_TRUE(WaitFor(cms, "shop", "kube-root-ca.crt", [&](const json& cm) {
    return cm["data"]["ca.crt"] == o.cluster_ca_pem;
  }));
}

// The tokens controller on service-account token Secrets, as on the real pair: one whose account
// is missing or has another uid is deleted (within a second there); with its account it gets
// the uid, namespace, CA and, when it has none, a token (a restored token is kept).
TEST_F(ControllersTest, TokenSecretsFollowTheirServiceAccount) {
  ControllerOptions o;
  o.cluster_ca_pem = "-----BEGIN CERTIFICATE-----\ntarget\n-----END CERTIFICATE-----\n";
  o.agent.issue_token = [](const std::string& ns, const std::string& name) { return "issued-" + ns + "-" + name; };
  Start(o);
  const GroupResource secrets{"", "secrets"};
  const json sa = Create({"", "serviceaccounts"}, "shop",
                         {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "app"}}}});
  const std::string uid = sa["metadata"]["uid"];
  auto token_secret = [](const std::string& name, const std::string& account, const std::string& account_uid,
                         const std::string& token) {
    json annotations = {{"kubernetes.io/service-account.name", account}};
    if (!account_uid.empty()) annotations["kubernetes.io/service-account.uid"] = account_uid;
    json s = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "kubernetes.io/service-account-token"},
              {"metadata", {{"name", name}, {"annotations", annotations}}}};
    if (!token.empty()) s["data"] = {{"token", Base64Encode(token)}};
    return s;
  };
  struct Case {
    const char* name;
    json secret;
    bool kept;
    std::string token;  // the token it ends with
  } cases[] = {
      {"no such account", token_secret("ghost-token", "ghost", "", "old"), false, ""},
      {"the source's account", token_secret("stale-token", "app", "0000-1111", "old"), false, ""},
      {"its account, no token", token_secret("fresh-token", "app", "", ""), true, "issued-shop-app"},
      {"its account, a restored token", token_secret("restored-token", "app", uid, "old"), true, "old"},
  };
  for (const auto& tc : cases) Create(secrets, "shop", tc.secret);
  for (const auto& tc : cases) {
    SCOPED_TRACE(tc.name);
    const std::string name = tc.secret["metadata"]["name"];
    if (!tc.kept) {
      EXPECT_TRUE(WaitGone(secrets, "shop", name));
      continue;
    }
    EXPECT_TRUE(WaitFor(secrets, "shop", name, [&](const json& s) {
      return s.value("/data/namespace"_json_pointer, "") == Base64Encode("shop") &&
             s.value("/data/ca.crt"_json_pointer, "") == Base64Encode(o.cluster_ca_pem) &&
             s.value("/data/token"_json_pointer, "") == Base64Encode(tc.token) &&
             s.value("/metadata/annotations/kubernetes.io~1service-account.uid"_json_pointer, "") == uid;
    }));
  }
}

TEST(DisableControllersTest, ParsesTheFlagValue) {
  ControllerOptions o;
  ASSERT_TRUE(DisableControllers("pvc, longhorn", &o).ok());
  EXPECT_FALSE(o.pvc);
  EXPECT_TRUE(o.workloads);
  EXPECT_FALSE(o.longhorn);
  ControllerOptions all;
  ASSERT_TRUE(DisableControllers("all", &all).ok());
  EXPECT_FALSE(all.pvc || all.workloads || all.longhorn || all.namespaces);
  ControllerOptions none;
  ASSERT_TRUE(DisableControllers("", &none).ok());
  EXPECT_TRUE(none.pvc && none.workloads && none.longhorn);
  Status bad = DisableControllers("pvc,workload", &none);
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("unknown controller \"workload\""), std::string::npos);
  EXPECT_NE(bad.message().find("did you mean \"workloads\""), std::string::npos) << bad.message();
}

}  // namespace
}  // namespace kdr::kubesim
