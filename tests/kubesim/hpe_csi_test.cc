// The HPE CSI binding rule: a csi.hpe.com PV binds only while alletra-sim says its volume is
// writable on the cluster's array; the flags that name the array.

#include "kubesim/hpe_csi.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/log.h"
#include "kubesim/controllers.h"
#include "kubesim/registry.h"
#include "kubesim/store.h"
#include "sim/alletra_sim.h"
#include "test_support.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

const GroupResource kPvcs{"", "persistentvolumeclaims"};
const GroupResource kPvs{"", "persistentvolumes"};
const GroupResource kEvents{"", "events"};

// alletra-sim in process with one remote-copy group shop-data (array-a primary: shop-db-a
// mirrored to shop-db-b on array-b).
std::unique_ptr<sim::AlletraSim> StartSim() {
  sim::AlletraSimOptions o;
  sim::GroupSpec g;
  g.name = "shop-data";
  g.primary_array = "array-a";
  g.volumes.push_back({"shop-db-a", "shop-db-b", 1024});
  o.spec.groups.push_back(g);
  auto s = sim::AlletraSim::Start(std::move(o));
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

// A store whose PVC controller runs for the cluster attached to one array.
class HpeCsiBindingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim_ = StartSim();
    ASSERT_NE(sim_, nullptr);
  }

  void Start(const std::string& array) {
    HpeArrayOptions ho;
    ho.array = array;
    ho.alletra_url = sim_->admin_url();
    ho.ca_pem = sim_->ca_pem();
    auto hpe = HpeArray::Connect(ho);
    ASSERT_TRUE(hpe.ok()) << hpe.status().message();
    auto store = Store::Open(&registry_, Store::Options{&clock_, 10000, ""});
    ASSERT_TRUE(store.ok()) << store.status().message();
    store_ = std::move(*store);
    ControllerOptions options;
    options.clock = &clock_;
    options.logger = &logger_;
    options.longhorn = options.workloads = false;
    options.resync_interval = std::chrono::milliseconds(100);
    options.hpe_array = std::move(*hpe);
    auto c = Controllers::Start(store_.get(), options);
    ASSERT_TRUE(c.ok()) << c.status().message();
    controllers_ = std::move(*c);
    ASSERT_TRUE(store_->Create({"", "namespaces"}, "",
                               {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}})
                    .ok());
  }

  void TearDown() override {
    if (controllers_) controllers_->Stop();
  }

  // A restored HPE PV pre-bound to shop/data, and the claim naming it.
  void CreateVolumeAndClaim(const std::string& volume) {
    json pv = {{"apiVersion", "v1"},
               {"kind", "PersistentVolume"},
               {"metadata", {{"name", "pv-data"}}},
               {"spec",
                {{"capacity", {{"storage", "1Gi"}}},
                 {"accessModes", {"ReadWriteOnce"}},
                 {"persistentVolumeReclaimPolicy", "Retain"},
                 {"storageClassName", "hpe-standard"},
                 {"claimRef", {{"namespace", "shop"}, {"name", "data"}}},
                 {"csi", {{"driver", "csi.hpe.com"}, {"volumeHandle", volume}, {"fsType", "xfs"}}}}}};
    ASSERT_TRUE(store_->Create(kPvs, "", pv).ok());
    json pvc = {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", "data"}, {"namespace", "shop"}}},
                {"spec",
                 {{"accessModes", {"ReadWriteOnce"}},
                  {"storageClassName", "hpe-standard"},
                  {"volumeName", "pv-data"},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
    ASSERT_TRUE(store_->Create(kPvcs, "shop", pvc).ok());
  }

  // Waits (on store events, at most 20 s) until pred holds.
  ::testing::AssertionResult WaitFor(const GroupResource& gr, const std::function<bool()>& pred) {
    WatchOptions wo;
    wo.gr = gr;
    auto w = store_->Watch(wo);
    if (!w.ok()) return ::testing::AssertionFailure() << w.status().message();
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (pred()) return ::testing::AssertionSuccess();
      (void)(*w)->Next(std::chrono::milliseconds(200));
    }
    return pred() ? ::testing::AssertionSuccess() : ::testing::AssertionFailure() << "timed out";
  }
  std::string ClaimPhase() {
    auto c = store_->Get(kPvcs, "shop", "data");
    return c.ok() ? c->value("/status/phase"_json_pointer, "") : "";
  }
  ::testing::AssertionResult WaitBound() {
    auto r = WaitFor(kPvcs, [&] { return ClaimPhase() == "Bound"; });
    if (!r) r << "; claim phase " << ClaimPhase();
    return r;
  }
  // The claim's Warning Event with this reason, once there.
  json WaitEvent(const std::string& reason) {
    json found;
    (void)WaitFor(kEvents, [&] {
      ListOptions lo;
      lo.namespace_name = "shop";
      auto l = store_->List(kEvents, lo);
      for (const auto& e : l.ok() ? l->items : decltype(l->items){}) {
        if (e->value("reason", "") == reason && e->value("/involvedObject/name"_json_pointer, "") == "data") {
          found = *e;
        }
      }
      return !found.is_null();
    });
    return found;
  }

  std::unique_ptr<sim::AlletraSim> sim_;
  testutil::FakeClock clock_;
  Logger logger_{std::make_unique<TextLogSink>(&std::cerr, nullptr), LogLevel::kWarning};
  Registry registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Controllers> controllers_;
};

TEST_F(HpeCsiBindingTest, BindsAVolumeWritableOnTheClustersArray) {
  Start("array-a");
  CreateVolumeAndClaim("shop-db-a");
  ASSERT_TRUE(WaitBound());
  EXPECT_EQ(store_->Get(kPvcs, "shop", "data")->value("/spec/volumeName"_json_pointer, ""), "pv-data");
  EXPECT_EQ(store_->Get(kPvs, "", "pv-data")->value("/status/phase"_json_pointer, ""), "Bound");
}

TEST_F(HpeCsiBindingTest, KeepsTheClaimPendingOnTheWrongSiteAndSaysWhy) {
  Start("array-b");
  CreateVolumeAndClaim("shop-db-b");
  json event = WaitEvent("VolumeNotWritable");
  ASSERT_FALSE(event.is_null()) << "no VolumeNotWritable event; claim phase " << ClaimPhase();
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["source"]["component"], "csi.hpe.com");
  const std::string message = event.value("message", "");
  EXPECT_NE(message.find("volume \"shop-db-b\" of persistentvolume \"pv-data\" is not writable on array array-b"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("binds once the volume is failed over"), std::string::npos) << message;
  // The event comes after the decision: the claim and the volume are still unbound.
  EXPECT_NE(ClaimPhase(), "Bound");
  EXPECT_EQ(store_->Get(kPvcs, "shop", "data")->value("/spec/volumeName"_json_pointer, ""), "pv-data");
  EXPECT_NE(store_->Get(kPvs, "", "pv-data")->value("/status/phase"_json_pointer, ""), "Bound");
}

TEST_F(HpeCsiBindingTest, BindsOnceTheGroupFailsOverToTheClustersArray) {
  Start("array-b");
  CreateVolumeAndClaim("shop-db-b");
  ASSERT_FALSE(WaitEvent("VolumeNotWritable").is_null());
  ASSERT_NE(ClaimPhase(), "Bound");
  // The failover on the secondary: stop, then failover (what the Alletra driver issues).
  ASSERT_FALSE(sim_->pair().Act(1, "shop-data.r188150", sim::kActionStop, {}).has_value());
  ASSERT_FALSE(sim_->pair().Act(1, "shop-data.r188150", sim::kActionFailover, {}).has_value());
  EXPECT_TRUE(WaitBound());  // by a resync: nothing in the cluster changed
}

TEST_F(HpeCsiBindingTest, ReportsAVolumeTheArrayDoesNotHave) {
  Start("array-b");
  CreateVolumeAndClaim("shop-db-x");
  json event = WaitEvent("VolumeCheckFailed");
  ASSERT_FALSE(event.is_null()) << "claim phase " << ClaimPhase();
  EXPECT_NE(event.value("message", "").find("\"shop-db-x\" does not exist on array-b"), std::string::npos)
      << event.dump();
  EXPECT_NE(ClaimPhase(), "Bound");
}

TEST_F(HpeCsiBindingTest, KeepsTheClaimPendingWhileTheSimulatorCannotBeReached) {
  Start("array-a");
  sim_.reset();  // alletra-sim gone: nothing says the volume is writable
  CreateVolumeAndClaim("shop-db-a");
  json event = WaitEvent("VolumeCheckFailed");
  ASSERT_FALSE(event.is_null()) << "claim phase " << ClaimPhase();
  EXPECT_NE(event.value("message", "").find("cannot tell whether volume \"shop-db-a\""), std::string::npos)
      << event.dump();
  EXPECT_NE(event.value("message", "").find("cannot connect"), std::string::npos) << event.dump();
  EXPECT_NE(ClaimPhase(), "Bound");
}

TEST(HpeArrayTest, ConnectRefusesAnArrayTheSimulatorDoesNotServe) {
  auto sim = StartSim();
  ASSERT_NE(sim, nullptr);
  HpeArrayOptions o;
  o.array = "array-c";
  o.alletra_url = sim->admin_url();
  o.ca_pem = sim->ca_pem();
  auto a = HpeArray::Connect(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  EXPECT_NE(a.status().message().find("serves no such array (it serves array-a, array-b)"), std::string::npos)
      << a.status().message();
  EXPECT_NE(a.status().message().find("did you mean"), std::string::npos) << a.status().message();
}

TEST(HpeArrayTest, ConnectVerifiesTheSimulatorsCertificate) {
  auto sim = StartSim();
  ASSERT_NE(sim, nullptr);
  auto other = tls::MakeCa("another-ca");
  ASSERT_TRUE(other.ok());
  HpeArrayOptions o;
  o.array = "array-a";
  o.alletra_url = sim->admin_url();
  o.ca_pem = other->cert_pem;
  auto a = HpeArray::Connect(o);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(a.status().message().find("certificate"), std::string::npos) << a.status().message();
  o.ca_pem.clear();
  o.insecure = true;
  EXPECT_TRUE(HpeArray::Connect(o).ok());
}

TEST(HpeArrayFlagsTest, RefusesIncompleteOrContradictoryFlags) {
  testutil::TempDir dir;
  const std::string ca = dir.Write("ca.pem", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
  const std::string not_pem = dir.Write("not.pem", "hello");
  dir.Write("data/array-b/shop-db-b/.keep", "");  // alletra-sim's data dir, with array-b's volumes
  const std::string data = dir.path() + "/data";
  struct Case {
    std::string name;
    HpeArrayFlags flags;
    std::string want;  // "" = accepted
  } cases[] = {
      {"none", {}, ""},
      {"url alone", {"", "https://127.0.0.1:9", ca, false}, "need --hpe-array NAME"},
      {"array alone", {"array-b", "", "", false}, "needs --alletra-sim-url https://HOST:PORT"},
      {"not https", {"array-b", "http://127.0.0.1:9", ca, false}, "is not https://HOST:PORT"},
      {"no port", {"array-b", "https://127.0.0.1", ca, false}, "is not https://HOST:PORT"},
      {"neither", {"array-b", "https://127.0.0.1:9", "", false}, "needs --alletra-sim-ca FILE"},
      {"both", {"array-b", "https://127.0.0.1:9", ca, true}, "not both"},
      {"insecure remote", {"array-b", "https://10.0.0.1:9", "", true}, "for a loopback URL only"},
      {"missing ca", {"array-b", "https://127.0.0.1:9", dir.path() + "/nope.pem", false}, "nope.pem"},
      {"not pem", {"array-b", "https://127.0.0.1:9", not_pem, false}, "holds no PEM certificate"},
      {"ca", {"array-b", "https://127.0.0.1:9", ca, false}, ""},
      {"insecure loopback", {"array-b", "https://127.0.0.1:9", "", true}, ""},
      {"data dir alone", {"", "", "", false, data}, "--alletra-sim-data-dir need --hpe-array NAME"},
      {"data dir without the array", {"array-a", "https://127.0.0.1:9", ca, false, data},
       "has no directory for array array-a (" + data + "/array-a)"},
      {"data dir missing", {"array-b", "https://127.0.0.1:9", ca, false, dir.path() + "/nope"},
       "give alletra-sim's --data-dir"},
      {"data dir", {"array-b", "https://127.0.0.1:9", ca, false, data}, ""},
  };
  PosixFileSystem fs;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto o = HpeArrayOptionsFromFlags(c.flags, fs);
    if (c.want.empty()) {
      ASSERT_TRUE(o.ok()) << o.status().message();
      EXPECT_EQ(o->has_value(), !c.flags.array.empty());
      continue;
    }
    ASSERT_FALSE(o.ok());
    EXPECT_NE(o.status().message().find(c.want), std::string::npos) << o.status().message();
  }
}

TEST(HpeArrayFlagsTest, TheBinaryExitsWithTheReasonOnBadFlags) {
  auto sim = StartSim();
  ASSERT_NE(sim, nullptr);
  testutil::TempDir dir;
  const std::string ca = dir.Write("ca.pem", sim->ca_pem());
  const std::string kubesim = testutil::BinaryDir() + "/tests/kubesim --listen 127.0.0.1:0 ";
  struct Case {
    std::string args;
    int want_exit;
    std::string want;
  } cases[] = {
      {"--hpe-array array-b", 2, "--hpe-array array-b needs --alletra-sim-url"},
      {"--hpe-array array-z --alletra-sim-url " + sim->admin_url() + " --alletra-sim-ca " + ca, 2,
       "--hpe-array \"array-z\": alletra-sim at " + sim->admin_url() + " serves no such array"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    auto r = testing::Run(kubesim + c.args);
    EXPECT_EQ(r.exit_code, c.want_exit) << r.output;
    EXPECT_NE(r.output.find("kubesim: " + c.want), std::string::npos) << r.output;
  }
  // Right flags: it serves.
  testing::Process p("exec " + kubesim + "--hpe-array array-b --alletra-sim-url " + sim->admin_url() +
                     " --alletra-sim-ca " + ca);
  EXPECT_TRUE(p.ReadUntil("kubesim ready at https://127.0.0.1:")) << p.output();
}

}  // namespace
}  // namespace kdr::kubesim
