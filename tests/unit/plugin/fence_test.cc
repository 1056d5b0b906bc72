// kubectl dr fence, in-process against two kubesim clusters: the target (context dr-west) holds
// the plans, the source (context prod-east) the claims to fence.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/yaml.h"
#include "cli_fixture.h"
#include "install/manifests.h"
#include "kube/client.h"
#include "kube_context.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using plugin::testing::CliRun;

const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kPlans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
constexpr char kFenced[] = "dr.kubectl-dr.dev/fenced";
constexpr char kFailedOver[] = "dr.kubectl-dr.dev/failed-over";

class FenceCliTest : public plugin::testing::PluginOnKubesimTest {
 protected:
  std::string context_name() const override { return "dr-west"; }

  void SetUp() override {
    PluginOnKubesimTest::SetUp();
    if (HasFatalFailure()) return;
    auto source = kubesim::Server::Start({});
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    source_ = std::move(source).value();
    const std::string source_kc = dir_.path() + "/source-config";
    ASSERT_TRUE(source_->WriteKubeconfig(source_kc, "prod-east").ok());
    // One kubeconfig with both contexts, the target current, as an operator's would be.
    auto target_text = fs_.ReadFile(kubeconfig_);
    auto other_text = fs_.ReadFile(source_kc);
    ASSERT_TRUE(target_text.ok() && other_text.ok());
    auto target = YamlToJson(*target_text, "target kubeconfig");
    auto other = YamlToJson(*other_text, "source kubeconfig");
    ASSERT_TRUE(target.ok() && other.ok());
    for (const char* list : {"clusters", "users", "contexts"}) {
      for (const json& item : (*other)[list]) (*target)[list].push_back(item);
    }
    ASSERT_TRUE(fs_.WriteFile(kubeconfig_, target->dump(), 0600).ok());
    plugin::GlobalOptions g;
    g.kubeconfig = source_kc;
    auto client = plugin::ClientFromGlobals(g, env());
    ASSERT_TRUE(client.ok()) << client.status().message();
    source_client_ = std::move(client).value();

    // The target: the product's CRDs and the plans.
    auto crds = install::BuildKustomization(install::EmbeddedManifests(), "crds");
    ASSERT_TRUE(crds.ok()) << crds.status().message();
    for (const json& crd : *crds) ASSERT_TRUE(client_->Create(kCrds, "", crd).ok());
    Namespace(*client_, "kubectl-dr-system");
    Plan("plan/spent-plan.yaml");
    Plan("plan/ready-plan.yaml");
  }

  void Namespace(kube::Client& c, const std::string& name, json labels = json::object()) {
    auto r = c.Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                        {"metadata", {{"name", name}, {"labels", labels}}}});
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  void Claim(const std::string& ns, const std::string& name, json labels = json::object()) {
    json pvc = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
                {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
    auto r = source_client_->Create(kClaims, ns, pvc);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  void Plan(const std::string& fixture) {
    auto obj = YamlToJson(testutil::ReadData(fixture), fixture);
    ASSERT_TRUE(obj.ok()) << obj.status().message();
    json status = obj->value("status", json());
    obj->erase("status");
    auto made = client_->Create(kPlans, "kubectl-dr-system", *obj);
    ASSERT_TRUE(made.ok()) << made.status().message();
    (*made)["status"] = status;
    ASSERT_TRUE(client_->UpdateStatus(kPlans, "kubectl-dr-system", *made).ok());
  }

  std::string SourceLabel(const kube::Gvr& gvr, const std::string& ns, const std::string& name,
                          const std::string& key) {
    auto obj = source_client_->Get(gvr, ns, name);
    EXPECT_TRUE(obj.ok()) << obj.status().message();
    if (!obj.ok()) return "";
    return (*obj)["metadata"].value("labels", json::object()).value(key, "<none>");
  }

  long long SourceVersion(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    auto obj = source_client_->Get(gvr, ns, name);
    return obj.ok() ? std::stoll((*obj)["metadata"].value("resourceVersion", "0")) : -1;
  }

  std::unique_ptr<kubesim::Server> source_;
  std::unique_ptr<kube::Client> source_client_;
};

TEST_F(FenceCliTest, FencesTheNamespaceBeforeTheInventoryClaimAndAgainChangesNothing) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory fenced\n");
  EXPECT_EQ(r.err, "plan \"shop-to-dr\": 2 object(s) fenced on the source cluster (context \"prod-east\")\n");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "true");
  EXPECT_EQ(SourceLabel(kClaims, "kubectl-dr-system", "shop-inventory", kFailedOver), "shop-to-dr");
  // The namespace was written first: a crash in between leaves no failed-over claim unchecked.
  EXPECT_LT(SourceVersion(kNamespaces, "", "kubectl-dr-system"),
            SourceVersion(kClaims, "kubectl-dr-system", "shop-inventory"));

  const long long before = SourceVersion(kClaims, "kubectl-dr-system", "shop-inventory");
  CliRun again = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out,
            "namespace kubectl-dr-system already fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory already fenced\n");
  EXPECT_EQ(SourceVersion(kClaims, "kubectl-dr-system", "shop-inventory"), before);
}

