#include "kubesim/longhorn.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/fs.h"
#include "kubesim/controllers.h"
#include "kubesim/registry.h"
#include "kubesim/store.h"
#include "sim/dir_tree.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

const GroupResource kVolumes{"longhorn.io", "volumes"};
const GroupResource kBackups{"longhorn.io", "backups"};
const GroupResource kBackupVolumes{"longhorn.io", "backupvolumes"};
const GroupResource kBackupTargets{"longhorn.io", "backuptargets"};
const GroupResource kPvcs{"", "persistentvolumeclaims"};
const GroupResource kPvs{"", "persistentvolumes"};
const std::string kNs = "longhorn-system";

// One simulated cluster: a store with every controller running, its Longhorn volumes' contents
// in a directory of its own.
struct Cluster {
  testutil::TempDir volumes;
  Registry registry;
  std::unique_ptr<Store> store;
  std::unique_ptr<Controllers> controllers;
};

class LonghornTest : public ::testing::Test {
 protected:
  // The backup store is shared by every cluster of the test. Polls are rare (an hour), so a
  // cluster sees new backups only when asked to sync: what it shows is what it was told.
  std::unique_ptr<Cluster> StartCluster(const std::string& backupstore) {
    auto c = std::make_unique<Cluster>();
    auto store = Store::Open(&c->registry, Store::Options{&clock_, 10000, ""});
    EXPECT_TRUE(store.ok()) << store.status().message();
    c->store = std::move(*store);
    ControllerOptions o;
    o.clock = &clock_;
    o.longhorn_backupstore = backupstore;
    o.longhorn_data_dir = c->volumes.path();
    o.longhorn_poll_interval = std::chrono::hours(1);
    o.resync_interval = std::chrono::milliseconds(200);
    auto ctl = Controllers::Start(c->store.get(), o);
    EXPECT_TRUE(ctl.ok()) << ctl.status().message();
    c->controllers = std::move(*ctl);
    EXPECT_TRUE(WaitFor(*c, kBackupTargets, kNs, "default", [](const json&) { return true; }));
    return c;
  }

  ::testing::AssertionResult WaitFor(Cluster& c, const GroupResource& gr, const std::string& ns,
                                     const std::string& name,
                                     const std::function<bool(const json&)>& pred) {
    WatchOptions wo;
    wo.gr = gr;
    auto w = c.store->Watch(wo);
    if (!w.ok()) return ::testing::AssertionFailure() << w.status().message();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    json last;
    while (std::chrono::steady_clock::now() < deadline) {
      auto obj = c.store->Get(gr, ns, name);
      if (obj.ok()) {
        last = *obj;
        if (pred(*obj)) return ::testing::AssertionSuccess();
      }
      (void)(*w)->Next(std::chrono::milliseconds(200));
    }
    return ::testing::AssertionFailure() << "timed out waiting for " << gr.String() << " " << ns
                                         << "/" << name << "; last: " << last.dump();
  }

  static std::function<bool(const json&)> Field(const std::string& pointer, json want) {
    return [pointer, want](const json& o) {
      json::json_pointer p(pointer);
      return o.contains(p) && o.at(p) == want;
    };
  }

  static json Volume(const std::string& name, json spec_extra = {}) {
    json v = {{"apiVersion", "longhorn.io/v1beta2"},
              {"kind", "Volume"},
              {"metadata", {{"name", name}, {"namespace", kNs}}},
              {"spec", {{"size", "1073741824"}, {"numberOfReplicas", 3}, {"frontend", "blockdev"}}}};
    if (spec_extra.is_object()) v["spec"].merge_patch(spec_extra);
    return v;
  }

  static json Backup(const std::string& name, const std::string& volume) {
    json labels = json::object();
    if (!volume.empty()) labels["backup-volume"] = volume;
    return {{"apiVersion", "longhorn.io/v1beta2"},
            {"kind", "Backup"},
            {"metadata", {{"name", name}, {"namespace", kNs}, {"labels", labels}}},
            {"spec", {{"snapshotName", "snap-" + name}}}};
  }

