// The sanitize table (issue 9 section 3, issue 15): each row against captured objects of
// tests/data/inventory/restore/shop.json, exactly as a source API server returned them.

#include "inventory/sanitize.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json.h"
#include "kube/object.h"
#include "testutil/testutil.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;

std::vector<json> Shop() {
  Result<json> parsed = ParseJson(testutil::ReadData("inventory/restore/shop.json"), "shop.json");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::vector<json> out;
  if (parsed.ok()) {
    for (const json& o : *parsed) out.push_back(o);
  }
  return out;
}

VolumeMap ShopVolumes() {
  VolumeMapEntry data;
  data.pvc_namespace = "shop";
  data.pvc_name = "data";
  data.pv_name = "pv-data";
  VolumeMapEntry logs = data;
  logs.pvc_name = "logs";
  logs.pv_name = "pv-logs";
  return {data, logs};
}

const json& Find(const std::vector<json>& objects, std::string_view kind, std::string_view name) {
  for (const json& o : objects) {
    if (kube::Kind(o) == kind && kube::Name(o) == name) return o;
  }
  ADD_FAILURE() << "no " << kind << " " << name << " in shop.json";
  static const json kNull;  // immutable
  return kNull;
}

SanitizeOptions Base() {
  SanitizeOptions o;
  o.recovery = "shop-failover";
  return o;
}

class SanitizeTest : public ::testing::Test {
 protected:
  std::vector<json> objects_ = Shop();
  VolumeMap volumes_ = ShopVolumes();
  RestoreSet set_{objects_, volumes_};
};

TEST_F(SanitizeTest, FixtureCoversThirtyKinds) {
  std::set<std::string> kinds;
  for (const json& o : objects_) kinds.insert(kube::Kind(o));
  EXPECT_GE(kinds.size(), 30u);
}

TEST_F(SanitizeTest, SkipTable) {
  struct Case {
    const char* kind;
    const char* name;
    std::function<void(SanitizeOptions&)> tweak;
    const char* want;  // substring of the reason; "" = restored
  };
  const Case cases[] = {
      {"Event", "web.17c8a1d2e3f4a5b6", nullptr, "source's past"},
      {"ConfigMap", "kube-root-ca.crt", nullptr, "root-ca-cert-publisher"},
      {"ConfigMap", "web-config", nullptr, ""},
      {"Secret", "web-token", nullptr, "token controller"},
      {"Secret", "web-creds", nullptr, ""},
      {"ClusterRole", "cluster-admin", nullptr, "exists by default"},
      {"ClusterRole", "shop-reader", nullptr, ""},
      {"PriorityClass", "system-cluster-critical", nullptr, "exists by default"},
      {"PriorityClass", "shop-high", nullptr, ""},
      {"Endpoints", "web", nullptr, "endpoints controller"},
      {"Endpoints", "legacy-db", nullptr, ""},
      {"EndpointSlice", "web-7xq2k", nullptr, "endpointslice controller"},
      {"ReplicaSet", "web-5d9c7b", nullptr, "Deployment shop/web"},
      {"Pod", "web-5d9c7b-x2x9q", nullptr, "ReplicaSet shop/web-5d9c7b"},
      {"ControllerRevision", "db-6f7c9", nullptr, "StatefulSet shop/db"},
      {"Job", "migrate-v14", nullptr, "rerun_finished_jobs"},
      {"Job", "migrate-v14", [](SanitizeOptions& o) { o.rerun_finished_jobs = true; }, ""},
      {"Job", "reindex", nullptr, ""},
      {"Pod", "debug-shell", nullptr, ""},
      {"ConfigMap", "gizmo-state", nullptr, ""},
      {"Namespace", "shop", nullptr, ""},
      {"Lease", "shop-leader", nullptr, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.kind) + " " + c.name);
    SanitizeOptions o = Base();
    if (c.tweak) c.tweak(o);
    std::optional<std::string> why = SkipReason(o, set_, Find(objects_, c.kind, c.name));
    if (std::string(c.want).empty()) {
      EXPECT_FALSE(why.has_value()) << *why;
    } else {
      ASSERT_TRUE(why.has_value());
      EXPECT_NE(why->find(c.want), std::string::npos) << *why;
    }
  }
}