TEST_F(FenceCliTest, RepairsAFailedOverClaimLeftInAnUnfencedNamespace) {
  Namespace(*source_client_, "kubectl-dr-system", {{kFenced, "true"}});
  Claim("kubectl-dr-system", "shop-inventory", {{kFailedOver, "shop-to-dr"}});
  Namespace(*source_client_, "shop");
  Claim("shop", "data", {{kFailedOver, "shop-to-dr"}});
  Claim("shop", "cache");  // not failed over: left alone
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system already fenced\n"
            "namespace shop fenced\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory already fenced\n"
            "persistentvolumeclaim shop/data already fenced\n");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "shop", kFenced), "true");
  EXPECT_EQ(SourceLabel(kClaims, "shop", "cache", kFailedOver), "<none>");
}

TEST_F(FenceCliTest, DryRunChangesNothing) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  CliRun r = Run({"fence", "--plan", "shop-to-dr", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "namespace kubectl-dr-system fenced (server dry run)\n"
            "persistentvolumeclaim kubectl-dr-system/shop-inventory fenced (server dry run)\n");
  EXPECT_NE(r.err.find("nothing was changed (--dry-run)"), std::string::npos) << r.err;
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
  EXPECT_EQ(SourceLabel(kClaims, "kubectl-dr-system", "shop-inventory", kFailedOver), "<none>");
}

TEST_F(FenceCliTest, BadRequestsChangeNothing) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory");
  Namespace(*source_client_, "orders");
  Claim("orders", "orders-inventory");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    const char* want_substr;
  } cases[] = {
      {"plan not spent", {"fence", "--plan", "orders-to-dr"}, 1,
       "plan \"orders-to-dr\" has not failed over (phase Ready): fencing its source now would stop the "
       "workloads that run there"},
      {"unknown plan", {"fence", "--plan", "shop-to-d"}, 1,
       "drplan \"shop-to-d\" not found in namespace kubectl-dr-system of the current context; plans live "
       "on the target cluster: choose it with --context; did you mean \"shop-to-dr\"?"},
      {"invalid plan name", {"fence", "--plan", "Shop"}, 2, "--plan"},
      {"no plan", {"fence"}, 2, "--plan is required"},
      {"the source as the current context", {"--context", "prod-east", "fence", "--plan", "shop-to-dr"}, 1,
       "does not serve drplans.dr.kubectl-dr.dev: install kubectl-dr there first (kubectl dr install), or "
       "choose the target cluster with --context"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, c.want_code) << r.out << r.err;
    EXPECT_NE(r.err.find(c.want_substr), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
  EXPECT_EQ(SourceLabel(kNamespaces, "", "orders", kFenced), "<none>");
}

TEST_F(FenceCliTest, AClaimFencedForAnotherPlanStopsTheFenceBeforeAnyWrite) {
  Namespace(*source_client_, "kubectl-dr-system");
  Claim("kubectl-dr-system", "shop-inventory", {{kFailedOver, "other-plan"}});
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("persistentvolumeclaim kubectl-dr-system/shop-inventory is already fenced for plan "
                       "\"other-plan\", not \"shop-to-dr\""),
            std::string::npos) << r.err;
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
}

TEST_F(FenceCliTest, AMissingInventoryClaimIsNamed) {
  Namespace(*source_client_, "kubectl-dr-system");
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("fencing persistentvolumeclaim kubectl-dr-system/shop-inventory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("on the source cluster (context \"prod-east\")"), std::string::npos) << r.err;
  EXPECT_EQ(SourceLabel(kNamespaces, "", "kubectl-dr-system", kFenced), "<none>");
}

TEST_F(FenceCliTest, AnUnreachableSourceIsNamedWithWhatToDo) {
  source_.reset();  // the old primary is still down
  CliRun r = Run({"fence", "--plan", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("the source cluster (context \"prod-east\") is unreachable; run kubectl dr fence again "
                       "once it is back"),
            std::string::npos) << r.err;
}

}  // namespace
}  // namespace kdr
