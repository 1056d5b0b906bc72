// The install manifests as kubectl renders them: `kubectl kustomize` of the base and of the
// cert-manager overlay must work offline and carry the properties the design promises.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <set>

#include "base/yaml.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;

std::vector<json> Kustomize(const std::string& dir) {
  testutil::CommandResult r = testutil::RunCommand("kubectl kustomize " + testutil::SourcePath(dir));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  const std::string& out = r.output;
  auto docs = YamlDocumentsToJson(out, dir);
  EXPECT_TRUE(docs.ok()) << docs.status().message();
  return docs.ok() ? *docs : std::vector<json>{};
}

const json* Find(const std::vector<json>& docs, const std::string& kind, const std::string& name) {
  for (const auto& d : docs) {
    if (d.value("kind", "") == kind && d["metadata"].value("name", "") == name) return &d;
  }
  return nullptr;
}

class ManifestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("command -v kubectl >/dev/null 2>&1") != 0) GTEST_SKIP() << "kubectl missing";
  }
};

TEST_F(ManifestsTest, BaseRendersEveryPartOfTheInstall) {
  auto docs = Kustomize("manifests/base");
  std::set<std::string> kinds;
  for (const auto& d : docs) kinds.insert(d.value("kind", ""));
  for (const char* want : {"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
                           "ClusterRoleBinding", "Role", "RoleBinding", "Deployment",
                           "PodDisruptionBudget", "Service", "ValidatingWebhookConfiguration",
                           "MutatingWebhookConfiguration"}) {
    EXPECT_TRUE(kinds.count(want)) << want;
  }
  EXPECT_NE(Find(docs, "CustomResourceDefinition", "drplans.dr.kubectl-dr.dev"), nullptr);
  EXPECT_NE(Find(docs, "CustomResourceDefinition", "drrecoveries.dr.kubectl-dr.dev"), nullptr);
}

TEST_F(ManifestsTest, DeploymentIsHighlyAvailableAndLockedDown) {
  auto docs = Kustomize("manifests/base");
  const json* d = Find(docs, "Deployment", "kubectl-dr-webhook");
  ASSERT_NE(d, nullptr);
  const json& spec = (*d)["spec"];
  EXPECT_EQ(spec["replicas"], 2);
  const json& pod = spec["template"]["spec"];
  EXPECT_TRUE(pod["affinity"]["podAntiAffinity"].contains("requiredDuringSchedulingIgnoredDuringExecution"));
  EXPECT_EQ(pod["securityContext"]["runAsNonRoot"], true);
  EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["securityContext"]["readOnlyRootFilesystem"], true);
  EXPECT_EQ(c["securityContext"]["allowPrivilegeEscalation"], false);
  EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"], "/readyz");
  EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"], "/healthz");
  EXPECT_TRUE(c["resources"].contains("requests"));
  EXPECT_TRUE(c["resources"]["limits"].contains("memory"));
  const json* pdb = Find(docs, "PodDisruptionBudget", "kubectl-dr-webhook");
  ASSERT_NE(pdb, nullptr);
  EXPECT_EQ((*pdb)["spec"]["minAvailable"], 1);
}

TEST_F(ManifestsTest, WebhookRbacIsReadOnly) {
  auto docs = Kustomize("manifests/base");
  for (const char* kind : {"ClusterRole", "Role"}) {
    const json* role = Find(docs, kind, "kubectl-dr-webhook");
    ASSERT_NE(role, nullptr) << kind;
    for (const auto& rule : (*role)["rules"]) {
      for (const auto& verb : rule["verbs"]) {
        SCOPED_TRACE(rule.dump());
        EXPECT_TRUE(verb == "get" || verb == "list" || verb == "watch") << verb;
      }
      for (const auto& res : rule["resources"]) EXPECT_NE(res, "secrets") << "the webhook never reads secrets";
    }
  }
}