  // Writes `data` as the file "data" of a volume's directory on a cluster.
  static void Write(Cluster& c, const std::string& volume, const std::string& data) {
    PosixFileSystem fs;
    const std::string dir = LonghornVolumeDir(c.volumes.path(), volume);
    ASSERT_TRUE(fs.MakeDirs(dir).ok());
    ASSERT_TRUE(fs.WriteFile(dir + "/data", data).ok());
  }
  // The file "data" of a volume's directory ("<none>" when absent).
  static std::string Data(Cluster& c, const std::string& volume) {
    auto r = PosixFileSystem().ReadFile(LonghornVolumeDir(c.volumes.path(), volume) + "/data");
    return r.ok() ? *r : "<none>";
  }

  // Writes data into the source volume and backs it up; returns the Completed backup.
  json BackUp(Cluster& c, const std::string& volume, const std::string& data,
              const std::string& backup) {
    Write(c, volume, data);
    EXPECT_TRUE(c.store->Create(kBackups, kNs, Backup(backup, volume)).ok());
    EXPECT_TRUE(WaitFor(c, kBackups, kNs, backup, Field("/status/state", "Completed")));
    return *c.store->Get(kBackups, kNs, backup);
  }

  // Asks a cluster to read the backup store now (as the Longhorn UI's refresh does).
  void Sync(Cluster& c) {
    std::string stamp = "2026-01-01T00:00:" + std::to_string(10 + sync_count_++) + "Z";
    ASSERT_TRUE(c.store
                    ->Modify(kBackupTargets, kNs, "default",
                             [&](json* o) {
                               (*o)["spec"]["syncRequestedAt"] = stamp;
                               return Status::Ok();
                             })
                    .ok());
  }

  testutil::FakeClock clock_;
  testutil::TempDir dir_;
  int sync_count_ = 0;
};

TEST_F(LonghornTest, InstallsCrdsAndTheBackupTarget) {
  auto c = StartCluster(dir_.path());
  for (const char* r : {"volumes", "backups", "backupvolumes", "backuptargets"}) {
    SCOPED_TRACE(r);
    auto t = c->registry.Find({"longhorn.io", r});
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->version, "v1beta2");
    EXPECT_TRUE(t->namespaced);
    EXPECT_TRUE(t->status_subresource);
  }
  EXPECT_EQ(c->registry.Find({"longhorn.io", "volumes"})->short_names,
            std::vector<std::string>{"lhv"});
  ASSERT_TRUE(WaitFor(*c, kBackupTargets, kNs, "default", Field("/status/available", true)));
  EXPECT_EQ(c->store->Get(kBackupTargets, kNs, "default")->at("spec")["backupTargetURL"],
            "file://" + dir_.path());
}

TEST_F(LonghornTest, BackupWritesTheStoreAndCompletes) {
  auto c = StartCluster(dir_.path());
  ASSERT_TRUE(c->store->Create(kVolumes, kNs, Volume("data")).ok());
  ASSERT_TRUE(WaitFor(*c, kVolumes, kNs, "data", Field("/status/state", "detached")));
  json b = BackUp(*c, "data", "v1", "backup-1");
  EXPECT_EQ(b["status"]["url"], "file://" + dir_.path() + "?backup=backup-1&volume=data");
  EXPECT_EQ(b["status"]["volumeName"], "data");
  EXPECT_EQ(b["status"]["snapshotName"], "snap-backup-1");
  EXPECT_EQ(b["status"]["progress"], 100);
  PosixFileSystem fs;
  EXPECT_TRUE(fs.Exists(dir_.path() + "/volumes/data/backups/backup_backup-1.cfg"));
  auto cfg = fs.ReadFile(dir_.path() + "/volumes/data/volume.cfg");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(json::parse(*cfg)["lastBackupName"], "backup-1");
  ASSERT_TRUE(WaitFor(*c, kVolumes, kNs, "data", Field("/status/lastBackup", "backup-1")));
}

