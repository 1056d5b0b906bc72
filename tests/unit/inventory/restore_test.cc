// The restore engine against an in-process kubesim with its controllers (namespaces, claims,
// workloads): tier order, conflicts, an interrupted run, rejected objects, mapping, owners, Jobs.
// The creation order is read from the resourceVersions the server gave each POST, recorded by a
// Transport wrapper around the real HTTPS transport.

#include "inventory/restore.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json.h"
#include "base/strings.h"
#include "inventory/format.h"
#include "inventory/sanitize.h"
#include "kube/client.h"
#include "kube/transport_https.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;

const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kSecrets{"", "v1", "secrets"};
const kube::Gvr kServices{"", "v1", "services"};
const kube::Gvr kServiceAccounts{"", "v1", "serviceaccounts"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kJobs{"batch", "v1", "jobs"};
const kube::Gvr kDeployments{"apps", "v1", "deployments"};
const kube::Gvr kStatefulSets{"apps", "v1", "statefulsets"};
const kube::Gvr kRoleBindings{"rbac.authorization.k8s.io", "v1", "rolebindings"};
const kube::Gvr kStorageClasses{"storage.k8s.io", "v1", "storageclasses"};
const kube::Gvr kWidgets{"example.com", "v1", "widgets"};

// Records every create the server accepted: what, and the resourceVersion it was given. Faults
// as a restarting or dying API server makes them: a create's answer lost after it took effect,
// the server gone (nothing listens), one object's create answered 500 by a live server.
class RecordingTransport final : public kube::Transport {
 public:
  struct Create {
    std::string api_version;
    std::string kind;
    std::string name;  // ns/name
    long long resource_version = 0;
  };

  explicit RecordingTransport(std::unique_ptr<kube::Transport> inner) : inner_(std::move(inner)) {}

  Result<kube::HttpResponse> Send(const kube::HttpRequest& request) override {
    const bool post = request.method == "POST";
    {
      std::lock_guard lock(mu_);
      if (post && down_after_posts_ >= 0 && posts_ >= down_after_posts_) down_ = true;
      if (down_) return Status::Unavailable("dial tcp " + base_url() + ": connection refused");
      if (post && !failing_name_.empty() && request.body.find("\"" + failing_name_ + "\"") != std::string::npos) {
        ++posts_;
        return kube::HttpResponse{500, {{"Content-Type", "application/json"}},
                                  R"({"kind":"Status","apiVersion":"v1","status":"Failure","reason":"InternalError",)"
                                  R"("code":500,"message":"Internal error occurred: failed calling webhook"})"};
      }
    }
    Result<kube::HttpResponse> r = inner_->Send(request);
    if (post) {
      std::lock_guard lock(mu_);
      ++posts_;
      if (lose_answers_ > 0 && r.ok() && r->status == 201) {
        --lose_answers_;
        ++lost_;
        RecordCreate(r->body);
        return Status::Unavailable("connection to " + base_url() + " lost during POST " + request.path +
                                   ": connection closed by the server");
      }
    }
    if (r.ok() && post && r->status == 201) {
      std::lock_guard lock(mu_);
      RecordCreate(r->body);
    }
    return r;
  }
  const std::string& base_url() const override { return inner_->base_url(); }

  std::vector<Create> creates() const {
    std::lock_guard lock(mu_);
    return creates_;
  }

  // The next n creates take effect, and their answers are lost.
  void LoseAnswers(int n) {
    std::lock_guard lock(mu_);
    lose_answers_ = n;
  }
  int lost() const {
    std::lock_guard lock(mu_);
    return lost_;
  }
  // After n more creates, nothing answers until Up().
  void DownAfterPosts(int n) {
    std::lock_guard lock(mu_);
    down_after_posts_ = posts_ + n;
  }
  void Up() {
    std::lock_guard lock(mu_);
    down_ = false;
    down_after_posts_ = -1;
  }
  // Every create of an object named `name` is answered 500.
  void FailCreatesOf(std::string name) {
    std::lock_guard lock(mu_);
    failing_name_ = std::move(name);
  }

 private:
  void RecordCreate(const std::string& text) {
    json body = json::parse(text, nullptr, false);
    if (body.is_object()) {
      creates_.push_back({body.value("apiVersion", ""), kube::Kind(body), kube::NamespacedName(body),
                          std::stoll(kube::ResourceVersion(body))});
    }
  }

  std::unique_ptr<kube::Transport> inner_;
  mutable std::mutex mu_;
  std::vector<Create> creates_;
  int posts_ = 0;
  int lose_answers_ = 0;
  int lost_ = 0;
  int down_after_posts_ = -1;
  bool down_ = false;
  std::string failing_name_;
};

std::vector<json> ShopObjects() {
  Result<json> parsed = ParseJson(testutil::ReadData("inventory/restore/shop.json"), "shop.json");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  std::vector<json> out;
  if (parsed.ok()) {
    for (const json& o : *parsed) out.push_back(o);
  }
  return out;
}

RestoreInput Shop() {
  RestoreInput in;
  in.objects = ShopObjects();
  VolumeMapEntry data;
  data.pvc_namespace = "shop";
  data.pvc_name = "data";
  data.pv_name = "pv-data";
  data.storage_class = "fast";
  VolumeMapEntry logs = data;
  logs.pvc_name = "logs";
  logs.pv_name = "pv-logs";
  in.volumes = {data, logs};
  return in;
}

// The objects of the input that the restore puts on the target (the skip rules let them through).
SanitizeOptions Recovery() {
  SanitizeOptions o;
  o.recovery = "shop-failover";
  return o;
}

int Restorable(const RestoreInput& in, const SanitizeOptions& o = Recovery()) {
  RestoreSet set(in.objects, in.volumes);
  int n = 0;
  for (const json& obj : in.objects) n += SkipReason(o, set, obj) ? 0 : 1;
  return n;
}

std::string SourceUid(const RestoreInput& in, std::string_view kind, std::string_view name) {
  for (const json& o : in.objects) {
    if (kube::Kind(o) == kind && kube::Name(o) == name) return kube::Uid(o);
  }
  ADD_FAILURE() << "no " << kind << " " << name;
  return "?";
}

std::string Failures(const RestoreResult& r) {
  std::string out;
  for (const ObjectFailure& f : r.failures) out += "\n  " + f.object.ToString() + ": " + f.status.ToString();
  return out;
}

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kubesim::Server::Options options;
    options.controllers = kubesim::ControllerOptions{};
    options.controllers->longhorn = false;
    auto server = kubesim::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    kube::RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = 0;
    auto https = kube::HttpsTransport::Create(c);
    ASSERT_TRUE(https.ok()) << https.status().ToString();
    auto recording = std::make_unique<RecordingTransport>(std::move(https).value());
    recorder_ = recording.get();
    client_ = std::make_unique<kube::Client>(c, std::move(recording), kube::MakeCredentialProvider(c, env_), env_);
  }

  RestoreOptions Options() {
    RestoreOptions o;
    o.recovery = "shop-failover";
    // Claims bind within milliseconds of real time, but the fake clock's sleeps return at once:
    // a long deadline keeps the poll going until they do.
    o.claim_bound_timeout = std::chrono::hours(24);
    return o;
  }

  json Get(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    Result<json> r = client_->Get(gvr, ns, name);
    EXPECT_TRUE(r.ok()) << gvr.resource << " " << ns << "/" << name << ": " << r.status().ToString();
    return r.ok() ? *r : json();
  }
  bool Exists(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    return client_->Get(gvr, ns, name).ok();
  }
  void MustCreate(const kube::Gvr& gvr, const std::string& ns, const json& object) {
    Result<json> r = client_->Create(gvr, ns, object);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  testutil::FakeClock clock_;
  testutil::MemFileSystem fs_;
  Env env_{&clock_, &fs_, nullptr};
  std::unique_ptr<kubesim::Server> server_;
  RecordingTransport* recorder_ = nullptr;
  std::unique_ptr<kube::Client> client_;
};

