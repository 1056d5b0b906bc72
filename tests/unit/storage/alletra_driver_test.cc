// The Alletra driver against alletra-sim over real TLS: discovery, every transition of
// failover, recover and restore, drills, refusals, sessions, credentials and certificates.

#include "storage/alletra.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "base/log.h"
#include "tls/certs.h"
#include "unit/storage/rigs.h"

namespace kdr::storage {
namespace {

using nlohmann::json;
using sim::Phase;
using sim::Role;

class AlletraDriverTest : public ::testing::Test {
 protected:
  void Start(int workloads = 2, int sync_reads = 1) {
    rig_.Start(workloads, sync_reads);
    ASSERT_FALSE(HasFatalFailure());
    auto cgs = d().Discover(rig_.plan(), rig_.map(), rig_.Long());
    ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
    cgs_ = std::move(*cgs);
  }
  void SetUp() override { Start(); }
  Driver& d() { return rig_.driver(); }
  const ConsistencyGroup& inv() { return cgs_[0]; }
  const ConsistencyGroup& work() { return cgs_[1]; }
  sim::GroupState Sim(const std::string& group) {
    auto s = rig_.sim().pair().State(group);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : sim::GroupState{};
  }

  // The plan the other way round (failback): array-b is its source, array-a its target.
  std::unique_ptr<Driver> Reverse(dr::DRPlan* plan) {
    *plan = rig_.plan();
    plan->metadata.name = "shop-back";
    plan->spec.storage_parameters = {{"sourceArray", "array-b"}, {"targetArray", "array-a"}};
    auto secret = rig_.DefaultSecret();
    std::swap(secret["sourceUrl"], secret["targetUrl"]);
    EXPECT_TRUE(rig_.PutSecret(secret).ok());
    Env env{&rig_.clock(), nullptr, nullptr};
    DriverOptions o{env, nullptr, &rig_.target()};
    auto driver = NewDriver(*plan, o);
    EXPECT_TRUE(driver.ok()) << driver.status().ToString();
    return std::move(*driver);
  }
  inventory::VolumeMap ReverseMap() {
    inventory::VolumeMap m;
    for (auto e : rig_.map()) {
      e.volume_handle = e.volume_handle.substr(0, e.volume_handle.size() - 1) + "b";
      m.push_back(e);
    }
    return m;
  }

