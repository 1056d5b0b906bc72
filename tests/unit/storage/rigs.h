#pragma once

// Test worlds for the storage drivers (header-only; included by *_test.cc and the benchmark):
// a source and a target kubesim sharing a Longhorn backup store, an alletra-sim pair with a
// kubesim target holding the credentials Secret, and the plan and volume map each driver gets.
// Everything runs in-process over real loopback TLS.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/fs.h"
#include "base/strings.h"
#include "dr/types.h"
#include "inventory/volume_map.h"
#include "kube/client.h"
#include "kube/rest_config.h"
#include "kubesim/controllers.h"
#include "kubesim/longhorn.h"
#include "kubesim/server.h"
#include "sim/alletra_sim.h"
#include "storage/driver.h"
#include "storage/registry.h"
#include "testutil/testutil.h"

namespace kdr::storage::testing {

using nlohmann::json;

// A FakeClock whose sleeps advance fake time at once and also let a little real time pass
// (a hundredth of the fake sleep, at most 10ms): the simulators are other threads, and a
// driver's fake hour of polling must leave them seconds of real time on a loaded machine, not
// the few milliseconds its reads take. Fake deadlines still decide every outcome; nothing is
// asserted about real time.
class PollClock final : public Clock {
 public:
  WallTime Now() const override { return fake_.Now(); }
  MonoTime Monotonic() const override { return fake_.Monotonic(); }
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override {
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(d / 100, std::chrono::milliseconds(10)));
    return fake_.SleepFor(d, stop);
  }
  void Advance(std::chrono::nanoseconds d) { fake_.Advance(d); }
  std::chrono::nanoseconds slept() const { return fake_.slept(); }

 private:
  testutil::FakeClock fake_;
};

// True once pred() holds, checking every 10ms for up to 20s of real time (the simulators are
// other threads: this bounds the wait, it never decides an outcome).
inline bool Eventually(const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

inline std::unique_ptr<kube::Client> ClientFor(const kubesim::Server& server, const Env& env) {
  kube::RestConfig c;
  c.server = server.url();
  c.ca_pem = server.ca_pem();
  c.bearer_token = server.admin_token();
  c.qps = 0;  // no client-side pacing: the drivers' polls are what is under test
  auto client = kube::Client::Create(c, env);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

inline const kube::Gvr kNamespaces{"", "v1", "namespaces"};
inline const kube::Gvr kSecrets{"", "v1", "secrets"};
inline const kube::Gvr kPvcs{"", "v1", "persistentvolumeclaims"};
inline const kube::Gvr kPvs{"", "v1", "persistentvolumes"};
inline const kube::Gvr kLhVolumes{"longhorn.io", "v1beta2", "volumes"};
inline const kube::Gvr kLhBackups{"longhorn.io", "v1beta2", "backups"};
inline const kube::Gvr kLhBackupTargets{"longhorn.io", "v1beta2", "backuptargets"};
inline constexpr char kLonghornNs[] = "longhorn-system";

inline Status EnsureNamespace(kube::Client& c, const std::string& ns) {
  auto r = c.Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                      {"metadata", {{"name", ns}}}});
  return r.ok() || r.status().IsAlreadyExists() ? Status::Ok() : r.status();
}

inline dr::DRPlan Plan(dr::StorageDriver driver, std::map<std::string, std::string> params = {},
                       std::string secret = "") {
  dr::DRPlan p;
  p.metadata.name = "shop-to-dr";
  p.metadata.namespace_name = std::string(dr::kSystemNamespace);
  p.spec.source_context = "prod";
  p.spec.target_context = "dr";
  p.spec.namespaces = {"shop"};
  p.spec.inventory_pvc_namespace = std::string(dr::kSystemNamespace);
  p.spec.inventory_pvc_name = "shop-inventory";
  p.spec.driver = driver;
  p.spec.storage_parameters = std::move(params);
  p.spec.credentials_secret = std::move(secret);
  return p;
}

