// Real kubectl 1.32 (/usr/bin/kubectl, default flags) against an in-process kubesim, through a
// kubeconfig in a temp dir, the way users and the end-to-end tests drive a cluster.

#include "test_support.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using testing::CommandResult;
using testing::Process;
using json = nlohmann::json;

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Server::Start({});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    ASSERT_TRUE(server_->WriteKubeconfig(dir_.path() + "/kubeconfig", "sim").ok());
  }

  std::string Prefix() const {
    // HOME in the temp dir keeps kubectl's discovery cache per test.
    return "HOME=" + dir_.path() + " KUBECONFIG=" + dir_.path() + "/kubeconfig kubectl ";
  }
  CommandResult Kubectl(const std::string& args) { return testing::Run(Prefix() + args); }
  CommandResult KubectlOk(const std::string& args) {
    CommandResult r = Kubectl(args);
    EXPECT_EQ(r.exit_code, 0) << "kubectl " << args << "\n" << r.output;
    return r;
  }
  std::string Data(const std::string& name) { return testutil::DataPath("kubesim/" + name); }

  testutil::TempDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(KubectlTest, ApplyCreatesThenPatchesWithStrategicMerge) {
  auto first = KubectlOk("apply -f " + Data("web.yaml"));
  EXPECT_NE(first.output.find("namespace/shop created"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("deployment.apps/web created"), std::string::npos) << first.output;
  auto again = KubectlOk("apply -f " + Data("web.yaml"));
  EXPECT_NE(again.output.find("deployment.apps/web unchanged"), std::string::npos) << again.output;

  std::string changed = testutil::ReadData("kubesim/web.yaml");
  changed.replace(changed.find("value: blue"), 11, "value: green");
  std::string path = dir_.Write("web.yaml", changed);
  auto third = KubectlOk("apply -f " + path);
  EXPECT_NE(third.output.find("deployment.apps/web configured"), std::string::npos) << third.output;
  auto env = KubectlOk("get deploy web -n shop -o jsonpath={.spec.template.spec.containers[0].env[0].value},{.metadata.generation}");
  EXPECT_EQ(env.output, "green,2");
}

TEST_F(KubectlTest, ImperativeCreateCommands) {
  KubectlOk("create namespace shop");
  KubectlOk("create configmap settings -n shop --from-literal=color=blue");
  KubectlOk("create secret generic creds -n shop --from-literal=password=s3cret");
  KubectlOk("create serviceaccount bot -n shop");
  auto token = KubectlOk("create token bot -n shop");
  EXPECT_GT(token.output.size(), 20u);
  auto secret = KubectlOk("get secret creds -n shop -o jsonpath={.data.password}");
  EXPECT_EQ(secret.output, "czNjcmV0");
  auto dup = Kubectl("create namespace shop");
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.output.find("Error from server (AlreadyExists): namespaces \"shop\" already exists"),
            std::string::npos) << dup.output;
}

TEST_F(KubectlTest, GetPrintsTablesYamlAndJson) {
  KubectlOk("apply -f " + Data("web.yaml"));
  auto table = KubectlOk("get deploy -n shop");
  EXPECT_NE(table.output.find("NAME   READY   UP-TO-DATE   AVAILABLE   AGE"), std::string::npos) << table.output;
  auto wide = KubectlOk("get deploy -n shop -o wide");
  EXPECT_NE(wide.output.find("nginx:1.27"), std::string::npos) << wide.output;
  EXPECT_NE(wide.output.find("app=web"), std::string::npos) << wide.output;
  auto yaml = KubectlOk("get cm settings -n shop -o yaml");
  EXPECT_NE(yaml.output.find("color: blue"), std::string::npos) << yaml.output;
  auto js = KubectlOk("get cm settings -n shop -o json");
  json parsed = json::parse(js.output, nullptr, false);
  EXPECT_EQ(parsed["metadata"]["name"], "settings") << js.output;
  auto all_ns = KubectlOk("get cm -A");
  EXPECT_NE(all_ns.output.find("shop"), std::string::npos) << all_ns.output;
  auto missing = Kubectl("get cm nope -n shop");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("Error from server (NotFound): configmaps \"nope\" not found"), std::string::npos)
      << missing.output;
}

