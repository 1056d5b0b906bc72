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
       "object 0 (Secret x/s) is not a DRPlan, DRRecovery, PersistentVolumeClaim, PersistentVolume, "
       "ConfigMap, Deployment, StatefulSet, ReplicaSet or ReplicationController"},
      {"invalid plan",
       "apiVersion: dr.kubectl-dr.dev/v1alpha1\nkind: DRPlan\nmetadata: {name: p, namespace: x}\nspec: {}\n",
       "drplans x/p"},
      {"not yaml", "a: [", "objects.yaml"},
      {"a kind that is not a string", "apiVersion: v1\nkind: 7\nmetadata: {name: x}\n", "object 0 (no kind"},
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

TEST(PopulatorTest, ReadOnlyPersistentVolumesAreKeptByName) {
  StateCache cache;
  json pv = {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", "pv-1"}}},
             {"spec", {{"csi", {{"driver", "driver.longhorn.io"}, {"volumeHandle", "v1"}, {"readOnly", true}}},
                       {"claimRef", {{"namespace", "shop"}, {"name", "inv"}}}}}};
  ASSERT_EQ(CacheKindOf(pv), CacheKind::kPvs);
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvs, "ADDED", pv).ok());
  EXPECT_TRUE(cache.ReadOnlyPv("pv-1"));
  pv["spec"]["csi"]["readOnly"] = false;
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvs, "MODIFIED", pv).ok());
  EXPECT_FALSE(cache.ReadOnlyPv("pv-1"));
  EXPECT_EQ(cache.sizes().read_only_pvs, 0u);
  json nfs = {{"metadata", {{"name", "pv-2"}}}, {"spec", {{"nfs", {{"server", "x"}, {"path", "/"}, {"readOnly", true}}}}}};
  ASSERT_TRUE(ReplaceKind(&cache, CacheKind::kPvs, json::array({nfs, pv})).ok());
  EXPECT_TRUE(cache.ReadOnlyPv("pv-2"));
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kPvs, "DELETED", nfs).ok());
  EXPECT_FALSE(cache.ReadOnlyPv("pv-2"));
}

TEST(PopulatorTest, WorkloadsAreKeptOnlyWhenTheirTemplateDeclaresAClaimReadWrite) {
  StateCache cache;
  auto deployment = [](const std::string& name, json volumes) {
    return json{{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
                {"metadata", {{"name", name}, {"namespace", "shop"}}},
                {"spec", {{"template", {{"spec", {{"containers", json::array()}, {"volumes", std::move(volumes)}}}}}}}};
  };
  json writer = deployment("writer", {{{"name", "d"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}});
  json reader = deployment("reader", {{{"name", "d"}, {"persistentVolumeClaim", {{"claimName", "data"}, {"readOnly", true}}}}});
  json scratch = deployment("scratch", {{{"name", "t"}, {"emptyDir", json::object()}}});
  ASSERT_EQ(CacheKindOf(writer), CacheKind::kDeployments);
  for (const json& d : {writer, reader, scratch}) ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kDeployments, "ADDED", d).ok());
  auto w = cache.Workload("deployments", "shop", "writer");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->writable_claims, std::vector<std::string>{"data"});
  EXPECT_EQ(cache.Workload("deployments", "shop", "reader"), nullptr);
  EXPECT_EQ(cache.Workload("deployments", "shop", "scratch"), nullptr);
  EXPECT_EQ(cache.Workload("statefulsets", "shop", "writer"), nullptr) << "keyed by resource";

  json set = {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"}, {"metadata", {{"name", "db"}, {"namespace", "shop"}}},
              {"spec", {{"template", {{"spec", {{"containers", json::array()}}}}},
                        {"volumeClaimTemplates", {{{"metadata", {{"name", "data"}}}}}}}}};
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kStatefulSets, "ADDED", set).ok());
  ASSERT_NE(cache.Workload("statefulsets", "shop", "db"), nullptr);
  EXPECT_EQ(cache.Workload("statefulsets", "shop", "db")->claim_templates, std::vector<std::string>{"data"});

  // A relist of deployments leaves the statefulsets alone.
  ASSERT_TRUE(ReplaceKind(&cache, CacheKind::kDeployments, json::array({reader})).ok());
  EXPECT_EQ(cache.Workload("deployments", "shop", "writer"), nullptr);
  EXPECT_NE(cache.Workload("statefulsets", "shop", "db"), nullptr);
  ASSERT_TRUE(ApplyEvent(&cache, CacheKind::kStatefulSets, "DELETED", set).ok());
  EXPECT_EQ(cache.sizes().workloads, 0u);

  Status bad = ApplyEvent(&cache, CacheKind::kReplicaSets, "ADDED", {{"metadata", {{"namespace", "shop"}}}});
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("replicasets metadata.name: missing"), std::string::npos) << bad.message();
}

TEST(PopulatorTest, RelistReplacesAndReportsUnreadableObjects) {
  StateCache cache;
  cache.UpsertPvc({"shop", "old", {{std::string(dr::kFailedOverLabel), "p"}}, {}, ""});
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
