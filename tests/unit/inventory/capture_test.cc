// Capture against an in-process kubesim: what goes into the inventory, what is left out and why,
// pagination and pacing, forbidden lists, missing namespaces. The inventory is written to an
// in-memory FileSystem and read back with the Reader.

#include "inventory/capture.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/strings.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kube/credentials.h"
#include "kube/transport_https.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;

const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kSecrets{"", "v1", "secrets"};
const kube::Gvr kPods{"", "v1", "pods"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kServiceAccounts{"", "v1", "serviceaccounts"};
const kube::Gvr kEvents{"", "v1", "events"};
const kube::Gvr kEndpoints{"", "v1", "endpoints"};
const kube::Gvr kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices"};
const kube::Gvr kLeases{"coordination.k8s.io", "v1", "leases"};
const kube::Gvr kDeployments{"apps", "v1", "deployments"};
const kube::Gvr kReplicaSets{"apps", "v1", "replicasets"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};
const kube::Gvr kCronJobs{"batch", "v1", "cronjobs"};
const kube::Gvr kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};
const kube::Gvr kPriorityClasses{"scheduling.k8s.io", "v1", "priorityclasses"};
const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kWidgets{"example.com", "v1", "widgets"};
const kube::Gvr kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
const kube::Gvr kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"};
const kube::Gvr kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
constexpr char kRoot[] = "/mnt/inventory";

// The real HTTPS transport, recording every request and answering some GETs with a canned
// error instead (403 Forbidden, 503), as an API server with RBAC or in trouble would.
class ScriptedTransport final : public kube::Transport {
 public:
  explicit ScriptedTransport(std::unique_ptr<kube::Transport> real) : real_(std::move(real)) {}

  void FailGets(std::string path_prefix, int http_status) {
    std::lock_guard l(mu_);
    failures_.emplace_back(std::move(path_prefix), http_status);
  }
  // Answers GETs of paths starting with path_prefix with 200 and `body`.
  void AnswerGets(std::string path_prefix, std::string body) {
    std::lock_guard l(mu_);
    answers_.emplace_back(std::move(path_prefix), std::move(body));
  }
  std::vector<std::string> requests() const {
    std::lock_guard l(mu_);
    return requests_;
  }

  Result<kube::HttpResponse> Send(const kube::HttpRequest& r) override {
    {
      std::lock_guard l(mu_);
      requests_.push_back(r.method + " " + r.path);
      for (const auto& [prefix, code] : failures_) {
        if (r.method == "GET" && StartsWith(r.path, prefix)) return Canned(r.path, code);
      }
      for (const auto& [prefix, body] : answers_) {
        if (r.method == "GET" && StartsWith(r.path, prefix)) {
          return kube::HttpResponse{200, {{"Content-Type", "application/json"}}, body};
        }
      }
    }
    return real_->Send(r);
  }
  const std::string& base_url() const override { return real_->base_url(); }

 private:
  static kube::HttpResponse Canned(const std::string& path, int code) {
    json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"}, {"code", code}};
    if (code == 403) {
      status["reason"] = "Forbidden";
      status["message"] = "widgets.example.com is forbidden: User \"system:serviceaccount:kubectl-dr-system:"
                          "kubectl-dr-agent\" cannot list resource \"widgets\" in API group "
                          "\"example.com\" in the namespace \"shop\"";
    } else {
      status["reason"] = "ServiceUnavailable";
      status["message"] = "etcdserver: leader changed";
    }
    return {code, {{"Content-Type", "application/json"}}, status.dump()};
  }

  std::unique_ptr<kube::Transport> real_;
  mutable std::mutex mu_;
  std::vector<std::pair<std::string, int>> failures_;
  std::vector<std::pair<std::string, std::string>> answers_;
  std::vector<std::string> requests_;
};

json Meta(const std::string& name, const std::string& ns = "", json labels = json::object()) {
  json m = {{"name", name}};
  if (!ns.empty()) m["namespace"] = ns;
  if (!labels.empty()) m["labels"] = labels;
  return m;
}

json Owner(const std::string& api_version, const std::string& kind, const std::string& name,
           const std::string& uid) {
  return json::array({{{"apiVersion", api_version}, {"kind", kind}, {"name", name}, {"uid", uid},
                       {"controller", true}, {"blockOwnerDeletion", true}}});
}

json PodSpec(const std::string& priority_class = "") {
  json spec = {{"containers", json::array({{{"name", "app"}, {"image", "nginx:1.27"}}})}};
  if (!priority_class.empty()) spec["priorityClassName"] = priority_class;
  return spec;
}

class CaptureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = kubesim::Server::Start({});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = MakeClient(/*qps=*/0);
  }

  std::unique_ptr<kube::Client> MakeClient(double qps, int burst = 100) {
    kube::RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = qps;
    c.burst = burst;
    auto https = kube::HttpsTransport::Create(c);
    EXPECT_TRUE(https.ok()) << https.status().ToString();
    auto transport = std::make_unique<ScriptedTransport>(std::move(https).value());
    transport_ = transport.get();
    return std::make_unique<kube::Client>(c, std::move(transport), kube::MakeCredentialProvider(c, env()),
                                          env());
  }

  Env env() { return Env{&clock_, &fs_, nullptr}; }

  json Make(const kube::Gvr& gvr, const std::string& ns, json obj) {
    obj["apiVersion"] = gvr.ApiVersion();
    auto made = client_->Create(gvr, ns, obj);
    EXPECT_TRUE(made.ok()) << gvr.GroupResource() << " " << obj["metadata"].dump() << ": "
                           << made.status().ToString();
    return made.ok() ? *made : json();
  }

  // A namespace with what a cluster's controllers put in every one: the default ServiceAccount and
  // kube-root-ca.crt (this kubesim runs no controllers).
  void Namespace(const std::string& name) {
    Make(kNamespaces, "", {{"kind", "Namespace"}, {"metadata", Meta(name)}});
    Make(kServiceAccounts, name, {{"kind", "ServiceAccount"}, {"metadata", Meta("default", name)}});
    Make(kConfigMaps, name, {{"kind", "ConfigMap"}, {"metadata", Meta("kube-root-ca.crt", name)},
                             {"data", {{"ca.crt", server_->ca_pem()}}}});
  }

  // The shop namespace of the issue's example, with one object of every case.
  void Shop() {
    Namespace("shop");
    Namespace("other");
    Namespace("kubectl-dr-system");
    // Priority classes first: kube-apiserver's Priority admission refuses pods naming a missing one.
    Make(kPriorityClasses, "", {{"kind", "PriorityClass"}, {"metadata", Meta("high")}, {"value", 1000}});
    Make(kPriorityClasses, "", {{"kind", "PriorityClass"}, {"metadata", Meta("batch-low")}, {"value", 10}});
    Make(kPriorityClasses, "", {{"kind", "PriorityClass"}, {"metadata", Meta("unused")}, {"value", 5}});
    // A Deployment, the ReplicaSet it made and that ReplicaSet's pods: only the Deployment.
    json labels = {{"app", "web"}};
    json deploy = Make(kDeployments, "shop",
                       {{"kind", "Deployment"},
                        {"metadata", Meta("web", "shop")},
                        {"spec", {{"replicas", 2},
                                  {"selector", {{"matchLabels", labels}}},
                                  {"template", {{"metadata", {{"labels", labels}}}, {"spec", PodSpec("high")}}}}}});
    json rs = Make(kReplicaSets, "shop",
                   {{"kind", "ReplicaSet"},
                    {"metadata", {{"name", "web-7d9f"}, {"namespace", "shop"}, {"labels", labels},
                                  {"ownerReferences", Owner("apps/v1", "Deployment", "web", kube::Uid(deploy))}}},
                    {"spec", {{"replicas", 2},
                              {"selector", {{"matchLabels", labels}}},
                              {"template", {{"metadata", {{"labels", labels}}}, {"spec", PodSpec()}}}}}});
    for (const char* pod : {"web-7d9f-a", "web-7d9f-b"}) {
      Make(kPods, "shop",
           {{"kind", "Pod"},
            {"metadata", {{"name", pod}, {"namespace", "shop"}, {"labels", labels},
                          {"ownerReferences", Owner("apps/v1", "ReplicaSet", "web-7d9f", kube::Uid(rs))}}},
            {"spec", PodSpec()}});
    }
    // A bare pod: in, with its priority class.
    Make(kPods, "shop", {{"kind", "Pod"}, {"metadata", Meta("debug", "shop")}, {"spec", PodSpec("batch-low")}});
    // A CronJob and the Job it made.
    json cj = Make(kCronJobs, "shop",
                   {{"kind", "CronJob"},
                    {"metadata", Meta("nightly", "shop")},
                    {"spec", {{"schedule", "0 3 * * *"},
                              {"jobTemplate", {{"spec", {{"template", {{"spec", PodSpec()}}}}}}}}}});
    json job_spec = {{"template", {{"spec", PodSpec()}}}};
    job_spec["template"]["spec"]["restartPolicy"] = "Never";
    Make(kJobs, "shop",
         {{"kind", "Job"},
          {"metadata", {{"name", "nightly-29000000"}, {"namespace", "shop"},
                        {"ownerReferences", Owner("batch/v1", "CronJob", "nightly", kube::Uid(cj))}}},
          {"spec", job_spec}});
    // Config maps and secrets.
    Make(kConfigMaps, "shop", {{"kind", "ConfigMap"}, {"metadata", Meta("settings", "shop")}, {"data", {{"a", "1"}}}});
    Make(kConfigMaps, "shop",
         {{"kind", "ConfigMap"},
          {"metadata", Meta("scratch", "shop", {{"dr.kubectl-dr.dev/exclude", "true"}})},
          {"data", {{"a", "1"}}}});
    Make(kConfigMaps, "shop",
         {{"kind", "ConfigMap"},
          {"metadata", Meta("kept", "shop", {{"dr.kubectl-dr.dev/exclude", "false"}})},
          {"data", {{"a", "1"}}}});
    Make(kSecrets, "shop", {{"kind", "Secret"}, {"metadata", Meta("db-password", "shop")},
                            {"type", "Opaque"}, {"data", {{"p", "c2VjcmV0"}}}});
    json token_meta = Meta("app-token", "shop");
    token_meta["annotations"] = {{"kubernetes.io/service-account.name", "app"}};
    Make(kSecrets, "shop", {{"kind", "Secret"}, {"metadata", token_meta},
                            {"type", "kubernetes.io/service-account-token"}});
    // What the cluster makes and keeps on its own.
    Make(kEvents, "shop", {{"kind", "Event"}, {"metadata", Meta("web.17c8a1d2", "shop")},
                           {"involvedObject", {{"kind", "Deployment"}, {"name", "web"}, {"namespace", "shop"}}},
                           {"reason", "ScalingReplicaSet"}, {"message", "Scaled up"}, {"type", "Normal"}});
    Make(kEndpoints, "shop", {{"kind", "Endpoints"}, {"metadata", Meta("web", "shop")}});
    Make(kEndpointSlices, "shop", {{"kind", "EndpointSlice"}, {"metadata", Meta("web-abcde", "shop")},
                                   {"addressType", "IPv4"}, {"endpoints", json::array()}});
    Make(kLeases, "shop", {{"kind", "Lease"}, {"metadata", Meta("web-leader", "shop")},
                           {"spec", {{"holderIdentity", "web-7d9f-a"}}}});
    // A custom resource and its definition.
    Make(kCrds, "",
         {{"kind", "CustomResourceDefinition"},
          {"metadata", Meta("widgets.example.com")},
          {"spec", {{"group", "example.com"},
                    {"scope", "Namespaced"},
                    {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"},
                               {"listKind", "WidgetList"}}},
                    {"versions", json::array({{{"name", "v1"}, {"served", true}, {"storage", true},
                                               {"schema", {{"openAPIV3Schema",
                                                            {{"type", "object"},
                                                             {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}});
    Make(kWidgets, "shop", {{"kind", "Widget"}, {"metadata", Meta("w1", "shop")}, {"spec", {{"size", 3}}}});
    // A claim bound to a CSI volume of a storage class.
    Make(kStorageClasses, "", {{"kind", "StorageClass"}, {"metadata", Meta("fast")},
                               {"provisioner", "driver.longhorn.io"}, {"reclaimPolicy", "Retain"}});
    Make(kStorageClasses, "", {{"kind", "StorageClass"}, {"metadata", Meta("slow")},
                               {"provisioner", "driver.longhorn.io"}});
    Make(kVolumes, "",
         {{"kind", "PersistentVolume"},
          {"metadata", Meta("pv-data")},
          {"spec", {{"capacity", {{"storage", "5Gi"}}},
                    {"accessModes", {"ReadWriteOnce"}},
                    {"persistentVolumeReclaimPolicy", "Retain"},
                    {"storageClassName", "fast"},
                    {"volumeMode", "Filesystem"},
                    {"claimRef", {{"namespace", "shop"}, {"name", "data"}}},
                    {"csi", {{"driver", "driver.longhorn.io"}, {"volumeHandle", "vol-data"}, {"fsType", "ext4"},
                             {"volumeAttributes", {{"numberOfReplicas", "3"}}}}}}}});
    Make(kClaims, "shop",
         {{"kind", "PersistentVolumeClaim"},
          {"metadata", Meta("data", "shop")},
          {"spec", {{"accessModes", {"ReadWriteOnce"}},
                    {"storageClassName", "fast"},
                    {"volumeName", "pv-data"},
                    {"resources", {{"requests", {{"storage", "5Gi"}}}}}}}});
    // The plan's inventory claim, in the DR namespace.
    Make(kVolumes, "",
         {{"kind", "PersistentVolume"},
          {"metadata", Meta("pv-inventory")},
          {"spec", {{"capacity", {{"storage", "1Gi"}}},
                    {"accessModes", {"ReadWriteOnce"}},
                    {"storageClassName", "fast"},
                    {"csi", {{"driver", "driver.longhorn.io"}, {"volumeHandle", "vol-inventory"}}}}}});
    Make(kClaims, "kubectl-dr-system",
         {{"kind", "PersistentVolumeClaim"},
          {"metadata", Meta("shop-inventory", "kubectl-dr-system")},
          {"spec", {{"accessModes", {"ReadWriteOnce"}},
                    {"storageClassName", "fast"},
                    {"volumeName", "pv-inventory"},
                    {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
    // A service account bound cluster-wide, and a role binding to a cluster role.
    Make(kServiceAccounts, "shop", {{"kind", "ServiceAccount"}, {"metadata", Meta("app", "shop")}});
    json rules = json::array({{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"get"}}}});
    Make(kClusterRoles, "", {{"kind", "ClusterRole"}, {"metadata", Meta("shop-reader")}, {"rules", rules}});
    Make(kClusterRoles, "", {{"kind", "ClusterRole"}, {"metadata", Meta("widget-editor")}, {"rules", rules}});
    Make(kClusterRoles, "", {{"kind", "ClusterRole"}, {"metadata", Meta("ns-auditor")}, {"rules", rules}});
    // The bootstrap ClusterRole "view" (labelled kubernetes.io/bootstrapping) is there already,
    // as on every cluster.
    EXPECT_TRUE(client_->Get(kClusterRoles, "", "view").ok());
    Make(kClusterRoles, "", {{"kind", "ClusterRole"}, {"metadata", Meta("unrelated")}, {"rules", rules}});
    auto binding = [](const std::string& name, const std::string& role, json subjects) {
      return json{{"kind", "ClusterRoleBinding"},
                  {"metadata", Meta(name)},
                  {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}},
                  {"subjects", subjects}};
    };
    Make(kClusterRoleBindings, "",
         binding("shop-reader", "shop-reader",
                 json::array({{{"kind", "ServiceAccount"}, {"name", "app"}, {"namespace", "shop"}}})));
    Make(kClusterRoleBindings, "",
         binding("shop-auditors", "ns-auditor",
                 json::array({{{"kind", "Group"}, {"name", "system:serviceaccounts:shop"},
                               {"apiGroup", "rbac.authorization.k8s.io"}}})));
    Make(kClusterRoleBindings, "",
         binding("other-reader", "unrelated",
                 json::array({{{"kind", "ServiceAccount"}, {"name", "app"}, {"namespace", "other"}}})));
    Make(kRoleBindings, "shop",
         {{"kind", "RoleBinding"},
          {"metadata", Meta("widget-editors", "shop")},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "widget-editor"}}},
          {"subjects", json::array({{{"kind", "ServiceAccount"}, {"name", "app"}, {"namespace", "shop"}}})}});
    // Outside the plan.
    Make(kConfigMaps, "other", {{"kind", "ConfigMap"}, {"metadata", Meta("elsewhere", "other")}});
  }

  CaptureOptions Options() {
    CaptureOptions o;
    o.plan = {"kubectl-dr-system", "shop-to-dr"};
    o.namespaces = {"shop"};
    o.inventory_pvc_namespace = "kubectl-dr-system";
    o.inventory_pvc_name = "shop-inventory";
    o.holder = "test pid 1";
    return o;
  }

  // "group/resource/namespace/name" of every object in the current generation.
  std::set<std::string> Captured() {
    auto inv = Inventory::Open(fs_, kRoot);
    EXPECT_TRUE(inv.ok()) << inv.status().ToString();
    std::set<std::string> out;
    if (!inv.ok()) return out;
    for (const ObjectEntry& e : inv->index().objects) {
      out.insert((e.group.empty() ? "core" : e.group) + "/" + e.resource + "/" +
                 (e.namespace_name.empty() ? "-" : e.namespace_name) + "/" + e.name);
    }
    return out;
  }

  testutil::FakeClock clock_;
  testutil::MemFileSystem fs_;
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<kube::Client> client_;
  ScriptedTransport* transport_ = nullptr;
};

TEST_F(CaptureTest, CapturesTheNamespacesAndWhatTheyDependOnLeavingOutWhatControllersRecreate) {
  Shop();
  if (HasFailure()) return;
  CaptureOptions o = Options();
  o.describe_volume = [](VolumeMapEntry* e, const json& pvc, const json* pv) {
    if (pv == nullptr) return Status::FailedPrecondition("no volume for " + kube::Name(pvc));
    e->storage = {{"volume", kube::StringField(*pv, {"spec", "csi", "volumeHandle"})}};
    return Status::Ok();
  };
  auto index = Capture(*client_, env(), kRoot, o);
  ASSERT_TRUE(index.ok()) << index.status().ToString();

  const std::set<std::string> want = {
      "core/namespaces/-/shop",
      "apps/deployments/shop/web",
      "core/pods/shop/debug",
      "batch/cronjobs/shop/nightly",
      "core/configmaps/shop/settings",
      "core/configmaps/shop/kept",
      "core/secrets/shop/db-password",
      "core/serviceaccounts/shop/app",
      "core/serviceaccounts/shop/default",
      "core/persistentvolumeclaims/shop/data",
      "example.com/widgets/shop/w1",
      "rbac.authorization.k8s.io/rolebindings/shop/widget-editors",
      // Cluster-scoped, because the namespace needs them.
      "core/persistentvolumes/-/pv-data",
      "storage.k8s.io/storageclasses/-/fast",
      "scheduling.k8s.io/priorityclasses/-/high",
      "scheduling.k8s.io/priorityclasses/-/batch-low",
      "apiextensions.k8s.io/customresourcedefinitions/-/widgets.example.com",
      "rbac.authorization.k8s.io/clusterrolebindings/-/shop-reader",
      "rbac.authorization.k8s.io/clusterrolebindings/-/shop-auditors",
      "rbac.authorization.k8s.io/clusterroles/-/shop-reader",
      "rbac.authorization.k8s.io/clusterroles/-/ns-auditor",
      "rbac.authorization.k8s.io/clusterroles/-/widget-editor",
  };
  std::set<std::string> got = Captured();
  for (const std::string& w : want) EXPECT_TRUE(got.count(w)) << "missing " << w;
  for (const std::string& g : got) EXPECT_TRUE(want.count(g)) << "not expected " << g;

  const std::map<std::string, int64_t> want_left_out = {
      {"owned-by-controller", 4},  // the ReplicaSet, its two pods, the CronJob's Job
      {"kube-root-ca.crt", 1},      {"service-account-token", 1}, {"excluded-by-label", 1},
      {"event", 1},                 {"endpoints", 1},             {"endpointslice", 1},
      {"lease", 1},
  };
  EXPECT_EQ(index->left_out, want_left_out);
  EXPECT_TRUE(index->unlisted.empty());
  EXPECT_TRUE(index->warnings.empty()) << Join(index->warnings, "; ");

  // The source's identity and the times.
  auto ks = client_->Get(kNamespaces, "", "kube-system");
  ASSERT_TRUE(ks.ok());
  EXPECT_EQ(index->source.server, server_->url());
  EXPECT_EQ(index->source.kube_system_uid, kube::Uid(*ks));
  EXPECT_EQ(index->plan, (PlanRef{"kubectl-dr-system", "shop-to-dr"}));
  EXPECT_EQ(index->namespaces, std::vector<std::string>{"shop"});
  EXPECT_LE(index->capture_start, index->capture_end);

  // The volume map: the claim's volume, filled by the driver's hook, and the inventory's.
  ASSERT_EQ(index->volumes.size(), 2u);
  const VolumeMapEntry& data = index->volumes[0];
  EXPECT_EQ(data.pvc_namespace + "/" + data.pvc_name, "shop/data");
  EXPECT_EQ(data.pv_name, "pv-data");
  EXPECT_EQ(data.storage_class, "fast");
  EXPECT_EQ(data.capacity, "5Gi");
  EXPECT_EQ(data.access_modes, std::vector<std::string>{"ReadWriteOnce"});
  EXPECT_EQ(data.volume_mode, "Filesystem");
  EXPECT_EQ(data.reclaim_policy, "Retain");
  EXPECT_EQ(data.csi_driver, "driver.longhorn.io");
  EXPECT_EQ(data.volume_handle, "vol-data");
  EXPECT_EQ(data.fs_type, "ext4");
  EXPECT_EQ(data.volume_attributes, (std::map<std::string, std::string>{{"numberOfReplicas", "3"}}));
  EXPECT_EQ(data.storage, (std::map<std::string, std::string>{{"volume", "vol-data"}}));
  EXPECT_FALSE(data.inventory);
  const VolumeMapEntry& inv = index->volumes[1];
  EXPECT_EQ(inv.pvc_namespace + "/" + inv.pvc_name, "kubectl-dr-system/shop-inventory");
  EXPECT_EQ(inv.volume_handle, "vol-inventory");
  EXPECT_EQ(inv.storage, (std::map<std::string, std::string>{{"volume", "vol-inventory"}}));
  EXPECT_TRUE(inv.inventory);

  // Objects as the server returned them (uid, resourceVersion), with apiVersion and kind.
  auto opened = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(opened.ok());
  for (const ObjectEntry& e : opened->index().objects) {
    if (e.resource != "configmaps" || e.name != "settings") continue;
    auto obj = opened->ReadObject(e);
    ASSERT_TRUE(obj.ok());
    auto live = client_->Get(kConfigMaps, "shop", "settings");
    ASSERT_TRUE(live.ok());
    EXPECT_EQ((*obj)["apiVersion"], "v1");
    EXPECT_EQ((*obj)["kind"], "ConfigMap");
    EXPECT_EQ((*obj)["metadata"]["uid"], (*live)["metadata"]["uid"]);
    EXPECT_EQ((*obj)["metadata"]["resourceVersion"], (*live)["metadata"]["resourceVersion"]);
    EXPECT_EQ(e.kind, "ConfigMap");
    EXPECT_EQ(e.version, "v1");
  }
}

TEST_F(CaptureTest, PaginatesListsAtThePageSizeThroughTheClientsRateLimit) {
  client_ = MakeClient(/*qps=*/10, /*burst=*/1);
  Namespace("shop");
  for (int i = 0; i < 25; ++i) {
    Make(kConfigMaps, "shop", {{"kind", "ConfigMap"}, {"metadata", Meta("cm-" + std::to_string(i), "shop")}});
  }
  const auto slept_before = clock_.slept();
  const size_t requests_before = transport_->requests().size();
  CaptureOptions o = Options();
  o.page_size = 10;
  auto index = Capture(*client_, env(), kRoot, o);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  std::vector<std::string> pages;
  for (const std::string& r : transport_->requests()) {
    if (StartsWith(r, "GET /api/v1/namespaces/shop/configmaps?")) pages.push_back(r);
  }
  ASSERT_EQ(pages.size(), 3u) << Join(pages, "\n");
  for (const std::string& p : pages) EXPECT_NE(p.find("limit=10"), std::string::npos) << p;
  EXPECT_NE(pages[1].find("continue="), std::string::npos) << pages[1];
  int configmaps = 0;
  for (const std::string& c : Captured()) configmaps += StartsWith(c, "core/configmaps/shop/cm-");
  EXPECT_EQ(configmaps, 25);
  // 10 requests a second, one at a time: every request after the first waited its turn.
  const size_t made = transport_->requests().size() - requests_before;
  EXPECT_GE(clock_.slept() - slept_before, std::chrono::milliseconds(100) * (made - 1) - std::chrono::milliseconds(1))
      << made << " requests";
}

TEST_F(CaptureTest, RecordsAForbiddenListInTheIndexAndCapturesTheRest) {
  Shop();
  if (HasFailure()) return;
  transport_->FailGets("/apis/example.com/v1/namespaces/shop/widgets", 403);
  auto index = Capture(*client_, env(), kRoot, Options());
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_EQ(index->unlisted.size(), 1u);
  const UnlistedResource& u = index->unlisted[0];
  EXPECT_EQ(u.group + "/" + u.version + "/" + u.resource, "example.com/v1/widgets");
  EXPECT_EQ(u.namespace_name, "shop");
  EXPECT_EQ(u.code, "permission denied");
  EXPECT_NE(u.message.find("cannot list resource \"widgets\""), std::string::npos) << u.message;
  std::set<std::string> got = Captured();
  EXPECT_FALSE(got.count("example.com/widgets/shop/w1"));
  EXPECT_TRUE(got.count("core/configmaps/shop/settings"));
  // Read back from the index, not only returned.
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->index().unlisted, index->unlisted);
}

TEST_F(CaptureTest, MissingNamespacesAreAnErrorNamingThemAndNothingIsWritten) {
  Namespace("shop");
  CaptureOptions o = Options();
  o.namespaces = {"shop", "payments", "orders"};
  auto index = Capture(*client_, env(), kRoot, o);
  ASSERT_EQ(index.status().code(), StatusCode::kNotFound) << index.status().ToString();
  for (const std::string& w : {std::string("namespaces \"payments\", \"orders\" of plan "
                                           "\"kubectl-dr-system/shop-to-dr\" do not exist"),
                               server_->url(), std::string("spec.namespaces"),
                               std::string("nothing was captured")}) {
    EXPECT_NE(index.status().message().find(w), std::string::npos) << index.status().message();
  }
  EXPECT_FALSE(fs_.Exists(kRoot));
  o.namespaces = {"payments"};
  index = Capture(*client_, env(), kRoot, o);
  ASSERT_EQ(index.status().code(), StatusCode::kNotFound);
  EXPECT_NE(index.status().message().find("namespace \"payments\" of plan"), std::string::npos);
  EXPECT_NE(index.status().message().find("does not exist"), std::string::npos);
}

TEST_F(CaptureTest, RejectsBadOptions) {
  struct Case {
    const char* name;
    std::function<void(CaptureOptions&)> edit;
    std::string want;
  };
  const Case cases[] = {
      {"no namespace", [](CaptureOptions& o) { o.namespaces.clear(); }, "names no namespace"},
      {"bad namespace", [](CaptureOptions& o) { o.namespaces = {"Shop_1"}; },
       "\"Shop_1\" of plan \"kubectl-dr-system/shop-to-dr\" is not a valid namespace name"},
      {"page size", [](CaptureOptions& o) { o.page_size = 0; }, "page size must be at least 1"},
      {"keep", [](CaptureOptions& o) { o.keep = 0; }, "--keep must be at least 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CaptureOptions o = Options();
    c.edit(o);
    auto index = Capture(*client_, env(), kRoot, o);
    ASSERT_EQ(index.status().code(), StatusCode::kInvalidArgument) << index.status().ToString();
    EXPECT_NE(index.status().message().find(c.want), std::string::npos) << index.status().message();
  }
}

TEST_F(CaptureTest, AFailingListFailsTheCaptureAndKeepsThePreviousGeneration) {
  Namespace("shop");
  Make(kConfigMaps, "shop", {{"kind", "ConfigMap"}, {"metadata", Meta("settings", "shop")}});
  ASSERT_TRUE(Capture(*client_, env(), kRoot, Options()).ok());
  transport_->FailGets("/api/v1/namespaces/shop/configmaps", 503);
  auto index = Capture(*client_, env(), kRoot, Options());
  ASSERT_EQ(index.status().code(), StatusCode::kUnavailable) << index.status().ToString();
  EXPECT_NE(index.status().message().find("listing configmaps in namespace shop"), std::string::npos)
      << index.status().message();
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  EXPECT_EQ(inv->generation(), 1);
  EXPECT_FALSE(fs_.Exists(std::string(kRoot) + "/kubectl-dr/inventory/v1/lock"));
  EXPECT_FALSE(fs_.Exists(std::string(kRoot) + "/kubectl-dr/inventory/v1/generations/00000002"));
}

TEST_F(CaptureTest, AMissingDependencyIsAWarningNamingWhoNeedsIt) {
  Namespace("shop");
  Make(kClaims, "shop",
       {{"kind", "PersistentVolumeClaim"},
        {"metadata", Meta("data", "shop")},
        {"spec", {{"accessModes", {"ReadWriteOnce"}},
                  {"storageClassName", "gone-class"},
                  {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  auto index = Capture(*client_, env(), kRoot, Options());
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  ASSERT_FALSE(index->warnings.empty());
  bool found = false;
  for (const std::string& w : index->warnings) {
    found |= w == "storageclass \"gone-class\" used by claim shop/data does not exist on the source cluster";
  }
  EXPECT_TRUE(found) << Join(index->warnings, "\n");
}

// The RuntimeClass a pod template names is captured with it (kube-apiserver's RuntimeClass
// admission refuses a pod naming a missing one), and not one nobody names; a missing one is a
// warning naming who needs it.
TEST_F(CaptureTest, TheRuntimeClassesPodsNameAreCapturedWithThem) {
  const kube::Gvr runtime_classes{"node.k8s.io", "v1", "runtimeclasses"};
  Namespace("shop");
  Make(runtime_classes, "", {{"kind", "RuntimeClass"}, {"metadata", Meta("gvisor")}, {"handler", "runsc"}});
  Make(runtime_classes, "", {{"kind", "RuntimeClass"}, {"metadata", Meta("unused")}, {"handler", "kata"}});
  json sandboxed = PodSpec();
  sandboxed["runtimeClassName"] = "gvisor";
  json labels = {{"app", "sandbox"}};
  Make(kDeployments, "shop",
       {{"kind", "Deployment"},
        {"metadata", Meta("sandbox", "shop")},
        {"spec", {{"replicas", 1},
                  {"selector", {{"matchLabels", labels}}},
                  {"template", {{"metadata", {{"labels", labels}}}, {"spec", sandboxed}}}}}});
  json missing = PodSpec();
  missing["runtimeClassName"] = "gone";
  Make(kCronJobs, "shop",
       {{"kind", "CronJob"},
        {"metadata", Meta("nightly", "shop")},
        {"spec", {{"schedule", "0 3 * * *"}, {"jobTemplate", {{"spec", {{"template", {{"spec", missing}}}}}}}}}});

  auto index = Capture(*client_, env(), kRoot, Options());
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  const std::set<std::string> got = Captured();
  const std::vector<std::string> captured(got.begin(), got.end());
  EXPECT_TRUE(got.count("node.k8s.io/runtimeclasses/-/gvisor")) << Join(captured, "\n");
  EXPECT_FALSE(got.count("node.k8s.io/runtimeclasses/-/unused")) << Join(captured, "\n");
  bool warned = false;
  for (const std::string& w : index->warnings) {
    warned |= w == "runtimeclass \"gone\" used by CronJob shop/nightly does not exist on the source cluster";
  }
  EXPECT_TRUE(warned) << Join(index->warnings, "\n");
}

// Listed objects are stored as the server sent them (kube/raw_list.h), not parsed and written
// again: the generation must read back as the one Writer::Add of the parsed objects made (the
// capture before), file for file and entry for entry; only the bytes (member order, escapes) and
// so sizes and hashes may differ.
TEST_F(CaptureTest, StoresListedObjectsAsTheParsedObjectsWereStored) {
  Shop();
  if (HasFailure()) return;
  // Strings the server escapes.
  json escapes_meta = Meta("escapes", "shop");
  escapes_meta["annotations"] = {{"note", "caf\u00e9 \"q\" \xf0\x9f\x98\x80"}};
  Make(kConfigMaps, "shop", {{"kind", "ConfigMap"}, {"metadata", escapes_meta},
                             {"data", {{"line", "a\nb\u0001<&>\\"}}}});
  auto index = Capture(*client_, env(), kRoot, Options());
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();

  testutil::MemFileSystem before_fs;
  Env before_env{&clock_, &before_fs, nullptr};
  auto writer = Writer::Begin(before_env, kRoot, WriterOptions{Options().plan, "test pid 1"});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  std::map<std::string, json> stored;  // by file
  int listed = 0;
  for (const ObjectEntry& e : inv->index().objects) {
    SCOPED_TRACE(e.file);
    auto got = inv->ReadObject(e);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    // The object as capture parsed it before: the live one (Get answers with apiVersion and kind).
    auto live = client_->Get(kube::Gvr{e.group, e.version, e.resource}, e.namespace_name, e.name);
    ASSERT_TRUE(live.ok()) << live.status().ToString();
    EXPECT_EQ(*got, *live);
    ObjectEntry identity = e;
    identity.file = identity.sha256 = "";
    identity.size = 0;
    auto added = (*writer)->Add(identity, *live);
    ASSERT_TRUE(added.ok()) << added.status().ToString();
    EXPECT_EQ(added->file, e.file);
    stored[e.file] = *got;
    // Listed ones are the server's bytes: apiVersion and kind added once, not repeated.
    auto text = fs_.ReadFile(inv->dir() + "/" + e.file);
    ASSERT_TRUE(text.ok());
    EXPECT_EQ(text->back(), '\n');
    const std::string kind = "\"kind\":\"" + e.kind + "\"";
    EXPECT_EQ(text->find(kind), text->rfind(kind)) << *text;
    EXPECT_EQ(e.size, text->size());
    EXPECT_EQ(e.sha256, Sha256Hex(*text));
    listed += e.resource == "configmaps" || e.resource == "secrets" || e.resource == "widgets";
  }
  EXPECT_GE(listed, 5);
  auto before = (*writer)->Commit(*index);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  auto before_inv = Inventory::Open(before_fs, kRoot);
  ASSERT_TRUE(before_inv.ok()) << before_inv.status().ToString();
  ASSERT_EQ(before_inv->index().objects.size(), inv->index().objects.size());
  for (size_t i = 0; i < inv->index().objects.size(); ++i) {
    ObjectEntry want = before_inv->index().objects[i];
    ObjectEntry got = inv->index().objects[i];
    SCOPED_TRACE(got.file);
    auto want_object = before_inv->ReadObject(want);
    ASSERT_TRUE(want_object.ok());
    EXPECT_EQ(stored[got.file], *want_object);
    want.size = got.size = 0;
    want.sha256 = got.sha256 = "";
    EXPECT_EQ(got, want);
  }
}

TEST_F(CaptureTest, AListAnswerThatIsNotAListFailsTheCaptureAndKeepsThePreviousGeneration) {
  Namespace("shop");
  Make(kConfigMaps, "shop", {{"kind", "ConfigMap"}, {"metadata", Meta("settings", "shop")}});
  ASSERT_TRUE(Capture(*client_, env(), kRoot, Options()).ok());
  const std::string deep = "{\"items\":[{\"metadata\":{\"name\":\"x\"},\"data\":" +
                           std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']') + "}]}";
  struct Case {
    std::string name;
    std::string body;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"malformed", R"({"items":[{"metadata":{"name":"x"})", "is not valid JSON"},
      {"item not an object", R"({"items":[{"metadata":{"name":"x"}},"y"]})", "items[1] is not an object"},
      {"items not an array", R"({"items":{"metadata":{"name":"x"}}})", "items is not an array"},
      {"too deep", deep, "nests deeper than 10002 levels"},
      {"ill-formed UTF-8", "{\"items\":[{\"metadata\":{\"name\":\"\xff\"}}]}", "ill-formed UTF-8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    client_ = MakeClient(/*qps=*/0);
    transport_->AnswerGets("/api/v1/namespaces/shop/configmaps", c.body);
    auto index = Capture(*client_, env(), kRoot, Options());
    ASSERT_EQ(index.status().code(), StatusCode::kUnavailable) << index.status().ToString();
    EXPECT_NE(index.status().message().find("listing configmaps in namespace shop"), std::string::npos)
        << index.status().message();
    EXPECT_NE(index.status().message().find(c.want), std::string::npos) << index.status().message();
    auto inv = Inventory::Open(fs_, kRoot);
    ASSERT_TRUE(inv.ok()) << inv.status().ToString();
    EXPECT_EQ(inv->generation(), 1);
  }
}

TEST_F(CaptureTest, AListedObjectWithoutANameIsAWarningAndTheRestIsCaptured) {
  Namespace("shop");
  client_ = MakeClient(/*qps=*/0);
  transport_->AnswerGets("/api/v1/namespaces/shop/configmaps",
                         R"({"kind":"ConfigMapList","metadata":{"resourceVersion":"1"},"items":[)"
                         R"({"data":{"a":"1"}},{"metadata":{"namespace":"shop"}},)"
                         R"({"metadata":{"name":"named","namespace":"shop"},"data":{"b":"2"}}]})");
  auto index = Capture(*client_, env(), kRoot, Options());
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  int warned = 0;
  for (const std::string& w : index->warnings) {
    warned += w.find("configmaps in namespace") != std::string::npos &&
              w.find("an object without metadata.name was not captured") != std::string::npos;
  }
  EXPECT_EQ(warned, 2) << Join(index->warnings, "\n");
  EXPECT_TRUE(Captured().count("core/configmaps/shop/named"));
  auto inv = Inventory::Open(fs_, kRoot);
  ASSERT_TRUE(inv.ok());
  for (const ObjectEntry& e : inv->index().objects) {
    if (e.name != "named") continue;
    auto obj = inv->ReadObject(e);
    ASSERT_TRUE(obj.ok());
    EXPECT_EQ(*obj, json::parse(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"named","namespace":"shop"},"data":{"b":"2"}})"));
  }
}

TEST(LeftOutReasonTest, NamesWhyAnObjectIsLeftOut) {
  const json controller = {{"metadata", {{"name", "x"}, {"ownerReferences", Owner("apps/v1", "ReplicaSet", "r", "u")}}}};
  json not_controller = controller;
  not_controller["metadata"]["ownerReferences"][0]["controller"] = false;
  const json bare = {{"metadata", {{"name", "x"}}}};
  struct Case {
    const char* group;
    const char* resource;
    json object;
    std::string_view want;
  };
  const Case cases[] = {
      {"", "pods", controller, kLeftOutOwnedByController},
      {"", "pods", not_controller, ""},
      {"", "pods", bare, ""},
      {"apps", "replicasets", controller, kLeftOutOwnedByController},
      {"apps", "replicasets", bare, ""},
      {"batch", "jobs", controller, kLeftOutOwnedByController},
      {"batch", "jobs", bare, ""},
      {"", "persistentvolumeclaims", controller, ""},  // a StatefulSet's claim holds data
      {"apps", "controllerrevisions", bare, kLeftOutControllerRevision},
      {"", "endpoints", bare, kLeftOutEndpoints},
      {"discovery.k8s.io", "endpointslices", bare, kLeftOutEndpointSlice},
      {"", "events", bare, kLeftOutEvent},
      {"events.k8s.io", "events", bare, kLeftOutEvent},
      {"coordination.k8s.io", "leases", bare, kLeftOutLease},
      {"", "secrets", {{"metadata", {{"name", "t"}}}, {"type", "kubernetes.io/service-account-token"}},
       kLeftOutServiceAccountToken},
      {"", "secrets", {{"metadata", {{"name", "t"}}}, {"type", "Opaque"}}, ""},
      {"", "configmaps", {{"metadata", {{"name", "kube-root-ca.crt"}}}}, kLeftOutKubeRootCa},
      {"", "configmaps", {{"metadata", {{"name", "x"}, {"labels", {{"dr.kubectl-dr.dev/exclude", "true"}}}}}},
       kLeftOutExcludeLabel},
      {"example.com", "widgets", {{"metadata", {{"name", "x"}, {"labels", {{"dr.kubectl-dr.dev/exclude", "true"}}}}}},
       kLeftOutExcludeLabel},
      {"", "configmaps", {{"metadata", {{"name", "x"}, {"labels", {{"dr.kubectl-dr.dev/exclude", "yes"}}}}}}, ""},
      {"rbac.authorization.k8s.io", "clusterroles",
       {{"metadata", {{"name", "admin"}, {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}}},
       kLeftOutBuiltIn},
      {"scheduling.k8s.io", "priorityclasses", {{"metadata", {{"name", "system-node-critical"}}}}, kLeftOutBuiltIn},
      {"scheduling.k8s.io", "priorityclasses", {{"metadata", {{"name", "high"}}}}, ""},
      // kubectl-dr's own agent objects (agent install's, per site), and only those.
      {"rbac.authorization.k8s.io", "rolebindings",
       {{"metadata",
         {{"name", "kubectl-dr-agent-shop-to-dr-capture"},
          {"labels", {{"app.kubernetes.io/name", "kubectl-dr"}, {"app.kubernetes.io/component", "agent"}}}}}},
       kLeftOutKubectlDrAgent},
      {"batch", "cronjobs",
       {{"metadata",
         {{"name", "kubectl-dr-capture-shop-to-dr"},
          {"labels", {{"app.kubernetes.io/name", "kubectl-dr"}, {"app.kubernetes.io/component", "agent"}}}}}},
       kLeftOutKubectlDrAgent},
      {"rbac.authorization.k8s.io", "rolebindings",
       {{"metadata", {{"name", "app"}, {"labels", {{"app.kubernetes.io/component", "agent"}}}}}}, ""},
      {"apps", "deployments",
       {{"metadata", {{"name", "web"}, {"labels", {{"app.kubernetes.io/name", "kubectl-dr"}}}}}}, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.group) + "/" + c.resource + " " + c.object.dump());
    EXPECT_EQ(LeftOutReason(c.group, c.resource, c.object), c.want);
  }
}

}  // namespace
}  // namespace kdr::inventory
