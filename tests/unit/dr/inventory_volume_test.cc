// The inventory claim's volume, read from the source and recorded in the plan, for a failover
// with the agent as a Job that must restore it before the agent can read the inventory.

#include "dr/inventory_volume.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workloads_fixture.h"
#include "install/manifests.h"

namespace kdr::dr {
namespace {

using nlohmann::json;
using testing::kCrds;
using testing::kNamespaces;
using testing::kPvcs;

const kube::Gvr kPvs{"", "v1", "persistentvolumes"};
const kube::Gvr kPlans{std::string(kGroup), std::string(kVersion), std::string(kPlanResource)};

DRPlan Plan() {
  DRPlan p;
  p.metadata.name = "shop-to-dr";
  p.metadata.namespace_name = "kubectl-dr-system";
  p.spec.source_context = "source";
  p.spec.target_context = "target";
  p.spec.namespaces = {"shop"};
  p.spec.inventory_pvc_namespace = "shop";
  p.spec.inventory_pvc_name = "shop-inventory";
  return p;
}

class InventoryVolumeTest : public testing::DrOnKubesimTest {
 protected:
  InventoryVolumeTest() : DrOnKubesimTest(/*controllers=*/false) {}

  void MakeClaim() {
    MustCreate(kPvs, "",
               {{"apiVersion", "v1"},
                {"kind", "PersistentVolume"},
                {"metadata", {{"name", "shop-inventory-pv"}, {"labels", {{"tier", "dr"}}}}},
                {"spec",
                 {{"capacity", {{"storage", "1Gi"}}},
                  {"accessModes", {"ReadWriteOnce"}},
                  {"persistentVolumeReclaimPolicy", "Retain"},
                  {"storageClassName", "manual"},
                  {"hostPath", {{"path", "/srv/inventory"}}},
                  {"claimRef", {{"namespace", "shop"}, {"name", "shop-inventory"}, {"uid", "claim-uid"}}}}}});
    MustCreate(kPvcs, "shop",
               {{"apiVersion", "v1"},
                {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", "shop-inventory"}, {"namespace", "shop"}}},
                {"spec",
                 {{"accessModes", {"ReadWriteOnce"}},
                  {"storageClassName", "manual"},
                  {"volumeName", "shop-inventory-pv"},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }
};

TEST_F(InventoryVolumeTest, ReadsTheClaimAndItsVolumeWithoutWhatTheSourceAssigned) {
  MakeClaim();
  auto v = ReadInventoryVolume(*client_, Plan());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->volumes.size(), 1u);
  const inventory::VolumeMapEntry& e = v->volumes[0];
  EXPECT_TRUE(e.inventory);
  EXPECT_EQ(e.pvc_namespace, "shop");
  EXPECT_EQ(e.pvc_name, "shop-inventory");
  EXPECT_EQ(e.pv_name, "shop-inventory-pv");
  EXPECT_EQ(e.capacity, "1Gi");
  EXPECT_EQ(e.storage_class, "manual");
  EXPECT_EQ(e.reclaim_policy, "Retain");
  ASSERT_EQ(v->objects.size(), 1u);
  const json& pv = v->objects[0];
  EXPECT_EQ(pv["kind"], "PersistentVolume");
  EXPECT_EQ(pv["spec"]["hostPath"]["path"], "/srv/inventory");
  EXPECT_EQ(pv["metadata"]["labels"]["tier"], "dr");
  EXPECT_FALSE(pv["metadata"].contains("uid"));
  EXPECT_FALSE(pv["metadata"].contains("resourceVersion"));
  EXPECT_FALSE(pv.contains("status"));
  EXPECT_FALSE(pv["spec"]["claimRef"].contains("uid"));

  DRPlan other = Plan();
  other.spec.inventory_pvc_name = "nope";
  auto missing = ReadInventoryVolume(*client_, other);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("inventory claim shop/nope on the source"), std::string::npos)
      << missing.status().message();
}

TEST_F(InventoryVolumeTest, RecordedInThePlanItIsReadBackWholeAndTheRestOfTheStatusKept) {
  auto crds = install::BuildKustomization(install::EmbeddedManifests(), "crds");
  ASSERT_TRUE(crds.ok()) << crds.status().message();
  for (const json& crd : *crds) MustCreate(kCrds, "", crd);
  MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "kubectl-dr-system"}}}});
  ASSERT_TRUE(testing::Eventually([&] { return client_->List(kPlans, "kubectl-dr-system").ok(); }));
  json plan = ToJson(Plan());
  plan.erase("status");
  json made = MustCreate(kPlans, "kubectl-dr-system", plan);
  made["status"] = {{"phase", "Ready"}, {"lastCapture", {{"generation", 3}}}};
  ASSERT_TRUE(client_->UpdateStatus(kPlans, "kubectl-dr-system", made).ok());

  auto none = RecordedInventoryVolume(Get(kPlans, "shop-to-dr", "kubectl-dr-system"));
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);

  MakeClaim();
  auto v = ReadInventoryVolume(*client_, Plan());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(RecordInventoryVolume(*client_, Plan(), *v, clock_).ok());
  // Recorded again with another volume: replaced whole, not merged into the first.
  inventory::RestoreInput second = *v;
  second.objects[0]["spec"].erase("hostPath");
  second.objects[0]["spec"]["nfs"] = {{"server", "nfs.local"}, {"path", "/inv"}};
  Status again = RecordInventoryVolume(*client_, Plan(), second, clock_);
  ASSERT_TRUE(again.ok()) << again.ToString();

  json now = Get(kPlans, "shop-to-dr", "kubectl-dr-system");
  EXPECT_EQ(now["status"]["phase"], "Ready");
  EXPECT_EQ(now["status"]["lastCapture"]["generation"], 3);
  auto back = RecordedInventoryVolume(now);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->volumes.size(), 1u);
  EXPECT_EQ(back->volumes[0].pv_name, "shop-inventory-pv");
  EXPECT_TRUE(back->volumes[0].inventory);
  ASSERT_EQ(back->objects.size(), 1u);
  EXPECT_EQ(back->objects[0]["spec"]["nfs"]["server"], "nfs.local");
  EXPECT_FALSE(back->objects[0]["spec"].contains("hostPath"));

  now["status"]["inventoryVolume"]["persistentVolume"] = "not a volume";
  EXPECT_EQ(RecordedInventoryVolume(now).status().code(), StatusCode::kInvalidArgument);
  now["status"]["inventoryVolume"]["volume"] = {{"pvcName", "x"}};
  EXPECT_EQ(RecordedInventoryVolume(now).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::dr
