// The Longhorn driver against two kubesims sharing a backup store (kubesim/longhorn.h): every
// transition, the refusals, deadlines, an unreachable source or backup target, and failback.

#include "storage/longhorn.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "storage/registry.h"
#include "unit/storage/rigs.h"

namespace kdr::storage {
namespace {

using nlohmann::json;
using testing::kLhBackups;
using testing::kLhVolumes;
using testing::kLonghornNs;

class LonghornDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rig_.Start(/*workloads=*/2);
    ASSERT_FALSE(HasFatalFailure());
    auto cgs = rig_.driver().Discover(rig_.plan(), rig_.map(), rig_.Long());
    ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
    cgs_ = std::move(*cgs);
  }
  Driver& d() { return rig_.driver(); }
  const ConsistencyGroup& inv() { return cgs_[0]; }
  const ConsistencyGroup& work() { return cgs_[1]; }
  Deadline Within(std::chrono::seconds s) { return Deadline::After(rig_.clock(), s); }

  // A backup of a source volume taken behind the driver's back, as a Longhorn schedule would.
  void BackUpOutOfBand(const std::string& volume, const std::string& name) {
    json b = {{"apiVersion", "longhorn.io/v1beta2"},
              {"kind", "Backup"},
              {"metadata",
               {{"name", name}, {"namespace", kLonghornNs}, {"labels", {{"backup-volume", volume}}}}},
              {"spec", {{"snapshotName", name}}}};
    ASSERT_TRUE(rig_.source().Create(kLhBackups, kLonghornNs, b).ok());
    // Longhorn marks the backup Completed, then names it the volume's last backup.
    ASSERT_TRUE(testing::Eventually([&] {
      auto got = rig_.source().Get(kLhVolumes, kLonghornNs, volume);
      return got.ok() && kube::StringField(*got, {"status", "lastBackup"}) == name;
    }));
  }

  testing::LonghornRig rig_;
  std::vector<ConsistencyGroup> cgs_;
};

TEST_F(LonghornDriverTest, ProtectMadeStandbyVolumesFromTheLatestBackups) {
  for (const auto& e : rig_.map()) {
    SCOPED_TRACE(e.pvc_name);
    json v = rig_.TargetVolume(e.volume_handle);
    EXPECT_EQ(v["spec"]["standby"], true);
    EXPECT_EQ(v["status"]["isStandby"], true);
    EXPECT_EQ(kube::Label(v, "dr.kubectl-dr.dev/plan"), "shop-to-dr");
    EXPECT_EQ(kube::Label(v, "dr.kubectl-dr.dev/source-volume"), e.volume_handle);
    EXPECT_EQ(rig_.Data(rig_.target(), e.volume_handle), "v1 of " + e.volume_handle);
  }
  // Again: nothing new, the same replicas.
  auto again = d().Protect(rig_.plan(), rig_.Long());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), 3u);
  EXPECT_EQ((*again)[0].target.at("volume"), "pvc-inv");
  EXPECT_TRUE((*again)[0].captured.inventory);
}

TEST_F(LonghornDriverTest, DiscoverNamesEachVolumeOnBothSites) {
  ASSERT_EQ(cgs_.size(), 2u);
  EXPECT_EQ(inv().name, "inventory");
  EXPECT_EQ(inv().volumes[0].source, (Identity{{"volume", "pvc-inv"}}));
  EXPECT_EQ(inv().volumes[0].target, (Identity{{"volume", "pvc-inv"}}));
  EXPECT_EQ(work().volumes.size(), 2u);
}

TEST_F(LonghornDriverTest, DiscoverListsEveryClaimItCannotFailOver) {
  auto map = rig_.map();
  map.push_back(testing::Entry("shop", "cache", "pv-cache", "", "", false));  // hostPath
  map.push_back(testing::Entry("shop", "orphan", "pv-orphan", "driver.longhorn.io", "pvc-orphan",
                               false));
  auto cgs = d().Discover(rig_.plan(), map, rig_.Long());
  ASSERT_EQ(cgs.status().code(), StatusCode::kFailedPrecondition);
  const std::string& m = cgs.status().message();
  EXPECT_NE(m.find("pvc shop/cache (pv \"pv-cache\") is not a Longhorn volume"), std::string::npos) << m;
  EXPECT_NE(m.find("pvc shop/orphan: no DR volume on the target follows Longhorn volume "
                   "\"pvc-orphan\""), std::string::npos) << m;
}

