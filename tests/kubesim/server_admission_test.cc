// kubesim calls registered admission webhooks on every write through its REST API: mutations
// land in the stored object, denials reach the client with kube-apiserver's code and message,
// and the AdmissionReview carries the caller's userInfo, the old object and dryRun.

#include "test_support.h"
#include "base/strings.h"
#include "testutil/tls_server.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using json = nlohmann::json;

class ServerAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    webhook_.SetHandler([](const testutil::ServerRequest& r) {
      json review = json::parse(r.body, nullptr, false);
      json req = review["request"];
      json resp = {{"uid", req["uid"]}, {"allowed", true}};
      const std::string name = req.value("name", "");
      if (r.path == "/mutate" && req["operation"] == "CREATE") {
        json patch = json::array({{{"op", "add"}, {"path", "/metadata/labels"}, {"value", {{"mutated", "yes"}}}}});
        resp["patchType"] = "JSONPatch";
        resp["patch"] = Base64Encode(patch.dump());
      }
      if (r.path == "/validate" && name == "blocked") {
        resp["allowed"] = false;
        resp["status"] = {{"code", 403}, {"message", "blocked configmaps are not allowed"}};
      }
      return testutil::Reply::Json(200, json({{"apiVersion", "admission.k8s.io/v1"},
                                              {"kind", "AdmissionReview"}, {"response", resp}}).dump());
    });
    auto s = Server::Start({});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
    auto hook = [&](const char* kind, const char* path) {
      json rules = json::array({{{"operations", {"CREATE", "UPDATE", "DELETE"}}, {"apiGroups", {""}},
                                 {"apiVersions", {"v1"}}, {"resources", {"configmaps"}}}});
      return json{{"apiVersion", "admissionregistration.k8s.io/v1"},
                  {"kind", kind},
                  {"metadata", {{"name", std::string("test-") + path}}},
                  {"webhooks",
                   json::array({{{"name", std::string(path) + ".example.com"},
                                 {"clientConfig", {{"url", webhook_.url() + "/" + path},
                                                   {"caBundle", Base64Encode(webhook_.ca().cert_pem)}}},
                                 {"rules", rules},
                                 {"sideEffects", "None"},
                                 {"admissionReviewVersions", {"v1"}},
                                 {"objectSelector", {{"matchExpressions", json::array({{{"key", "skip"}, {"operator", "DoesNotExist"}}})}}}}})}};
    };
    ASSERT_EQ(client_->Post("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
                            hook("MutatingWebhookConfiguration", "mutate")).status, 201);
    ASSERT_EQ(client_->Post("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
                            hook("ValidatingWebhookConfiguration", "validate")).status, 201);
  }

  testutil::TlsServer webhook_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ServerAdmissionTest, MutationIsStored) {
  auto r = client_->Post("/api/v1/namespaces/default/configmaps", testing::ConfigMap("ok"));
  ASSERT_EQ(r.status, 201) << r.raw;
  EXPECT_EQ(r.body["metadata"]["labels"]["mutated"], "yes");
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/configmaps/ok").body["metadata"]["labels"]["mutated"], "yes");
}

TEST_F(ServerAdmissionTest, DenialReachesTheClientAndStoresNothing) {
  auto r = client_->Post("/api/v1/namespaces/default/configmaps", testing::ConfigMap("blocked"));
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.body["kind"], "Status");
  EXPECT_EQ(r.body["message"],
            "admission webhook \"validate.example.com\" denied the request: blocked configmaps are not allowed");
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/configmaps/blocked").status, 404);
  testutil::TempDir dir;
  ASSERT_TRUE(server_->WriteKubeconfig(dir.path() + "/kc", "sim").ok());
  auto k = testing::Run("HOME=" + dir.path() + " kubectl --kubeconfig " + dir.path() +
                        "/kc create configmap blocked");
  EXPECT_NE(k.output.find("admission webhook \"validate.example.com\" denied the request: blocked configmaps are not allowed"),
            std::string::npos) << k.output;
}

TEST_F(ServerAdmissionTest, ReviewCarriesUserOldObjectAndDryRun) {
  auto sa_token = server_->IssueServiceAccountToken("default", "robot");
  Client robot(*server_, sa_token);
  ASSERT_EQ(robot.Post("/api/v1/namespaces/default/configmaps", testing::ConfigMap("x")).status, 201);
  ASSERT_EQ(robot.Do("PATCH", "/api/v1/namespaces/default/configmaps/x?dryRun=All", R"({"data":{"k":"v"}})",
                     "application/merge-patch+json").status, 200);
  json update;
  for (const auto& req : webhook_.requests()) {
    json review = json::parse(req.body, nullptr, false);
    if (req.path == "/validate" && review["request"]["operation"] == "UPDATE") update = review["request"];
  }
  ASSERT_TRUE(update.is_object());
  EXPECT_EQ(update["userInfo"]["username"], "system:serviceaccount:default:robot");
  EXPECT_EQ(update["dryRun"], true);
  EXPECT_EQ(update["oldObject"]["metadata"]["name"], "x");
  EXPECT_EQ(update["object"]["data"]["k"], "v");
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/configmaps/x").body.value("data", json::object()).size(), 0u);
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

TEST_F(ServerAdmissionTest, ValidatingWebhooksSeeTheGeneratedName) {
  json cm = testing::ConfigMap("");
  cm["metadata"] = {{"generateName", "gen-"}};
  auto r = client_->Post("/api/v1/namespaces/default/configmaps", cm);
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string stored = r.body["metadata"]["name"];
  std::string mutate_name = "unset", validate_name;
  for (const auto& req : webhook_.requests()) {
    json review = json::parse(req.body, nullptr, false);
    if (review["request"]["operation"] != "CREATE") continue;
    if (req.path == "/mutate") mutate_name = review["request"].value("name", "");
    if (req.path == "/validate") validate_name = review["request"]["object"]["metadata"].value("name", "");
  }
  EXPECT_EQ(mutate_name, "");
  EXPECT_EQ(validate_name, stored);
  EXPECT_EQ(stored.rfind("gen-", 0), 0u);
}

}  // namespace
}  // namespace kdr::kubesim
