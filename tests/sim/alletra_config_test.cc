#include "alletra_config.h"

#include <gtest/gtest.h>

#include "testutil/testutil.h"

namespace kdr::sim {
namespace {

TEST(AlletraConfigTest, ParsesYamlPairWithGroupsAndVolumes) {
  auto spec = ParsePairSpec(testutil::ReadData("sim/pair.yaml"), "pair.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->arrays[0].name, "array-a");
  EXPECT_EQ(spec->arrays[1].id, 188151);
  EXPECT_EQ(spec->arrays[1].serial_number, "4UW0001002");
  ASSERT_EQ(spec->groups.size(), 2u);
  EXPECT_EQ(spec->groups[0].mode, 3);
  EXPECT_EQ(spec->groups[0].sync_reads, 0);
  EXPECT_EQ(spec->groups[1].mode, 1);
  EXPECT_EQ(spec->groups[1].remote_name, "shop-data-dr");
  ASSERT_EQ(spec->groups[1].volumes.size(), 2u);
  EXPECT_EQ(spec->groups[1].volumes[0].secondary_volume, "shop-db-b");
  ASSERT_EQ(spec->volumes.size(), 1u);
  EXPECT_EQ(spec->volumes[0].array, "array-b");
}

TEST(AlletraConfigTest, ParsesJsonWithInitialStateAndTimeout) {
  auto spec = ParsePairSpec(testutil::ReadData("sim/pair.json"), "pair.json");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->session_idle_timeout, std::chrono::seconds(60));
  ASSERT_EQ(spec->groups.size(), 1u);
  EXPECT_EQ(spec->groups[0].phase, Phase::kFailedOver);
  EXPECT_FALSE(spec->groups[0].started);
  EXPECT_EQ(spec->groups[0].sync, SyncStatus::kStopped);
  testutil::FakeClock clock;
  auto pair = AlletraPair::Create(*spec, &clock);
  ASSERT_TRUE(pair.ok()) << pair.status().ToString();
  auto state = (*pair)->State("pay.r1002");  // default remote name: <name>.r<primary id>
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(state->roles[1], Role::kPrimary);     // "dr" is the natural primary here
  EXPECT_EQ(state->roles[0], Role::kPrimaryRev);  // "prod" failed over
}

TEST(AlletraConfigTest, EmptyDocumentIsTheDefaultPair) {
  auto spec = ParsePairSpec("# nothing here\n", "empty.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->arrays[1].name, "array-b");
}

TEST(AlletraConfigTest, DefaultPairHasTwoArraysAndNoGroups) {
  PairSpec spec = DefaultPairSpec();
  EXPECT_EQ(spec.arrays[0].name, "array-a");
  EXPECT_EQ(spec.arrays[1].name, "array-b");
  EXPECT_TRUE(spec.groups.empty());
  EXPECT_EQ(spec.session_idle_timeout, std::chrono::minutes(15));
}

TEST(AlletraConfigTest, RejectsBadDocumentsNamingTheField) {
  struct Case {
    const char* file;
    const char* want1;
    const char* want2;
  };
  const Case cases[] = {
      {"sim/bad-unknown-key.yaml", "groups[0].replicaton", "did you mean \"replication\""},
      {"sim/bad-phase.yaml", "groups[0].phase", "natural, failedover, recovered"},
      {"sim/bad-one-array.yaml", "arrays", "exactly two"},
      {"sim/bad-syntax.yaml", "bad-syntax.yaml", "line"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto spec = ParsePairSpec(testutil::ReadData(c.file), c.file);
    ASSERT_FALSE(spec.ok());
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(spec.status().message().find(c.want1), std::string::npos) << spec.status().message();
    EXPECT_NE(spec.status().message().find(c.want2), std::string::npos) << spec.status().message();
  }
}

TEST(AlletraConfigTest, RejectsInconsistentPairs) {
  struct Case {
    const char* file;
    const char* want1;
    const char* want2;
  };
  const Case cases[] = {
      {"sim/bad-unknown-primary.yaml", "groups[0]", "\"array-c\" of group \"g\" is not one"},
      {"sim/bad-failedover-started.yaml", "groups[0]", "failed-over group cannot be started"},
      {"sim/bad-duplicate-volume.yaml", "groups[1]", "\"v1\" already exists on array-a"},
  };
  testutil::FakeClock clock;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    auto spec = ParsePairSpec(testutil::ReadData(c.file), c.file);
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    auto pair = AlletraPair::Create(*spec, &clock);
    ASSERT_FALSE(pair.ok());
    EXPECT_EQ(pair.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(pair.status().message().find(c.want1), std::string::npos) << pair.status().message();
    EXPECT_NE(pair.status().message().find(c.want2), std::string::npos) << pair.status().message();
  }
}

}  // namespace
}  // namespace kdr::sim
