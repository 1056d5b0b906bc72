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
      EXPECT_EQ(stored.body["spec"]["resources"]["requests"]["storage"], k.storage);
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
  EXPECT_NE(Kubectl("patch pvc static -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"5Gi\"}}}}'")
                .find("Error from server (Forbidden): persistentvolumeclaims \"static\" " + kResize),
            std::string::npos);
  EXPECT_NE(Kubectl("patch pvc shrinks -p '{\"spec\":{\"resources\":{\"requests\":{\"storage\":\"1Mi\"}}}}'")
                .find("The PersistentVolumeClaim \"shrinks\" is invalid: spec.resources.requests.storage: "
                      "Forbidden: field can not be less than previous value"),
            std::string::npos);
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
