// kube-apiserver's built-in admission plugins in kubesim, over real HTTPS (and real kubectl where
// the text is what a user reads): each refusal with the real server's code and message, and in
// the real server's place around the webhooks (a refusal by a plugin that runs first means the
// webhooks after it are never called).

#include <algorithm>

#include "kubesim/quantity.h"
#include "test_support.h"
#include "base/strings.h"
#include "testutil/tls_server.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using json = nlohmann::json;

constexpr const char* kPvcs = "/api/v1/namespaces/default/persistentvolumeclaims";

// A kubesim with its controllers (claims bind) and a recording mutating and validating webhook
// registered for the resources the plugins act on.
class BuiltinAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    webhook_.SetHandler([](const testutil::ServerRequest& r) {
      json review = json::parse(r.body, nullptr, false);
      json resp = {{"uid", review["request"]["uid"]}, {"allowed", true}};
      return testutil::Reply::Json(200, json({{"apiVersion", "admission.k8s.io/v1"},
                                              {"kind", "AdmissionReview"}, {"response", resp}}).dump());
    });
    Server::Options o;
    ControllerOptions co;
    co.longhorn = false;
    co.resync_interval = std::chrono::milliseconds(200);
    o.controllers = co;
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
    for (const char* kind : {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}) {
      const std::string path = std::string(kind).rfind("Mutating", 0) == 0 ? "mutate" : "validate";
      json rules = json::array({{{"operations", {"CREATE", "UPDATE", "DELETE"}}, {"apiGroups", {"*"}},
                                 {"apiVersions", {"*"}},
                                 {"resources", {"persistentvolumeclaims", "persistentvolumes", "pods",
                                                "namespaces", "configmaps", "ingresses"}}}});
      json config = {{"apiVersion", "admissionregistration.k8s.io/v1"},
                     {"kind", kind},
                     {"metadata", {{"name", "record-" + path}}},
                     {"webhooks", json::array({{{"name", path + ".record.example.com"},
                                                {"clientConfig", {{"url", webhook_.url() + "/" + path},
                                                                  {"caBundle", Base64Encode(webhook_.ca().cert_pem)}}},
                                                {"rules", rules},
                                                {"sideEffects", "None"},
                                                {"admissionReviewVersions", {"v1"}}}})}};
      std::string plural = path == "mutate" ? "mutatingwebhookconfigurations" : "validatingwebhookconfigurations";
      ASSERT_EQ(client_->Post("/apis/admissionregistration.k8s.io/v1/" + plural, config).status, 201);
    }
  }

  // How often the webhook at /mutate or /validate was asked about OPERATION of resource/name.
  int Calls(const std::string& path, const std::string& operation, const std::string& resource,
            const std::string& name) const {
    int n = 0;
    for (const auto& req : webhook_.requests()) {
      json r = json::parse(req.body, nullptr, false)["request"];
      if (req.path == "/" + path && r["operation"] == operation && r["resource"]["resource"] == resource &&
          r.value("name", "") == name) {
        ++n;
      }
    }
    return n;
  }

  // Waits (watching, at most 20 s) until the object at `path` (a collection) named `name` has
  // status.phase `phase`.
  bool WaitForPhase(const std::string& collection, const std::string& name, const std::string& phase) {
    bool seen = false;
    client_->Watch(collection + "?watch=1&timeoutSeconds=20&fieldSelector=metadata.name%3D" + name,
                   [&](const std::vector<json>& events) {
                     seen = events.back().value("/object/status/phase"_json_pointer, "") == phase;
                     return seen;
                   });
    return seen;
  }

  // Waits (watching from the object's current version, at most 20 s) until the object at
  // `collection`/`name` is gone.
  bool WaitGone(const std::string& collection, const std::string& name) {
    auto r = client_->Get(collection + "/" + name);
    if (r.status == 404) return true;
    std::string rv = r.body["metadata"].value("resourceVersion", "");
    bool gone = false;
    client_->Watch(collection + "?watch=1&timeoutSeconds=20&resourceVersion=" + rv +
                       "&fieldSelector=metadata.name%3D" + name,
                   [&](const std::vector<json>& events) { return gone = events.back()["type"] == "DELETED"; });
    return gone;
  }

  // Waits (watching, at most 20 s) until the object `collection`/`name` exists.
  bool WaitExists(const std::string& collection, const std::string& name) {
    bool seen = false;
    client_->Watch(collection + "?watch=1&timeoutSeconds=20&fieldSelector=metadata.name%3D" + name,
                   [&](const std::vector<json>& events) { return seen = events.back()["type"] != "DELETED"; });
    return seen;
  }

  static json Pod(const std::string& name, json spec_extra = json::object()) {
    json spec = {{"containers", json::array({{{"name", "app"}, {"image", "nginx:1.27"}}})}};
    for (const auto& [k, v] : spec_extra.items()) spec[k] = v;
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
  }

  static json Pvc(const std::string& name, const std::string& cls, const std::string& size,
                  const std::string& volume = "") {
    json spec = {{"accessModes", {"ReadWriteOnce"}},
                 {"storageClassName", cls},
                 {"resources", {{"requests", {{"storage", size}}}}}};
    if (!volume.empty()) spec["volumeName"] = volume;
    return {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}, {"metadata", {{"name", name}}},
            {"spec", spec}};
  }

  static json Class(const std::string& name, const std::string& provisioner, json expansion = nullptr) {
    json sc = {{"apiVersion", "storage.k8s.io/v1"}, {"kind", "StorageClass"}, {"metadata", {{"name", name}}},
               {"provisioner", provisioner}};
    if (!expansion.is_null()) sc["allowVolumeExpansion"] = expansion;
    return sc;
  }

  std::string Kubectl(const std::string& args) {
    if (kubeconfig_.empty()) {
      kubeconfig_ = dir_.path() + "/kubeconfig";
      EXPECT_TRUE(server_->WriteKubeconfig(kubeconfig_, "sim").ok());
    }
    return testing::Run("HOME=" + dir_.path() + " kubectl --kubeconfig " + kubeconfig_ + " " + args).output;
  }

  testutil::TlsServer webhook_;
  testutil::TempDir dir_;
  std::string kubeconfig_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