TEST_F(LonghornTest, BackupsThatCannotBeTakenEndInError) {
  auto c = StartCluster(dir_.path());
  ASSERT_TRUE(c->store->Create(kVolumes, kNs, Volume("data")).ok());
  struct Case {
    std::string backup;
    std::string volume;
    std::string want;
  };
  const Case cases[] = {
      {"no-label", "", "no backup-volume label"},
      {"no-volume", "ghost", "volume \"ghost\" not found"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.backup);
    ASSERT_TRUE(c->store->Create(kBackups, kNs, Backup(k.backup, k.volume)).ok());
    ASSERT_TRUE(WaitFor(*c, kBackups, kNs, k.backup, Field("/status/state", "Error")));
    std::string error = c->store->Get(kBackups, kNs, k.backup)->at("status")["error"];
    EXPECT_NE(error.find(k.want), std::string::npos) << error;
  }
  auto nostore = StartCluster("");
  ASSERT_TRUE(nostore->store->Create(kVolumes, kNs, Volume("data")).ok());
  ASSERT_TRUE(nostore->store->Create(kBackups, kNs, Backup("b", "data")).ok());
  ASSERT_TRUE(WaitFor(*nostore, kBackups, kNs, "b", Field("/status/state", "Error")));
  EXPECT_NE(nostore->store->Get(kBackups, kNs, "b")->at("status")["error"].get<std::string>().find(
                "--longhorn-backupstore"),
            std::string::npos);
}