TEST_F(KubectlTest, PatchLabelAnnotateScaleAndDelete) {
  KubectlOk("apply -f " + Data("web.yaml"));
  KubectlOk("patch cm settings -n shop --type merge -p {\\\"data\\\":{\\\"size\\\":\\\"xl\\\"}}");
  KubectlOk("patch cm settings -n shop --type json -p '[{\"op\":\"remove\",\"path\":\"/data/color\"}]'");
  KubectlOk("patch deploy web -n shop -p '{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"sidecar\",\"image\":\"busybox\"}]}}}}'");
  KubectlOk("label cm settings -n shop tier=gold");
  KubectlOk("annotate cm settings -n shop note=hello");
  KubectlOk("scale deploy web -n shop --replicas=5");
  auto cm = json::parse(KubectlOk("get cm settings -n shop -o json").output, nullptr, false);
  EXPECT_EQ(cm["data"], json({{"size", "xl"}}));
  EXPECT_EQ(cm["metadata"]["labels"]["tier"], "gold");
  EXPECT_EQ(cm["metadata"]["annotations"]["note"], "hello");
  auto dep = json::parse(KubectlOk("get deploy web -n shop -o json").output, nullptr, false);
  EXPECT_EQ(dep["spec"]["replicas"], 5);
  EXPECT_EQ(dep["spec"]["template"]["spec"]["containers"].size(), 2u);
  auto selected = KubectlOk("get cm -n shop -l tier=gold -o name");
  EXPECT_EQ(selected.output, "configmap/settings\n");
  KubectlOk("delete deploy web -n shop");
  auto gone = Kubectl("get deploy web -n shop");
  EXPECT_NE(gone.output.find("NotFound"), std::string::npos) << gone.output;
  KubectlOk("delete namespace shop");
  EXPECT_NE(Kubectl("get ns shop").output.find("NotFound"), std::string::npos);
}

TEST_F(KubectlTest, WaitForCondition) {
  KubectlOk("apply -f " + Data("web.yaml"));
  Client c(*server_, server_->admin_token());
  auto st = c.Patch("/apis/apps/v1/namespaces/shop/deployments/web/status",
                    R"({"status":{"conditions":[{"type":"Available","status":"True"}]}})",
                    "application/merge-patch+json");
  ASSERT_EQ(st.status, 200) << st.raw;
  auto r = KubectlOk("wait --for=condition=Available deploy/web -n shop --timeout=20s");
  EXPECT_NE(r.output.find("condition met"), std::string::npos) << r.output;
}

TEST_F(KubectlTest, WaitSeesConditionSetLater) {
  KubectlOk("apply -f " + Data("web.yaml"));
  Process wait(Prefix() + "wait --for=condition=Available deploy/web -n shop --timeout=30s -v=6");
  // The informer lists first, then watches from the list's resourceVersion: once the watch
  // request is logged, a change made now reaches it.
  ASSERT_TRUE(wait.ReadUntil("watch=true")) << wait.output();
  Client c(*server_, server_->admin_token());
  c.Patch("/apis/apps/v1/namespaces/shop/deployments/web/status",
          R"({"status":{"conditions":[{"type":"Available","status":"True"}]}})", "application/merge-patch+json");
  EXPECT_TRUE(wait.ReadUntil("condition met")) << wait.output();
}

TEST_F(KubectlTest, GetWatchPrintsChanges) {
  KubectlOk("create configmap first");
  Process watch(Prefix() + "get configmaps -w");
  ASSERT_TRUE(watch.ReadUntil("first")) << watch.output();
  Client c(*server_, server_->admin_token());
  ASSERT_EQ(c.Post("/api/v1/namespaces/default/configmaps", testing::ConfigMap("second")).status, 201);
  EXPECT_TRUE(watch.ReadUntil("second")) << watch.output();
}

