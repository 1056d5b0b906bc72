// The capture agent as an operator runs it: `kubectl dr agent install` puts the capture CronJob on
// the primary, a Job made from it runs `kubectl-dr agent capture` in a pod, and the inventory
// lands in the inventory volume's directory. Needs a node that runs the agent's pods: kubesim's.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/fs.h"
#include "dr/agent_job.h"
#include "e2e/harness.h"
#include "inventory/format.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

class AgentE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs a node that runs the agent's pods as processes (kubesim's, or kubesim-controllers "
                      "beside a real pair); clusters given by KDR_E2E_*_KUBECONFIG have none the harness controls";
    }
    if (testutil::RunCommand("command -v kubectl").exit_code != 0) GTEST_SKIP() << "kubectl is not installed";
    auto pair = ClusterPair::Create();
    ASSERT_TRUE(pair.ok()) << pair.status().message();
    pair_ = std::move(*pair);
    inventory_ = dir_.path() + "/inventory-volume";
    std::string source = testutil::ReadData("e2e/agent/source.yaml");
    for (size_t at; (at = source.find("INVENTORY_DIR")) != std::string::npos;) source.replace(at, 13, inventory_);
    CommandResult src = pair_->Kubectl(pair_->source(), "apply -f " + dir_.Write("source.yaml", source));
    ASSERT_EQ(src.exit_code, 0) << src.output;
    CommandResult crds = pair_->Kubectl(pair_->target(), "apply -k " + testutil::SourcePath("manifests/crds"));
    ASSERT_EQ(crds.exit_code, 0) << crds.output;
    CommandResult established = pair_->Kubectl(
        pair_->target(), "wait --for=condition=Established --timeout=60s crd/drplans.dr.kubectl-dr.dev");
    ASSERT_EQ(established.exit_code, 0) << established.output;
    CommandResult plan = pair_->Kubectl(pair_->target(), "apply -f " + testutil::DataPath("e2e/agent/plan.yaml"));
    ASSERT_EQ(plan.exit_code, 0) << plan.output;
  }

  CommandResult Source(const std::string& args) const { return pair_->Kubectl(pair_->source(), args); }

  // A capture Job made by kubectl from the installed CronJob, waited for until Complete
  // (kubesim reads no protobuf body: the Job goes through create -f as JSON).
  void RunCapture(const std::string& name) {
    const std::string kubectl = "kubectl --kubeconfig " + pair_->source().kubeconfig() + " -n kubectl-dr-system ";
    CommandResult job = testutil::RunCommand(kubectl + "create job --from=cronjob/" +
                                             dr::CaptureCronJobName("shop-to-dr") + " " + name +
                                             " --dry-run=client -o json | " + kubectl + "create -f -");
    ASSERT_EQ(job.exit_code, 0) << job.output;
    CommandResult done = Source("-n kubectl-dr-system wait --for=condition=Complete --timeout=120s job/" + name);
    ASSERT_EQ(done.exit_code, 0) << done.output
                                 << Source("-n kubectl-dr-system get pods -l job-name=" + name + " -o yaml").output;
  }

  testutil::TempDir dir_;
  std::unique_ptr<ClusterPair> pair_;
  std::string inventory_;
};

TEST_F(AgentE2eTest, CaptureJobFromTheInstalledCronJobWritesTheInventoryIntoTheVolume) {
  CommandResult install = pair_->Shell("kubectl dr --context " + pair_->target().context() +
                                       " agent install --plan shop-to-dr");
  ASSERT_EQ(install.exit_code, 0) << install.output;
  const std::string cronjob = dr::CaptureCronJobName("shop-to-dr");
  EXPECT_EQ(Source("-n kubectl-dr-system get cronjob " + cronjob + " -o jsonpath={.spec.schedule}").output,
            "*/30 * * * *");
  // The capture may read the shop only: its RoleBinding is in the plan's namespace.
  EXPECT_EQ(Source("-n shop get rolebinding " + dr::AgentServiceAccountName("shop-to-dr") +
                   "-capture -o jsonpath={.subjects[0].name}")
                .output,
            dr::AgentServiceAccountName("shop-to-dr"));

  RunCapture("capture-now");
  if (HasFatalFailure()) return;

  // A real inventory, verified, in the hostPath PV's directory.
  PosixFileSystem fs;
  auto inv = inventory::Inventory::Open(fs, inventory_);
  ASSERT_TRUE(inv.ok()) << inv.status().message() << "\n"
                        << Source("-n kubectl-dr-system get jobs,pods -o yaml").output;
  EXPECT_EQ(inv->index().plan.name, "shop-to-dr");
  std::vector<std::string> names;
  for (const auto& e : inv->index().objects) names.push_back(e.kind + " " + e.namespace_name + "/" + e.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "ConfigMap shop/web-config"), names.end()) << testing::PrintToString(names);
  EXPECT_NE(std::find(names.begin(), names.end(), "Deployment shop/web"), names.end()) << testing::PrintToString(names);

  // The pod's termination message is the agent's result; the plan (on the target) is not
  // reachable from the source's pod, so nothing is recorded there.
  CommandResult message = Source(
      "-n kubectl-dr-system get pods -l job-name=capture-now "
      "-o jsonpath={.items[0].status.containerStatuses[0].state.terminated.message}");
  auto result = dr::ParseAgentResult(message.output);
  ASSERT_TRUE(result.ok()) << message.output;
  EXPECT_TRUE(result->ok) << result->message;
  EXPECT_EQ(result->generation, inv->generation());
  EXPECT_EQ(result->objects, static_cast<int64_t>(inv->index().objects.size()));
}