TEST_F(SanitizeTest, SkipTableBeyondTheFixture) {
  struct Case {
    const char* name;
    json object;
    const char* want;
  };
  VolumeMapEntry inventory;
  inventory.pvc_namespace = "kubectl-dr-system";
  inventory.pvc_name = "shop-inventory";
  inventory.pv_name = "pv-inventory";
  inventory.inventory = true;
  VolumeMap volumes{inventory};
  std::vector<json> none;
  RestoreSet set(none, volumes);
  const Case cases[] = {
      {"default namespace", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "default"}}}},
       "exists by default"},
      {"kube-node-lease", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "kube-node-lease"}}}},
       "exists by default"},
      {"kubernetes service",
       {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "kubernetes"}, {"namespace", "default"}}}},
       "its own Service"},
      {"a service named kubernetes elsewhere",
       {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "kubernetes"}, {"namespace", "shop"}}}}, ""},
      {"failed job",
       {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", "j"}, {"namespace", "shop"}}},
        {"status", {{"failed", 4}, {"conditions", {{{"type", "Failed"}, {"status", "True"}}}}}}},
       "(failed)"},
      {"job with some completions",
       {{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", {{"name", "j"}, {"namespace", "shop"}}},
        {"spec", {{"completions", 5}}}, {"status", {{"succeeded", 2}, {"active", 1}}}}, ""},
      {"inventory claim",
       {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
        {"metadata", {{"name", "shop-inventory"}, {"namespace", "kubectl-dr-system"}}}},
       "inventory volume"},
      {"inventory volume", {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", "pv-inventory"}}}},
       "inventory volume"},
      {"pod of a replica set not restored",
       {{"apiVersion", "v1"}, {"kind", "Pod"},
        {"metadata", {{"name", "p"}, {"namespace", "shop"},
                      {"ownerReferences", {{{"kind", "ReplicaSet"}, {"name", "gone"}, {"uid", "u-gone"}, {"controller", true}}}}}}},
       ""},
      {"bootstrap binding",
       {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRoleBinding"}, {"metadata", {{"name", "system:node"}}}},
       "bootstrap policy"},
      {"bootstrap role in kube-system",
       {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"},
        {"metadata", {{"name", "system:controller:bootstrap-signer"}, {"namespace", "kube-system"}}}},
       "bootstrap policy"},
      {"bootstrap role in kube-system named without system:",
       {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"},
        {"metadata", {{"name", "extension-apiserver-authentication-reader"}, {"namespace", "kube-system"},
                      {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}}},
       "bootstrap policy"},
      {"a user's role in kube-system",
       {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"},
        {"metadata", {{"name", "extension-apiserver-authentication-reader"}, {"namespace", "kube-system"}}}},
       ""},
      {"a user's system: role elsewhere",
       {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "Role"},
        {"metadata", {{"name", "system:shop"}, {"namespace", "shop"}}}},
       ""},
      {"events.k8s.io event",
       {{"apiVersion", "events.k8s.io/v1"}, {"kind", "Event"}, {"metadata", {{"name", "e"}, {"namespace", "shop"}}}},
       "past"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::optional<std::string> why = SkipReason(Base(), set, c.object);
    if (std::string(c.want).empty()) {
      EXPECT_FALSE(why.has_value()) << *why;
    } else {
      ASSERT_TRUE(why.has_value());
      EXPECT_NE(why->find(c.want), std::string::npos) << *why;
    }
  }
}

TEST_F(SanitizeTest, EveryRestoredObjectLosesWhatTheSourceAssigned) {
  int restored = 0;
  for (const json& captured : objects_) {
    SCOPED_TRACE(kube::Kind(captured) + " " + kube::NamespacedName(captured));
    if (SkipReason(Base(), set_, captured)) continue;
    json o = captured;
    Sanitize(Base(), set_, nullptr, &o);
    ++restored;
    for (const char* f : {"uid", "resourceVersion", "generation", "creationTimestamp", "selfLink", "managedFields",
                          "deletionTimestamp", "deletionGracePeriodSeconds"}) {
      EXPECT_FALSE(o["metadata"].contains(f)) << f;
    }
    EXPECT_FALSE(o.contains("status"));
    EXPECT_EQ(kube::Label(o, kRecoveryLabel).value_or(""), "shop-failover");
    EXPECT_EQ(kube::Name(o), kube::Name(captured));
    EXPECT_EQ(kube::Namespace(o), kube::Namespace(captured));
    EXPECT_TRUE(CheckSizeLimits(o).ok());
  }
  EXPECT_GE(restored, 30);
}

// A JSON pointer's value after sanitizing, or nullopt when absent.
std::optional<json> At(const json& o, const std::string& pointer) {
  json::json_pointer p(pointer);
  if (!o.contains(p)) return std::nullopt;
  return o.at(p);
}

TEST_F(SanitizeTest, Rows) {
  struct Case {
    const char* row;
    const char* kind;
    const char* name;
    std::function<void(SanitizeOptions&)> tweak;
    const char* pointer;
    std::optional<json> want;  // nullopt: absent
  };
  auto mapping = [](SanitizeOptions& o) { o.namespace_mapping = {{"shop", "shop-drtest"}}; };
  auto single = [](SanitizeOptions& o) { o.target_single_stack = true; };
  auto node_ports = [](SanitizeOptions& o) { o.keep_node_ports = true; };
  const Case cases[] = {
      {"clusterIP dropped", "Service", "web", nullptr, "/spec/clusterIP", std::nullopt},
      {"clusterIPs dropped", "Service", "web", nullptr, "/spec/clusterIPs", std::nullopt},
      {"selector kept", "Service", "web", nullptr, "/spec/selector", json{{"app", "web"}}},
      {"headless None kept", "Service", "db", nullptr, "/spec/clusterIP", "None"},
      {"headless clusterIPs kept", "Service", "db", nullptr, "/spec/clusterIPs", json::array({"None"})},
      {"healthCheckNodePort dropped", "Service", "web-public", nullptr, "/spec/healthCheckNodePort", std::nullopt},
      {"nodePort dropped", "Service", "web-public", nullptr, "/spec/ports/0/nodePort", std::nullopt},
      {"nodePort kept on request", "Service", "web-public", node_ports, "/spec/ports/0/nodePort", 31080},
      {"ipFamilyPolicy kept by default", "Service", "web-public", nullptr, "/spec/ipFamilyPolicy", "RequireDualStack"},
      {"ipFamilyPolicy dropped single-stack", "Service", "web-public", single, "/spec/ipFamilyPolicy", std::nullopt},
      {"ipFamilies dropped single-stack", "Service", "web-public", single, "/spec/ipFamilies", std::nullopt},
      {"externalTrafficPolicy kept", "Service", "web-public", nullptr, "/spec/externalTrafficPolicy", "Local"},
      {"claimRef uid dropped", "PersistentVolume", "pv-data", nullptr, "/spec/claimRef/uid", std::nullopt},
      {"claimRef version dropped", "PersistentVolume", "pv-data", nullptr, "/spec/claimRef/resourceVersion", std::nullopt},
      {"claimRef name kept", "PersistentVolume", "pv-data", nullptr, "/spec/claimRef/name", "data"},
      {"claimRef namespace kept", "PersistentVolume", "pv-data", nullptr, "/spec/claimRef/namespace", "shop"},
      {"claimRef namespace mapped", "PersistentVolume", "pv-data", mapping, "/spec/claimRef/namespace", "shop-drtest"},
      {"PV bound-by-controller dropped", "PersistentVolume", "pv-data", nullptr,
       "/metadata/annotations/pv.kubernetes.io~1bound-by-controller", std::nullopt},
      {"PV provisioned-by kept", "PersistentVolume", "pv-data", nullptr,
       "/metadata/annotations/pv.kubernetes.io~1provisioned-by", "kubesim.kubectl-dr.dev/hostpath"},
      {"PV source kept", "PersistentVolume", "pv-data", nullptr, "/spec/hostPath/path", "/var/lib/kubesim/volumes/pv-data"},
      {"bind-completed dropped", "PersistentVolumeClaim", "data", nullptr,
       "/metadata/annotations/pv.kubernetes.io~1bind-completed", std::nullopt},
      {"PVC bound-by-controller dropped", "PersistentVolumeClaim", "data", nullptr,
       "/metadata/annotations/pv.kubernetes.io~1bound-by-controller", std::nullopt},
      {"beta storage-provisioner dropped", "PersistentVolumeClaim", "data", nullptr,
       "/metadata/annotations/volume.beta.kubernetes.io~1storage-provisioner", std::nullopt},
      {"storage-provisioner dropped", "PersistentVolumeClaim", "data", nullptr,
       "/metadata/annotations/volume.kubernetes.io~1storage-provisioner", std::nullopt},
      {"selected-node dropped", "PersistentVolumeClaim", "data", nullptr,
       "/metadata/annotations/volume.kubernetes.io~1selected-node", std::nullopt},
      {"annotations emptied are removed", "PersistentVolumeClaim", "data", nullptr, "/metadata/annotations", std::nullopt},
      {"volumeName kept", "PersistentVolumeClaim", "data", nullptr, "/spec/volumeName", "pv-data"},
      {"volumeName from the volume map", "PersistentVolumeClaim", "logs", nullptr, "/spec/volumeName", "pv-logs"},
      {"claim namespace mapped", "PersistentVolumeClaim", "data", mapping, "/metadata/namespace", "shop-drtest"},
      {"nodeName dropped", "Pod", "debug-shell", nullptr, "/spec/nodeName", std::nullopt},
      {"priority dropped", "Pod", "debug-shell", nullptr, "/spec/priority", std::nullopt},
      {"preemptionPolicy dropped", "Pod", "debug-shell", nullptr, "/spec/preemptionPolicy", std::nullopt},
      {"priorityClassName kept", "Pod", "debug-shell", nullptr, "/spec/priorityClassName", "shop-high"},
      {"ephemeral containers dropped", "Pod", "debug-shell", nullptr, "/spec/ephemeralContainers", std::nullopt},
      {"job selector dropped", "Job", "reindex", nullptr, "/spec/selector", std::nullopt},
      {"job template controller-uid dropped", "Job", "reindex", nullptr,
       "/spec/template/metadata/labels/controller-uid", std::nullopt},
      {"job template batch controller-uid dropped", "Job", "reindex", nullptr,
       "/spec/template/metadata/labels/batch.kubernetes.io~1controller-uid", std::nullopt},
      {"job template job-name dropped", "Job", "reindex", nullptr, "/spec/template/metadata/labels/job-name",
       std::nullopt},
      {"job template app label kept", "Job", "reindex", nullptr, "/spec/template/metadata/labels/app", "shop-batch"},
      {"job own controller-uid dropped", "Job", "reindex", nullptr, "/metadata/labels/controller-uid", std::nullopt},
      {"job own job-name kept", "Job", "reindex", nullptr, "/metadata/labels/job-name", "reindex"},
      {"manual selector kept", "Job", "import-manual", nullptr, "/spec/selector/matchLabels/run", "import-manual"},
      {"manual template labels kept", "Job", "import-manual", nullptr, "/spec/template/metadata/labels/run",
       "import-manual"},
      {"finished job rerun loses its selector", "Job", "migrate-v14",
       [](SanitizeOptions& o) { o.rerun_finished_jobs = true; }, "/spec/selector", std::nullopt},
      {"rolebinding namespace mapped", "RoleBinding", "web", mapping, "/metadata/namespace", "shop-drtest"},
      {"rolebinding subject mapped", "RoleBinding", "web", mapping, "/subjects/0/namespace", "shop-drtest"},
      {"rolebinding user subject untouched", "RoleBinding", "web", mapping, "/subjects/1/namespace", std::nullopt},
      {"clusterrolebinding subject mapped", "ClusterRoleBinding", "shop-reader", mapping, "/subjects/0/namespace",
       "shop-drtest"},
      {"clusterrolebinding subject kept", "ClusterRoleBinding", "shop-reader", nullptr, "/subjects/0/namespace", "shop"},
      {"namespace renamed", "Namespace", "shop", mapping, "/metadata/name", "shop-drtest"},
      {"namespace name label follows", "Namespace", "shop", mapping,
       "/metadata/labels/kubernetes.io~1metadata.name", "shop-drtest"},
      {"namespace other labels kept", "Namespace", "shop", mapping, "/metadata/labels/team", "shop"},
      {"pv finalizers kept", "PersistentVolume", "pv-data", nullptr, "/metadata/finalizers/0",
       "kubernetes.io/pv-protection"},
      {"crd spec kept", "CustomResourceDefinition", "widgets.example.com", nullptr, "/spec/names/kind", "Widget"},
      {"cr spec kept", "Widget", "gizmo", nullptr, "/spec/size", 3},
      {"cr namespace mapped", "Widget", "gizmo", mapping, "/metadata/namespace", "shop-drtest"},
      {"deployment template kept", "Deployment", "web", nullptr, "/spec/template/spec/serviceAccountName", "web"},
      {"recovery label on a deployment", "Deployment", "web", nullptr,
       "/metadata/labels/dr.kubectl-dr.dev~1recovery", "shop-failover"},
      {"recovery label where there were none", "Role", "web", nullptr, "/metadata/labels",
       json{{"dr.kubectl-dr.dev/recovery", "shop-failover"}}},
      {"quota spec kept", "ResourceQuota", "shop-quota", nullptr, "/spec/hard/pods", "50"},
      {"secret data kept", "Secret", "web-creds", nullptr, "/data/password", "czNjcjN0"},
      {"storage class parameters kept", "StorageClass", "fast", nullptr, "/parameters/tier", "ssd"},
      {"priority class value kept", "PriorityClass", "shop-high", nullptr, "/value", 100000},
      {"owner reference of an unrestored owner dropped", "ConfigMap", "gizmo-state", nullptr,
       "/metadata/ownerReferences", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.row) + ": " + c.kind + " " + c.name + " " + c.pointer);
    SanitizeOptions o = Base();
    if (c.tweak) c.tweak(o);
    json object = Find(objects_, c.kind, c.name);
    Sanitize(o, set_, nullptr, &object);
    std::optional<json> got = At(object, c.pointer);
    if (!c.want) {
      EXPECT_FALSE(got.has_value()) << got->dump();
    } else {
      ASSERT_TRUE(got.has_value()) << object.dump();
      EXPECT_EQ(*got, *c.want);
    }
  }
}

TEST_F(SanitizeTest, OwnerReferencesFollowTheRestoredOwners) {
  const json& widget = Find(objects_, "Widget", "gizmo");
  const std::string source_uid = kube::Uid(widget);

  // Owner not restored yet: left out, reported pending (the engine adds it once the owner exists).
  json pending = Find(objects_, "ConfigMap", "gizmo-state");
  SanitizeOutcome out = Sanitize(Base(), set_, [](std::string_view) { return std::nullopt; }, &pending);
  EXPECT_FALSE(pending["metadata"].contains("ownerReferences"));
  ASSERT_EQ(out.pending_owner_uids.size(), 1u);
  EXPECT_EQ(out.pending_owner_uids[0], source_uid);

  // Owner restored: the reference names its new uid, the rest as captured.
  json rewritten = Find(objects_, "ConfigMap", "gizmo-state");
  auto restored = [&](std::string_view uid) -> std::optional<std::string> {
    if (uid == source_uid) return std::string("target-uid-1");
    return std::nullopt;
  };
  out = Sanitize(Base(), set_, restored, &rewritten);
  EXPECT_TRUE(out.pending_owner_uids.empty());
  ASSERT_TRUE(rewritten["metadata"]["ownerReferences"].is_array());
  EXPECT_EQ(rewritten["metadata"]["ownerReferences"][0]["uid"], "target-uid-1");
  EXPECT_EQ(rewritten["metadata"]["ownerReferences"][0]["name"], "gizmo");
  EXPECT_EQ(rewritten["metadata"]["ownerReferences"][0]["controller"], true);

  // Owner not in the restore set: dropped with a note.
  json orphan = {{"apiVersion", "v1"},
                 {"kind", "ConfigMap"},
                 {"metadata",
                  {{"name", "c"}, {"namespace", "shop"},
                   {"ownerReferences", {{{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"name", "gone"}, {"uid", "u-gone"}},
                                        {{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"name", "gizmo"}, {"uid", source_uid}}}}}}};
  out = Sanitize(Base(), set_, restored, &orphan);
  ASSERT_EQ(orphan["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(orphan["metadata"]["ownerReferences"][0]["uid"], "target-uid-1");
  ASSERT_EQ(out.notes.size(), 1u);
  EXPECT_NE(out.notes[0].find("\"gone\" dropped"), std::string::npos) << out.notes[0];

  bool all_known = false;
  Result<json> refs = TargetOwnerReferences(set_, restored, Find(objects_, "ConfigMap", "gizmo-state"), &all_known);
  ASSERT_TRUE(refs.ok());
  EXPECT_TRUE(all_known);
  EXPECT_EQ((*refs)[0]["uid"], "target-uid-1");
  refs = TargetOwnerReferences(set_, nullptr, Find(objects_, "ConfigMap", "gizmo-state"), &all_known);
  ASSERT_TRUE(refs.ok());
  EXPECT_FALSE(all_known);
  EXPECT_TRUE(refs->empty());
}

TEST_F(SanitizeTest, KindsBeyondTheFixture) {
  json vm = {{"apiVersion", "kubevirt.io/v1"},
             {"kind", "VirtualMachine"},
             {"metadata", {{"name", "vm1"}, {"namespace", "shop"}, {"uid", "u-vm"}, {"resourceVersion", "9"},
                           {"generation", 2}}},
             {"spec", {{"runStrategy", "Always"}}},
             {"status", {{"ready", true}, {"printableStatus", "Running"}}}};
  ASSERT_FALSE(SkipReason(Base(), set_, vm).has_value());
  Sanitize(Base(), set_, nullptr, &vm);
  EXPECT_FALSE(vm.contains("status"));
  EXPECT_FALSE(vm["metadata"].contains("uid"));
  EXPECT_EQ(vm["spec"]["runStrategy"], "Always");  // powering on or off is the webhook's transform
  EXPECT_EQ(kube::Label(vm, kRecoveryLabel).value_or(""), "shop-failover");

  json vmi = {{"apiVersion", "kubevirt.io/v1"},
              {"kind", "VirtualMachineInstance"},
              {"metadata", {{"name", "vm1"}, {"namespace", "shop"},
                            {"ownerReferences", {{{"kind", "VirtualMachine"}, {"name", "vm1"}, {"uid", "u-vm"}, {"controller", true}}}}}}};
  std::vector<json> with_vm = {vm, vmi};
  with_vm[0]["metadata"]["uid"] = "u-vm";
  RestoreSet set(with_vm, {});
  std::optional<std::string> why = SkipReason(Base(), set, vmi);
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("VirtualMachine shop/vm1"), std::string::npos) << *why;
}

TEST(SanitizeLimitsTest, SizeLimits) {
  struct Case {
    const char* name;
    json object;
    const char* want;  // "" = fits
  };
  auto cm = [](std::string value) {
    return json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}, {"namespace", "shop"}}},
                {"data", {{"k", std::move(value)}}}};
  };
  json annotated = cm("x");
  annotated["metadata"]["annotations"]["big"] = std::string(300 << 10, 'a');
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "s"}, {"namespace", "shop"}}},
                 {"data", {{"k", std::string(1200 << 10, 'A')}}}};  // 1.2 MiB of base64 is 0.9 MiB decoded
  json cr = {{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"metadata", {{"name", "w"}, {"namespace", "shop"}}},
             {"spec", {{"journal", std::string(1600 << 10, 'j')}}}};
  json deployment = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "d"}, {"namespace", "shop"}}},
                     {"spec", {{"blob", std::string(1600 << 10, 'j')}}}};
  json huge = deployment;
  huge["spec"]["blob"] = std::string(3200 << 10, 'j');
  const Case cases[] = {
      {"small", cm("x"), ""},
      {"annotations over 256 KiB", annotated, "metadata.annotations hold"},
      {"configmap data over 1 MiB", cm(std::string(1100 << 10, 'x')), "data holds"},
      {"secret counted decoded", secret, ""},
      {"custom resource over etcd's limit", cr, "etcdserver: request is too large"},
      {"built-in type stored as protobuf", deployment, ""},
      {"body over 3 MiB", huge, "(413)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = CheckSizeLimits(c.object);
    if (std::string(c.want).empty()) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
      EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
    }
  }
}