TEST_F(RestoreTest, RestoresTheShopTierByTier) {
  RestoreInput in = Shop();
  std::vector<RestoreProgress> progress;
  RestoreOptions o = Options();
  o.progress = [&](const RestoreProgress& p) { progress.push_back(p); };
  RestoreResult r = Restore(*client_, in, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  EXPECT_EQ(r.counts.total(), static_cast<int64_t>(in.objects.size()));
  EXPECT_EQ(r.counts.created + r.counts.existing, Restorable(in));
  EXPECT_LE(r.counts.existing, 1);  // at most the default ServiceAccount, when its controller came first
  EXPECT_EQ(r.counts.skipped, static_cast<int64_t>(in.objects.size()) - Restorable(in));

  // Creation order: sorted by the resourceVersion each create got, the tiers never go back.
  std::vector<RecordingTransport::Create> creates = recorder_->creates();
  std::sort(creates.begin(), creates.end(), [](auto& a, auto& b) { return a.resource_version < b.resource_version; });
  ASSERT_GE(creates.size(), 30u);
  Tier last = Tier::kCustomResourceDefinitions;
  for (const auto& c : creates) {
    Result<kube::GroupVersion> gv = kube::ParseApiVersion(c.api_version);
    ASSERT_TRUE(gv.ok());
    Tier t = TierOf(gv->group, c.kind);
    EXPECT_GE(static_cast<int>(t), static_cast<int>(last)) << c.kind << " " << c.name << " came after tier "
                                                           << TierName(last);
    last = std::max(last, t);
  }
  EXPECT_EQ(creates.front().kind, "CustomResourceDefinition");
  EXPECT_TRUE(creates.back().kind == "ResourceQuota" || creates.back().kind == "LimitRange") << creates.back().kind;

  // Progress: once per object, up to the total.
  ASSERT_EQ(progress.size(), in.objects.size());
  EXPECT_EQ(progress.back().done, progress.back().total);
  EXPECT_EQ(progress.back().tier, Tier::kQuotas);
  ASSERT_FALSE(r.tiers.empty());
  EXPECT_EQ(r.tiers.front().tier, Tier::kCustomResourceDefinitions);

  // What the target shows.
  json svc = Get(kServices, "shop", "web");
  EXPECT_NE(svc["spec"].value("clusterIP", ""), "10.43.12.7");
  EXPECT_EQ(Get(kServices, "shop", "db")["spec"]["clusterIP"], "None");
  json claim = Get(kClaims, "shop", "data");
  EXPECT_EQ(claim["status"]["phase"], "Bound");
  EXPECT_EQ(claim["spec"]["volumeName"], "pv-data");
  EXPECT_EQ(Get(kVolumes, "", "pv-data")["spec"]["claimRef"]["uid"], kube::Uid(claim));
  EXPECT_EQ(Get(kClaims, "shop", "logs")["spec"]["volumeName"], "pv-logs");
  // The CR came after its CRD; the ConfigMap it owns (an earlier tier) was pointed at its new uid.
  json widget = Get(kWidgets, "shop", "gizmo");
  json state = Get(kConfigMaps, "shop", "gizmo-state");
  ASSERT_TRUE(state["metadata"]["ownerReferences"].is_array()) << state.dump();
  EXPECT_EQ(state["metadata"]["ownerReferences"][0]["uid"], kube::Uid(widget));
  // The target's own default ServiceAccount got the captured pull secret.
  json sa = Get(kServiceAccounts, "shop", "default");
  EXPECT_EQ(sa["imagePullSecrets"], json::array({{{"name", "registry"}}})) << sa.dump();
  // The running Job was made again with a selector of its own; the finished one was not.
  // (kube-apiserver generates a new selector and labels naming the new uid; kubesim leaves them
  // unset: what matters here is that nothing names the source's uid.)
  json job = Get(kJobs, "shop", "reindex");
  EXPECT_EQ(job.dump().find(SourceUid(in, "Job", "reindex")), std::string::npos) << job.dump();
  EXPECT_FALSE(Exists(kJobs, "shop", "migrate-v14"));
  EXPECT_EQ(kube::Label(Get(kDeployments, "shop", "web"), kRecoveryLabel).value_or(""), "shop-failover");
  // Skips carry their reasons.
  std::map<std::string, std::string> skipped;
  for (const ObjectSkip& s : r.skipped) skipped[s.object.ToString()] = s.reason;
  EXPECT_NE(skipped["Job shop/migrate-v14"].find("finished on the source"), std::string::npos);
  EXPECT_NE(skipped["ConfigMap shop/kube-root-ca.crt"].find("root-ca-cert-publisher"), std::string::npos);
  EXPECT_NE(skipped["ClusterRole cluster-admin"].find("exists by default"), std::string::npos);
}

TEST_F(RestoreTest, RestoresAnInventoryGeneration) {
  RestoreInput shop = Shop();
  WriterOptions wo;
  wo.plan = {"kubectl-dr-system", "shop-to-dr"};
  auto writer = Writer::Begin(env_, "/inventory", wo);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  for (const json& o : shop.objects) {
    Result<kube::Gvk> gvk = kube::GvkOf(o);
    ASSERT_TRUE(gvk.ok());
    ObjectEntry entry;
    entry.group = gvk->group;
    entry.version = gvk->version;
    entry.resource = ToLower(gvk->kind) + "s";
    entry.kind = gvk->kind;
    entry.namespace_name = kube::Namespace(o);
    entry.name = kube::Name(o);
    json stored = o;
    if (gvk->kind == "Widget") stored.erase("apiVersion"), stored.erase("kind");  // as a list item holds it
    ASSERT_TRUE((*writer)->Add(entry, stored).ok());
  }
  Index index;
  index.plan = wo.plan;
  index.volumes = shop.volumes;
  ASSERT_TRUE((*writer)->Commit(index).ok());
  Result<Inventory> inventory = Inventory::Open(fs_, "/inventory");
  ASSERT_TRUE(inventory.ok()) << inventory.status().ToString();

  Result<RestoreInput> in = ReadRestoreInput(*inventory);
  ASSERT_TRUE(in.ok()) << in.status().ToString();
  EXPECT_EQ(in->objects.size(), shop.objects.size());
  EXPECT_EQ(in->volumes.size(), 2u);
  RestoreResult r = Restore(*client_, *in, Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  EXPECT_EQ(r.counts.created + r.counts.existing, Restorable(shop));
  EXPECT_TRUE(Exists(kWidgets, "shop", "gizmo"));
  EXPECT_EQ(Get(kClaims, "shop", "logs")["spec"]["volumeName"], "pv-logs");
}

TEST_F(RestoreTest, ListsEveryConflictWithoutWritingAndRefusesUnderFail) {
  MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
  MustCreate(kConfigMaps, "shop",
             {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "web-config"}}}, {"data", {{"a", "b"}}}});
  MustCreate(kSecrets, "shop",
             {{"apiVersion", "v1"},
              {"kind", "Secret"},
              {"metadata", {{"name", "web-creds"}, {"labels", {{std::string(kRecoveryLabel), "old-drill"}}}}}});
  const size_t writes_before = recorder_->creates().size();

  RestoreInput in = Shop();
  Result<std::vector<Conflict>> conflicts = ListConflicts(*client_, in, Options());
  ASSERT_TRUE(conflicts.ok()) << conflicts.status().ToString();
  std::map<std::string, std::string> by_name;
  for (const Conflict& c : *conflicts) by_name[c.object.ToString()] = c.reason;
  EXPECT_EQ(by_name.size(), 3u);
  EXPECT_TRUE(by_name.count("Namespace shop"));
  EXPECT_NE(by_name["ConfigMap shop/web-config"].find("not created by recovery \"shop-failover\""), std::string::npos);
  EXPECT_NE(by_name["Secret shop/web-creds"].find("restored by recovery \"old-drill\""), std::string::npos);
  // The default ServiceAccount and kube-root-ca.crt the namespace controller made are no conflicts.
  EXPECT_FALSE(by_name.count("ServiceAccount shop/default"));

  RestoreResult r = Restore(*client_, in, Options());
  EXPECT_EQ(r.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status.message().find("3 object(s) exist on the target"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("nothing was restored"), std::string::npos);
  EXPECT_EQ(r.conflicts.size(), 3u);
  EXPECT_EQ(recorder_->creates().size(), writes_before);
  EXPECT_FALSE(Exists(kStorageClasses, "", "fast"));
  EXPECT_FALSE(Exists(kDeployments, "shop", "web"));
}