// Where the plan is on the capture's cluster (the DR CRDs and a copy of the plan on the primary),
// each capture is recorded in its status, so plan describe and check see the recovery point.
TEST_F(AgentE2eTest, CaptureRecordsItsGenerationInThePlanOnItsCluster) {
  CommandResult crds = Source("apply -k " + testutil::SourcePath("manifests/crds"));
  ASSERT_EQ(crds.exit_code, 0) << crds.output;
  ASSERT_EQ(Source("wait --for=condition=Established --timeout=60s crd/drplans.dr.kubectl-dr.dev").exit_code, 0);
  CommandResult plan = Source("apply -f " + testutil::DataPath("e2e/agent/plan.yaml"));
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  CommandResult install = pair_->Shell("kubectl dr --context " + pair_->target().context() +
                                       " agent install --plan shop-to-dr");
  ASSERT_EQ(install.exit_code, 0) << install.output;

  RunCapture("capture-1");
  if (HasFatalFailure()) return;
  RunCapture("capture-2");
  if (HasFatalFailure()) return;
  EXPECT_EQ(Source("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.lastCapture.generation}").output, "2");
  PosixFileSystem fs;
  auto inv = inventory::Inventory::Open(fs, inventory_);
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  EXPECT_EQ(Source("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.lastCapture.objects}").output,
            std::to_string(inv->index().objects.size()));
}

// `kubectl dr inventory capture` with the agent as a Job (the default): a Job made from the
// installed CronJob's template runs the capture on the source; the command waits for it, reports
// the generation, records it in the plan on the target and leaves no Job behind.
TEST_F(AgentE2eTest, InventoryCaptureAsAJobRunsTheCronJobsTemplateAndReportsTheGeneration) {
  const std::string dr = "kubectl dr --context " + pair_->target().context() + " ";
  CommandResult missing = pair_->Shell(dr + "inventory capture --plan shop-to-dr");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("the capture cronjob kubectl-dr-system/" + dr::CaptureCronJobName("shop-to-dr") +
                                " is not on the source cluster (context \"" + pair_->source().context() +
                                "\"): install it: kubectl dr agent install --plan shop-to-dr"),
            std::string::npos)
      << missing.output;
  CommandResult both = pair_->Shell(dr + "inventory capture --plan shop-to-dr --inventory-path " + inventory_);
  EXPECT_EQ(both.exit_code, 2) << both.output;
  EXPECT_NE(both.output.find("--inventory-path is where --agent local writes"), std::string::npos) << both.output;

  CommandResult install = pair_->Shell(dr + "agent install --plan shop-to-dr");
  ASSERT_EQ(install.exit_code, 0) << install.output;
  // Install's hint is this very command.
  EXPECT_NE(install.output.find("run one now: " + dr + "inventory capture --plan shop-to-dr\n"), std::string::npos)
      << install.output;
  CommandResult capture = pair_->Shell("sh -c '" + dr + "inventory capture --plan shop-to-dr -o json 2>/dev/null'");
  ASSERT_EQ(capture.exit_code, 0) << capture.output << Source("-n kubectl-dr-system get jobs,pods -o yaml").output;
  json report = json::parse(capture.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << capture.output;
  PosixFileSystem fs;
  auto inv = inventory::Inventory::Open(fs, inventory_);
  ASSERT_TRUE(inv.ok()) << inv.status().message();
  EXPECT_EQ(report["generation"], inv->generation());
  EXPECT_EQ(report["objects"], static_cast<int64_t>(inv->index().objects.size()));
  EXPECT_EQ(report["job"].get<std::string>().rfind("kubectl-dr-system/" + dr::CaptureCronJobName("shop-to-dr") + "-", 0),
            0u)
      << report.dump(2);
  EXPECT_EQ(pair_->Kubectl(pair_->target(), "-n kubectl-dr-system get drplan shop-to-dr -o "
                                            "jsonpath={.status.lastCapture.generation}")
                .output,
            std::to_string(inv->generation()));
  EXPECT_EQ(Source("-n kubectl-dr-system get jobs -o name").output, "") << "the Job goes once its result is read";

  // A second capture writes the next generation, said in the table too.
  CommandResult again = pair_->Shell(dr + "inventory capture --plan shop-to-dr");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("inventory generation " + std::to_string(inv->generation() + 1) + " captured by job "),
            std::string::npos)
      << again.output;
}

}  // namespace
}  // namespace kdr::e2e
