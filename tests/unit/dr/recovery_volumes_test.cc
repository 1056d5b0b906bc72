// dr/recovery_volumes: the volumes a subset recovery moves, and the groups it cannot split.

#include "dr/recovery_volumes.h"

#include <gtest/gtest.h>

namespace kdr::dr {
namespace {

inventory::VolumeMapEntry Claim(std::string ns, std::string name, std::string group = "", bool inventory = false) {
  inventory::VolumeMapEntry v;
  v.pvc_namespace = std::move(ns);
  v.pvc_name = std::move(name);
  v.pv_name = v.pvc_name + "-pv";
  if (!group.empty()) v.storage["group"] = group;
  v.inventory = inventory;
  return v;
}

std::vector<std::string> Names(const inventory::VolumeMap& m) {
  std::vector<std::string> out;
  for (const auto& v : m) out.push_back(v.pvc_namespace + "/" + v.pvc_name);
  return out;
}

TEST(RecoveryVolumesTest, KeepsTheSubsetsClaimsAndTheInventoryInTheirOrder) {
  const inventory::VolumeMap all = {Claim("blog", "posts"), Claim("kubectl-dr-system", "inv", "", true),
                                    Claim("shop", "db"), Claim("shop", "cache")};
  Result<inventory::VolumeMap> moved = RecoveryVolumes(all, {"shop"});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(Names(*moved), (std::vector<std::string>{"kubectl-dr-system/inv", "shop/db", "shop/cache"}));
}

TEST(RecoveryVolumesTest, EveryNamespaceKeepsEverything) {
  const inventory::VolumeMap all = {Claim("blog", "posts", "rcg-1"), Claim("shop", "db", "rcg-1")};
  Result<inventory::VolumeMap> moved = RecoveryVolumes(all, {"shop", "blog"});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(moved->size(), 2u);
}

TEST(RecoveryVolumesTest, AGroupSpanningTheSubsetsEdgeIsRefusedNamingWhatItWouldTakeAlong) {
  const inventory::VolumeMap all = {Claim("shop", "db", "rcg-shop"), Claim("blog", "posts", "rcg-shop"),
                                    Claim("blog", "media", "rcg-blog"), Claim("shop", "inv", "rcg-shop", true)};
  Result<inventory::VolumeMap> moved = RecoveryVolumes(all, {"shop"});
  ASSERT_FALSE(moved.ok());
  EXPECT_EQ(moved.status().code(), StatusCode::kFailedPrecondition);
  const std::string m = moved.status().message();
  EXPECT_NE(m.find("group \"rcg-shop\" also holds blog/posts"), std::string::npos) << m;
  EXPECT_EQ(m.find("blog/media"), std::string::npos) << "its own group stays: " << m;
  EXPECT_NE(m.find("--namespaces shop,blog"), std::string::npos) << m;
}

TEST(RecoveryVolumesTest, TheInventorysGroupDoesNotTieTheNamespacesTogether) {
  // The inventory fails over in its own step whatever the subset: sharing its group is no conflict.
  const inventory::VolumeMap all = {Claim("shop", "inv", "rcg-inv", true), Claim("blog", "posts", "rcg-blog"),
                                    Claim("shop", "db", "rcg-shop")};
  Result<inventory::VolumeMap> moved = RecoveryVolumes(all, {"shop"});
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(Names(*moved), (std::vector<std::string>{"shop/inv", "shop/db"}));
}

}  // namespace
}  // namespace kdr::dr