// ResourceQuota, after the validating webhooks: each create that would exceed a quota is 403 with
// the real pair's message (kube-apiserver 1.37, the same quota and creates, in this order).
TEST_F(BuiltinAdmissionTest, ResourceQuotaRefusesCreatesBeyondItsHardLimits) {
  Client& c = *client_;
  ASSERT_EQ(c.Post("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "q1"}}}})
                .status, 201);
  const std::string ns = "/api/v1/namespaces/q1";
  // kube-root-ca.crt counts as a ConfigMap, as on a cluster.
  ASSERT_TRUE(WaitExists(ns + "/configmaps", "kube-root-ca.crt"));
  ASSERT_TRUE(WaitExists(ns + "/serviceaccounts", "default"));
  json quota = {{"apiVersion", "v1"}, {"kind", "ResourceQuota"}, {"metadata", {{"name", "q"}}},
                {"spec", {{"hard", {{"count/configmaps", "2"}, {"configmaps", "2"}, {"secrets", "1"},
                                    {"persistentvolumeclaims", "1"}, {"requests.storage", "1Gi"},
                                    {"services", "1"}, {"pods", "1"}, {"services.nodeports", "0"}}}}}};
  ASSERT_EQ(c.Post(ns + "/resourcequotas", quota).status, 201);
  auto cm = [](const std::string& name) {
    return json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}};
  };
  auto secret = [](const std::string& name) {
    return json{{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}}}};
  };
  auto svc = [](const std::string& name, const std::string& type) {
    return json{{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", name}}},
                {"spec", {{"type", type}, {"ports", json::array({{{"port", 80}}})}}}};
  };
  json big = Pvc("big", "", "2Gi");
  big["spec"].erase("storageClassName");
  json small = Pvc("small", "", "512Mi");
  small["spec"].erase("storageClassName");
  struct Case {
    std::string collection;
    json body;
    int code;
    std::string message;
  } cases[] = {
      {"configmaps", cm("a"), 201, ""},
      {"configmaps", cm("b"), 403,
       "configmaps \"b\" is forbidden: exceeded quota: q, requested: configmaps=1,count/configmaps=1, used: "
       "configmaps=2,count/configmaps=2, limited: configmaps=2,count/configmaps=2"},
      {"secrets", secret("s1"), 201, ""},
      {"secrets", secret("s2"), 403,
       "secrets \"s2\" is forbidden: exceeded quota: q, requested: secrets=1, used: secrets=1, limited: secrets=1"},
      {"services", svc("np", "NodePort"), 403,
       "services \"np\" is forbidden: exceeded quota: q, requested: services.nodeports=1, used: "
       "services.nodeports=0, limited: services.nodeports=0"},
      {"services", svc("c1", "ClusterIP"), 201, ""},
      {"services", svc("c2", "ClusterIP"), 403,
       "services \"c2\" is forbidden: exceeded quota: q, requested: services=1, used: services=1, limited: services=1"},
      {"persistentvolumeclaims", big, 403,
       "persistentvolumeclaims \"big\" is forbidden: exceeded quota: q, requested: requests.storage=2Gi, used: "
       "requests.storage=0, limited: requests.storage=1Gi"},
      {"persistentvolumeclaims", small, 201, ""},
      {"pods", Pod("p1"), 201, ""},
      {"pods", Pod("p2"), 403,
       "pods \"p2\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1"},
  };
  for (const auto& k : cases) {
    const std::string name = k.body["metadata"]["name"];
    SCOPED_TRACE(k.collection + "/" + name);
    auto r = c.Post(ns + "/" + k.collection, k.body);
    EXPECT_EQ(r.status, k.code) << r.raw;
    if (k.code == 403) {
      EXPECT_EQ(r.body["reason"], "Forbidden");
      EXPECT_EQ(r.body["message"], k.message);
      EXPECT_EQ(c.Get(ns + "/" + k.collection + "/" + name).status, 404);
    }
    // The quota is the last validating plugin: the validating webhook was asked first.
    if (k.collection == "configmaps" || k.collection == "pods") {
      EXPECT_EQ(Calls("validate", "CREATE", k.collection, name), 1);
    }
  }
  // A quota restored after its objects refuses nothing already there, only what comes next.
  json late = quota;
  late["metadata"]["name"] = "late";
  late["spec"]["hard"] = {{"count/configmaps", "1"}};
  EXPECT_EQ(c.Post(ns + "/resourcequotas", late).status, 201);
  EXPECT_EQ(c.Get(ns + "/configmaps/a").status, 200);
}