  testing::AlletraRig rig_;
  std::vector<ConsistencyGroup> cgs_;
};

TEST_F(AlletraDriverTest, DiscoverMapsClaimsToGroupsAndMirrors) {
  ASSERT_EQ(cgs_.size(), 2u);
  EXPECT_EQ(inv().name, "shop-inventory");
  EXPECT_EQ(inv().target, (Identity{{"array", "array-b"}, {"group", "shop-inventory.r188150"}}));
  EXPECT_EQ(work().name, "shop-data");
  ASSERT_EQ(work().volumes.size(), 2u);
  EXPECT_EQ(work().volumes[1].source,
            (Identity{{"array", "array-a"}, {"volume", "data-1-a"}, {"group", "shop-data"}}));
  EXPECT_EQ(work().volumes[1].target, (Identity{{"array", "array-b"}, {"volume", "data-1-b"},
                                                {"group", "shop-data.r188150"}}));
  EXPECT_TRUE(work().warnings.empty());
}

TEST_F(AlletraDriverTest, DiscoverWarnsOfGroupVolumesOutsideThePlanAndListsStrays) {
  auto map = rig_.map();
  map.pop_back();  // data-1 is in the group but no longer a claim of the plan
  map.push_back(testing::Entry("shop", "stray", "pv-stray", "csi.hpe.com", "nowhere-a", false));
  auto cgs = d().Discover(rig_.plan(), map, rig_.Long());
  ASSERT_EQ(cgs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(cgs.status().message().find("pvc shop/stray: volume \"nowhere-a\" of array-a is in no "
                                        "remote-copy group replicating to array-b"),
            std::string::npos) << cgs.status().message();
  map.pop_back();
  cgs = d().Discover(rig_.plan(), map, rig_.Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_EQ((*cgs)[1].warnings.size(), 1u);
  EXPECT_NE((*cgs)[1].warnings[0].find("also holds \"data-1-a\""), std::string::npos);
}

TEST_F(AlletraDriverTest, AnInventorySharingItsGroupIsRefused) {
  auto map = rig_.map();
  map[0].volume_handle = "data-0-a";
  map[0].storage.clear();
  map.erase(map.begin() + 1);
  auto cgs = d().Discover(rig_.plan(), map, rig_.Long());
  EXPECT_EQ(cgs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(cgs.status().message().find("shares remote-copy group \"shop-data\" with workload "
                                        "claims (shop/data-1)"),
            std::string::npos) << cgs.status().message();
}

TEST_F(AlletraDriverTest, IdentifyFindsTheGroupOnTheSourceArray) {
  auto id = d().Identify(rig_.map()[1], rig_.Long());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, (Identity{{"array", "array-a"}, {"volume", "data-0-a"}, {"group", "shop-data"}}));
  auto e = rig_.map()[1];
  e.volume_handle = "scratch";
  EXPECT_EQ(d().Identify(e, rig_.Long()).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(AlletraDriverTest, SyncWaitsUntilEveryVolumeIsSynced) {
  Start(/*workloads=*/2, /*sync_reads=*/4);
  Status s = d().Sync(work(), rig_.Long());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Sim("shop-data").sync, sim::SyncStatus::kSynced);
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, Replication::kReplicating);
  EXPECT_TRUE(state->running);
  EXPECT_TRUE(state->caught_up) << state->backend;
  EXPECT_NE(state->backend.find("array-b: shop-data.r188150 Secondary, started, synced"),
            std::string::npos) << state->backend;
}

TEST_F(AlletraDriverTest, ADeadlinePassingMidSyncNamesTheGroupAndVolumes) {
  Start(/*workloads=*/2, /*sync_reads=*/0);  // a sync that never completes by itself
  Status s = d().Sync(work(), Deadline::After(rig_.clock(), std::chrono::seconds(20)));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded) << s.ToString();
  EXPECT_NE(s.message().find("remote copy group \"shop-data\" on array-a still syncing at the "
                             "deadline: \"data-0-a\", \"data-1-a\""),
            std::string::npos) << s.message();
}

TEST_F(AlletraDriverTest, FailoverStopsTheGroupThenFailsItOverOnTheSecondary) {
  ASSERT_TRUE(d().Failover(work(), rig_.Long()).ok());
  sim::GroupState g = Sim("shop-data");
  EXPECT_EQ(g.phase, Phase::kFailedOver);
  EXPECT_EQ(g.roles[1], Role::kPrimaryRev);
  EXPECT_FALSE(g.started);
  EXPECT_TRUE(d().Failover(work(), rig_.Long()).ok());  // idempotent
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->replication, Replication::kFailedOver) << state->backend;
  EXPECT_EQ(Sim("shop-inventory").phase, Phase::kNatural);  // its own CG
  Status sync = d().Sync(work(), rig_.Long());
  EXPECT_EQ(sync.code(), StatusCode::kFailedPrecondition) << sync.ToString();
}

TEST_F(AlletraDriverTest, FailoverWithThePrimaryArrayDown) {
  ASSERT_TRUE(rig_.sim().SetDown("array-a").ok());
  auto before = d().State(work(), rig_.Long());
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->replication, Replication::kReplicating);
  EXPECT_FALSE(before->running);
  EXPECT_FALSE(before->caught_up);
  Status sync = d().Sync(work(), rig_.Long());
  EXPECT_EQ(sync.code(), StatusCode::kUnavailable);
  EXPECT_NE(sync.message().find("source array array-a (https://127.0.0.1:"), std::string::npos)
      << sync.message();
  // A run that starts after the fire discovers without the source, and says so.
  rig_.ResetDriver();
  auto cgs = rig_.driver().Discover(rig_.plan(), rig_.map(), rig_.Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_FALSE((*cgs)[1].warnings.empty());
  EXPECT_NE((*cgs)[1].warnings[0].find("the source array was not read"), std::string::npos);
  EXPECT_EQ((*cgs)[1].source.at("group"), "");
  ASSERT_TRUE(rig_.driver().Failover((*cgs)[1], rig_.Long()).ok());
  EXPECT_EQ(Sim("shop-data").roles[1], Role::kPrimaryRev);
  auto after = d().State(work(), rig_.Long());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->replication, Replication::kFailedOver);
}

TEST_F(AlletraDriverTest, AnUnreachableTargetArrayIsUnknownStateAndUnavailableActions) {
  ASSERT_TRUE(rig_.sim().SetDown("array-b").ok());
  rig_.ResetDriver();  // no session yet
  auto state = rig_.driver().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->replication, Replication::kUnknown);
  EXPECT_NE(state->backend.find("target array array-b"), std::string::npos) << state->backend;
  Status s = rig_.driver().Failover(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("connection refused"), std::string::npos) << s.message();
}

