// One table of calls and expectations, run against every driver on its simulator: what the
// failover workflow may assume of any backend.

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "storage/driver.h"
#include "unit/storage/rigs.h"

namespace kdr::storage {
namespace {

using nlohmann::json;
using testing::Rig;

std::unique_ptr<Rig> MakeRig(const std::string& name) {
  if (name == "none") return std::make_unique<testing::NoneRig>();
  if (name == "longhorn") return std::make_unique<testing::LonghornRig>();
  return std::make_unique<testing::AlletraRig>();
}

class DriverConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    rig_ = MakeRig(GetParam());
    rig_->Start(/*workloads=*/2);
    ASSERT_FALSE(HasFatalFailure());
  }
  Deadline Long() { return Deadline::After(rig_->clock(), std::chrono::hours(1)); }
  Driver& d() { return rig_->driver(); }

  std::unique_ptr<Rig> rig_;
};

TEST_P(DriverConformanceTest, FollowsTheWorkflowContract) {
  // Discover: the inventory's CG first, alone; every claim in exactly one CG, named on both
  // sites (except by none, which names nothing).
  auto cgs = d().Discover(rig_->plan(), rig_->map(), Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_GE(cgs->size(), 2u);
  EXPECT_EQ((*cgs)[0].role, CgRole::kInventory);
  ASSERT_EQ((*cgs)[0].volumes.size(), 1u);
  EXPECT_EQ((*cgs)[0].volumes[0].pvc(), "kubectl-dr-system/shop-inventory");
  size_t claims = 0;
  for (const ConsistencyGroup& cg : *cgs) {
    if (&cg != &cgs->front()) {
      EXPECT_EQ(cg.role, CgRole::kWorkloads);
    }
    for (const Volume& v : cg.volumes) {
      ++claims;
      SCOPED_TRACE(v.pvc());
      EXPECT_EQ(v.source.empty(), GetParam() == "none");
      EXPECT_EQ(v.target.empty(), GetParam() == "none");
    }
  }
  EXPECT_EQ(claims, rig_->map().size());
  const ConsistencyGroup& inv = (*cgs)[0];
  const ConsistencyGroup& work = (*cgs)[1];

  struct Step {
    std::string name;
    std::function<Status()> call;
  };
  // Every call twice: a repeat of a call that took effect is Ok.
  const std::vector<Step> steps = {
      {"Sync inventory", [&] { return d().Sync(inv, Long()); }},
      {"Sync workloads", [&] { return d().Sync(work, Long()); }},
      {"PrepareDrill", [&] { return d().PrepareDrill(work, Long()).status(); }},
      {"CleanupDrill", [&] { return d().CleanupDrill(work, Long()); }},
      {"Failover inventory", [&] { return d().Failover(inv, Long()); }},
      {"Failover workloads", [&] { return d().Failover(work, Long()); }},
  };
  auto state = d().State(work, Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, rig_->replicating()) << state->backend;
  for (const Step& s : steps) {
    for (int round = 0; round < 2; ++round) {
      SCOPED_TRACE(s.name + (round ? " (repeated)" : ""));
      Status st = s.call();
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
  }
  for (const ConsistencyGroup* cg : {&inv, &work}) {
    auto after = d().State(*cg, Long());
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->replication, rig_->failed_over()) << after->backend;
    EXPECT_EQ(after->volumes.size(), cg->volumes.size());
  }

  // VolumeSourceFor: a PV for the captured claim, bound in advance to it.
  for (const Volume& v : work.volumes) {
    SCOPED_TRACE(v.pvc());
    auto pv = d().VolumeSourceFor(v, testing::CapturedPv(v.captured), Long());
    ASSERT_TRUE(pv.ok()) << pv.status().ToString();
    ASSERT_TRUE(pv->has_value());
    const json& p = **pv;
    EXPECT_EQ(p["kind"], "PersistentVolume");
    EXPECT_EQ(p["metadata"]["name"], v.captured.pv_name);
    EXPECT_EQ(p["spec"]["claimRef"]["namespace"], v.captured.pvc_namespace);
    EXPECT_EQ(p["spec"]["claimRef"]["name"], v.captured.pvc_name);
    EXPECT_FALSE(p["spec"]["claimRef"].contains("uid"));
    EXPECT_EQ(p["spec"]["capacity"]["storage"], "1Gi");
    EXPECT_EQ(p["spec"]["accessModes"], json({"ReadWriteOnce"}));
    EXPECT_EQ(p["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    EXPECT_EQ(p["spec"]["mountOptions"], json({"noatime"}));
    EXPECT_FALSE(p.contains("status"));
    if (rig_->pv_driver().empty()) {
      EXPECT_EQ(p["spec"]["nfs"]["path"], "/exports/" + v.captured.pvc_name);
    } else {
      EXPECT_EQ(p["spec"]["csi"]["driver"], rig_->pv_driver());
      EXPECT_EQ(p["spec"]["csi"]["volumeHandle"], v.target.at("volume"));
      EXPECT_EQ(p["spec"]["csi"]["fsType"], "ext4");
    }
  }
}

TEST_P(DriverConformanceTest, DrillCopiesAreNeverTheReplicaAndGoAway) {
  auto cgs = d().Discover(rig_->plan(), rig_->map(), Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  const ConsistencyGroup& work = (*cgs)[1];
  auto drill = d().PrepareDrill(work, Long());
  ASSERT_TRUE(drill.ok()) << drill.status().ToString();
  ASSERT_EQ(drill->volumes.size(), work.volumes.size());
  for (size_t i = 0; i < work.volumes.size(); ++i) {
    const Volume& copy = drill->volumes[i];
    SCOPED_TRACE(copy.pvc());
    EXPECT_TRUE(copy.drill);
    EXPECT_EQ(copy.without_data, !rig_->drill_has_data());
    auto pv = d().VolumeSourceFor(copy, testing::CapturedPv(copy.captured), Long());
    ASSERT_TRUE(pv.ok()) << pv.status().ToString();
    if (!rig_->drill_has_data()) {
      EXPECT_FALSE(pv->has_value());
      EXPECT_NE(copy.note.find("without its data"), std::string::npos) << copy.note;
      continue;
    }
    EXPECT_NE(copy.target, work.volumes[i].target);
    ASSERT_TRUE(pv->has_value());
    // A drill's PV never takes the name the real failover's PV needs.
    EXPECT_NE((**pv)["metadata"]["name"], work.volumes[i].captured.pv_name);
    EXPECT_EQ((**pv)["spec"]["csi"]["volumeHandle"], copy.target.at("volume"));
  }
  // The live replicas still replicate: a drill changes nothing of the plan's state.
  auto state = d().State(work, Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, rig_->replicating()) << state->backend;
  EXPECT_TRUE(d().CleanupDrill(*drill, Long()).ok());
  EXPECT_TRUE(d().CleanupDrill(work, Long()).ok());
}

TEST_P(DriverConformanceTest, ValidatesParametersListingEveryProblem) {
  std::map<std::string, std::string> params = rig_->plan().spec.storage_parameters;
  params["bogusKey"] = "1";
  params["otherBogus"] = "2";
  Status s = d().ValidateParameters(params, nullptr);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("\"bogusKey\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"otherBogus\""), std::string::npos) << s.message();
}

TEST_P(DriverConformanceTest, StopRequestedCancels) {
  auto cgs = d().Discover(rig_->plan(), rig_->map(), Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  std::stop_source stop;
  stop.request_stop();
  Deadline stopped = Deadline::After(rig_->clock(), std::chrono::hours(1), stop.get_token());
  Status s = d().Failover((*cgs)[1], stopped);
  EXPECT_EQ(s.code(), StatusCode::kCancelled) << s.ToString();
}

INSTANTIATE_TEST_SUITE_P(Drivers, DriverConformanceTest,
                         ::testing::Values("none", "longhorn", "alletra"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kdr::storage