// PersistentVolumeClaimResize and the claim's update validation, in kube-apiserver's order:
// mutating webhooks, validation (422), the plugin (403), validating webhooks.
TEST_F(BuiltinAdmissionTest, PersistentVolumeClaimResize) {
  Client& c = *client_;
  const std::string hostpath(kHostpathProvisioner);
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", Class("expandable", hostpath, true)).status, 201);
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", Class("fixed", hostpath, false)).status, 201);
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", Class("unsaid", hostpath)).status, 201);
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", Class("foreign", "ebs.csi.aws.com", true)).status, 201);
  json pv = {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", "static-pv"}}},
             {"spec", {{"capacity", {{"storage", "1Gi"}}}, {"accessModes", {"ReadWriteOnce"}},
                       {"hostPath", {{"path", "/data/static"}}}}}};
  ASSERT_EQ(c.Post("/api/v1/persistentvolumes", pv).status, 201);
  // A claim bound to a static volume has no class: "" keeps the default class away.
  for (const json& pvc : {Pvc("static", "", "1Gi", "static-pv"), Pvc("grows", "expandable", "1Gi"),
                          Pvc("fixed", "fixed", "1Gi"), Pvc("unsaid", "unsaid", "1Gi"),
                          Pvc("shrinks", "expandable", "1Gi"), Pvc("pending", "foreign", "1Gi"),
                          Pvc("respelled", "fixed", "1Gi")}) {
    ASSERT_EQ(c.Post(kPvcs, pvc).status, 201) << pvc.dump();
  }
  for (const char* bound : {"static", "grows", "fixed", "unsaid", "shrinks", "respelled"}) {
    ASSERT_TRUE(WaitForPhase(kPvcs, bound, "Bound")) << bound;
  }
  const std::string kResize =
      "is forbidden: only dynamically provisioned pvc can be resized and the storageclass that "
      "provisions the pvc must support resize";
  struct Case {
    const char* name;
    const char* pvc;
    const char* storage;
    int code;
    const char* reason;  // "" when allowed
    std::string message;
    bool validating_webhook_called;
  };
  const Case cases[] = {
      {"grow a claim bound to a static volume", "static", "2Gi", 403, "Forbidden",
       "persistentvolumeclaims \"static\" " + kResize, false},
      {"grow a claim of a class with allowVolumeExpansion false", "fixed", "2Gi", 403, "Forbidden",
       "persistentvolumeclaims \"fixed\" " + kResize, false},
      {"grow a claim of a class that does not say", "unsaid", "2Gi", 403, "Forbidden",
       "persistentvolumeclaims \"unsaid\" " + kResize, false},
      {"grow a claim of an expandable class", "grows", "2Gi", 200, "", "", true},
      {"shrink", "shrinks", "512Mi", 422, "Invalid",
       "PersistentVolumeClaim \"shrinks\" is invalid: spec.resources.requests.storage: Forbidden: field can "
       "not be less than previous value",
       false},
      {"grow a claim that is not bound", "pending", "2Gi", 422, "Invalid",
       "PersistentVolumeClaim \"pending\" is invalid: spec: Forbidden: spec is immutable after creation "
       "except resources.requests and volumeAttributesClassName for bound claims",
       false},
      {"the same size written another way", "respelled", "1024Mi", 200, "", "", true},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string patch = json({{"spec", {{"resources", {{"requests", {{"storage", k.storage}}}}}}}}).dump();
    auto r = c.Patch(std::string(kPvcs) + "/" + k.pvc, patch, "application/merge-patch+json");
    EXPECT_EQ(r.status, k.code) << r.raw;
    // Mutating webhooks come before validation and every validating plugin.
    EXPECT_EQ(Calls("mutate", "UPDATE", "persistentvolumeclaims", k.pvc), 1);
    EXPECT_EQ(Calls("validate", "UPDATE", "persistentvolumeclaims", k.pvc), k.validating_webhook_called ? 1 : 0);
    auto stored = c.Get(std::string(kPvcs) + "/" + k.pvc);
    if (k.code == 200) {
      // The value, not the spelling: kube-apiserver stores "1024Mi" as "1Gi".
      auto size = Quantity::Parse(stored.body["spec"]["resources"]["requests"].value("storage", ""));
      EXPECT_TRUE(size && *size == *Quantity::Parse(k.storage)) << stored.raw;
      continue;
    }
    EXPECT_EQ(r.body["kind"], "Status");
    EXPECT_EQ(r.body["code"], k.code);
    EXPECT_EQ(r.body["reason"], k.reason);
    EXPECT_EQ(r.body["message"], k.message);
    EXPECT_EQ(r.body["details"]["name"], k.pvc);
    EXPECT_EQ(r.body["details"]["kind"], k.code == 403 ? "persistentvolumeclaims" : "PersistentVolumeClaim");
    EXPECT_EQ(stored.body["spec"]["resources"]["requests"]["storage"], "1Gi");
  }
  // What kubectl users read.
  std::string out = Kubectl("patch pvc static -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"5Gi\"}}}}'");
  EXPECT_NE(out.find("Error from server (Forbidden): persistentvolumeclaims \"static\" " + kResize),
            std::string::npos) << out;
  out = Kubectl("patch pvc shrinks -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"1Mi\"}}}}'");
  EXPECT_NE(out.find("The PersistentVolumeClaim \"shrinks\" is invalid: spec.resources.requests.storage: "
                     "Forbidden: field can not be less than previous value"),
            std::string::npos) << out;
}