TEST_F(RestoreTest, ExistingSkipLeavesConflictsAlone) {
  MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
  MustCreate(kConfigMaps, "shop",
             {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "web-config"}}}, {"data", {{"a", "b"}}}});
  RestoreOptions o = Options();
  o.existing = ExistingPolicy::kSkip;
  RestoreInput in = Shop();
  RestoreResult r = Restore(*client_, in, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  std::map<std::string, std::string> skipped;
  for (const ObjectSkip& s : r.skipped) skipped[s.object.ToString()] = s.reason;
  EXPECT_NE(skipped["ConfigMap shop/web-config"].find("existing: skip"), std::string::npos);
  EXPECT_NE(skipped["Namespace shop"].find("existing: skip"), std::string::npos);
  EXPECT_EQ(Get(kConfigMaps, "shop", "web-config")["data"], json({{"a", "b"}}));
  EXPECT_TRUE(Exists(kDeployments, "shop", "web"));
}

TEST_F(RestoreTest, ExistingUpdateReplacesAndKeepsWhatTheTargetAllocated) {
  MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
  MustCreate(kConfigMaps, "shop",
             {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "web-config"}}}, {"data", {{"a", "b"}}}});
  MustCreate(kServices, "shop",
             {{"apiVersion", "v1"},
              {"kind", "Service"},
              {"metadata", {{"name", "web"}}},
              {"spec", {{"selector", {{"app", "old"}}}, {"ports", {{{"port", 80}, {"protocol", "TCP"}}}}}}});
  const std::string ip = Get(kServices, "shop", "web")["spec"].value("clusterIP", "");
  ASSERT_FALSE(ip.empty());
  RestoreOptions o = Options();
  o.existing = ExistingPolicy::kUpdate;
  RestoreResult r = Restore(*client_, Shop(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  EXPECT_EQ(r.counts.updated, 3);  // the namespace, the ConfigMap, the Service
  json cm = Get(kConfigMaps, "shop", "web-config");
  EXPECT_EQ(cm["data"], json({{"app.yaml", "listen: 8080\n"}}));
  EXPECT_EQ(kube::Label(cm, kRecoveryLabel).value_or(""), "shop-failover");
  json svc = Get(kServices, "shop", "web");
  EXPECT_EQ(svc["spec"]["selector"], json({{"app", "web"}}));
  EXPECT_EQ(svc["spec"]["clusterIP"], ip);

  // Run again: everything is this recovery's now.
  RestoreResult again = Restore(*client_, Shop(), Options());
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.counts.created, 0);
  EXPECT_EQ(again.counts.updated, 0);
  EXPECT_EQ(again.counts.existing, Restorable(Shop()));
}