TEST(SanitizeTableTest, EveryRowNamesWhatAndWhy) {
  EXPECT_GE(SanitizeTable().size(), 20u);
  EXPECT_GE(SkipTable().size(), 10u);
  for (const SanitizeRow& row : SanitizeTable()) {
    EXPECT_FALSE(row.kinds.empty());
    EXPECT_FALSE(row.what.empty());
    EXPECT_FALSE(row.why.empty()) << row.what;
  }
  for (const SanitizeRow& row : SkipTable()) EXPECT_FALSE(row.why.empty()) << row.what;
}

TEST(SanitizeTableTest, MadeByTheTarget) {
  auto obj = [](const char* api, const char* kind, const char* ns, const char* name) {
    return json{{"apiVersion", api}, {"kind", kind}, {"metadata", {{"name", name}, {"namespace", ns}}}};
  };
  EXPECT_TRUE(IsMadeByTarget(obj("v1", "ServiceAccount", "shop", "default")));
  EXPECT_TRUE(IsMadeByTarget(obj("v1", "ConfigMap", "shop", "kube-root-ca.crt")));
  EXPECT_TRUE(IsMadeByTarget(obj("v1", "Service", "default", "kubernetes")));
  EXPECT_FALSE(IsMadeByTarget(obj("v1", "Service", "shop", "kubernetes")));
  EXPECT_FALSE(IsMadeByTarget(obj("v1", "ServiceAccount", "shop", "web")));
  EXPECT_FALSE(IsMadeByTarget(obj("example.com/v1", "ServiceAccount", "shop", "default")));
}