// NamespaceLifecycle runs before every webhook: refused requests never reach one.
TEST_F(BuiltinAdmissionTest, NamespaceLifecycle) {
  Client& c = *client_;
  json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "closing"}}}};
  ASSERT_EQ(c.Post("/api/v1/namespaces", ns).status, 201);
  ns["metadata"]["name"] = "doomed";
  ASSERT_EQ(c.Post("/api/v1/namespaces", ns).status, 201);
  // A finalizer holds "closing" in Terminating.
  json held = testing::ConfigMap("held");
  held["metadata"]["finalizers"] = json::array({"example.com/hold"});
  ASSERT_EQ(c.Post("/api/v1/namespaces/closing/configmaps", held).status, 201);
  ASSERT_EQ(c.Delete("/api/v1/namespaces/closing").status, 200);
  const json terminating_cause = {{"reason", "NamespaceTerminating"},
                                  {"message", "namespace closing is being terminated"},
                                  {"field", "metadata.namespace"}};
  struct Case {
    const char* name;
    const char* method;
    std::string path;
    std::string body;
    int code;
    std::string message;
    json details;  // null when allowed
    const char* resource;
    const char* operation;
    const char* object;  // the name the webhooks would be asked about
  };
  const Case cases[] = {
      {"create in a namespace that does not exist", "POST", "/api/v1/namespaces/nope/configmaps",
       testing::ConfigMap("early").dump(), 404, "namespaces \"nope\" not found",
       {{"name", "nope"}, {"kind", "namespaces"}}, "configmaps", "CREATE", "early"},
      {"create in a terminating namespace", "POST", "/api/v1/namespaces/closing/configmaps",
       testing::ConfigMap("late").dump(), 403,
       "configmaps \"late\" is forbidden: unable to create new content in namespace closing because it is being "
       "terminated",
       {{"name", "late"}, {"kind", "configmaps"}, {"causes", json::array({terminating_cause})}}, "configmaps",
       "CREATE", "late"},
      {"update in a terminating namespace", "PATCH", "/api/v1/namespaces/closing/configmaps/held",
       R"({"metadata":{"labels":{"still":"editable"}}})", 200, "", nullptr, "configmaps", "UPDATE", "held"},
      {"delete default", "DELETE", "/api/v1/namespaces/default", "", 403,
       "namespaces \"default\" is forbidden: this namespace may not be deleted",
       {{"name", "default"}, {"kind", "namespaces"}}, "namespaces", "DELETE", "default"},
      {"delete kube-system", "DELETE", "/api/v1/namespaces/kube-system", "", 403,
       "namespaces \"kube-system\" is forbidden: this namespace may not be deleted",
       {{"name", "kube-system"}, {"kind", "namespaces"}}, "namespaces", "DELETE", "kube-system"},
      {"delete kube-public", "DELETE", "/api/v1/namespaces/kube-public", "", 403,
       "namespaces \"kube-public\" is forbidden: this namespace may not be deleted",
       {{"name", "kube-public"}, {"kind", "namespaces"}}, "namespaces", "DELETE", "kube-public"},
      {"delete another namespace", "DELETE", "/api/v1/namespaces/doomed", "", 200, "", nullptr, "namespaces",
       "DELETE", "doomed"},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    auto r = c.Do(k.method, k.path, k.body, k.method == std::string("PATCH") ? "application/merge-patch+json"
                                                                              : "application/json");
    EXPECT_EQ(r.status, k.code) << r.raw;
    EXPECT_EQ(Calls("mutate", k.operation, k.resource, k.object), k.code == 200 ? 1 : 0);
    EXPECT_EQ(Calls("validate", k.operation, k.resource, k.object), k.code == 200 ? 1 : 0);
    if (k.code == 200) continue;
    EXPECT_EQ(r.body["code"], k.code);
    EXPECT_EQ(r.body["reason"], k.code == 404 ? "NotFound" : "Forbidden");
    EXPECT_EQ(r.body["message"], k.message);
    EXPECT_EQ(r.body["details"], k.details);
  }
  std::string out = Kubectl("create configmap later -n closing");
  EXPECT_NE(out.find("error: failed to create configmap: configmaps \"later\" is forbidden: unable to create new "
                     "content in namespace closing because it is being terminated"),
            std::string::npos) << out;
  out = Kubectl("delete namespace kube-public");
  EXPECT_NE(out.find("Error from server (Forbidden): namespaces \"kube-public\" is forbidden: this namespace may "
                     "not be deleted"),
            std::string::npos) << out;
}

// DefaultStorageClass picks the newest default class (by creation time, then name), and the
// mutating webhooks already see it.
TEST_F(BuiltinAdmissionTest, DefaultStorageClass) {
  testutil::FakeClock clock;
  Server::Options o;
  o.clock = &clock;
  auto s = Server::Start(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Client c(**s, (*s)->admin_token());
  auto sc = [](const std::string& name, const char* annotation) {
    json m = {{"name", name}};
    if (annotation) m["annotations"] = {{annotation, "true"}};
    return json{{"apiVersion", "storage.k8s.io/v1"}, {"kind", "StorageClass"}, {"metadata", m},
                {"provisioner", "example.com/x"}};
  };
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", sc("b-older", "storageclass.kubernetes.io/is-default-class")).status, 201);
  clock.Advance(std::chrono::seconds(5));
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", sc("c-newer", "storageclass.beta.kubernetes.io/is-default-class")).status, 201);
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", sc("a-same-second", "storageclass.kubernetes.io/is-default-class")).status, 201);
  ASSERT_EQ(c.Post("/apis/storage.k8s.io/v1/storageclasses", sc("d-plain", nullptr)).status, 201);
  struct Case {
    const char* name;
    json spec_class;  // null: absent
    const char* beta_annotation;
    json want;  // the stored spec.storageClassName (null: absent)
  };
  const Case cases[] = {
      {"no class: the newest default, ties by name", nullptr, nullptr, "a-same-second"},
      {"an explicit class is kept", "d-plain", nullptr, "d-plain"},
      {"\"\" asks for no class", "", nullptr, ""},
      {"the beta annotation names a class", nullptr, "d-plain", nullptr},
  };
  int n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    json pvc = Pvc("claim-" + std::to_string(n++), "", "1Gi");
    pvc["spec"].erase("storageClassName");
    if (!k.spec_class.is_null()) pvc["spec"]["storageClassName"] = k.spec_class;
    if (k.beta_annotation) pvc["metadata"]["annotations"] = {{"volume.beta.kubernetes.io/storage-class", k.beta_annotation}};
    auto r = c.Post(kPvcs, pvc);
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["spec"].value("storageClassName", json()), k.want);
  }
  // Through the fixture's server: its mutating webhook sees the class.
  ASSERT_EQ(client_->Post("/apis/storage.k8s.io/v1/storageclasses", sc("std", "storageclass.kubernetes.io/is-default-class")).status, 201);
  json pvc = Pvc("seen", "", "1Gi");
  pvc["spec"].erase("storageClassName");
  ASSERT_EQ(client_->Post(kPvcs, pvc).status, 201);
  bool seen = false;
  for (const auto& req : webhook_.requests()) {
    json r = json::parse(req.body, nullptr, false)["request"];
    if (req.path == "/mutate" && r["operation"] == "CREATE" && r["name"] == "seen") {
      seen = r["object"]["spec"].value("storageClassName", "") == "std";
    }
  }
  EXPECT_TRUE(seen);
}