// The DR flow across two clusters sharing a backup store: the DR volume follows the source's
// backups, stays unusable for a PV while standby, and activates only once caught up.
TEST_F(LonghornTest, DrVolumeFollowsBackupsAndActivatesOnlyOnceCaughtUp) {
  auto source = StartCluster(dir_.path());
  auto target = StartCluster(dir_.path());
  ASSERT_TRUE(source->store->Create(kVolumes, kNs, Volume("data")).ok());
  json b1 = BackUp(*source, "data", "v1", "backup-1");

  Sync(*target);
  ASSERT_TRUE(WaitFor(*target, kBackupVolumes, kNs, "data",
                      Field("/status/lastBackupName", "backup-1")));
  ASSERT_TRUE(WaitFor(*target, kBackups, kNs, "backup-1", Field("/status/state", "Completed")));
  EXPECT_EQ(target->store->Get(kBackups, kNs, "backup-1")->at("status")["url"], b1["status"]["url"]);

  json dr = Volume("data", {{"fromBackup", b1["status"]["url"]}, {"standby", true}});
  ASSERT_TRUE(target->store->Create(kVolumes, kNs, dr).ok());
  ASSERT_TRUE(WaitFor(*target, kVolumes, kNs, "data", Field("/status/lastBackup", "backup-1")));
  json v = *target->store->Get(kVolumes, kNs, "data");
  EXPECT_EQ(v["status"]["isStandby"], true);
  EXPECT_EQ(v["status"]["restoreRequired"], true);
  EXPECT_EQ(v["status"]["frontendDisabled"], true);
  EXPECT_EQ(v["status"]["state"], "attached");
  EXPECT_EQ(Data(*target, "data"), "v1");
  EXPECT_FALSE(LonghornVolumeActive(v));

  // A PV and claim for the standby volume: the claim waits.
  json pv = {{"apiVersion", "v1"},
             {"kind", "PersistentVolume"},
             {"metadata", {{"name", "data-pv"}}},
             {"spec",
              {{"capacity", {{"storage", "1Gi"}}},
               {"accessModes", {"ReadWriteOnce"}},
               {"persistentVolumeReclaimPolicy", "Retain"},
               {"csi", {{"driver", "driver.longhorn.io"}, {"volumeHandle", "data"}}}}}};
  ASSERT_TRUE(target->store->Create(kPvs, "", pv).ok());
  ASSERT_TRUE(target->store->Create({"", "namespaces"}, "",
                                    {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                     {"metadata", {{"name", "shop"}}}}).ok());
  json pvc = {{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", {{"name", "data"}, {"namespace", "shop"}}},
              {"spec",
               {{"accessModes", {"ReadWriteOnce"}},
                {"storageClassName", ""},
                {"volumeName", "data-pv"},
                {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  ASSERT_TRUE(target->store->Create(kPvcs, "shop", pvc).ok());

  // The DR volume follows a newer backup once the target syncs.
  BackUp(*source, "data", "v2", "backup-2");
  Sync(*target);
  ASSERT_TRUE(WaitFor(*target, kVolumes, kNs, "data", Field("/status/lastBackup", "backup-2")));
  EXPECT_EQ(Data(*target, "data"), "v2");
  EXPECT_EQ(target->store->Get(kPvcs, "shop", "data")->value("/status/phase"_json_pointer, ""),
            "Pending");

  // A last backup the target has not synced yet: activation catches up with it first.
  BackUp(*source, "data", "v3", "backup-3");
  EXPECT_EQ(target->store->Get(kVolumes, kNs, "data")->at("status")["lastBackup"], "backup-2");
  ASSERT_TRUE(target->store
                  ->Modify(kVolumes, kNs, "data",
                           [](json* o) {
                             (*o)["spec"]["standby"] = false;
                             return Status::Ok();
                           })
                  .ok());
  ASSERT_TRUE(WaitFor(*target, kVolumes, kNs, "data", Field("/status/isStandby", false)));
  v = *target->store->Get(kVolumes, kNs, "data");
  EXPECT_EQ(v["status"]["lastBackup"], "backup-3");
  EXPECT_EQ(v["status"]["restoreRequired"], false);
  EXPECT_EQ(v["status"]["frontendDisabled"], false);
  EXPECT_EQ(Data(*target, "data"), "v3");
  ASSERT_TRUE(WaitFor(*target, kPvcs, "shop", "data", Field("/status/phase", "Bound")));
  ASSERT_TRUE(WaitFor(*target, kVolumes, kNs, "data",
                      Field("/status/kubernetesStatus/pvcName", "data")));

  // One way: standby again is rejected by Longhorn's validation and ignored by the controller.
  json standby_again = v;
  standby_again["spec"]["standby"] = true;
  Status s = ValidateLonghornVolumeUpdate(v, standby_again);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("cannot be made a standby"), std::string::npos);
  EXPECT_TRUE(ValidateLonghornVolumeUpdate(dr, v).ok());
  ASSERT_TRUE(target->store
                  ->Modify(kVolumes, kNs, "data",
                           [](json* o) {
                             (*o)["spec"]["standby"] = true;
                             return Status::Ok();
                           })
                  .ok());
  // Two full passes later (each marked by a sync stamping the backup volume), it is still active.
  for (int pass = 0; pass < 2; ++pass) {
    clock_.Advance(std::chrono::seconds(1));
    Sync(*target);
    ASSERT_TRUE(WaitFor(*target, kBackupVolumes, kNs, "data",
                        Field("/status/lastSyncedAt", FormatRfc3339(clock_.Now()))));
  }
  EXPECT_EQ(target->store->Get(kVolumes, kNs, "data")->at("status")["isStandby"], false);
}

TEST_F(LonghornTest, RestoreFromAnotherTargetFails) {
  auto c = StartCluster(dir_.path());
  json v = Volume("x", {{"fromBackup", "s3://elsewhere@us-east-1/?backup=b&volume=x"},
                            {"standby", true}});
  ASSERT_TRUE(c->store->Create(kVolumes, kNs, v).ok());
  ASSERT_TRUE(WaitFor(*c, kVolumes, kNs, "x", Field("/status/robustness", "faulted")));
  json got = *c->store->Get(kVolumes, kNs, "x");
  EXPECT_EQ(got["status"]["conditions"][0]["reason"], "RestoreFailure");
  EXPECT_NE(got["status"]["conditions"][0]["message"].get<std::string>().find(
                "not on this cluster's backup target"),
            std::string::npos);
  json missing = Volume("y", {{"fromBackup", "file://" + dir_.path() + "?backup=nope&volume=y"}});
  ASSERT_TRUE(c->store->Create(kVolumes, kNs, missing).ok());
  ASSERT_TRUE(WaitFor(*c, kVolumes, kNs, "y", Field("/status/robustness", "faulted")));
  EXPECT_NE(c->store->Get(kVolumes, kNs, "y")->at("status")["conditions"][0]["message"]
                .get<std::string>()
                .find("backup \"nope\" of volume \"y\" not found"),
            std::string::npos);
}

TEST_F(LonghornTest, AnUnreachableBackupStoreFailsBackupsAndMarksTheTargetUnavailable) {
  testutil::TempDir parent;
  const std::string store = parent.path() + "/nfs";
  auto c = StartCluster(store);
  ASSERT_TRUE(c->store->Create(kVolumes, kNs, Volume("data")).ok());
  BackUp(*c, "data", "v1", "before");
  ASSERT_EQ(std::rename(store.c_str(), (store + ".gone").c_str()), 0);  // the share unmounted
  ASSERT_TRUE(c->store->Create(kBackups, kNs, Backup("during", "data")).ok());
  ASSERT_TRUE(WaitFor(*c, kBackups, kNs, "during", Field("/status/state", "Error")));
  EXPECT_NE(c->store->Get(kBackups, kNs, "during")->at("status")["error"].get<std::string>().find(
                "cannot reach backup target file://" + store),
            std::string::npos);
  EXPECT_FALSE(PosixFileSystem().Exists(store));  // nothing was written in its place
  Sync(*c);
  ASSERT_TRUE(WaitFor(*c, kBackupTargets, kNs, "default", Field("/status/available", false)));
  EXPECT_EQ(c->store->Get(kBackupTargets, kNs, "default")->at("status")["conditions"][0]["type"],
            "Unavailable");
  ASSERT_EQ(std::rename((store + ".gone").c_str(), store.c_str()), 0);
  Sync(*c);
  ASSERT_TRUE(WaitFor(*c, kBackupTargets, kNs, "default", Field("/status/available", true)));
}

TEST_F(LonghornTest, APlainRestoreIsDoneWithTheBackupItNamesEvenWhenNewerExist) {
  auto src = StartCluster(dir_.path());
  ASSERT_TRUE(src->store->Create(kVolumes, kNs, Volume("data")).ok());
  json first = BackUp(*src, "data", "old", "b-old");
  BackUp(*src, "data", "new", "b-new");
  auto dst = StartCluster(dir_.path());
  Sync(*dst);
  ASSERT_TRUE(WaitFor(*dst, kBackupVolumes, kNs, "data", Field("/status/lastBackupName", "b-new")));
  json copy = Volume("copy", {{"fromBackup", first["status"]["url"]}});
  ASSERT_TRUE(dst->store->Create(kVolumes, kNs, copy).ok());
  ASSERT_TRUE(WaitFor(*dst, kVolumes, kNs, "copy", Field("/status/restoreRequired", false)));
  json got = *dst->store->Get(kVolumes, kNs, "copy");
  EXPECT_EQ(got["status"]["lastBackup"], "b-old");
  EXPECT_TRUE(LonghornVolumeActive(got));
  EXPECT_EQ(Data(*dst, "copy"), "old");
}

// A backup is a copy of the volume's directory in the store, whole and its own (later writes to
// the volume do not change it); a restore replaces the restored volume's directory with it.
TEST_F(LonghornTest, ABackupCopiesTheVolumesDirectoryAndARestoreReplacesTheTargetsWithIt) {
  auto src = StartCluster(dir_.path());
  ASSERT_TRUE(src->store->Create(kVolumes, kNs, Volume("data")).ok());
  PosixFileSystem fs;
  const std::string src_dir = LonghornVolumeDir(src->volumes.path(), "data");
  ASSERT_TRUE(fs.MakeDirs(src_dir + "/sub").ok());
  ASSERT_TRUE(fs.WriteFile(src_dir + "/sub/deep", "nested").ok());
  json b1 = BackUp(*src, "data", "v1", "b1");
  Write(*src, "data", "written after the backup");

  const std::string backups = dir_.path() + "/volumes/data/backups";
  EXPECT_EQ(fs.ReadFile(backups + "/backup_b1.data/data").value_or(""), "v1");
  EXPECT_EQ(fs.ReadFile(backups + "/backup_b1.data/sub/deep").value_or(""), "nested");
  auto names = fs.ListDir(backups);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"backup_b1.cfg", "backup_b1.data"})) << "no temporary copy left";

  auto dst = StartCluster(dir_.path());
  Write(*dst, "copy", "stale contents");
  ASSERT_TRUE(fs.WriteFile(LonghornVolumeDir(dst->volumes.path(), "copy") + "/only-here", "x").ok());
  Sync(*dst);
  ASSERT_TRUE(WaitFor(*dst, kBackupVolumes, kNs, "data", Field("/status/lastBackupName", "b1")));
  ASSERT_TRUE(dst->store->Create(kVolumes, kNs, Volume("copy", {{"fromBackup", b1["status"]["url"]}})).ok());
  ASSERT_TRUE(WaitFor(*dst, kVolumes, kNs, "copy", Field("/status/restoreRequired", false)));
  EXPECT_EQ(Data(*dst, "copy"), "v1");
  const std::string copy_dir = LonghornVolumeDir(dst->volumes.path(), "copy");
  EXPECT_EQ(fs.ReadFile(copy_dir + "/sub/deep").value_or(""), "nested");
  EXPECT_FALSE(fs.Exists(copy_dir + "/only-here")) << "a restore replaces the directory, it does not merge";
  auto left = fs.ListDir(dst->volumes.path());
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, std::vector<std::string>{"copy"}) << "no temporary copy left";
  EXPECT_EQ(Data(*src, "data"), "written after the backup") << "the source's directory is its own";
}