// A captured claim bound to a CSI volume.
inline inventory::VolumeMapEntry Entry(const std::string& ns, const std::string& pvc,
                                       const std::string& pv, const std::string& csi_driver,
                                       const std::string& handle, bool inventory) {
  inventory::VolumeMapEntry e;
  e.pvc_namespace = ns;
  e.pvc_name = pvc;
  e.pv_name = pv;
  e.storage_class = csi_driver == "csi.hpe.com" ? "hpe-standard" : "longhorn";
  e.capacity = "1Gi";
  e.access_modes = {"ReadWriteOnce"};
  e.volume_mode = "Filesystem";
  e.reclaim_policy = "Retain";
  e.csi_driver = csi_driver;
  e.volume_handle = handle;
  e.fs_type = "ext4";
  e.volume_attributes = {{"numberOfReplicas", "3"}};
  e.inventory = inventory;
  return e;
}

// The captured PV of an entry, as the inventory holds it (cluster-assigned fields included).
inline json CapturedPv(const inventory::VolumeMapEntry& e) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata",
           {{"name", e.pv_name},
            {"uid", "0b6f-uid"},
            {"resourceVersion", "4711"},
            {"creationTimestamp", "2025-12-01T00:00:00Z"},
            {"labels", {{"tier", "gold"}}}}},
          {"spec",
           {{"capacity", {{"storage", e.capacity}}},
            {"accessModes", e.access_modes},
            {"persistentVolumeReclaimPolicy", e.reclaim_policy},
            {"storageClassName", e.storage_class},
            {"mountOptions", {"noatime"}},
            {"claimRef",
             {{"kind", "PersistentVolumeClaim"},
              {"namespace", e.pvc_namespace},
              {"name", e.pvc_name},
              {"uid", "claim-uid"},
              {"resourceVersion", "42"}}},
            {"nfs", {{"server", "nfs.example"}, {"path", "/exports/" + e.pvc_name}}}}},
          {"status", {{"phase", "Bound"}}}};
}

// What every rig offers the conformance test.
class Rig {
 public:
  virtual ~Rig() = default;
  virtual std::string name() const = 0;
  // Starts the world with an inventory volume and `workloads` workload volumes.
  virtual void Start(int workloads) = 0;
  virtual Driver& driver() = 0;
  virtual const dr::DRPlan& plan() const = 0;
  virtual const inventory::VolumeMap& map() const = 0;
  virtual PollClock& clock() = 0;
  // The State of a replicating CG, and of a failed-over one.
  virtual Replication replicating() const { return Replication::kReplicating; }
  virtual Replication failed_over() const { return Replication::kFailedOver; }
  // The CSI driver of the PVs VolumeSourceFor returns ("" for none: the captured PV).
  virtual std::string pv_driver() const = 0;
  // True when a drill copy holds data (not for none).
  virtual bool drill_has_data() const { return true; }
};

// ---- none ---------------------------------------------------------------------------------

class NoneRig final : public Rig {
 public:
  std::string name() const override { return "none"; }
  void Start(int workloads) override {
    server_ = std::move(*kubesim::Server::Start({}));
    env_ = Env{&clock_, nullptr, nullptr};
    target_ = ClientFor(*server_, env_);
    plan_ = Plan(dr::StorageDriver::kNone);
    map_.push_back(Entry(std::string(dr::kSystemNamespace), "shop-inventory", "pv-inv", "", "",
                         true));
    for (int i = 0; i < workloads; ++i) {
      std::string n = std::to_string(i);
      map_.push_back(Entry("shop", "data-" + n, "pv-data-" + n, "", "", false));
    }
    DriverOptions o{env_, nullptr, target_.get()};
    auto d = NewDriver(plan_, o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    driver_ = std::move(*d);
  }
  Driver& driver() override { return *driver_; }
  const dr::DRPlan& plan() const override { return plan_; }
  const inventory::VolumeMap& map() const override { return map_; }
  PollClock& clock() override { return clock_; }
  Replication replicating() const override { return Replication::kExternal; }
  Replication failed_over() const override { return Replication::kExternal; }
  std::string pv_driver() const override { return ""; }
  bool drill_has_data() const override { return false; }

 private:
  PollClock clock_;
  Env env_;
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<kube::Client> target_;
  dr::DRPlan plan_;
  inventory::VolumeMap map_;
  std::unique_ptr<Driver> driver_;
};

// ---- Longhorn -----------------------------------------------------------------------------

// Two kubesims sharing a backup store; the source holds active Longhorn volumes bound to claims
// (the inventory's in kubectl-dr-system, the workloads' in shop); Protect made their DR volumes.
class LonghornRig : public Rig {
 public:
  std::string name() const override { return "longhorn"; }