// StorageObjectInUseProtection: claims and volumes get their finalizers (before any webhook), and
// the protection controllers hold a deleted claim while a pod mounts it and a deleted volume
// while it is Bound.
TEST_F(BuiltinAdmissionTest, StorageObjectInUseProtection) {
  Client& c = *client_;
  json pv = {{"apiVersion", "v1"}, {"kind", "PersistentVolume"}, {"metadata", {{"name", "vol"}}},
             {"spec", {{"capacity", {{"storage", "1Gi"}}}, {"accessModes", {"ReadWriteOnce"}},
                       {"persistentVolumeReclaimPolicy", "Retain"}, {"hostPath", {{"path", "/data/vol"}}}}}};
  auto created_pv = c.Post("/api/v1/persistentvolumes", pv);
  ASSERT_EQ(created_pv.status, 201) << created_pv.raw;
  EXPECT_EQ(created_pv.body["metadata"]["finalizers"], json::array({"kubernetes.io/pv-protection"}));
  auto created = c.Post(kPvcs, Pvc("data", "", "1Gi", "vol"));
  ASSERT_EQ(created.status, 201) << created.raw;
  ASSERT_EQ(c.Post(kPvcs, Pvc("unused", "", "1Gi")).status, 201);
  EXPECT_EQ(created.body["metadata"]["finalizers"], json::array({"kubernetes.io/pvc-protection"}));
  for (const auto& req : webhook_.requests()) {
    json r = json::parse(req.body, nullptr, false)["request"];
    if (req.path == "/mutate" && r["operation"] == "CREATE" && r["name"] == "data") {
      EXPECT_EQ(r["object"]["metadata"]["finalizers"], json::array({"kubernetes.io/pvc-protection"}));
    }
  }
  ASSERT_TRUE(WaitForPhase(kPvcs, "data", "Bound"));
  json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "user"}}},
              {"spec", {{"nodeName", "kubesim-node"},
                        {"containers", json::array({{{"name", "app"}, {"image", "nginx:1.27"}}})},
                        {"volumes", json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}})}}}};
  ASSERT_EQ(c.Post("/api/v1/namespaces/default/pods", pod).status, 201);
  ASSERT_TRUE(WaitForPhase("/api/v1/namespaces/default/pods", "user", "Running"));

  // The volume is Bound: deleting it only marks it.
  auto d = c.Delete("/api/v1/persistentvolumes/vol");
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_TRUE(d.body["metadata"].contains("deletionTimestamp"));
  // The claim is mounted by a pod: deleting it only marks it, for as long as the pod exists.
  d = c.Delete(std::string(kPvcs) + "/data");
  ASSERT_EQ(d.status, 200) << d.raw;
  EXPECT_TRUE(d.body["metadata"].contains("deletionTimestamp"));
  // An unused claim goes at once; the pass that removed its finalizer saw the others too.
  ASSERT_EQ(c.Delete(std::string(kPvcs) + "/unused").status, 200);
  ASSERT_TRUE(WaitGone(kPvcs, "unused"));
  EXPECT_EQ(c.Get(std::string(kPvcs) + "/data").status, 200);
  EXPECT_EQ(c.Get("/api/v1/persistentvolumes/vol").status, 200);
  // Without the pod the claim goes; released, the volume goes too.
  ASSERT_EQ(c.Delete("/api/v1/namespaces/default/pods/user").status, 200);
  EXPECT_TRUE(WaitGone(kPvcs, "data"));
  EXPECT_TRUE(WaitGone("/api/v1/persistentvolumes", "vol"));
}

// DefaultIngressClass: an Ingress naming no class gets the default IngressClass.
TEST_F(BuiltinAdmissionTest, DefaultIngressClass) {
  Client& c = *client_;
  json ic = {{"apiVersion", "networking.k8s.io/v1"}, {"kind", "IngressClass"},
             {"metadata", {{"name", "nginx"}, {"annotations", {{"ingressclass.kubernetes.io/is-default-class", "true"}}}}},
             {"spec", {{"controller", "k8s.io/ingress-nginx"}}}};
  ASSERT_EQ(c.Post("/apis/networking.k8s.io/v1/ingressclasses", ic).status, 201);
  struct Case {
    const char* name;
    json spec_class;
    const char* legacy_annotation;
    json want;
  };
  const Case cases[] = {
      {"no class: the default", nullptr, nullptr, "nginx"},
      {"an explicit class is kept", "traefik", nullptr, "traefik"},
      {"the legacy annotation names a class", nullptr, "traefik", nullptr},
  };
  int n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    json ing = {{"apiVersion", "networking.k8s.io/v1"}, {"kind", "Ingress"},
                {"metadata", {{"name", "web-" + std::to_string(n++)}}},
                {"spec", {{"defaultBackend", {{"service", {{"name", "web"}, {"port", {{"number", 80}}}}}}}}}};
    if (!k.spec_class.is_null()) ing["spec"]["ingressClassName"] = k.spec_class;
    if (k.legacy_annotation) ing["metadata"]["annotations"] = {{"kubernetes.io/ingress.class", k.legacy_annotation}};
    auto r = c.Post("/apis/networking.k8s.io/v1/namespaces/default/ingresses", ing);
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["spec"].value("ingressClassName", json()), k.want);
  }
}