// A failback's old primary holds the claim bound to the stale original volume, while the restore
// brings the volume that took over: the PV's source is immutable, so under kUpdate the claim and
// the PV are made anew on the new volume, and the stale volume is kept (Retain).
TEST_F(RestoreTest, ExistingUpdateReplacesAVolumeThatPointsElsewhereKeepingTheStaleOne) {
  RestoreResult first = Restore(*client_, Shop(), Options());
  ASSERT_TRUE(first.status.ok()) << first.status.ToString();
  ASSERT_EQ(first.counts.failed, 0) << Failures(first);
  const json old_claim = Get(kClaims, "shop", "data");
  ASSERT_EQ(old_claim["status"].value("phase", ""), "Bound");
  const std::string logs_uid = kube::Uid(Get(kClaims, "shop", "logs"));

  RestoreInput back = Shop();
  for (json& o : back.objects) {
    if (kube::Kind(o) == "PersistentVolume" && kube::Name(o) == "pv-data") {
      o["spec"]["hostPath"]["path"] = "/var/lib/kubesim/volumes/pv-data-dr";
      o["spec"]["persistentVolumeReclaimPolicy"] = "Delete";
    }
  }
  RestoreOptions o = Options();
  o.recovery = "shop-failback";
  o.existing = ExistingPolicy::kUpdate;

  // While the database's pod uses the claim, it is not deleted: the PV fails, naming the pod.
  RestoreOptions brief = o;
  brief.claim_bound_timeout = std::chrono::seconds(30);
  RestoreResult in_use = Restore(*client_, back, brief);
  ASSERT_TRUE(in_use.status.ok()) << in_use.status.ToString();
  EXPECT_NE(Failures(in_use).find("PersistentVolume pv-data: deadline exceeded: persistentvolumeclaim shop/data "
                                  "(bound to the stale volume) is still there after 30s"),
            std::string::npos) << Failures(in_use);
  EXPECT_NE(Failures(in_use).find("pods still use it (shop/db-0)"), std::string::npos) << Failures(in_use);

  // Quiesced (as a failback's old primary is), the claim (deleted by the first run) goes, and the
  // run again makes both anew.
  json zero = {{"spec", {{"replicas", 0}}}};
  ASSERT_TRUE(client_->Patch(kStatefulSets, "shop", "db", kube::PatchType::kMergePatch, zero, {}).ok());
  RestoreResult r = Restore(*client_, std::move(back), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);

  const json pv = Get(kVolumes, "", "pv-data");
  EXPECT_EQ(pv["spec"]["hostPath"]["path"], "/var/lib/kubesim/volumes/pv-data-dr");
  EXPECT_EQ(kube::Label(pv, kRecoveryLabel).value_or(""), "shop-failback");
  const json claim = Get(kClaims, "shop", "data");
  EXPECT_NE(kube::Uid(claim), kube::Uid(old_claim)) << "the claim is made anew";
  EXPECT_EQ(claim["spec"]["volumeName"], "pv-data");
  EXPECT_EQ(claim["status"].value("phase", ""), "Bound");
  EXPECT_EQ(kube::Label(claim, kRecoveryLabel).value_or(""), "shop-failback");
  bool noted = false;
  for (const ObjectNote& n : r.notes) {
    if (n.object.ToString() == "PersistentVolume pv-data" &&
        n.message == "replaced: the target's PV named volume hostPath:/var/lib/kubesim/volumes/pv-data (kept: "
                     "reclaim policy Retain)") {
      noted = true;
    }
  }
  EXPECT_TRUE(noted) << "no note on the replaced volume";

  // The other volume points where it did: updated in place, its claim kept.
  EXPECT_EQ(kube::Uid(Get(kClaims, "shop", "logs")), logs_uid);
  EXPECT_EQ(kube::Label(Get(kVolumes, "", "pv-logs"), kRecoveryLabel).value_or(""), "shop-failback");
}