TEST_F(LonghornDriverTest, SyncBacksUpAndWaitsUntilEveryDrVolumeRestoredIt) {
  rig_.Write("pvc-data-0", "v2");
  Status s = d().Sync(work(), rig_.Long());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(rig_.Data(rig_.target(), "pvc-data-0"), "v2");
  json replica = rig_.TargetVolume("pvc-data-0");
  EXPECT_EQ(replica["status"]["isStandby"], true);  // still a DR volume
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, Replication::kReplicating);
  EXPECT_TRUE(state->caught_up) << state->backend;
  EXPECT_TRUE(state->last_sync.has_value());
}

TEST_F(LonghornDriverTest, StateIsBehindWhileANewerBackupIsNotRestored) {
  rig_.Write("pvc-data-1", "v2");
  BackUpOutOfBand("pvc-data-1", "nightly-1");
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, Replication::kReplicating);
  EXPECT_FALSE(state->caught_up);
  EXPECT_NE(state->backend.find("of newest \"nightly-1\""), std::string::npos) << state->backend;
}

TEST_F(LonghornDriverTest, FailoverActivatesEveryDrVolumeCaughtUpAndIsIdempotent) {
  rig_.Write("pvc-data-0", "v3");
  BackUpOutOfBand("pvc-data-0", "last-before-disaster");
  ASSERT_TRUE(d().Failover(work(), rig_.Long()).ok());
  for (const char* v : {"pvc-data-0", "pvc-data-1"}) {
    SCOPED_TRACE(v);
    json t = rig_.TargetVolume(v);
    EXPECT_EQ(t["spec"]["standby"], false);
    EXPECT_EQ(t["status"]["isStandby"], false);
    EXPECT_EQ(t["status"]["restoreRequired"], false);
  }
  // Activation caught up with the newest backup first (Longhorn's rule).
  EXPECT_EQ(rig_.Data(rig_.target(), "pvc-data-0"), "v3");
  Status again = d().Failover(work(), rig_.Long());
  EXPECT_TRUE(again.ok()) << again.ToString();
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->replication, Replication::kFailedOver) << state->backend;
  // The inventory's CG is separate: still replicating.
  EXPECT_EQ(d().State(inv(), rig_.Long())->replication, Replication::kReplicating);
  // Nothing can be synced to an active volume any more.
  Status sync = d().Sync(work(), rig_.Long());
  EXPECT_EQ(sync.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(sync.message().find("already activated"), std::string::npos) << sync.message();
}

TEST_F(LonghornDriverTest, FailoverNeverNeedsTheSource) {
  auto no_source = rig_.MakeDriver(/*source_reachable=*/false);
  ASSERT_TRUE(no_source->Failover(inv(), rig_.Long()).ok());
  auto state = no_source->State(inv(), rig_.Long());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->replication, Replication::kFailedOver);
  EXPECT_NE(state->backend.find("source cluster unreachable"), std::string::npos);
}

TEST_F(LonghornDriverTest, SyncWithTheSourceDownCatchesUpWithTheStoreThenSaysSo) {
  rig_.Write("pvc-data-0", "v4");
  BackUpOutOfBand("pvc-data-0", "taken-before-the-fire");
  auto no_source = rig_.MakeDriver(/*source_reachable=*/false);
  Status s = no_source->Sync(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("source cluster is unreachable"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("restored the newest backups"), std::string::npos) << s.message();
  EXPECT_EQ(rig_.Data(rig_.target(), "pvc-data-0"), "v4");
}

TEST_F(LonghornDriverTest, ADeadlinePassingMidSyncNamesThePendingBackups) {
  rig_.source_server().controllers()->Stop();  // Longhorn on the source stops working
  Status s = d().Sync(work(), Within(std::chrono::seconds(30)));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
  EXPECT_NE(s.message().find("backups not completed at the deadline"), std::string::npos);
  EXPECT_NE(s.message().find("of volume \"pvc-data-0\""), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("of volume \"pvc-data-1\""), std::string::npos) << s.message();
}

TEST_F(LonghornDriverTest, ADrVolumeStillRestoringAtTheDeadlineIsNamed) {
  rig_.target_server().controllers()->Stop();  // the target's Longhorn never finishes
  Status s = d().Failover(work(), Within(std::chrono::seconds(30)));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
  EXPECT_NE(s.message().find("DR volumes still restoring at the deadline"), std::string::npos);
  EXPECT_NE(s.message().find("\"pvc-data-0\" (pvc shop/data-0"), std::string::npos) << s.message();
  // Activation was requested: a later call resumes by waiting.
  EXPECT_EQ(rig_.TargetVolume("pvc-data-0")["spec"]["standby"], false);
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->replication, Replication::kFailingOver) << state->backend;
}