constexpr const char* kPods = "/api/v1/namespaces/default/pods";
constexpr const char* kTokenPath = "/var/run/secrets/kubernetes.io/serviceaccount";

// ServiceAccount: pods get the default account, which must exist, and its token volume.
TEST_F(BuiltinAdmissionTest, ServiceAccount) {
  Client& c = *client_;
  ASSERT_TRUE(WaitExists("/api/v1/namespaces/default/serviceaccounts", "default"));
  json quiet = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "quiet"}}},
                {"automountServiceAccountToken", false}, {"imagePullSecrets", json::array({{{"name", "registry"}}})}};
  ASSERT_EQ(c.Post("/api/v1/namespaces/default/serviceaccounts", quiet).status, 201);
  json own_mount = {{"containers", json::array({{{"name", "app"}, {"image", "nginx:1.27"},
                                                 {"volumeMounts", json::array({{{"name", "mine"}, {"mountPath", kTokenPath}}})}},
                                                {{"name", "side"}, {"image", "busybox:1.36"}}})},
                    {"volumes", json::array({{{"name", "mine"}, {"emptyDir", json::object()}}})}};
  struct Case {
    const char* name;
    json spec;
    int code;
    std::string message;
    const char* account;     // the stored spec.serviceAccountName
    int token_mounts;        // containers mounting the kube-api-access volume
    json pull_secrets;       // the stored spec.imagePullSecrets (null: absent)
  };
  const Case cases[] = {
      {"no account: default, with its token", json::object(), 201, "", "default", 1, nullptr},
      {"an account that does not exist", {{"serviceAccountName", "ghost"}}, 403,
       "pods \"p1\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found",
       "", 0, nullptr},
      {"the pod turns automounting off", {{"automountServiceAccountToken", false}}, 201, "", "default", 0, nullptr},
      {"the account turns it off and lends its pull secrets", {{"serviceAccountName", "quiet"}}, 201, "", "quiet", 0,
       json::array({{{"name", "registry"}}})},
      {"the pod turns it back on", {{"serviceAccountName", "quiet"}, {"automountServiceAccountToken", true}}, 201, "",
       "quiet", 1, json::array({{{"name", "registry"}}})},
      {"a container that mounts the token path itself", own_mount, 201, "", "default", 1, nullptr},
  };
  int n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string name = "p" + std::to_string(n++);
    auto r = c.Post(kPods, Pod(name, k.spec));
    EXPECT_EQ(r.status, k.code) << r.raw;
    EXPECT_EQ(Calls("mutate", "CREATE", "pods", name), k.code == 201 ? 1 : 0);
    if (k.code != 201) {
      EXPECT_EQ(r.body["reason"], "Forbidden");
      EXPECT_EQ(r.body["message"], k.message);
      continue;
    }
    const json& spec = r.body["spec"];
    EXPECT_EQ(spec["serviceAccountName"], k.account);
    EXPECT_EQ(spec.value("imagePullSecrets", json()), k.pull_secrets);
    std::string volume;
    for (const auto& v : spec.value("volumes", json::array())) {
      if (v["name"].get<std::string>().rfind("kube-api-access-", 0) != 0) continue;
      volume = v["name"];
      EXPECT_EQ(v["projected"]["sources"][0]["serviceAccountToken"]["path"], "token");
      EXPECT_EQ(v["projected"]["sources"][1]["configMap"]["name"], "kube-root-ca.crt");
      EXPECT_EQ(v["projected"]["sources"][2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"], "metadata.namespace");
    }
    EXPECT_EQ(volume.empty(), k.token_mounts == 0);
    int mounts = 0;
    for (const auto& ctr : spec["containers"]) {
      for (const auto& m : ctr.value("volumeMounts", json::array())) {
        if (m["name"] == volume && m["mountPath"] == kTokenPath && m["readOnly"] == true) ++mounts;
      }
    }
    EXPECT_EQ(mounts, k.token_mounts);
  }
}