TEST(SanitizeTableTest, TargetNamespace) {
  SanitizeOptions o = Base();
  o.namespace_mapping = {{"shop", "shop-drtest"}};
  EXPECT_EQ(TargetNamespace(o, "shop"), "shop-drtest");
  EXPECT_EQ(TargetNamespace(o, "payments"), "payments");
  EXPECT_EQ(TargetNamespace(o, ""), "");
}

TEST_F(SanitizeTest, AWorkloadCapturedQuiescedComesBackRunningAsBefore) {
  auto restore = [&](json object) {
    std::vector<json> one = {object};
    RestoreSet set(one, {});
    SanitizeOutcome out = Sanitize(Base(), set, [](std::string_view) { return std::nullopt; }, &object);
    return std::make_pair(object, out.notes);
  };
  auto deployment = [](json replicas, const char* mark) {
    json d = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
              {"metadata", {{"name", "web"}, {"namespace", "shop"}, {"annotations", {{"team", "shop"}}}}},
              {"spec", {{"replicas", replicas}}}};
    if (mark != nullptr) d["metadata"]["annotations"]["dr.kubectl-dr.dev/replicas"] = mark;
    return d;
  };
  auto [quiesced, notes] = restore(deployment(0, "3"));
  EXPECT_EQ(quiesced["spec"]["replicas"], 3);
  EXPECT_FALSE(quiesced["metadata"]["annotations"].contains("dr.kubectl-dr.dev/replicas"));
  EXPECT_EQ(quiesced["metadata"]["annotations"]["team"], "shop");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "spec.replicas 3 from annotation dr.kubectl-dr.dev/replicas (captured quiesced)");

  auto [scaled_since, _] = restore(deployment(2, "3"));
  EXPECT_EQ(scaled_since["spec"]["replicas"], 2) << "scaled up by hand after the quiesce";
  EXPECT_FALSE(scaled_since["metadata"]["annotations"].contains("dr.kubectl-dr.dev/replicas"));

  auto [bad, bad_notes] = restore(deployment(0, "three"));
  EXPECT_EQ(bad["spec"]["replicas"], 0);
  ASSERT_EQ(bad_notes.size(), 1u);
  EXPECT_NE(bad_notes[0].find("is not a replica count"), std::string::npos);

  auto [plain, plain_notes] = restore(deployment(0, nullptr));
  EXPECT_EQ(plain["spec"]["replicas"], 0) << "scaled to 0 by its owner, not by a quiesce";
  EXPECT_TRUE(plain_notes.empty());

  json vm = {{"apiVersion", "kubevirt.io/v1"}, {"kind", "VirtualMachine"},
             {"metadata", {{"name", "vm"}, {"namespace", "shop"},
                           {"annotations", {{"dr.kubectl-dr.dev/run-strategy", "runStrategy=RerunOnFailure"}}}}},
             {"spec", {{"runStrategy", "Halted"}}}};
  auto [halted, vm_notes] = restore(vm);
  EXPECT_EQ(halted["spec"]["runStrategy"], "RerunOnFailure");
  EXPECT_FALSE(halted["metadata"].contains("annotations")) << "emptied annotations are removed";
  vm["metadata"]["annotations"]["dr.kubectl-dr.dev/run-strategy"] = "running=true";
  vm["spec"] = {{"running", false}};
  EXPECT_EQ(restore(vm).first["spec"]["running"], true);
}

}  // namespace
}  // namespace kdr::inventory