TEST_F(RestoreTest, AnInterruptedRunResumesToTheSameEndState) {
  RestoreInput in = Shop();
  std::stop_source stop;
  RestoreOptions o = Options();
  o.parallel = 1;  // a deterministic place to stop: after 20 objects
  o.progress = [&](const RestoreProgress& p) {
    if (p.done == 20) stop.request_stop();
  };
  RestoreResult first = Restore(*client_, in, o, stop.get_token());
  EXPECT_EQ(first.status.code(), StatusCode::kCancelled);
  EXPECT_NE(first.status.message().find("run it again to resume"), std::string::npos) << first.status.message();
  EXPECT_EQ(first.counts.failed, 0) << Failures(first);
  EXPECT_GT(first.counts.created, 0);
  EXPECT_LT(first.counts.created, Restorable(in));
  EXPECT_FALSE(Exists(kDeployments, "shop", "web"));

  RestoreResult second = Restore(*client_, in, Options());
  ASSERT_TRUE(second.status.ok()) << second.status.ToString();
  EXPECT_EQ(second.counts.failed, 0) << Failures(second);
  EXPECT_EQ(second.counts.created + second.counts.existing, Restorable(in));
  EXPECT_GE(second.counts.existing, first.counts.created + first.counts.existing);
  EXPECT_EQ(second.counts.skipped, static_cast<int64_t>(in.objects.size()) - Restorable(in));

  // The same end state as one uninterrupted run: every restorable object there, labelled, and
  // the owner reference written although the owner came in the second run.
  RestoreSet set(in.objects, in.volumes);
  for (const json& obj : in.objects) {
    if (SkipReason(Recovery(), set, obj)) continue;
    SCOPED_TRACE(kube::Kind(obj) + " " + kube::NamespacedName(obj));
    Result<kube::ApiResource> res = client_->mapper().ForObject(obj);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    json got = Get(res->gvr, res->namespaced ? kube::Namespace(obj) : "", kube::Name(obj));
    if (!(kube::Kind(obj) == "ServiceAccount" && kube::Name(obj) == "default")) {
      EXPECT_EQ(kube::Label(got, kRecoveryLabel).value_or(""), "shop-failover");
    }
  }
  json state = Get(kConfigMaps, "shop", "gizmo-state");
  EXPECT_EQ(state["metadata"]["ownerReferences"][0]["uid"], kube::Uid(Get(kWidgets, "shop", "gizmo")));

  // A third run changes nothing.
  RestoreResult third = Restore(*client_, in, Options());
  ASSERT_TRUE(third.status.ok());
  EXPECT_EQ(third.counts.created, 0);
  EXPECT_EQ(third.counts.existing, Restorable(in));
}

TEST_F(RestoreTest, ARejectedObjectIsRecordedAndTheRestGoOn) {
  RestoreInput in = Shop();
  in.objects.push_back({{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "stray"}, {"namespace", "nowhere"}, {"uid", "u-stray"}}}});
  in.objects.push_back({{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "Not_A_Name"}, {"namespace", "shop"}}}});
  in.objects.push_back({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"namespace", "shop"}}}});
  RestoreResult r = Restore(*client_, in, Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.counts.failed, 3) << Failures(r);
  EXPECT_EQ(r.counts.created + r.counts.existing, Restorable(Shop()));
  std::map<std::string, Status> by_name;
  for (const ObjectFailure& f : r.failures) by_name[f.object.ToString()] = f.status;
  EXPECT_EQ(by_name["ConfigMap nowhere/stray"].code(), StatusCode::kNotFound);
  EXPECT_NE(by_name["ConfigMap nowhere/stray"].message().find("nowhere"), std::string::npos);
  EXPECT_EQ(by_name["ConfigMap shop/Not_A_Name"].code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(by_name["ConfigMap shop/"].code(), StatusCode::kInvalidArgument);
  EXPECT_NE(by_name["ConfigMap shop/"].message().find("metadata.name"), std::string::npos);
  EXPECT_TRUE(Exists(kDeployments, "shop", "web"));
}