// Priority: a pod's priority comes from its PriorityClass, which must exist, and cannot be
// stated otherwise; DefaultTolerationSeconds adds the 300 s not-ready/unreachable tolerations.
TEST_F(BuiltinAdmissionTest, PriorityAndDefaultTolerationSeconds) {
  Client& c = *client_;
  ASSERT_TRUE(WaitExists("/api/v1/namespaces/default/serviceaccounts", "default"));
  json high = {{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"}, {"metadata", {{"name", "high"}}},
               {"value", 1000}, {"preemptionPolicy", "Never"}};
  ASSERT_EQ(c.Post("/apis/scheduling.k8s.io/v1/priorityclasses", high).status, 201);
  json tolerate_all = json::array({{{"operator", "Exists"}}});
  struct Case {
    const char* name;
    json spec;
    int code;
    std::string message;
    json priority;
    const char* policy;
    size_t tolerations;
  };
  const Case cases[] = {
      {"no class and no default class", json::object(), 201, "", 0, "PreemptLowerPriority", 2},
      {"a class", {{"priorityClassName", "high"}}, 201, "", 1000, "Never", 2},
      {"a system class", {{"priorityClassName", "system-cluster-critical"}}, 201, "", 2000000000,
       "PreemptLowerPriority", 2},
      {"a class that does not exist", {{"priorityClassName", "ghost"}}, 403,
       "pods \"q3\" is forbidden: no PriorityClass with name ghost was found", nullptr, "", 0},
      {"a priority other than the class's", {{"priorityClassName", "high"}, {"priority", 5}}, 403,
       "pods \"q4\" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority "
       "admission controller computed 1000 from the given PriorityClass name",
       nullptr, "", 0},
      {"the class's own priority", {{"priorityClassName", "high"}, {"priority", 1000}}, 201, "", 1000, "Never", 2},
      {"a preemption policy other than the class's", {{"priorityClassName", "high"}, {"preemptionPolicy", "PreemptLowerPriority"}},
       403,
       "pods \"q6\" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in "
       "pod spec; priority admission controller computed Never from the given PriorityClass name",
       nullptr, "", 0},
      {"a pod that tolerates every taint", {{"tolerations", tolerate_all}}, 201, "", 0, "PreemptLowerPriority", 1},
  };
  int n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string name = "q" + std::to_string(n++);
    auto r = c.Post(kPods, Pod(name, k.spec));
    EXPECT_EQ(r.status, k.code) << r.raw;
    EXPECT_EQ(Calls("mutate", "CREATE", "pods", name), k.code == 201 ? 1 : 0);
    if (k.code != 201) {
      EXPECT_EQ(r.body["reason"], "Forbidden");
      EXPECT_EQ(r.body["message"], k.message);
      continue;
    }
    EXPECT_EQ(r.body["spec"]["priority"], k.priority);
    EXPECT_EQ(r.body["spec"]["preemptionPolicy"], k.policy);
    const json& tolerations = r.body["spec"]["tolerations"];
    ASSERT_EQ(tolerations.size(), k.tolerations) << tolerations.dump();
    if (k.tolerations == 2) {
      EXPECT_EQ(tolerations[0], json({{"key", "node.kubernetes.io/not-ready"}, {"operator", "Exists"},
                                      {"effect", "NoExecute"}, {"tolerationSeconds", 300}}));
      EXPECT_EQ(tolerations[1]["key"], "node.kubernetes.io/unreachable");
    }
  }
  // A global default class names itself on pods without a class; there can be only one.
  json low = {{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"}, {"metadata", {{"name", "low"}}},
              {"value", 10}, {"globalDefault", true}};
  ASSERT_EQ(c.Post("/apis/scheduling.k8s.io/v1/priorityclasses", low).status, 201);
  auto r = c.Post(kPods, Pod("defaulted"));
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["spec"]["priorityClassName"], "low");
  EXPECT_EQ(r.body["spec"]["priority"], 10);
  low["metadata"]["name"] = "lower";
  r = c.Post("/apis/scheduling.k8s.io/v1/priorityclasses", low);
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.body["message"], "priorityclasses.scheduling.k8s.io \"lower\" is forbidden: PriorityClass low is already "
                               "marked as default. Only one default can exist");
  std::string out = Kubectl("run ghostly --image=nginx:1.27 --overrides='{\"spec\":{\"priorityClassName\":\"ghost\"}}'");
  EXPECT_NE(out.find("Error from server (Forbidden): pods \"ghostly\" is forbidden: no PriorityClass with name ghost "
                     "was found"),
            std::string::npos) << out;
}

// RuntimeClass: a pod naming a runtime class needs it, and takes its overhead and scheduling.
TEST_F(BuiltinAdmissionTest, RuntimeClass) {
  Client& c = *client_;
  ASSERT_TRUE(WaitExists("/api/v1/namespaces/default/serviceaccounts", "default"));
  json toleration = {{"key", "sandbox"}, {"operator", "Exists"}, {"effect", "NoSchedule"}};
  json overhead = {{"cpu", "250m"}, {"memory", "120Mi"}};
  json kata = {{"apiVersion", "node.k8s.io/v1"}, {"kind", "RuntimeClass"}, {"metadata", {{"name", "kata"}}},
               {"handler", "kata"}, {"overhead", {{"podFixed", overhead}}},
               {"scheduling", {{"nodeSelector", {{"sandbox", "kata"}}}, {"tolerations", json::array({toleration})}}}};
  ASSERT_EQ(c.Post("/apis/node.k8s.io/v1/runtimeclasses", kata).status, 201);
  struct Case {
    const char* name;
    json spec;
    int code;
    std::string message;
    bool mutating_webhook_called;
  };
  const Case cases[] = {
      {"a class that does not exist", {{"runtimeClassName", "gvisor"}}, 403,
       "pods \"r0\" is forbidden: pod rejected: RuntimeClass \"gvisor\" not found", false},
      {"a class with overhead and scheduling", {{"runtimeClassName", "kata"}}, 201, "", true},
      {"a node selector the class contradicts", {{"runtimeClassName", "kata"}, {"nodeSelector", {{"sandbox", "gvisor"}}}},
       403,
       "pods \"r2\" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = kata; "
       "pod.spec.nodeSelector[sandbox] = gvisor",
       false},
      {"an overhead other than the class's", {{"runtimeClassName", "kata"}, {"overhead", {{"cpu", "1"}}}}, 403,
       "pods \"r3\" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead", false},
      {"an overhead without a class (refused by the validating half)", {{"overhead", {{"cpu", "1"}}}}, 403,
       "pods \"r4\" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead",
       true},
  };
  int n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string name = "r" + std::to_string(n++);
    auto r = c.Post(kPods, Pod(name, k.spec));
    EXPECT_EQ(r.status, k.code) << r.raw;
    EXPECT_EQ(Calls("mutate", "CREATE", "pods", name), k.mutating_webhook_called ? 1 : 0);
    EXPECT_EQ(Calls("validate", "CREATE", "pods", name), k.code == 201 ? 1 : 0);
    if (k.code != 201) {
      EXPECT_EQ(r.body["reason"], "Forbidden");
      EXPECT_EQ(r.body["message"], k.message);
      continue;
    }
    EXPECT_EQ(r.body["spec"]["overhead"], overhead);
    EXPECT_EQ(r.body["spec"]["nodeSelector"], json({{"sandbox", "kata"}}));
    const json& tolerations = r.body["spec"]["tolerations"];
    EXPECT_NE(std::find(tolerations.begin(), tolerations.end(), toleration), tolerations.end()) << tolerations.dump();
  }
}