TEST_F(AlletraDriverTest, FailbackRecoversThenRestoresOnTheDrSitesArray) {
  ASSERT_TRUE(d().Failover(work(), rig_.Long()).ok());
  dr::DRPlan back;
  auto reverse = Reverse(&back);
  auto cgs = reverse->Discover(back, ReverseMap(), rig_.Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  const ConsistencyGroup& w = (*cgs)[1];
  EXPECT_EQ(w.name, "shop-data.r188150");
  // Seen from the failback plan: the DR site holds the data, nothing flows back yet.
  auto state = reverse->State(w, rig_.Long());
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->replication, Replication::kReplicating);
  EXPECT_FALSE(state->running);
  Status early = reverse->Restore(w, rig_.Long());
  EXPECT_EQ(early.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(early.message().find("run Recover first"), std::string::npos) << early.message();

  ASSERT_TRUE(reverse->Recover(w, rig_.Long()).ok());
  sim::GroupState g = Sim("shop-data");
  EXPECT_EQ(g.phase, Phase::kRecovered);
  EXPECT_EQ(g.sync, sim::SyncStatus::kSynced);  // Recover waited
  EXPECT_EQ(g.roles[0], Role::kSecondaryRev);
  // The forward plan now sees its target replicating back to its source.
  EXPECT_EQ(d().State(work(), rig_.Long())->replication, Replication::kReversed);
  ASSERT_TRUE(reverse->Recover(w, rig_.Long()).ok());  // idempotent
  ASSERT_TRUE(reverse->Restore(w, rig_.Long()).ok());
  g = Sim("shop-data");
  EXPECT_EQ(g.phase, Phase::kNatural);
  EXPECT_EQ(g.roles[0], Role::kPrimary);
  EXPECT_TRUE(g.started);
  EXPECT_TRUE(reverse->Restore(w, rig_.Long()).ok());
  EXPECT_TRUE(reverse->Failover(w, rig_.Long()).ok());
  EXPECT_EQ(reverse->State(w, rig_.Long())->replication, Replication::kFailedOver);
  auto pv = reverse->VolumeSourceFor(w.volumes[0], json(), rig_.Long());
  ASSERT_TRUE(pv.ok());
  EXPECT_EQ((**pv)["spec"]["csi"]["volumeHandle"], "data-0-a");
  EXPECT_EQ((**pv)["metadata"]["annotations"]["dr.kubectl-dr.dev/array"], "array-a");
}

TEST_F(AlletraDriverTest, FailoverOfAFailbackPlanRecoversAndRestoresInOneCall) {
  ASSERT_TRUE(d().Failover(inv(), rig_.Long()).ok());
  dr::DRPlan back;
  auto reverse = Reverse(&back);
  auto cgs = reverse->Discover(back, ReverseMap(), rig_.Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_TRUE(reverse->Failover((*cgs)[0], rig_.Long()).ok());
  EXPECT_EQ(Sim("shop-inventory").phase, Phase::kNatural);
  // The workloads' group never failed over: it is already where the failback plan wants it.
  ASSERT_TRUE(reverse->Failover((*cgs)[1], rig_.Long()).ok());
  EXPECT_EQ(Sim("shop-data").phase, Phase::kNatural);
  EXPECT_EQ(Sim("shop-data").roles[0], Role::kPrimary);
}

TEST_F(AlletraDriverTest, RecoverNeedsBothArrays) {
  ASSERT_TRUE(d().Failover(work(), rig_.Long()).ok());
  dr::DRPlan back;
  auto reverse = Reverse(&back);
  auto cgs = reverse->Discover(back, ReverseMap(), rig_.Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_TRUE(rig_.sim().SetDown("array-a").ok());
  Status s = reverse->Recover((*cgs)[1], rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("array-a"), std::string::npos) << s.message();
}

TEST_F(AlletraDriverTest, ARoleNumberNobodyKnowsStopsTheWorkflow) {
  ASSERT_TRUE(rig_.sim().pair().SetReportedRole("shop-data", 1, 7).ok());
  for (int call = 0; call < 2; ++call) {
    Status s = call == 0 ? d().State(work(), rig_.Long()).status() : d().Failover(work(), rig_.Long());
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
    EXPECT_NE(s.message().find("array-b reports role 7 for remote copy group "
                               "\"shop-data.r188150\", which kubectl-dr does not know"),
              std::string::npos) << s.message();
  }
  EXPECT_EQ(Sim("shop-data").phase, Phase::kNatural);  // nothing was done
}

TEST_F(AlletraDriverTest, AnExpiredSessionLogsInAgainOnce) {
  ASSERT_TRUE(d().State(work(), rig_.Long()).ok());
  rig_.clock().Advance(std::chrono::minutes(16));  // the array drops keys unused for 15 minutes
  auto state = d().State(work(), rig_.Long());
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  rig_.sim().pair().ExpireSessions();  // an array restart
  EXPECT_TRUE(d().Failover(work(), rig_.Long()).ok());
}

TEST_F(AlletraDriverTest, AWrongPasswordNamesTheSecretAndKey) {
  auto secret = rig_.DefaultSecret();
  secret.erase("password");
  secret["sourcePassword"] = "3pardata";
  secret["targetPassword"] = "wrong";
  ASSERT_TRUE(rig_.PutSecret(secret).ok());
  rig_.ResetDriver();
  Status s = rig_.driver().Failover(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kUnauthenticated) << s.ToString();
  EXPECT_NE(s.message().find("target array array-b (https://127.0.0.1:"), std::string::npos);
  EXPECT_NE(s.message().find("refused the credentials of user \"3paradm\" (keys \"username\" and "
                             "\"targetPassword\" of Secret kubectl-dr-system/alletra)"),
            std::string::npos) << s.message();
  EXPECT_NE(s.message().find("code 5 INV_USER_PASS"), std::string::npos) << s.message();
}

TEST_F(AlletraDriverTest, AWrongCaIsRefusedNamingItsKey) {
  auto other = tls::MakeCa("someone else's CA");
  ASSERT_TRUE(other.ok());
  auto secret = rig_.DefaultSecret();
  secret["targetCa"] = other->cert_pem;
  ASSERT_TRUE(rig_.PutSecret(secret).ok());
  rig_.ResetDriver();
  Status s = rig_.driver().Failover(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("certificate is not trusted"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("key \"targetCa\" of Secret kubectl-dr-system/alletra"),
            std::string::npos) << s.message();
  EXPECT_EQ(Sim("shop-data").phase, Phase::kNatural);
}

TEST_F(AlletraDriverTest, SkippingTlsVerificationWorksAndWarns) {
  auto secret = rig_.DefaultSecret();
  secret.erase("ca");
  secret["insecureSkipTlsVerify"] = "true";
  ASSERT_TRUE(rig_.PutSecret(secret).ok());
  std::ostringstream log;
  Logger logger(std::make_unique<TextLogSink>(&log, nullptr));
  Env env{&rig_.clock(), nullptr, &logger};
  DriverOptions o{env, nullptr, &rig_.target()};
  auto driver = NewDriver(rig_.plan(), o);
  ASSERT_TRUE(driver.ok());
  ASSERT_TRUE((*driver)->Failover(work(), rig_.Long()).ok());
  EXPECT_NE(log.str().find("TLS certificate is not verified"), std::string::npos) << log.str();
}

TEST_F(AlletraDriverTest, AUrlReachingTheOtherArrayIsRefused) {
  auto secret = rig_.DefaultSecret();
  std::swap(secret["sourceUrl"], secret["targetUrl"]);
  ASSERT_TRUE(rig_.PutSecret(secret).ok());
  rig_.ResetDriver();
  Status s = rig_.driver().Failover(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("reaches array \"array-a\", but spec.storage.parameters.targetArray "
                             "says \"array-b\""),
            std::string::npos) << s.message();
  EXPECT_EQ(Sim("shop-data").phase, Phase::kNatural);
}

TEST_F(AlletraDriverTest, AMissingSecretSaysWhereToCreateIt) {
  ASSERT_TRUE(rig_.target().Delete(testing::kSecrets, dr::kSystemNamespace, "alletra").ok());
  rig_.ResetDriver();
  Status s = rig_.driver().State(work(), rig_.Long()).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("Secret kubectl-dr-system/alletra (spec.storage.credentialsSecret)"),
            std::string::npos) << s.message();
}

TEST_F(AlletraDriverTest, DrillMakesVirtualCopiesOfTheSecondaryVolumesAndRemovesThem) {
  auto drill = d().PrepareDrill(work(), rig_.Long());
  ASSERT_TRUE(drill.ok()) << drill.status().ToString();
  EXPECT_EQ(drill->volumes[0].target.at("volume"), "data-0-b-drill");
  sim::VolumeView copy;
  ASSERT_FALSE(rig_.sim().pair().GetVolume(1, "data-0-b-drill", &copy).has_value());
  EXPECT_EQ(copy.copy_of, "data-0-b");
  EXPECT_FALSE(copy.read_only);
  EXPECT_EQ(Sim("shop-data").phase, Phase::kNatural);  // the group is untouched
  auto pv = d().VolumeSourceFor(drill->volumes[0], json(), rig_.Long());
  ASSERT_TRUE(pv.ok() && pv->has_value());
  EXPECT_EQ((**pv)["metadata"]["name"], "data-0-b-drill");
  EXPECT_EQ((**pv)["spec"]["csi"]["volumeHandle"], "data-0-b-drill");
  ASSERT_TRUE(d().PrepareDrill(work(), rig_.Long()).ok());  // reused
  ASSERT_TRUE(d().CleanupDrill(*drill, rig_.Long()).ok());
  EXPECT_TRUE(rig_.sim().pair().GetVolume(1, "data-0-b-drill", &copy).has_value());
  EXPECT_TRUE(d().CleanupDrill(work(), rig_.Long()).ok());
}

TEST_F(AlletraDriverTest, ADrillNeverTouchesAVolumeThatIsNotItsCopy) {
  ASSERT_FALSE(rig_.sim().pair().CreateSnapshot(1, "shop-inv-b", "data-1-b-drill", true, "").has_value());
  Status s = d().CleanupDrill(work(), rig_.Long());
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.ToString();
  EXPECT_NE(s.message().find("\"data-1-b-drill\" on array-b is not a copy of \"data-1-b\""),
            std::string::npos) << s.message();
  EXPECT_EQ(d().PrepareDrill(work(), rig_.Long()).status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(AlletraDriverTest, VolumeSourceForNamesTheVolumeOnTheNowPrimaryArray) {
  ASSERT_TRUE(d().Failover(work(), rig_.Long()).ok());
  auto pv = d().VolumeSourceFor(work().volumes[1], testing::CapturedPv(work().volumes[1].captured),
                                rig_.Long());
  ASSERT_TRUE(pv.ok()) << pv.status().ToString();
  const json& p = **pv;
  EXPECT_EQ(p["metadata"]["name"], "pv-data-1");
  EXPECT_EQ(p["spec"]["csi"]["driver"], "csi.hpe.com");
  EXPECT_EQ(p["spec"]["csi"]["volumeHandle"], "data-1-b");
  EXPECT_EQ(p["spec"]["csi"]["nodePublishSecretRef"],
            (json{{"name", "hpe-backend"}, {"namespace", "hpe-storage"}}));
  EXPECT_EQ(p["metadata"]["annotations"]["dr.kubectl-dr.dev/array-volume"], "data-1-b");
  EXPECT_EQ(p["spec"]["storageClassName"], "hpe-standard");
}

TEST(AlletraParametersTest, ListsEveryMissingUnknownAndBadKey) {
  Credentials c{"kubectl-dr-system/alletra",
                {{"sourceUrl", "http://a"}, {"targetUrl", "https://b"}, {"user", "x"},
                 {"password", "p"}, {"insecureSkipTlsVerify", "yes"}}};
  Status s = ValidateAlletraParameters({{"sourceArray", "a"}, {"cpg", "x"}}, &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  for (const char* want :
       {"spec.storage.parameters: unknown key \"cpg\"", "spec.storage.parameters: missing key "
        "\"targetArray\"", "Secret kubectl-dr-system/alletra: unknown key \"user\"",
        "missing key \"username\" (or \"sourceUsername\")",
        "missing key \"username\" (or \"targetUsername\")",
        "key \"sourceUrl\" is \"http://a\", not an https:// URL",
        "key \"insecureSkipTlsVerify\" is \"yes\""}) {
    EXPECT_NE(s.message().find(want), std::string::npos) << want << "\n" << s.message();
  }
  EXPECT_TRUE(ValidateAlletraParameters({{"sourceArray", "a"}, {"targetArray", "b"}}, nullptr).ok());
  EXPECT_EQ(ValidateAlletraParameters({{"sourceArray", "a"}, {"targetArray", "a"}}, nullptr).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::storage
