// pods/ephemeralcontainers as kube-apiserver serves it (kubectl debug): it writes
// spec.ephemeralContainers and nothing else, only by appending, and validates each added
// container against the pod.

#include "test_support.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using json = nlohmann::json;

constexpr const char* kPod = "/api/v1/namespaces/default/pods/web";
constexpr const char* kEphemeral = "/api/v1/namespaces/default/pods/web/ephemeralcontainers";

class EphemeralContainersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Server::Start({});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
    // No controllers here: the default ServiceAccount, which the ServiceAccount admission plugin
    // requires of every pod, is what kube-controller-manager would have created.
    json sa = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}};
    ASSERT_EQ(client_->Post("/api/v1/namespaces/default/serviceaccounts", sa).status, 201);
    json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", "web"}}},
                {"spec", {{"containers", {{{"name", "app"}, {"image", "nginx"}}}},
                          {"volumes", {{{"name", "data"}, {"emptyDir", json::object()}}}}}}};
    ASSERT_EQ(client_->Post("/api/v1/namespaces/default/pods", pod).status, 201);
  }

  static json Debug(const std::string& name, json mounts = json::array()) {
    return {{"name", name}, {"image", "busybox"}, {"volumeMounts", std::move(mounts)}};
  }
  testing::Reply AddByPatch(const json& container) {
    json patch = {{"spec", {{"ephemeralContainers", {container}}}}};
    return client_->Patch(kEphemeral, patch.dump(), "application/strategic-merge-patch+json");
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(EphemeralContainersTest, AppendsAContainerAndIgnoresEverythingElse) {
  testing::Reply got = client_->Get(kEphemeral);
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.body["kind"], "Pod");

  json pod = got.body;
  pod["spec"]["ephemeralContainers"] = {Debug("dbg", {{{"name", "data"}, {"mountPath", "/data"}}})};
  pod["spec"]["containers"][0]["image"] = "changed";  // not this subresource's to change
  pod["metadata"]["labels"] = {{"x", "y"}};
  testing::Reply put = client_->Put(kEphemeral, pod);
  ASSERT_EQ(put.status, 200) << put.raw;
  testing::Reply after = client_->Get(kPod);
  EXPECT_EQ(after.body["spec"]["ephemeralContainers"][0]["name"], "dbg");
  EXPECT_EQ(after.body["spec"]["containers"][0]["image"], "nginx");
  EXPECT_FALSE(after.body["metadata"].contains("labels"));
}

TEST_F(EphemeralContainersTest, RefusesWhatKubeApiserverRefuses) {
  ASSERT_EQ(AddByPatch(Debug("dbg")).status, 200);
  struct Case {
    const char* name;
    std::function<json(json)> edit;  // from the pod's current ephemeral containers
    const char* want;
  } cases[] = {
      {"removing one", [](json) { return json::array(); },
       "spec.ephemeralContainers: Forbidden: existing ephemeral containers \"dbg\" may not be removed"},
      {"changing one",
       [](json c) {
         c[0]["image"] = "other";
         return c;
       },
       "spec.ephemeralContainers[0]: Forbidden: existing ephemeral containers \"dbg\" may not be changed"},
      {"a name taken by a container",
       [](json c) {
         c.push_back(Debug("app"));
         return c;
       },
       "spec.ephemeralContainers[1].name: Duplicate value: \"app\""},
      {"a volume the pod does not declare",
       [](json c) {
         c.push_back(Debug("dbg2", {{{"name", "nope"}, {"mountPath", "/x"}}}));
         return c;
       },
       "spec.ephemeralContainers[1].volumeMounts[0].name: Not found: \"nope\""},
      {"no image",
       [](json c) {
         c.push_back({{"name", "dbg3"}});
         return c;
       },
       "spec.ephemeralContainers[1].image: Required value"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json pod = client_->Get(kPod).body;
    pod["spec"]["ephemeralContainers"] = c.edit(pod["spec"]["ephemeralContainers"]);
    testing::Reply r = client_->Put(kEphemeral, pod);
    EXPECT_EQ(r.status, 422) << r.raw;
    EXPECT_EQ(r.body.value("reason", ""), "Invalid");
    EXPECT_NE(r.body.value("message", "").find(c.want), std::string::npos) << r.raw;
  }
  EXPECT_EQ(client_->Get(kPod).body["spec"]["ephemeralContainers"].size(), 1u);
  // Only pods have the subresource.
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/configmaps/x/ephemeralcontainers").status, 404);
}

}  // namespace
}  // namespace kdr::kubesim
