// Strict field validation of built-in kinds anywhere in the body, as the real pair answers
// (kube-apiserver 1.37.2, the same bodies from tests/data/kubesim/strict-fields/ sent with the
// same query; the messages and Warning headers are the real server's). kubectl's default is
// --validate=strict, which asks for fieldValidation=Strict.

#include "kubesim/builtin_fields.h"
#include "base/strings.h"
#include "test_support.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

using testing::Client;

class StrictFieldsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Server::Start(Server::Options{});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
    // The pod needs its service account (no controllers make it here).
    ASSERT_EQ(client_->Post("/api/v1/namespaces/default/serviceaccounts",
                            {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}})
                  .status,
              201);
  }
  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

std::string Refused(const std::string& kind, const std::string& fields) {
  return kind + " in version \"v1\" cannot be handled as a " + kind + ": strict decoding error: " + fields;
}

TEST_F(StrictFieldsTest, UnknownAndDuplicateFieldsAnywhereInABuiltInBody) {
  const std::string ns = "/api/v1/namespaces/default/";
  struct Case {
    const char* file;
    std::string path;
    std::string fields;  // the strict decoder's list; "" when the body is clean
    std::string kind;
    // Warn: 201, or the 422 that validation gives once the unknown field is dropped.
    std::string warn_invalid = "";
  } cases[] = {
      {"deploy-typo", "/apis/apps/v1/namespaces/default/deployments",
       "unknown field \"spec.template.spec.containers[0].imagePullPolicyy\", unknown field "
       "\"spec.template.spec.containers[0].ports[0].protocl\"",
       "Deployment"},
      {"cm-spec", ns + "configmaps", "unknown field \"metadata.labelz\", unknown field \"spec\"", "ConfigMap"},
      {"svc-dup", ns + "services", "duplicate field \"spec.ports\", unknown field \"spec.typo\"", "Service"},
      {"role-typo", "/apis/rbac.authorization.k8s.io/v1/clusterroles", "unknown field \"rules[0].verbz\"",
       "ClusterRole",
       "ClusterRole.rbac.authorization.k8s.io \"typo-role\" is invalid: rules[0].verbs: Required value"},
      {"job-nested", "/apis/batch/v1/namespaces/default/jobs",
       "unknown field \"metadata.ownerReferences[0].contoller\", unknown field "
       "\"spec.template.spec.containers[0].volumeMounts[0].readonly\", unknown field "
       "\"spec.template.spec.volumes[0].emptyDir.sizeLimt\"",
       "Job"},
      // An unknown key given twice is named once, never as a duplicate.
      {"unknown-top", ns + "secrets", "unknown field \"extra\"", "Secret"},
      // Free-form maps (labels, annotations, nodeSelector, resource lists) take any key.
      {"pod-free", ns + "pods", "", "Pod"},
      // A CRD's own body is a built-in kind; the schema it holds takes its keywords.
      {"crd-free", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
       "unknown field \"spec.versions[0].colour\"", "CustomResourceDefinition"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string body = testutil::ReadData(std::string("kubesim/strict-fields/") + c.file + ".json");
    auto strict = client_->Do("POST", c.path + "?fieldValidation=Strict&dryRun=All", body);
    if (c.fields.empty()) {
      EXPECT_EQ(strict.status, 201) << strict.raw;
      EXPECT_TRUE(strict.warnings.empty());
      continue;
    }
    EXPECT_EQ(strict.status, 400) << strict.raw;
    EXPECT_EQ(strict.body.value("reason", ""), "BadRequest");
    EXPECT_EQ(strict.body.value("message", ""), Refused(c.kind, c.fields));
    // Warn (and the server's default): created, one Warning header a field.
    auto warn = client_->Do("POST", c.path + "?fieldValidation=Warn&dryRun=All", body);
    if (c.warn_invalid.empty()) {
      EXPECT_EQ(warn.status, 201) << warn.raw;
    } else {
      EXPECT_EQ(warn.status, 422) << warn.raw;
      EXPECT_EQ(warn.body.value("message", ""), c.warn_invalid);
    }
    std::vector<std::string> want;
    for (const std::string& f : Split(c.fields, ',')) {
      std::string text(TrimSpace(f));
      std::string escaped;
      for (char ch : text) escaped += ch == '"' ? std::string("\\\"") : std::string(1, ch);
      want.push_back("299 - \"" + escaped + "\"");
    }
    EXPECT_EQ(warn.warnings, want);
  }
}

TEST(BuiltinFieldsTest, TableComesFromThePinnedKubernetesAndCoversTheRestoredKinds) {
  const BuiltinFields& f = BuiltinFields::Get();
  EXPECT_EQ(f.version(), "v1.37.2");
  for (const char* gvk : {"v1/ConfigMap", "v1/Secret", "v1/Service", "v1/Pod", "v1/PersistentVolumeClaim",
                          "v1/PersistentVolume", "v1/ResourceQuota", "v1/LimitRange", "v1/ServiceAccount",
                          "apps/v1/Deployment", "apps/v1/StatefulSet", "apps/v1/DaemonSet", "batch/v1/Job",
                          "batch/v1/CronJob", "networking.k8s.io/v1/Ingress", "scheduling.k8s.io/v1/PriorityClass",
                          "storage.k8s.io/v1/StorageClass", "rbac.authorization.k8s.io/v1/RoleBinding",
                          "coordination.k8s.io/v1/Lease", "apiextensions.k8s.io/v1/CustomResourceDefinition"}) {
    const std::string s(gvk);
    const size_t slash = s.rfind('/');
    EXPECT_GE(f.Root(s.substr(0, slash), s.substr(slash + 1)), 0) << gvk;
  }
  EXPECT_LT(f.Root("example.com/v1", "Widget"), 0);
}

}  // namespace
}  // namespace kdr::kubesim
