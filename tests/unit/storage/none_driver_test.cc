// The none driver and the registry: no storage calls, the captured PV as it was, plans validated
// offline with every problem listed.

#include "storage/none.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "storage/registry.h"
#include "unit/storage/rigs.h"

namespace kdr::storage {
namespace {

using nlohmann::json;

class NoneDriverTest : public ::testing::Test {
 protected:
  void SetUp() override { rig_.Start(/*workloads=*/1); }
  Deadline Long() { return Deadline::After(rig_.clock(), std::chrono::hours(1)); }
  testing::NoneRig rig_;
};

TEST_F(NoneDriverTest, VolumeSourceForIsTheCapturedPvLessWhatTheClusterAssigned) {
  auto cgs = rig_.driver().Discover(rig_.plan(), rig_.map(), Long());
  ASSERT_TRUE(cgs.ok());
  const Volume& v = (*cgs)[1].volumes[0];
  json captured = testing::CapturedPv(v.captured);
  auto pv = rig_.driver().VolumeSourceFor(v, captured, Long());
  ASSERT_TRUE(pv.ok() && pv->has_value()) << pv.status().ToString();
  json want = captured;
  want.erase("status");
  for (const char* f : {"uid", "resourceVersion", "creationTimestamp"}) want["metadata"].erase(f);
  want["spec"]["claimRef"].erase("uid");
  want["spec"]["claimRef"].erase("resourceVersion");
  EXPECT_EQ(**pv, want);
}

TEST_F(NoneDriverTest, WithoutTheCapturedPvThereIsNothingToRestore) {
  auto cgs = rig_.driver().Discover(rig_.plan(), rig_.map(), Long());
  ASSERT_TRUE(cgs.ok());
  auto pv = rig_.driver().VolumeSourceFor((*cgs)[0].volumes[0], json(), Long());
  EXPECT_EQ(pv.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(pv.status().message().find("no PersistentVolume manifest for pvc "
                                       "kubectl-dr-system/shop-inventory (pv \"pv-inv\")"),
            std::string::npos) << pv.status().message();
}

TEST_F(NoneDriverTest, DrillsSayTheyRestoreNoData) {
  auto cgs = rig_.driver().Discover(rig_.plan(), rig_.map(), Long());
  ASSERT_TRUE(cgs.ok());
  auto drill = rig_.driver().PrepareDrill((*cgs)[1], Long());
  ASSERT_TRUE(drill.ok());
  EXPECT_EQ(drill->volumes[0].note,
            "driver none copies no data: the drill restores pvc shop/data-0 without its data, "
            "provisioned empty by storage class \"longhorn\"");
}

TEST_F(NoneDriverTest, AMapWithoutTheInventoryClaimIsRefused) {
  inventory::VolumeMap map = rig_.map();
  map.erase(map.begin());
  auto cgs = rig_.driver().Discover(rig_.plan(), map, Long());
  EXPECT_EQ(cgs.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(cgs.status().message().find("no entry for the plan's inventory pvc "
                                        "kubectl-dr-system/shop-inventory"),
            std::string::npos) << cgs.status().message();
}

TEST(RegistryTest, PicksTheDriverOfThePlan) {
  testing::PollClock clock;
  Env env{&clock, nullptr, nullptr};
  auto server = kubesim::Server::Start({});
  ASSERT_TRUE(server.ok());
  auto target = testing::ClientFor(**server, env);
  DriverOptions o{env, nullptr, target.get()};
  const std::pair<dr::StorageDriver, std::map<std::string, std::string>> plans[] = {
      {dr::StorageDriver::kNone, {}},
      {dr::StorageDriver::kLonghorn, {}},
      {dr::StorageDriver::kAlletra, {{"sourceArray", "a"}, {"targetArray", "b"}}}};
  for (const auto& [driver, params] : plans) {
    auto d = NewDriver(testing::Plan(driver, params), o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ((*d)->name(), dr::ToString(driver));
  }
  EXPECT_EQ(DriverNames(), (std::vector<std::string>{"alletra", "longhorn", "none"}));
  auto bad = NewDriver(testing::Plan(dr::StorageDriver::kAlletra, {{"sourceArray", "a"}}), o);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("missing key \"targetArray\""), std::string::npos);
  DriverOptions no_target{env, nullptr, nullptr};
  EXPECT_EQ(NewDriver(testing::Plan(dr::StorageDriver::kNone), no_target).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(RegistryTest, ValidatesAPlanWithItsSecretOffline) {
  Credentials secret{"kubectl-dr-system/alletra",
                     {{"sourceUrl", "https://a"}, {"targetUrl", "https://b"},
                      {"username", "u"}, {"password", "p"}}};
  auto alletra = testing::Plan(dr::StorageDriver::kAlletra,
                               {{"sourceArray", "a"}, {"targetArray", "b"}}, "alletra");
  EXPECT_TRUE(ValidatePlanStorage(alletra, &secret).ok());
  Status none = ValidatePlanStorage(testing::Plan(dr::StorageDriver::kNone, {{"x", "1"}}), &secret);
  EXPECT_EQ(none.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(none.message(),
            "storage driver none: spec.storage.parameters: unknown key \"x\"; "
            "spec.storage.credentialsSecret: driver none uses no credentials; remove it (Secret "
            "kubectl-dr-system/alletra)");
}

TEST(RegistryTest, ReadsAndDecodesTheSecret) {
  testing::PollClock clock;
  Env env{&clock, nullptr, nullptr};
  auto server = kubesim::Server::Start({});
  ASSERT_TRUE(server.ok());
  auto c = testing::ClientFor(**server, env);
  auto missing = ReadCredentials(*c, "kubectl-dr-system", "alletra");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(testing::EnsureNamespace(*c, "kubectl-dr-system").ok());
  json secret = {{"apiVersion", "v1"},
                 {"kind", "Secret"},
                 {"metadata", {{"name", "alletra"}}},
                 {"data", {{"password", "M3BhcmRhdGE="}}}};
  ASSERT_TRUE(c->Create(testing::kSecrets, "kubectl-dr-system", secret).ok());
  auto got = ReadCredentials(*c, "kubectl-dr-system", "alletra");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->secret, "kubectl-dr-system/alletra");
  EXPECT_EQ(got->data.at("password"), "3pardata");
}

}  // namespace
}  // namespace kdr::storage
