// What a drill runs on (dr/drill_copies.h), on every driver's simulator: drill copies of the
// workloads' volumes, and of the inventory's only when the agent runs as Jobs.

#include "dr/drill_copies.h"

#include <gtest/gtest.h>

#include <memory>

#include "storage/driver.h"
#include "unit/storage/rigs.h"

namespace kdr::dr {
namespace {

using storage::CgRole;
using storage::ConsistencyGroup;
using storage::Deadline;

std::unique_ptr<storage::testing::Rig> MakeRig(const std::string& name) {
  if (name == "none") return std::make_unique<storage::testing::NoneRig>();
  if (name == "longhorn") return std::make_unique<storage::testing::LonghornRig>();
  return std::make_unique<storage::testing::AlletraRig>();
}

class DrillCopiesTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    rig_ = MakeRig(GetParam());
    rig_->Start(/*workloads=*/2);
    ASSERT_FALSE(HasFatalFailure());
  }
  Deadline Long() { return Deadline::After(rig_->clock(), std::chrono::hours(1)); }

  std::unique_ptr<storage::testing::Rig> rig_;
};

TEST_P(DrillCopiesTest, CopiesTheWorkloadVolumesAndNotTheInventorys) {
  storage::Driver& d = rig_->driver();
  auto cgs = d.Discover(rig_->plan(), rig_->map(), Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  ASSERT_EQ((*cgs)[0].role, CgRole::kInventory);
  EXPECT_FALSE(CopiedForDrill((*cgs)[0]));

  auto copies = PrepareDrillCopies(d, *cgs, [&] { return Long(); });
  ASSERT_TRUE(copies.ok()) << copies.status().ToString();
  ASSERT_EQ(copies->size(), cgs->size() - 1);
  size_t volumes = 0;
  for (const ConsistencyGroup& cg : *copies) {
    EXPECT_EQ(cg.role, CgRole::kWorkloads);
    EXPECT_TRUE(CopiedForDrill(cg));
    for (const storage::Volume& v : cg.volumes) {
      SCOPED_TRACE(v.pvc());
      EXPECT_TRUE(v.drill);
      EXPECT_NE(v.pvc(), "kubectl-dr-system/shop-inventory");
      ++volumes;
    }
  }
  EXPECT_EQ(volumes, rig_->map().size() - 1);
  if (GetParam() == "longhorn") {
    // No Longhorn volume restored from the inventory's backups for the drill.
    auto& longhorn = static_cast<storage::testing::LonghornRig&>(*rig_);
    EXPECT_FALSE(longhorn.target().Get(storage::testing::kLhVolumes, storage::testing::kLonghornNs, "pvc-inv-drill").ok());
    EXPECT_TRUE(longhorn.target().Get(storage::testing::kLhVolumes, storage::testing::kLonghornNs, "pvc-data-0-drill").ok());
  }
  // Run again: the same copies.
  auto again = PrepareDrillCopies(d, *cgs, [&] { return Long(); });
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), copies->size());
  EXPECT_EQ(again->front().volumes.front().target, copies->front().volumes.front().target);
  for (const ConsistencyGroup& cg : *copies) EXPECT_TRUE(d.CleanupDrill(cg, Long()).ok());
}

// With the agent as Jobs, a drill also copies the inventory's volume for them to mount (driver none's
// copy holds no data, which the workflow answers by reading the volume in place); the cleanup of
// the copies removes it, and asking it of a group with no copy is no error.
TEST_P(DrillCopiesTest, WithTheAgentAsJobsTheInventorysVolumeIsCopiedTooAndCleanedUp) {
  storage::Driver& d = rig_->driver();
  auto cgs = d.Discover(rig_->plan(), rig_->map(), Long());
  ASSERT_TRUE(cgs.ok()) << cgs.status().ToString();
  EXPECT_TRUE(CopiedForDrill((*cgs)[0], DrillCopies::kWithInventory));
  EXPECT_TRUE(d.CleanupDrill((*cgs)[0], Long()).ok()) << "no copy yet";

  auto copies = PrepareDrillCopies(d, *cgs, [&] { return Long(); }, DrillCopies::kWithInventory);
  ASSERT_TRUE(copies.ok()) << copies.status().ToString();
  ASSERT_EQ(copies->size(), cgs->size());
  const ConsistencyGroup& inventory = copies->front();
  EXPECT_EQ(inventory.role, CgRole::kInventory);
  ASSERT_EQ(inventory.volumes.size(), 1u);
  EXPECT_TRUE(inventory.volumes[0].drill);
  EXPECT_EQ(inventory.volumes[0].without_data, GetParam() == "none") << inventory.volumes[0].note;
  if (GetParam() == "longhorn") {
    auto& longhorn = static_cast<storage::testing::LonghornRig&>(*rig_);
    EXPECT_TRUE(longhorn.target().Get(storage::testing::kLhVolumes, storage::testing::kLonghornNs, "pvc-inv-drill").ok());
  }
  for (const ConsistencyGroup& cg : *copies) EXPECT_TRUE(d.CleanupDrill(cg, Long()).ok());
  if (GetParam() == "longhorn") {
    auto& longhorn = static_cast<storage::testing::LonghornRig&>(*rig_);
    EXPECT_FALSE(longhorn.target().Get(storage::testing::kLhVolumes, storage::testing::kLonghornNs, "pvc-inv-drill").ok());
  }
}

INSTANTIATE_TEST_SUITE_P(Drivers, DrillCopiesTest, ::testing::Values("none", "longhorn", "alletra"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace kdr::dr
