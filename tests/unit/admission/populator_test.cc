#include "admission/populator.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "dr/types.h"
#include "testutil/testutil.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

TEST(PopulatorTest, SeedLoadsEveryKindAndMarksSynced) {
  StateCache cache;
  Status st = SeedCache(&cache, testutil::ReadData("admission/bench-objects.yaml"), "bench-objects.yaml");
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(cache.Synced());
  EXPECT_NE(cache.FencedPvc("shop", "inventory"), nullptr);
  ASSERT_NE(cache.Plan("kubectl-dr-system", "shop-to-dr"), nullptr);
  EXPECT_TRUE(cache.Plan("kubectl-dr-system", "shop-to-dr")->spent());
  ASSERT_NE(cache.Recovery("kubectl-dr-system", "shop-failover"), nullptr);
  EXPECT_EQ(cache.Recovery("kubectl-dr-system", "shop-failover")->spec.modifiers_config_map, "shop-modifiers");
  ASSERT_NE(cache.ConfigMap("kubectl-dr-system", "shop-modifiers"), nullptr);
  EXPECT_EQ(cache.ConfigMap("kubectl-dr-system", "shop-modifiers")->resource_version, "1");
}

TEST(PopulatorTest, SeedRejectsOtherKindsAndBadObjects) {
  struct Case {
    const char* name;
    const char* text;
    const char* want_substr;
  } cases[] = {
      {"other kind", "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\n",
       "object 0 (Secret x/s) is not a DRPlan, DRRecovery, PersistentVolumeClaim or ConfigMap"},
      {"invalid plan",
       "apiVersion: dr.kubectl-dr.dev/v1alpha1\nkind: DRPlan\nmetadata: {name: p, namespace: x}\nspec: {}\n",
       "drplans x/p"},
      {"not yaml", "a: [", "objects.yaml"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StateCache cache;
    Status st = SeedCache(&cache, c.text, "objects.yaml");
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(c.want_substr), std::string::npos) << st.message();
  }
}

TEST(PopulatorTest, WatchEventsUpdateTheCache) {
  StateCache cache;
  const json fenced = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                       {"metadata", {{"name", "inv"}, {"namespace", "shop"},
                                     {"labels", {{std::string(dr::kFailedOverLabel), "p"}}}}}};
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvcs, "ADDED", fenced).ok());
  EXPECT_NE(cache.FencedPvc("shop", "inv"), nullptr);
  json unfenced = fenced;
  unfenced["metadata"].erase("labels");
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvcs, "MODIFIED", unfenced).ok());
  EXPECT_EQ(cache.FencedPvc("shop", "inv"), nullptr);
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvcs, "ADDED", fenced).ok());
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvcs, "DELETED", fenced).ok());
  EXPECT_EQ(cache.FencedPvc("shop", "inv"), nullptr);

  json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"},
             {"metadata", {{"name", "m"}, {"namespace", "kubectl-dr-system"}, {"resourceVersion", "5"}}},
             {"data", {{"k", "v"}}}};
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kConfigMaps, "ADDED", cm).ok());
  EXPECT_EQ(cache.ConfigMap("kubectl-dr-system", "m")->resource_version, "5");
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kConfigMaps, "DELETED", cm).ok());
  EXPECT_EQ(cache.ConfigMap("kubectl-dr-system", "m"), nullptr);

  Status bad = ApplyEvent(&cache, CacheKind::kRecoveries, "ADDED",
                          {{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"}, {"kind", "DRRecovery"},
                           {"metadata", {{"name", "r"}, {"namespace", "x"}}}});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
}

TEST(PopulatorTest, RelistReplacesAndReportsUnreadableObjects) {
  StateCache cache;
  cache.UpsertPvc({"shop", "old", {{std::string(dr::kFailedOverLabel), "p"}}, {}});
  json items = json::array({
      {{"metadata", {{"name", "new"}, {"namespace", "shop"},
                     {"labels", {{std::string(dr::kFailedOverLabel), "p"}}}}}},
      {{"metadata", {{"namespace", "shop"}}}},
  });
  Status st = ReplaceKind(&cache, CacheKind::kPvcs, items);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("skipped 1 unreadable object"), std::string::npos) << st.message();
  EXPECT_EQ(cache.FencedPvc("shop", "old"), nullptr);
  EXPECT_NE(cache.FencedPvc("shop", "new"), nullptr);
}

}  // namespace
}  // namespace kdr::admission