// kubesim's workload controllers create pods through the same plugins: a template naming a
// missing service account or PriorityClass gets no pods, and the ReplicaSet and Deployment say
// why (ReplicaFailure), until the missing object appears.
TEST_F(BuiltinAdmissionTest, ControllersMeetThePodPlugins) {
  Client& c = *client_;
  ASSERT_TRUE(WaitExists("/api/v1/namespaces/default/serviceaccounts", "default"));
  struct Case {
    const char* name;
    json template_spec;
    std::string path;  // what to create to let the pods in
    json missing;
    std::string message_suffix;
  };
  const Case cases[] = {
      {"missing service account", {{"serviceAccountName", "app"}}, "/api/v1/namespaces/default/serviceaccounts",
       {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "app"}}}},
       "is forbidden: error looking up service account default/app: serviceaccount \"app\" not found"},
      {"missing priority class", {{"priorityClassName", "batch"}}, "/apis/scheduling.k8s.io/v1/priorityclasses",
       {{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"}, {"metadata", {{"name", "batch"}}},
        {"value", 100}},
       "is forbidden: no PriorityClass with name batch was found"},
      {"missing runtime class", {{"runtimeClassName", "kata"}}, "/apis/node.k8s.io/v1/runtimeclasses",
       {{"apiVersion", "node.k8s.io/v1"}, {"kind", "RuntimeClass"}, {"metadata", {{"name", "kata"}}}, {"handler", "kata"}},
       "is forbidden: pod rejected: RuntimeClass \"kata\" not found"},
  };
  int n = 0;
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    const std::string name = "web" + std::to_string(n++);
    json d = testing::Deployment(name, 1);
    for (const auto& [f, v] : k.template_spec.items()) d["spec"]["template"]["spec"][f] = v;
    ASSERT_EQ(c.Post("/apis/apps/v1/namespaces/default/deployments", d).status, 201);
    json failure;
    c.Watch("/apis/apps/v1/namespaces/default/deployments?watch=1&timeoutSeconds=20&fieldSelector=metadata.name%3D" + name,
            [&](const std::vector<json>& events) {
              for (const auto& cond : events.back().value("/object/status/conditions"_json_pointer, json::array())) {
                if (cond["type"] == "ReplicaFailure") failure = cond;
              }
              return failure.is_object();
            });
    ASSERT_TRUE(failure.is_object());
    EXPECT_EQ(failure["status"], "True");
    EXPECT_EQ(failure["reason"], "FailedCreate");
    const std::string message = failure.value("message", "");
    EXPECT_EQ(message.rfind("pods \"" + name + "-", 0), 0u) << message;  // the generateName
    EXPECT_NE(message.find(k.message_suffix), std::string::npos) << message;
    auto pods = c.Get(std::string(kPods) + "?labelSelector=app%3D" + name);
    EXPECT_TRUE(pods.body["items"].empty()) << pods.raw;
    ASSERT_EQ(c.Post(k.path, k.missing).status, 201);
    bool available = false;
    c.Watch("/apis/apps/v1/namespaces/default/deployments?watch=1&timeoutSeconds=20&fieldSelector=metadata.name%3D" + name,
            [&](const std::vector<json>& events) {
              bool failing = false;
              available = false;
              for (const auto& cond : events.back().value("/object/status/conditions"_json_pointer, json::array())) {
                failing = failing || cond["type"] == "ReplicaFailure";
                available = available || (cond["type"] == "Available" && cond["status"] == "True");
              }
              return available = available && !failing;
            });
    EXPECT_TRUE(available);
  }
}

TEST(QuantityTest, ComparesValuesNotSpellings) {
  auto q = [](const char* s) { return *Quantity::Parse(s); };
  EXPECT_EQ(q("1Gi"), q("1024Mi"));
  EXPECT_EQ(q("1Gi"), q("1073741824"));
  EXPECT_EQ(q("1G"), q("1e9"));
  EXPECT_EQ(q("1.5Gi"), q("1536Mi"));
  EXPECT_EQ(q("100m"), q("0.1"));
  EXPECT_EQ(q("1E"), q("1e18"));
  EXPECT_LT(q("1G"), q("1Gi"));
  EXPECT_LT(q("512Mi"), q("1Gi"));
  EXPECT_LT(q("-1"), q("0"));
  for (const char* bad : {"", "Gi", ".", "1Gb", "1ki", "1e", "1.2.3", "abc"}) {
    EXPECT_FALSE(Quantity::Parse(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace kdr::kubesim