// A restarting API server closes connections under requests it has taken: the create is sent
// again, its 409 read as the object this recovery made, and no object counts as failed.
TEST_F(RestoreTest, ACreateWhoseAnswerWasLostIsSentAgainAndCountsAsRestored) {
  RestoreInput in = Shop();
  recorder_->LoseAnswers(5);
  RestoreResult r = Restore(*client_, in, Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(recorder_->lost(), 5);
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  EXPECT_EQ(r.counts.created + r.counts.existing, Restorable(in));
  EXPECT_TRUE(Exists(kDeployments, "shop", "web"));
}

// The target gone half way (nothing listens): the restore stops writing, says so, fails no
// object for it, and the next run against the server back finishes it, every object once.
TEST_F(RestoreTest, ATargetThatStopsAnsweringEndsTheRestoreResumablyWithNoObjectFailed) {
  RestoreInput in = Shop();
  recorder_->DownAfterPosts(6);
  RestoreResult first = Restore(*client_, in, Options());
  EXPECT_EQ(first.status.code(), StatusCode::kUnavailable) << first.status.ToString();
  EXPECT_NE(first.status.message().find("the target stopped answering"), std::string::npos) << first.status.message();
  EXPECT_NE(first.status.message().find("connection refused"), std::string::npos) << first.status.message();
  EXPECT_NE(first.status.message().find("run it again to resume"), std::string::npos) << first.status.message();
  EXPECT_EQ(first.counts.failed, 0) << Failures(first);
  EXPECT_LT(first.counts.created, Restorable(in));

  recorder_->Up();
  RestoreResult second = Restore(*client_, in, Options());
  ASSERT_TRUE(second.status.ok()) << second.status.ToString();
  EXPECT_EQ(second.counts.failed, 0) << Failures(second);
  EXPECT_EQ(second.counts.created + second.counts.existing, Restorable(in));
  std::map<std::string, int> made;
  for (const RecordingTransport::Create& c : recorder_->creates()) ++made[c.kind + " " + c.name];
  for (const auto& [object, n] : made) EXPECT_EQ(n, 1) << object << " was created " << n << " times";
}

// A live server that answers one object's create with 500 (a webhook that fails it) fails that
// object with the server's words after the retries; the restore runs to its end.
TEST_F(RestoreTest, AnObjectAnswered500ByALiveServerFailsAloneWithTheServersWords) {
  RestoreInput in = Shop();
  in.objects.push_back({{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "refused-by-webhook"}, {"namespace", "shop"}}}});
  recorder_->FailCreatesOf("refused-by-webhook");
  RestoreResult r = Restore(*client_, in, Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.counts.failed, 1) << Failures(r);
  EXPECT_EQ(r.failures[0].object.ToString(), "ConfigMap shop/refused-by-webhook");
  EXPECT_NE(r.failures[0].status.message().find("failed calling webhook"), std::string::npos)
      << r.failures[0].status.ToString();
  EXPECT_EQ(r.counts.created + r.counts.existing, Restorable(Shop()));
}

TEST_F(RestoreTest, ACustomResourceWithoutItsCrdFailsClearly) {
  RestoreInput in = Shop();
  in.objects.push_back({{"apiVersion", "gadgets.example.org/v1"},
                        {"kind", "Gadget"},
                        {"metadata", {{"name", "g1"}, {"namespace", "shop"}}},
                        {"spec", {{"size", 1}}}});
  RestoreResult r = Restore(*client_, in, Options());
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.counts.failed, 1) << Failures(r);
  const ObjectFailure& f = r.failures[0];
  EXPECT_EQ(f.object.ToString(), "Gadget shop/g1");
  EXPECT_EQ(f.status.code(), StatusCode::kNotFound);
  EXPECT_NE(f.status.message().find("no CustomResourceDefinition serves kind Gadget in gadgets.example.org/v1"),
            std::string::npos)
      << f.status.message();
  EXPECT_NE(f.status.message().find("install the CRD"), std::string::npos);
  EXPECT_TRUE(Exists(kWidgets, "shop", "gizmo"));  // the CR whose CRD came with it
}