TEST_F(LonghornDriverTest, AnUnreachableBackupTargetFailsTheSyncWithLonghornsError) {
  const std::string store = rig_.backup_store();
  std::filesystem::rename(store, store + ".unmounted");
  Status s = d().Sync(work(), rig_.Long());
  EXPECT_FALSE(std::filesystem::exists(store));  // Longhorn wrote nothing while it was away
  std::filesystem::rename(store + ".unmounted", store);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("could not back up to backup target \"file://" + store + "\""),
            std::string::npos) << s.message();
  EXPECT_NE(s.message().find("cannot reach backup target"), std::string::npos) << s.message();
}

TEST_F(LonghornDriverTest, AVolumeStateLonghornDoesNotDocumentStopsTheWorkflow) {
  rig_.target_server().controllers()->Stop();
  json v = rig_.TargetVolume("pvc-data-1");
  v["status"]["state"] = "hibernating";
  ASSERT_TRUE(rig_.target().UpdateStatus(kLhVolumes, kLonghornNs, v).ok());
  for (auto call : {+[](Driver& d, const ConsistencyGroup& cg, const Deadline& dl) {
                      return d.State(cg, dl).status();
                    },
                    +[](Driver& d, const ConsistencyGroup& cg, const Deadline& dl) {
                      return d.Failover(cg, dl);
                    }}) {
    Status s = call(d(), work(), rig_.Long());
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("reports state \"hibernating\", which kubectl-dr does not know"),
              std::string::npos) << s.message();
  }
}

TEST_F(LonghornDriverTest, DrillRestoresNewVolumesAndLeavesTheDrVolumeStandby) {
  rig_.Write("pvc-data-0", "drill data");
  ASSERT_TRUE(d().Sync(work(), rig_.Long()).ok());
  auto drill = d().PrepareDrill(work(), rig_.Long());
  ASSERT_TRUE(drill.ok()) << drill.status().ToString();
  EXPECT_EQ(drill->volumes[0].target.at("volume"), "pvc-data-0-drill");
  json copy = rig_.TargetVolume("pvc-data-0-drill");
  EXPECT_EQ(copy["status"]["isStandby"], false);
  EXPECT_EQ(kube::Label(copy, "dr.kubectl-dr.dev/drill"), "shop-to-dr");
  EXPECT_EQ(rig_.Data(rig_.target(), "pvc-data-0-drill"), "drill data");
  EXPECT_EQ(rig_.TargetVolume("pvc-data-0")["spec"]["standby"], true);
  auto pv = d().VolumeSourceFor(drill->volumes[0], json(), rig_.Long());
  ASSERT_TRUE(pv.ok() && pv->has_value());
  EXPECT_EQ((**pv)["metadata"]["name"], "pvc-data-0-drill");
  // Repeated: the same copies.
  ASSERT_TRUE(d().PrepareDrill(work(), rig_.Long()).ok());
  ASSERT_TRUE(d().CleanupDrill(work(), rig_.Long()).ok());
  EXPECT_FALSE(rig_.target().Get(kLhVolumes, kLonghornNs, "pvc-data-0-drill").ok());
  EXPECT_TRUE(d().CleanupDrill(*drill, rig_.Long()).ok());
}