  void Start(int workloads) override {
    env_ = Env{&clock_, nullptr, nullptr};
    source_server_ = StartCluster(source_volumes_.path());
    target_server_ = StartCluster(target_volumes_.path());
    ASSERT_TRUE(source_server_ && target_server_);
    source_ = ClientFor(*source_server_, env_);
    target_ = ClientFor(*target_server_, env_);
    for (auto* c : {source_.get(), target_.get()}) {
      ASSERT_TRUE(Eventually([&] { return c->Get(kLhBackupTargets, kLonghornNs, "default").ok(); }));
    }
    plan_ = Plan(dr::StorageDriver::kLonghorn, {{"longhornNamespace", kLonghornNs}});
    AddClaim(std::string(dr::kSystemNamespace), "shop-inventory", "pvc-inv", true);
    for (int i = 0; i < workloads; ++i) {
      std::string n = std::to_string(i);
      AddClaim("shop", "data-" + n, "pvc-data-" + n, false);
    }
    driver_ = MakeDriver(/*source_reachable=*/true);
    auto protected_volumes = driver_->Protect(plan_, Long());
    ASSERT_TRUE(protected_volumes.ok()) << protected_volumes.status().ToString();
    ASSERT_EQ(protected_volumes->size(), map_.size());
  }

  std::unique_ptr<Driver> MakeDriver(bool source_reachable) {
    DriverOptions o{env_, source_reachable ? source_.get() : nullptr, target_.get()};
    auto d = NewDriver(plan_, o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(*d) : nullptr;
  }

  // A deadline an hour away on the fake clock: thousands of polls, seconds of real time.
  Deadline Long() { return Deadline::After(clock_, std::chrono::hours(1)); }

  // Writes `data` as the file "data" of a volume's directory on a cluster (source by default).
  void Write(const std::string& volume, const std::string& data) { WriteOn(*source_, volume, data); }
  void WriteOn(kube::Client& c, const std::string& volume, const std::string& data) {
    PosixFileSystem fs;
    const std::string dir = kubesim::LonghornVolumeDir(VolumesOf(c), volume);
    ASSERT_TRUE(fs.MakeDirs(dir).ok());
    ASSERT_TRUE(fs.WriteFile(dir + "/data", data).ok());
  }
  // The file "data" of a volume's directory on a cluster ("" when absent).
  std::string Data(kube::Client& c, const std::string& volume) {
    auto r = PosixFileSystem().ReadFile(kubesim::LonghornVolumeDir(VolumesOf(c), volume) + "/data");
    return r.ok() ? *r : "";
  }
  // The Longhorn data dir of the cluster `c` reaches.
  const std::string& VolumesOf(const kube::Client& c) const {
    return &c == source_.get() ? source_volumes_.path() : target_volumes_.path();
  }
  json TargetVolume(const std::string& name) {
    auto v = target_->Get(kLhVolumes, kLonghornNs, name);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : json();
  }

  Driver& driver() override { return *driver_; }
  const dr::DRPlan& plan() const override { return plan_; }
  const inventory::VolumeMap& map() const override { return map_; }
  PollClock& clock() override { return clock_; }
  std::string pv_driver() const override { return "driver.longhorn.io"; }

  kube::Client& source() { return *source_; }
  kube::Client& target() { return *target_; }
  kubesim::Server& source_server() { return *source_server_; }
  kubesim::Server& target_server() { return *target_server_; }
  const std::string& backup_store() const { return store_.path(); }

 protected:
  std::unique_ptr<kubesim::Server> StartCluster(const std::string& volumes) {
    kubesim::Server::Options o;
    kubesim::ControllerOptions c;
    c.longhorn_backupstore = store_.path();
    c.longhorn_data_dir = volumes;
    // Standby volumes see new backups only when asked (a sync request), so what the target
    // shows is what the driver made it do.
    c.longhorn_poll_interval = std::chrono::hours(1);
    c.resync_interval = std::chrono::milliseconds(200);
    c.workloads = false;
    o.controllers = c;
    auto s = kubesim::Server::Start(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // An active Longhorn volume on the source, its PV and a claim bound to it, and its entry.
  void AddClaim(const std::string& ns, const std::string& pvc, const std::string& volume,
                bool inventory) {
    ASSERT_TRUE(EnsureNamespace(*source_, ns).ok());
    json vol = {{"apiVersion", "longhorn.io/v1beta2"},
                {"kind", "Volume"},
                {"metadata", {{"name", volume}, {"namespace", kLonghornNs}}},
                {"spec",
                 {{"size", "1073741824"}, {"numberOfReplicas", 3}, {"frontend", "blockdev"},
                  {"dataEngine", "v1"}, {"standby", false}, {"fromBackup", ""}}}};
    ASSERT_TRUE(source_->Create(kLhVolumes, kLonghornNs, vol).ok());
    Write(volume, "v1 of " + volume);
    const std::string pv = "pv-" + volume;
    json pvj = {{"apiVersion", "v1"},
                {"kind", "PersistentVolume"},
                {"metadata", {{"name", pv}}},
                {"spec",
                 {{"capacity", {{"storage", "1Gi"}}},
                  {"accessModes", {"ReadWriteOnce"}},
                  {"persistentVolumeReclaimPolicy", "Retain"},
                  {"storageClassName", "longhorn"},
                  {"csi", {{"driver", "driver.longhorn.io"}, {"volumeHandle", volume},
                           {"fsType", "ext4"}}}}}};
    ASSERT_TRUE(source_->Create(kPvs, "", pvj).ok());
    json claim = {{"apiVersion", "v1"},
                  {"kind", "PersistentVolumeClaim"},
                  {"metadata", {{"name", pvc}, {"namespace", ns}}},
                  {"spec",
                   {{"accessModes", {"ReadWriteOnce"}},
                    {"storageClassName", "longhorn"},
                    {"volumeName", pv},
                    {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
    auto c = source_->Create(kPvcs, ns, claim);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    auto e = Entry(ns, pvc, pv, "driver.longhorn.io", volume, inventory);
    e.storage = {{"volume", volume}};
    map_.push_back(e);
  }

  PollClock clock_;
  Env env_;
  testutil::TempDir store_;
  testutil::TempDir source_volumes_;  // each cluster's Longhorn volume contents
  testutil::TempDir target_volumes_;
  std::unique_ptr<kubesim::Server> source_server_;
  std::unique_ptr<kubesim::Server> target_server_;
  std::unique_ptr<kube::Client> source_;
  std::unique_ptr<kube::Client> target_;
  dr::DRPlan plan_;
  inventory::VolumeMap map_;
  std::unique_ptr<Driver> driver_;
};

// ---- Alletra ------------------------------------------------------------------------------

// alletra-sim (array-a the source, array-b the target) with the inventory's remote-copy group
// "shop-inventory" and the workloads' "shop-data"; a bare kubesim target holding the plan's
// Secret "alletra" in kubectl-dr-system.
class AlletraRig : public Rig {
 public:
  std::string name() const override { return "alletra"; }

  void Start(int workloads) override { Start(workloads, /*sync_reads=*/1); }

  void Start(int workloads, int sync_reads) {
    // A restart: sessions end while the old arrays still listen, and a server stops once no
    // client holds a connection open.
    driver_.reset();
    target_.reset();
    server_.reset();
    sim_.reset();
    map_.clear();
    env_ = Env{&clock_, nullptr, nullptr};
    sim::AlletraSimOptions o;
    o.clock = &clock_;
    sim::GroupSpec inv;
    inv.name = "shop-inventory";
    inv.primary_array = "array-a";
    inv.sync_reads = sync_reads;
    inv.volumes = {{"shop-inv-a", "shop-inv-b", 1024}};
    sim::GroupSpec data;
    data.name = "shop-data";
    data.primary_array = "array-a";
    data.sync_reads = sync_reads;
    for (int i = 0; i < workloads; ++i) {
      std::string n = std::to_string(i);
      data.volumes.push_back({"data-" + n + "-a", "data-" + n + "-b", 2048});
    }
    o.spec.groups = {inv};
    if (workloads > 0) o.spec.groups.push_back(data);
    auto s = sim::AlletraSim::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    sim_ = std::move(*s);
    auto server = kubesim::Server::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
    target_ = ClientFor(*server_, env_);
    ASSERT_TRUE(EnsureNamespace(*target_, std::string(dr::kSystemNamespace)).ok());
    ASSERT_TRUE(PutSecret(DefaultSecret()).ok());
    plan_ = Plan(dr::StorageDriver::kAlletra,
                 {{"sourceArray", "array-a"}, {"targetArray", "array-b"}}, "alletra");
    map_.push_back(Entry(std::string(dr::kSystemNamespace), "shop-inventory", "pv-inv",
                         "csi.hpe.com", "shop-inv-a", true));
    for (int i = 0; i < workloads; ++i) {
      std::string n = std::to_string(i);
      map_.push_back(Entry("shop", "data-" + n, "pv-data-" + n, "csi.hpe.com",
                           "data-" + n + "-a", false));
    }
    driver_ = MakeDriver();
  }

  std::map<std::string, std::string> DefaultSecret() const {
    return {{"sourceUrl", sim_->url("array-a")},
            {"targetUrl", sim_->url("array-b")},
            {"username", "3paradm"},
            {"password", "3pardata"},
            {"ca", sim_->ca_pem()}};
  }

  Status PutSecret(const std::map<std::string, std::string>& data) {
    json d = json::object();
    for (const auto& [k, v] : data) d[k] = Base64Encode(v);
    json secret = {{"apiVersion", "v1"},
                   {"kind", "Secret"},
                   {"metadata", {{"name", "alletra"}, {"namespace", dr::kSystemNamespace}}},
                   {"type", "Opaque"},
                   {"data", d}};
    (void)target_->Delete(kSecrets, dr::kSystemNamespace, "alletra");
    auto r = target_->Create(kSecrets, dr::kSystemNamespace, secret);
    return r.ok() ? Status::Ok() : r.status();
  }

  std::unique_ptr<Driver> MakeDriver() {
    DriverOptions o{env_, nullptr, target_.get()};
    o.poll_interval = std::chrono::milliseconds(500);
    auto d = NewDriver(plan_, o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(*d) : nullptr;
  }

  Deadline Long() { return Deadline::After(clock_, std::chrono::hours(1)); }

  Driver& driver() override { return *driver_; }
  void ResetDriver() { driver_ = MakeDriver(); }
  const dr::DRPlan& plan() const override { return plan_; }
  dr::DRPlan& mutable_plan() { return plan_; }
  const inventory::VolumeMap& map() const override { return map_; }
  PollClock& clock() override { return clock_; }
  std::string pv_driver() const override { return "csi.hpe.com"; }
  sim::AlletraSim& sim() { return *sim_; }
  kube::Client& target() { return *target_; }
  kubesim::Server& server() { return *server_; }

 protected:
  PollClock clock_;
  Env env_;
  std::unique_ptr<sim::AlletraSim> sim_;
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<kube::Client> target_;
  dr::DRPlan plan_;
  inventory::VolumeMap map_;
  std::unique_ptr<Driver> driver_;
};

}  // namespace kdr::storage::testing