TEST_F(ManifestsTest, WebhookConfigurationsSelectNarrowlyAndFailClosed) {
  auto docs = Kustomize("manifests/base");
  const json* v = Find(docs, "ValidatingWebhookConfiguration", "kubectl-dr-webhook");
  const json* m = Find(docs, "MutatingWebhookConfiguration", "kubectl-dr-webhook");
  ASSERT_NE(v, nullptr);
  ASSERT_NE(m, nullptr);
  std::map<std::string, json> hooks;
  for (const auto* cfg : {v, m}) {
    for (const auto& h : (*cfg)["webhooks"]) hooks[h["name"]] = h;
  }
  ASSERT_EQ(hooks.size(), 5u);
  for (const auto& [name, h] : hooks) {
    SCOPED_TRACE(name);
    EXPECT_EQ(h["failurePolicy"], "Fail");
    EXPECT_EQ(h["sideEffects"], "None");
    EXPECT_EQ(h["admissionReviewVersions"], json::array({"v1"}));
    EXPECT_TRUE(h.contains("timeoutSeconds"));
  }
  EXPECT_EQ(hooks["fenced-workloads.dr.kubectl-dr.dev"]["namespaceSelector"]["matchLabels"]
                 ["dr.kubectl-dr.dev/fenced"],
            "true");
  EXPECT_EQ(hooks["fenced-pvcs.dr.kubectl-dr.dev"]["objectSelector"]["matchExpressions"][0]["key"],
            "dr.kubectl-dr.dev/failed-over");
  EXPECT_EQ(hooks["fenced-namespaces.dr.kubectl-dr.dev"]["objectSelector"]["matchLabels"]
                 ["dr.kubectl-dr.dev/fenced"],
            "true");
  // Every route to a fenced volume: pods and their ephemeral containers, workloads and their scale
  // subresources.
  std::set<std::string> fenced_resources;
  for (const auto& r : hooks["fenced-workloads.dr.kubectl-dr.dev"]["rules"]) {
    for (const auto& res : r["resources"]) fenced_resources.insert(res.get<std::string>());
  }
  for (const char* want : {"pods", "pods/ephemeralcontainers", "replicationcontrollers",
                           "replicationcontrollers/scale", "deployments", "deployments/scale",
                           "statefulsets", "statefulsets/scale", "replicasets", "replicasets/scale",
                           "daemonsets", "jobs", "cronjobs"}) {
    EXPECT_TRUE(fenced_resources.count(want)) << want;
  }
  EXPECT_EQ(hooks["transforms.dr.kubectl-dr.dev"]["objectSelector"]["matchExpressions"][0]["key"],
            "dr.kubectl-dr.dev/recovery");
  EXPECT_EQ(hooks["transforms.dr.kubectl-dr.dev"]["clientConfig"]["service"]["path"], "/mutate");
  json spent_resources = json::array();
  for (const auto& r : hooks["spent-plans.dr.kubectl-dr.dev"]["rules"]) {
    for (const auto& res : r["resources"]) spent_resources.push_back(res);
  }
  EXPECT_NE(std::find(spent_resources.begin(), spent_resources.end(), "drplans/status"),
            spent_resources.end());
}

TEST_F(ManifestsTest, CertManagerOverlayIssuesCertificateAndInjectsCa) {
  auto docs = Kustomize("manifests/overlays/cert-manager");
  const json* cert = Find(docs, "Certificate", "kubectl-dr-webhook");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ((*cert)["spec"]["secretName"], "kubectl-dr-webhook-tls");
  EXPECT_EQ((*cert)["spec"]["dnsNames"][0], "kubectl-dr-webhook.kubectl-dr-system.svc");
  for (const char* kind : {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}) {
    const json* cfg = Find(docs, kind, "kubectl-dr-webhook");
    ASSERT_NE(cfg, nullptr) << kind;
    EXPECT_EQ((*cfg)["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
              "kubectl-dr-system/kubectl-dr-webhook")
        << kind;
  }
}

}  // namespace
}  // namespace kdr