TEST_F(LonghornTest, ABackupWhoseDataIsMissingFromTheStoreFailsTheRestoreNamingIt) {
  auto src = StartCluster(dir_.path());
  ASSERT_TRUE(src->store->Create(kVolumes, kNs, Volume("data")).ok());
  json b = BackUp(*src, "data", "v1", "b1");
  const std::string data = dir_.path() + "/volumes/data/backups/backup_b1.data";
  ASSERT_TRUE(sim::RemoveTree(data).ok());
  ASSERT_TRUE(src->store->Create(kVolumes, kNs, Volume("copy", {{"fromBackup", b["status"]["url"]}})).ok());
  ASSERT_TRUE(WaitFor(*src, kVolumes, kNs, "copy", Field("/status/robustness", "faulted")));
  json got = *src->store->Get(kVolumes, kNs, "copy");
  EXPECT_EQ(got["status"]["conditions"][0]["reason"], "RestoreFailure");
  const std::string message = got["status"]["conditions"][0]["message"];
  EXPECT_NE(message.find("backup \"b1\" of volume \"data\" has no data in the backup store"), std::string::npos)
      << message;
  EXPECT_NE(message.find(data), std::string::npos) << message;
  EXPECT_FALSE(LonghornVolumeActive(got));
}

TEST_F(LonghornTest, ADataDirOverlappingTheBackupStoreIsRefused) {
  Registry registry;
  auto store = Store::Open(&registry, Store::Options{&clock_, 100, ""});
  ASSERT_TRUE(store.ok());
  for (const std::string& data : {dir_.path() + "/mine", dir_.path(), std::string()}) {
    SCOPED_TRACE(data);
    ControllerOptions o;
    o.clock = &clock_;
    o.longhorn_backupstore = dir_.path();
    o.longhorn_data_dir = data;
    o.pvc = o.workloads = o.namespaces = false;
    auto c = Controllers::Start(store->get(), o);
    if (data.empty()) {  // a new temporary directory of its own
      EXPECT_TRUE(c.ok()) << c.status().message();
      continue;
    }
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find("overlap"), std::string::npos) << c.status().message();
  }
}

