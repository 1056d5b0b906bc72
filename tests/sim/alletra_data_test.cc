// The arrays' volume contents (alletra_model.h): a directory per volume and array, which a
// completed sync copies from the group's primary side to the other and a restore pushes back.

#include <gtest/gtest.h>

#include <string>

#include "base/fs.h"
#include "sim/alletra_model.h"
#include "sim/dir_tree.h"
#include "testutil/testutil.h"

namespace kdr::sim {
namespace {

class AlletraDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PairSpec spec;
    spec.arrays[0] = {"array-a", 188150, "4UW0001001"};
    spec.arrays[1] = {"array-b", 188151, "4UW0001002"};
    GroupSpec g;
    g.name = "shop";
    g.primary_array = "array-a";
    g.sync_reads = 0;  // syncs finish when the test says
    g.volumes = {{"db-a", "db-b", 1024}, {"media-a", "media-b", 1024}};
    spec.groups = {g};
    spec.volumes = {{"array-a", "scratch", 1024}};
    auto pair = AlletraPair::Create(spec, &clock_, dir_.path());
    ASSERT_TRUE(pair.ok()) << pair.status().message();
    pair_ = std::move(*pair);
  }

  std::string Dir(const std::string& array, const std::string& volume) const {
    return ArrayVolumeDir(dir_.path(), array, volume);
  }
  void Put(const std::string& array, const std::string& volume, const std::string& data) {
    ASSERT_TRUE(fs_.WriteFile(Dir(array, volume) + "/data", data).ok());
  }
  std::string Get(const std::string& array, const std::string& volume) const {
    return fs_.ReadFile(Dir(array, volume) + "/data").value_or("<none>");
  }
  void Act(const std::string& array, const std::string& group, int action) {
    auto e = pair_->Act(pair_->ArrayIndex(array), group, action, {});
    ASSERT_FALSE(e.has_value()) << e->desc;
  }

  testutil::FakeClock clock_;
  testutil::TempDir dir_;
  PosixFileSystem fs_;
  std::unique_ptr<AlletraPair> pair_;
};

TEST_F(AlletraDataTest, EveryVolumeHasADirectoryOnItsArray) {
  for (const auto& [array, volume] : {std::pair{"array-a", "db-a"}, {"array-a", "media-a"}, {"array-a", "scratch"},
                                      {"array-b", "db-b"}, {"array-b", "media-b"}}) {
    SCOPED_TRACE(std::string(array) + "/" + volume);
    auto st = fs_.Stat(Dir(array, volume));
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE(st->is_dir);
  }
  EXPECT_EQ(Dir("array-a", "db-a"), dir_.path() + "/array-a/db-a");
}

TEST_F(AlletraDataTest, ACompletedSyncCopiesThePrimarysVolumesOverTheSecondarys) {
  Put("array-a", "db-a", "orders up to 41");
  Put("array-b", "db-b", "stale");
  ASSERT_TRUE(fs_.WriteFile(Dir("array-b", "media-b") + "/only-here", "x").ok());
  Act("array-a", "shop", kActionSync);
  EXPECT_EQ(Get("array-b", "db-b"), "stale") << "nothing moves before the sync completes";
  ASSERT_TRUE(pair_->CompleteSync("shop").ok());
  EXPECT_EQ(Get("array-b", "db-b"), "orders up to 41");
  EXPECT_FALSE(fs_.Exists(Dir("array-b", "media-b") + "/only-here")) << "the secondary is a copy, not a merge";
  EXPECT_EQ(Get("array-a", "db-a"), "orders up to 41");
}

// Failover keeps each side's contents; recover replicates the DR side's back; restore pushes the
// changes made after that sync before the natural primary takes over again.
TEST_F(AlletraDataTest, TheDataFollowsTheGroupThroughFailoverRecoverAndRestore) {
  Put("array-a", "db-a", "v1");
  Act("array-a", "shop", kActionSync);
  ASSERT_TRUE(pair_->CompleteSync("shop").ok());
  Put("array-a", "db-a", "v2, never synced");
  Act("array-a", "shop", kActionStop);
  Act("array-b", "shop.r188150", kActionFailover);
  EXPECT_EQ(Get("array-b", "db-b"), "v1") << "the DR side holds the last completed sync";
  EXPECT_EQ(Get("array-a", "db-a"), "v2, never synced");

  Put("array-b", "db-b", "v3 at the DR site");
  Act("array-b", "shop.r188150", kActionRecover);
  ASSERT_TRUE(pair_->CompleteSync("shop").ok());
  EXPECT_EQ(Get("array-a", "db-a"), "v3 at the DR site") << "recover replicates the Primary-Rev side back";

  Put("array-b", "db-b", "v4 just before the restore");
  Act("array-b", "shop.r188150", kActionRestore);
  EXPECT_EQ(Get("array-a", "db-a"), "v4 just before the restore");
  auto st = pair_->State("shop");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->phase, Phase::kNatural);

  Put("array-a", "db-a", "v5 home again");
  Act("array-a", "shop", kActionSync);
  ASSERT_TRUE(pair_->CompleteSync("shop").ok());
  EXPECT_EQ(Get("array-b", "db-b"), "v5 home again");
}

TEST_F(AlletraDataTest, AVirtualCopyStartsWithItsParentsContentsAndDeletingRemovesThem) {
  Put("array-a", "scratch", "parent");
  ASSERT_FALSE(pair_->CreateSnapshot(0, "scratch", "scratch-snap", false, "").has_value());
  Put("array-a", "scratch", "parent changed later");
  EXPECT_EQ(Get("array-a", "scratch-snap"), "parent");
  ASSERT_FALSE(pair_->DeleteVolume(0, "scratch-snap").has_value());
  EXPECT_FALSE(fs_.Exists(Dir("array-a", "scratch-snap")));
}

TEST_F(AlletraDataTest, ASyncWhoseCopyFailsStaysInProgressAndSaysWhy) {
  ASSERT_TRUE(RemoveTree(Dir("array-a", "media-a")).ok());  // the primary's volume is gone
  Act("array-a", "shop", kActionSync);
  Status s = pair_->CompleteSync("shop");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.message();
  EXPECT_NE(s.message().find("copying volume media-a of array-a to media-b of array-b"), std::string::npos)
      << s.message();
  auto st = pair_->State("shop");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->sync, SyncStatus::kSyncing);
  EXPECT_NE(st->data_error.find("media-a"), std::string::npos) << st->data_error;
  EXPECT_EQ(pair_->CompleteAllSyncs(), 0);

  ASSERT_TRUE(fs_.MakeDirs(Dir("array-a", "media-a")).ok());
  EXPECT_TRUE(pair_->CompleteSync("shop").ok());
  EXPECT_EQ(pair_->State("shop")->data_error, "");
}

TEST(AlletraDataNamesTest, AVolumeNameThatCannotNameADirectoryIsRefused) {
  testutil::FakeClock clock;
  testutil::TempDir dir;
  PairSpec spec;
  spec.arrays[0] = {"array-a", 1, "s1"};
  spec.arrays[1] = {"array-b", 2, "s2"};
  spec.volumes = {{"array-a", ".hidden", 1024}};
  auto pair = AlletraPair::Create(spec, &clock, dir.path());
  ASSERT_FALSE(pair.ok());
  EXPECT_EQ(pair.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(pair.status().message().find("\".hidden\" cannot name a directory"), std::string::npos)
      << pair.status().message();
  // Without a data dir the volumes hold no contents, and any name the config allows is taken.
  EXPECT_TRUE(AlletraPair::Create(spec, &clock).ok());
}

}  // namespace
}  // namespace kdr::sim