TEST_F(RestoreTest, NamespaceMappingMovesObjectsAndTheReferencesToThem) {
  RestoreOptions o = Options();
  o.namespace_mapping = {{"shop", "shop-drtest"}};
  RestoreResult r = Restore(*client_, Shop(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  EXPECT_FALSE(Exists(kNamespaces, "", "shop"));
  json ns = Get(kNamespaces, "", "shop-drtest");
  EXPECT_EQ(kube::Label(ns, "kubernetes.io/metadata.name").value_or(""), "shop-drtest");
  EXPECT_TRUE(Exists(kDeployments, "shop-drtest", "web"));
  json rb = Get(kRoleBindings, "shop-drtest", "web");
  EXPECT_EQ(rb["subjects"][0]["namespace"], "shop-drtest");
  json pv = Get(kVolumes, "", "pv-data");
  EXPECT_EQ(pv["spec"]["claimRef"]["namespace"], "shop-drtest");
  json claim = Get(kClaims, "shop-drtest", "data");
  EXPECT_EQ(claim["status"]["phase"], "Bound");
  EXPECT_EQ(pv["spec"]["claimRef"]["uid"], kube::Uid(claim));
}

// A drill's storage driver gives each PV of a drill copy a name of its own (the captured name is
// the one the real failover's PV needs) and a claimRef to the claim as captured: the restore
// creates the PV under that name, points the claim at it, and the claim binds in the mapped
// namespace; run again, it finds the PV under that name.
TEST_F(RestoreTest, AVolumeTheDriverRenamesIsTheOneItsClaimBindsTo) {
  RestoreOptions o = Options();
  o.recovery = "shop-drill";
  o.namespace_mapping = {{"shop", "shop-drtest"}};
  o.rewrite_volume = [](const VolumeMapEntry& v, json* pv) -> Status {
    const std::string copy = v.pv_name + "-drill";
    json labels = kube::FieldAt(*pv, {"metadata", "labels"});
    *pv = {{"apiVersion", "v1"},
           {"kind", "PersistentVolume"},
           {"metadata", {{"name", copy}, {"labels", labels}}},
           {"spec",
            {{"capacity", {{"storage", "1Gi"}}},
             {"accessModes", {"ReadWriteOnce"}},
             {"persistentVolumeReclaimPolicy", "Delete"},
             {"storageClassName", v.storage_class},
             {"claimRef", {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                           {"namespace", v.pvc_namespace}, {"name", v.pvc_name}}},
             {"hostPath", {{"path", "/var/lib/kubesim/volumes/" + copy}}}}}};
    return Status::Ok();
  };
  RestoreResult r = Restore(*client_, Shop(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);

  // data's claim named pv-data as captured; logs' named none (the volume map gave it).
  for (const std::string claim_name : {"data", "logs"}) {
    SCOPED_TRACE(claim_name);
    const std::string copy = "pv-" + claim_name + "-drill";
    const json claim = Get(kClaims, "shop-drtest", claim_name);
    EXPECT_EQ(claim["spec"].value("volumeName", ""), copy);
    EXPECT_EQ(claim["status"].value("phase", ""), "Bound");
    const json pv = Get(kVolumes, "", copy);
    EXPECT_EQ(pv["spec"]["claimRef"].value("namespace", ""), "shop-drtest");
    EXPECT_EQ(pv["spec"]["claimRef"].value("uid", ""), kube::Uid(claim));
    EXPECT_EQ(kube::Label(pv, kRecoveryLabel).value_or(""), "shop-drill");
    EXPECT_FALSE(Exists(kVolumes, "", "pv-" + claim_name)) << "nothing under the captured name";
  }
  bool noted = false;
  for (const ObjectNote& n : r.notes) {
    noted = noted || (n.object.ToString() == "PersistentVolumeClaim shop-drtest/data" &&
                      n.message == "spec.volumeName set to \"pv-data-drill\", the storage driver's PV for \"pv-data\"");
  }
  EXPECT_TRUE(noted) << "no note on the claim pointed at the renamed volume";

  // Run again: the PVs are found under the driver's names, restored already.
  RestoreResult again = Restore(*client_, Shop(), o);
  ASSERT_TRUE(again.status.ok()) << again.status.ToString();
  EXPECT_EQ(again.counts.failed, 0) << Failures(again);
  EXPECT_EQ(again.counts.created, 0);
  EXPECT_EQ(again.counts.existing, Restorable(Shop()));
}

TEST_F(RestoreTest, MappingOntoAnExistingNamespaceIsRefused) {
  MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop-drtest"}}}});
  RestoreOptions o = Options();
  o.namespace_mapping = {{"shop", "shop-drtest"}};
  o.existing = ExistingPolicy::kUpdate;  // no policy writes into a live namespace
  const size_t writes_before = recorder_->creates().size();
  RestoreResult r = Restore(*client_, Shop(), o);
  EXPECT_EQ(r.status.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status.message().find("namespace mapping shop -> shop-drtest"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("already exists"), std::string::npos);
  EXPECT_EQ(recorder_->creates().size(), writes_before);

  Result<std::vector<Conflict>> conflicts = ListConflicts(*client_, Shop(), o);
  ASSERT_TRUE(conflicts.ok());
  ASSERT_EQ(conflicts->size(), 1u);
  EXPECT_EQ((*conflicts)[0].object.ToString(), "Namespace shop-drtest");
}

TEST_F(RestoreTest, FinishedJobsRunAgainOnlyWhenAsked) {
  RestoreOptions o = Options();
  o.rerun_finished_jobs = true;
  RestoreResult r = Restore(*client_, Shop(), o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  json job = Get(kJobs, "shop", "migrate-v14");
  EXPECT_EQ(job.dump().find(SourceUid(Shop(), "Job", "migrate-v14")), std::string::npos) << job.dump();
}

TEST_F(RestoreTest, AStorageClassThatDiffersIsReportedNeverReplaced) {
  MustCreate(kStorageClasses, "",
             {{"apiVersion", "storage.k8s.io/v1"},
              {"kind", "StorageClass"},
              {"metadata", {{"name", "fast"}}},
              {"provisioner", "kubesim.kubectl-dr.dev/hostpath"},
              {"parameters", {{"tier", "hdd"}}}});
  RestoreResult r = Restore(*client_, Shop(), Options());  // existing: fail, and still no conflict
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.counts.failed, 0) << Failures(r);
  std::map<std::string, Difference> diffs;
  for (const Difference& d : r.differences) diffs[d.field] = d;
  ASSERT_TRUE(diffs.count("parameters"));
  EXPECT_EQ(diffs["parameters"].source, R"({"tier":"ssd"})");
  EXPECT_EQ(diffs["parameters"].target, R"({"tier":"hdd"})");
  ASSERT_TRUE(diffs.count("reclaimPolicy"));
  EXPECT_EQ(diffs["reclaimPolicy"].source, "\"Retain\"");
  EXPECT_EQ(diffs["reclaimPolicy"].target, "\"Delete\"");
  EXPECT_EQ(diffs["parameters"].object.ToString(), "StorageClass fast");
  EXPECT_EQ(Get(kStorageClasses, "", "fast")["parameters"]["tier"], "hdd");
}

TEST_F(RestoreTest, AClaimThatNeverBindsIsNamedWithTheReason) {
  RestoreInput in = Shop();
  in.objects.push_back({{"apiVersion", "v1"},
                        {"kind", "PersistentVolumeClaim"},
                        {"metadata", {{"name", "orphan"}, {"namespace", "shop"}}},
                        {"spec",
                         {{"accessModes", {"ReadWriteOnce"}},
                          {"resources", {{"requests", {{"storage", "1Gi"}}}}},
                          {"storageClassName", "fast"},
                          {"volumeName", "pv-missing"}}}});
  RestoreOptions o = Options();
  o.claim_bound_timeout = std::chrono::minutes(5);
  RestoreResult r = Restore(*client_, in, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_EQ(r.counts.failed, 1) << Failures(r);
  const ObjectFailure& f = r.failures[0];
  EXPECT_EQ(f.object.ToString(), "PersistentVolumeClaim shop/orphan");
  EXPECT_EQ(f.tier, Tier::kPersistentVolumeClaims);
  EXPECT_EQ(f.status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(f.status.message().find("claim shop/orphan is still Pending"), std::string::npos) << f.status.message();
  EXPECT_NE(f.status.message().find("volume \"pv-missing\" does not exist on the target"), std::string::npos);
  EXPECT_NE(f.status.message().find("after 5m0s"), std::string::npos);
  EXPECT_EQ(Get(kClaims, "shop", "data")["status"]["phase"], "Bound");
  EXPECT_TRUE(Exists(kDeployments, "shop", "web"));
}

TEST_F(RestoreTest, ANamespaceSubsetLeavesTheOthersOut) {
  RestoreInput in = Shop();
  in.objects.push_back({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "payments"}}}});
  in.objects.push_back({{"apiVersion", "v1"},
                        {"kind", "ConfigMap"},
                        {"metadata", {{"name", "ledger"}, {"namespace", "payments"}}}});
  RestoreOptions o = Options();
  o.namespaces = {"shop"};
  RestoreResult r = Restore(*client_, in, o);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.excluded, 2);
  EXPECT_EQ(r.counts.total(), static_cast<int64_t>(in.objects.size()) - 2);
  EXPECT_FALSE(Exists(kNamespaces, "", "payments"));
  EXPECT_TRUE(Exists(kDeployments, "shop", "web"));
}

TEST_F(RestoreTest, BadOptionsAreRefusedBeforeAnyWrite) {
  struct Case {
    const char* name;
    std::function<void(RestoreOptions&)> tweak;
    const char* want;
  };
  const Case cases[] = {
      {"no recovery", [](RestoreOptions& o) { o.recovery.clear(); }, "not a valid label value"},
      {"recovery not a label value", [](RestoreOptions& o) { o.recovery = "shop failover"; }, "not a valid label value"},
      {"parallel 0", [](RestoreOptions& o) { o.parallel = 0; }, "at least 1"},
      {"two onto one", [](RestoreOptions& o) { o.namespace_mapping = {{"shop", "x"}, {"payments", "x"}}; }, "both map to x"},
      {"bad target", [](RestoreOptions& o) { o.namespace_mapping = {{"shop", "Shop_Test"}}; }, "DNS-1123"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RestoreOptions o = Options();
    c.tweak(o);
    RestoreResult r = Restore(*client_, Shop(), o);
    EXPECT_EQ(r.status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status.message().find(c.want), std::string::npos) << r.status.message();
  }
  EXPECT_TRUE(recorder_->creates().empty());
}

TEST(RestoreTiersTest, TierOfEachKind) {
  struct Case {
    const char* group;
    const char* kind;
    Tier want;
  };
  const Case cases[] = {
      {"apiextensions.k8s.io", "CustomResourceDefinition", Tier::kCustomResourceDefinitions},
      {"", "Namespace", Tier::kNamespaces},
      {"storage.k8s.io", "StorageClass", Tier::kClusterClasses},
      {"scheduling.k8s.io", "PriorityClass", Tier::kClusterClasses},
      {"", "PersistentVolume", Tier::kPersistentVolumes},
      {"", "PersistentVolumeClaim", Tier::kPersistentVolumeClaims},
      {"", "ServiceAccount", Tier::kServiceAccounts},
      {"", "Secret", Tier::kConfiguration},
      {"", "ConfigMap", Tier::kConfiguration},
      {"rbac.authorization.k8s.io", "ClusterRoleBinding", Tier::kRbac},
      {"", "Service", Tier::kServices},
      {"networking.k8s.io", "Ingress", Tier::kOther},
      {"example.com", "Widget", Tier::kOther},
      {"policy", "PodDisruptionBudget", Tier::kOther},
      {"apps", "Deployment", Tier::kWorkloads},
      {"batch", "CronJob", Tier::kWorkloads},
      {"", "Pod", Tier::kWorkloads},
      {"kubevirt.io", "VirtualMachine", Tier::kWorkloads},
      {"", "ResourceQuota", Tier::kQuotas},
      {"", "LimitRange", Tier::kQuotas},
      {"example.com", "Deployment", Tier::kOther},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.group) + "/" + c.kind);
    EXPECT_EQ(TierOf(c.group, c.kind), c.want);
  }
  EXPECT_EQ(TierName(Tier::kPersistentVolumeClaims), "pvcs");
}

TEST(RestoreTiersTest, ExistingPolicyParses) {
  EXPECT_EQ(*ParseExistingPolicy("update"), ExistingPolicy::kUpdate);
  Result<ExistingPolicy> bad = ParseExistingPolicy("skipp");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("did you mean \"skip\""), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace kdr::inventory