TEST_F(LonghornTest, LonghornClassProvisionsAVolumeAndACsiPv) {
  auto c = StartCluster(dir_.path());
  json sc = {{"apiVersion", "storage.k8s.io/v1"},
             {"kind", "StorageClass"},
             {"metadata", {{"name", "longhorn"}}},
             {"provisioner", "driver.longhorn.io"},
             {"parameters", {{"numberOfReplicas", "2"}}}};
  ASSERT_TRUE(c->store->Create({"storage.k8s.io", "storageclasses"}, "", sc).ok());
  ASSERT_TRUE(c->store->Create({"", "namespaces"}, "",
                               {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                {"metadata", {{"name", "shop"}}}}).ok());
  json pvc = {{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", {{"name", "db"}, {"namespace", "shop"}}},
              {"spec",
               {{"accessModes", {"ReadWriteOnce"}},
                {"storageClassName", "longhorn"},
                {"resources", {{"requests", {{"storage", "2Gi"}}}}}}}};
  auto created = c->store->Create(kPvcs, "shop", pvc);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(WaitFor(*c, kPvcs, "shop", "db", Field("/status/phase", "Bound")));
  std::string name = "pvc-" + (*created)["metadata"]["uid"].get<std::string>();
  auto vol = c->store->Get(kVolumes, kNs, name);
  ASSERT_TRUE(vol.ok());
  EXPECT_EQ((*vol)["spec"]["size"], "2147483648");
  EXPECT_EQ((*vol)["spec"]["numberOfReplicas"], 2);
  auto pv = c->store->Get(kPvs, "", name);
  ASSERT_TRUE(pv.ok());
  EXPECT_EQ((*pv)["spec"]["csi"]["driver"], "driver.longhorn.io");
  EXPECT_EQ((*pv)["spec"]["csi"]["volumeHandle"], name);
  ASSERT_TRUE(WaitFor(*c, kVolumes, kNs, name, Field("/status/state", "attached")));
}

}  // namespace
}  // namespace kdr::kubesim