TEST_F(LonghornDriverTest, CleanupLeavesVolumesItDidNotMake) {
  json stranger = {{"apiVersion", "longhorn.io/v1beta2"},
                   {"kind", "Volume"},
                   {"metadata", {{"name", "pvc-data-1-drill"}, {"namespace", kLonghornNs}}},
                   {"spec", {{"size", "1073741824"}, {"numberOfReplicas", 1}}}};
  ASSERT_TRUE(rig_.target().Create(kLhVolumes, kLonghornNs, stranger).ok());
  Status s = d().CleanupDrill(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("not made by a kubectl-dr drill"), std::string::npos) << s.message();
  EXPECT_EQ(d().PrepareDrill(work(), rig_.Long()).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(rig_.target().Get(kLhVolumes, kLonghornNs, "pvc-data-1-drill").ok());
}

TEST_F(LonghornDriverTest, VolumeSourceForIsACsiPvOfTheDrVolume) {
  auto pv = d().VolumeSourceFor(work().volumes[0], testing::CapturedPv(work().volumes[0].captured),
                                rig_.Long());
  ASSERT_TRUE(pv.ok()) << pv.status().ToString();
  const json& p = **pv;
  EXPECT_EQ(p["metadata"]["name"], "pv-pvc-data-0");
  EXPECT_EQ(p["spec"]["csi"]["driver"], "driver.longhorn.io");
  EXPECT_EQ(p["spec"]["csi"]["volumeHandle"], "pvc-data-0");
  EXPECT_EQ(p["spec"]["csi"]["fsType"], "ext4");
  EXPECT_EQ(p["spec"]["csi"]["volumeAttributes"]["numberOfReplicas"], "3");
  EXPECT_EQ(p["spec"]["storageClassName"], "longhorn");
  EXPECT_EQ(p["spec"]["volumeMode"], "Filesystem");
}

// Failback: a plan the other way round. Its Protect puts DR volumes on the old primary beside
// the stale originals; Recover brings the DR site's changes there; Restore activates them.
TEST_F(LonghornDriverTest, FailbackRunsTheOtherWayRound) {
  ASSERT_TRUE(d().Failover(inv(), rig_.Long()).ok());
  ASSERT_TRUE(d().Failover(work(), rig_.Long()).ok());
  // Life goes on at the DR site: the claims exist there now (the restore made them).
  for (const auto& e : rig_.map()) {
    ASSERT_TRUE(testing::EnsureNamespace(rig_.target(), e.pvc_namespace).ok());
    Volume v;
    v.captured = e;
    v.source = v.target = {{"volume", e.volume_handle}};
    auto pv = d().VolumeSourceFor(v, json(), rig_.Long());
    ASSERT_TRUE(pv.ok());
    ASSERT_TRUE(rig_.target().Create(testing::kPvs, "", **pv).ok());
    json claim = {{"apiVersion", "v1"},
                  {"kind", "PersistentVolumeClaim"},
                  {"metadata", {{"name", e.pvc_name}, {"namespace", e.pvc_namespace}}},
                  {"spec",
                   {{"accessModes", {"ReadWriteOnce"}},
                    {"storageClassName", "longhorn"},
                    {"volumeName", e.pv_name},
                    {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
    ASSERT_TRUE(rig_.target().Create(testing::kPvcs, e.pvc_namespace, claim).ok());
  }
  rig_.WriteOn(rig_.target(), "pvc-data-0", "written at the DR site");

  dr::DRPlan back = rig_.plan();
  back.metadata.name = "shop-back";
  std::swap(back.spec.source_context, back.spec.target_context);
  Env env{&rig_.clock(), nullptr, nullptr};
  DriverOptions o{env, &rig_.target(), &rig_.source()};
  auto reverse = NewDriver(back, o);
  ASSERT_TRUE(reverse.ok());
  auto made = (*reverse)->Protect(back, rig_.Long());
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  // The old primary still holds the stale originals: the new DR volumes take other names.
  EXPECT_EQ((*made)[1].target.at("volume"), "pvc-data-0-dr");
  // Seen from the forward plan, the DR site now replicates back: reversed.
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, Replication::kReversed) << state->backend;

  inventory::VolumeMap back_map;
  for (auto e : rig_.map()) {
    e.storage = {{"volume", e.volume_handle}};
    back_map.push_back(e);
  }
  auto cgs = (*reverse)->Discover(back, back_map, rig_.Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_TRUE((*reverse)->Recover((*cgs)[1], rig_.Long()).ok());
  EXPECT_EQ(rig_.Data(rig_.source(), "pvc-data-0-dr"), "written at the DR site");
  ASSERT_TRUE((*reverse)->Restore((*cgs)[1], rig_.Long()).ok());
  json back_home = rig_.source().Get(kLhVolumes, kLonghornNs, "pvc-data-0-dr").value_or(json());
  EXPECT_EQ(back_home["status"]["isStandby"], false);
  EXPECT_TRUE((*reverse)->Restore((*cgs)[1], rig_.Long()).ok());  // idempotent
  auto pv = (*reverse)->VolumeSourceFor((*cgs)[1].volumes[0], json(), rig_.Long());
  EXPECT_EQ((**pv)["spec"]["csi"]["volumeHandle"], "pvc-data-0-dr");
  EXPECT_EQ((**pv)["metadata"]["name"], "pv-pvc-data-0");
}

TEST(LonghornParametersTest, ListsEveryProblem) {
  Credentials c{"kubectl-dr-system/x", {}};
  Status s = ValidateLonghornParameters(
      {{"longhornNamespace", "Not_A_Namespace"}, {"longhornNamespce", "x"}}, &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("unknown key \"longhornNamespce\" (did you mean "
                             "\"longhornNamespace\"?)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("\"Not_A_Namespace\" is not a namespace name"), std::string::npos);
  EXPECT_NE(s.message().find("uses no credentials"), std::string::npos);
  EXPECT_TRUE(ValidateLonghornParameters({}, nullptr).ok());
}

}  // namespace
}  // namespace kdr::storage