TEST_F(KubectlTest, CustomResourcesThroughACrd) {
  KubectlOk("apply -f " + Data("widgets-crd.yaml"));
  KubectlOk("wait --for=condition=Established crd/widgets.example.com --timeout=20s");
  KubectlOk("apply -f " + Data("widget.yaml"));
  auto table = KubectlOk("get widgets");
  EXPECT_NE(table.output.find("NAME    SIZE   PHASE   AGE"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("gizmo   3"), std::string::npos) << table.output;
  KubectlOk("get wd gizmo -o yaml");
  KubectlOk("patch widget gizmo --type merge -p '{\"spec\":{\"size\":4}}'");
  KubectlOk("scale widget gizmo --replicas=3");
  auto w = json::parse(KubectlOk("get widget gizmo -o json").output, nullptr, false);
  EXPECT_EQ(w["spec"]["size"], 4);
  EXPECT_EQ(w["spec"]["replicas"], 3);
  // Client-side apply of a custom resource uses a JSON merge patch.
  std::string changed = testutil::ReadData("kubesim/widget.yaml");
  changed.replace(changed.find("size: 3"), 7, "size: 9");
  KubectlOk("apply -f " + dir_.Write("widget.yaml", changed));
  EXPECT_EQ(KubectlOk("get widget gizmo -o jsonpath={.spec.size}").output, "9");
  auto resources = KubectlOk("api-resources");
  EXPECT_NE(resources.output.find("widgets"), std::string::npos);
  EXPECT_NE(resources.output.find("wd"), std::string::npos);
  KubectlOk("delete crd widgets.example.com");
}

TEST_F(KubectlTest, StrictValidationRejectsUnknownFieldsOfCustomResources) {
  KubectlOk("apply -k " + testutil::SourcePath("manifests/crds"));
  std::string plan =
      "apiVersion: dr.kubectl-dr.dev/v1alpha1\nkind: DRPlan\nmetadata: {name: p, namespace: default}\n"
      "spec:\n  sourceContext: a\n  targetContext: b\n  namespaces: [shop]\n  bogusField: 1\n"
      "  inventory: {pvcNamespace: dr, pvcName: inv}\n  storage: {driver: none}\n";
  auto r = Kubectl("apply -f " + dir_.Write("plan.yaml", plan));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown field \"spec.bogusField\""), std::string::npos) << r.output;
  std::string bad_driver = plan;
  bad_driver.replace(bad_driver.find("  bogusField: 1\n"), 16, "");
  bad_driver.replace(bad_driver.find("driver: none"), 12, "driver: tape");
  auto invalid = Kubectl("apply -f " + dir_.Write("bad.yaml", bad_driver));
  EXPECT_NE(invalid.output.find("The DRPlan \"p\" is invalid: spec.storage.driver: Unsupported value: \"tape\""),
            std::string::npos) << invalid.output;
}

TEST_F(KubectlTest, ApiResourcesListsBuiltins) {
  auto r = KubectlOk("api-resources");
  for (const char* want : {"deployments", "statefulsets", "customresourcedefinitions", "leases",
                           "validatingwebhookconfigurations", "storageclasses", "cronjobs", "ingresses"}) {
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
  }
}

TEST_F(KubectlTest, ServerSideApply) {
  auto r = KubectlOk("apply --server-side -f " + Data("web.yaml"));
  EXPECT_NE(r.output.find("serverside-applied"), std::string::npos) << r.output;
  KubectlOk("apply --server-side -f " + Data("web.yaml"));
  auto managers = KubectlOk("get cm settings -n shop -o jsonpath={.metadata.managedFields[*].manager} --show-managed-fields");
  EXPECT_NE(managers.output.find("kubectl"), std::string::npos) << managers.output;
}

}  // namespace
}  // namespace kdr::kubesim

namespace kdr::kubesim {
namespace {

TEST(KubectlWithControllersTest, DeploymentBecomesAvailable) {
  Server::Options o;
  o.controllers = ControllerOptions{};
  o.controllers->resync_interval = std::chrono::milliseconds(200);
  auto s = Server::Start(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  testutil::TempDir dir;
  ASSERT_TRUE((*s)->WriteKubeconfig(dir.path() + "/kc", "sim").ok());
  const std::string kubectl = "HOME=" + dir.path() + " KUBECONFIG=" + dir.path() + "/kc kubectl ";
  auto apply = testing::Run(kubectl + "apply -f " + testutil::DataPath("kubesim/web.yaml"));
  ASSERT_EQ(apply.exit_code, 0) << apply.output;
  auto wait = testing::Run(kubectl + "wait --for=condition=Available deploy/web -n shop --timeout=60s");
  EXPECT_EQ(wait.exit_code, 0) << wait.output;
  auto rollout = testing::Run(kubectl + "rollout status deploy/web -n shop --timeout=60s");
  EXPECT_NE(rollout.output.find("successfully rolled out"), std::string::npos) << rollout.output;
}

}  // namespace
}  // namespace kdr::kubesim
