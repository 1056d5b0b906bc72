#include "kubesim/sim_node.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/clock.h"
#include "kubesim/cluster_view.h"
#include "kubesim/controllers_internal.h"
#include "kubesim/longhorn.h"
#include "kubesim/store.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const GroupResource kPods{"", "pods"};
const GroupResource kPvcs{"", "persistentvolumeclaims"};
const GroupResource kPvs{"", "persistentvolumes"};
const GroupResource kNodes{"", "nodes"};
const GroupResource kEvents{"", "events"};
const GroupResource kVolumes{"longhorn.io", "volumes"};

// The node over kubesim's Store (StoreView serves pods/binding as kube-apiserver does), driven
// by the same runner kubesim-controllers uses.
class SimNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = Store::Open(&registry_, Store::Options{&clock_, 10000, ""});
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    view_ = std::make_unique<StoreView>(store_.get());
    ASSERT_TRUE(InstallLonghornCrds(view_.get()).ok());
    ASSERT_TRUE(view_->Create({"", "namespaces"}, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                       {"metadata", {{"name", "longhorn-system"}}}}).ok());
    SimNodeOptions o;
    o.node_name = "target";
    o.clock = &clock_;
    node_ = NewSimNode(view_.get(), o);
    runner_ = std::jthread(RunReconciler, view_.get(), SimNodeResources(), node_.get(), 100ms, nullptr);
  }
  void TearDown() override {
    runner_.request_stop();
    if (runner_.joinable()) runner_.join();
  }

  ::testing::AssertionResult Eventually(const GroupResource& gr, const std::string& ns, const std::string& name,
                                        const std::function<bool(const json&)>& pred) {
    json last;
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      auto o = view_->Get(gr, ns, name);
      if (o.ok()) {
        last = *o;
        if (pred(*o)) return ::testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(20ms);
    }
    return ::testing::AssertionFailure() << gr.String() << " " << ns << "/" << name << ": " << last.dump(2);
  }

  static std::string At(const json& o, const char* pointer) {
    json::json_pointer p(pointer);
    return o.contains(p) && o.at(p).is_string() ? o.at(p).get<std::string>() : "";
  }

  static json PodOn(const std::string& name, const std::string& claim) {
    return {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec",
             {{"containers", json::array({{{"name", "db"}, {"image", "postgres"}}})},
              {"volumes", json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", claim}}}}})}}}};
  }

  // A claim not yet bound.
  void PendingClaim(const std::string& name) {
    json pvc = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", name}, {"namespace", "default"}}},
                {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
    ASSERT_TRUE(view_->Create(kPvcs, "default", pvc).ok());
  }
  // Binds the claim to a new CSI PV of `driver` on volume `handle`, as kube-controller-manager
  // binds.
  void BindClaim(const std::string& name, const std::string& driver, const std::string& handle) {
    json pv = {{"apiVersion", "v1"},
               {"kind", "PersistentVolume"},
               {"metadata", {{"name", name + "-pv"}}},
               {"spec",
                {{"capacity", {{"storage", "1Gi"}}},
                 {"accessModes", {"ReadWriteOnce"}},
                 {"csi", {{"driver", driver}, {"volumeHandle", handle}}},
                 {"claimRef", {{"namespace", "default"}, {"name", name}}}}}};
    ASSERT_TRUE(view_->Create(kPvs, "", pv).ok());
    ASSERT_TRUE(view_->Modify(kPvcs, "default", name, [&](json* c) {
                        (*c)["spec"]["volumeName"] = name + "-pv";
                        return Status::Ok();
                      }).ok());
    ASSERT_TRUE(ctl::WriteStatus(view_.get(), kPvcs, "default", name, {{"phase", "Bound"}}).ok());
  }

  RealClock clock_;
  Registry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StoreView> view_;
  std::unique_ptr<Reconciler> node_;
  std::jthread runner_;
};

TEST_F(SimNodeTest, RegistersAReadyNodeAndBindsAPodOnlyOnceItsClaimIsBound) {
  EXPECT_TRUE(Eventually(kNodes, "", "target", [](const json& n) {
    for (const auto& c : n.value("/status/conditions"_json_pointer, json::array())) {
      if (c.value("type", "") == "Ready") return c.value("status", "") == "True" && c.value("reason", "") == "KubeletReady";
    }
    return false;
  }));
  PendingClaim("data");
  ASSERT_TRUE(view_->Create(kPods, "default", PodOn("db", "data")).ok());
  EXPECT_TRUE(Eventually(kPods, "default", "db", [](const json& p) {
    return At(p, "/status/conditions/0/reason") == "Unschedulable" &&
           At(p, "/status/conditions/0/message").find("unbound immediate PersistentVolumeClaims") != std::string::npos;
  }));
  EXPECT_EQ(At(*view_->Get(kPods, "default", "db"), "/spec/nodeName"), "");

  BindClaim("data", "hostpath.example.com", "v1");
  EXPECT_TRUE(Eventually(kPods, "default", "db", [](const json& p) {
    return At(p, "/spec/nodeName") == "target" && At(p, "/status/phase") == "Running" &&
           p.value("/status/containerStatuses/0/ready"_json_pointer, false);
  }));
}

// A Longhorn DR volume's frontend is disabled: a pod mounting it does not start, and says why in
// an Event, until the volume is activated.
TEST_F(SimNodeTest, APodOnAStandbyLonghornVolumeStartsOnlyOnceItIsActivated) {
  json vol = {{"apiVersion", "longhorn.io/v1beta2"},
              {"kind", "Volume"},
              {"metadata", {{"name", "orders-vol"}, {"namespace", "longhorn-system"}}},
              {"spec", {{"size", "1073741824"}, {"standby", true}, {"fromBackup", "file:///b?backup=b1&volume=v"}}}};
  ASSERT_TRUE(view_->Create(kVolumes, "longhorn-system", vol).ok());
  PendingClaim("orders");
  BindClaim("orders", "driver.longhorn.io", "orders-vol");
  ASSERT_TRUE(view_->Create(kPods, "default", PodOn("db", "orders")).ok());
  EXPECT_TRUE(Eventually(kPods, "default", "db", [](const json& p) {
    return At(p, "/spec/nodeName") == "target" && At(p, "/status/phase") == "Pending" &&
           At(p, "/status/containerStatuses/0/state/waiting/reason") == "ContainerCreating";
  }));
  std::string events;
  for (const auto& e : ctl::ListAll(view_.get(), kEvents, "default")) {
    events += e.value("reason", "") + ": " + e.value("message", "") + "\n";
  }
  EXPECT_NE(events.find("FailedAttachVolume: AttachVolume.Attach failed for volume \"orders-pv\" : longhorn volume "
                        "\"orders-vol\" is a standby (DR) volume"),
            std::string::npos)
      << events;

  ASSERT_TRUE(view_->Modify(kVolumes, "longhorn-system", "orders-vol", [](json* v) {
                      (*v)["spec"]["standby"] = false;
                      (*v)["status"] = {{"state", "attached"}, {"isStandby", false}, {"restoreRequired", false}};
                      return Status::Ok();
                    }).ok());
  ASSERT_TRUE(ctl::WriteStatus(view_.get(), kVolumes, "longhorn-system", "orders-vol",
                               {{"state", "attached"}, {"isStandby", false}, {"restoreRequired", false}})
                  .ok());
  EXPECT_TRUE(Eventually(kPods, "default", "db", [](const json& p) { return At(p, "/status/phase") == "Running"; }));
}

}  // namespace
}  // namespace kdr::kubesim
