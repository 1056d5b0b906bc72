// A failover with the agent as a Job on the DR site (`kubectl dr failover NAME`, --agent job being
// the default), as an operator runs it: the shop captured into its inventory volume, the agent
// installed (`kubectl dr agent install`), then the failover, whose StartAgent step runs
// `kubectl-dr agent restore --describe` in a Job mounting the restored inventory claim and whose
// RestoreObjects step runs the restore in a second Job. kubesim's node runs those pods as real
// kubectl-dr processes; the real pair has no kubelet, so these tests skip there.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>

#include "base/strings.h"
#include "dr/agent_job.h"
#include "e2e/harness.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

class AgentFailoverE2eTest : public WebhookE2eTest {
 protected:
  // Whether the pair's pods must run (kubesim's node runs the agent's pods as processes).
  virtual bool NeedsPodsToRun() const { return true; }

  void SetUp() override {
    if (NeedsPodsToRun() && !ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs a node that runs the agent's pods as processes (kubesim's, or kubesim-controllers "
                      "beside a real pair); clusters given by KDR_E2E_*_KUBECONFIG have none the harness controls";
    }
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    inventory_ = dir_.path() + "/inventory-volume";
    std::string source = testutil::ReadData("e2e/agent/failover-source.yaml");
    for (size_t at; (at = source.find("INVENTORY_DIR")) != std::string::npos;) source.replace(at, 13, inventory_);
    CommandResult shop = Source("apply -f " + dir_.Write("source.yaml", source));
    ASSERT_EQ(shop.exit_code, 0) << shop.output;
    CommandResult plan = Kubectl("apply -f " + testutil::DataPath("e2e/agent/plan.yaml"));
    ASSERT_EQ(plan.exit_code, 0) << plan.output;
    // The inventory in the claim's directory, as the capture CronJob writes it (agent_test.cc runs
    // that Job for real).
    CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_);
    ASSERT_EQ(capture.exit_code, 0) << capture.output;
    CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr --resource-modifiers " +
                                Data("modifiers.yaml"));
    ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
    WaitForCache("drrecoveries", 1);
    WaitForCache("configmaps", 1);
  }

  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  CommandResult Source(const std::string& args) const { return pair_->Kubectl(pair_->source(), args); }
  CommandResult AgentInstall() const { return Dr("agent install --plan shop-to-dr"); }

  // The journal as "Step=State" pairs, and one step's entry.
  json Recovery() const {
    CommandResult r = Kubectl("-n kubectl-dr-system get drr shop-failover -o json");
    json rec = json::parse(r.output, nullptr, false);
    EXPECT_TRUE(rec.is_object()) << r.output;
    return rec.is_object() ? rec : json::object();
  }
  static json StepOf(const json& rec, const std::string& name) {
    for (const json& st : rec.value("/status/steps"_json_pointer, json::array())) {
      if (st.value("name", "") == name) return st;
    }
    return json::object();
  }
  // The agent's result in the termination message of the pod of a Job.
  dr::AgentResult JobResult(const std::string& job) const {
    CommandResult m = Kubectl("-n kubectl-dr-system get pods -l job-name=" + job +
                              " -o jsonpath={.items[0].status.containerStatuses[0].state.terminated.message}");
    auto r = dr::ParseAgentResult(m.output);
    EXPECT_TRUE(r.ok()) << job << ": " << m.output;
    return r.ok() ? *r : dr::AgentResult{};
  }

  std::string inventory_;
};

TEST_F(AgentFailoverE2eTest, TheAgentJobsOnTheDrSiteReadTheInventoryAndRestoreTheShopTransformed) {
  CommandResult install = AgentInstall();
  ASSERT_EQ(install.exit_code, 0) << install.output;
  EXPECT_NE(install.output.find("drplan shop-to-dr records the inventory claim's volume (shop-inventory-pv)"),
            std::string::npos)
      << install.output;

  CommandResult failover = Dr("failover shop-failover --yes");
  ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log()
                                   << Kubectl("-n kubectl-dr-system get jobs,pods -o yaml").output;
  EXPECT_NE(failover.output.find("recovery shop-failover (Failover of plan shop-to-dr): Succeeded"), std::string::npos)
      << failover.output;
  EXPECT_NE(failover.output.find("RPO: inventory generation 1 captured"), std::string::npos) << failover.output;

  // The journal: the agent started (its first Job read the inventory), then restored.
  json rec = Recovery();
  EXPECT_EQ(rec["status"]["phase"], "Succeeded");
  EXPECT_EQ(StepOf(rec, "StartAgent")["state"], "Succeeded") << rec.dump(2);
  EXPECT_NE(StepOf(rec, "StartAgent").value("message", "").find(
                "agent job kubectl-dr-system/kubectl-dr-describe-shop-failover: inventory generation 1 captured"),
            std::string::npos)
      << rec.dump(2);
  EXPECT_NE(StepOf(rec, "RestoreObjects").value("message", "").find(
                "failed by agent job kubectl-dr-system/kubectl-dr-restore-shop-failover"),
            std::string::npos)
      << rec.dump(2);
  // What the agent read is recorded: a resumed run needs neither the inventory nor the source.
  EXPECT_EQ(rec["status"]["inventory"]["generation"], 1);
  ASSERT_EQ(rec["status"]["inventory"]["volumes"].size(), 1u) << rec.dump(2);
  EXPECT_EQ(rec["status"]["inventory"]["volumes"][0]["pvcName"], "shop-inventory");
  EXPECT_FALSE(rec["status"].contains("progress")) << "the agent's progress is not kept once the step ends";
  EXPECT_EQ(rec["status"]["restored"]["failed"], 0);

  // Each Job, once its result is in the journal, is deleted with its pod: nothing of the agent is
  // left behind.
  EXPECT_GT(rec["status"]["restored"]["created"].get<int>(), 0) << rec.dump(2);
  EXPECT_NE(failover.output.find("restored: " + std::to_string(rec["status"]["restored"]["created"].get<int>())),
            std::string::npos)
      << failover.output;
  for (const std::string& job : {dr::DescribeJobName("shop-failover"), dr::RestoreJobName("shop-failover")}) {
    CommandResult gone = Kubectl("-n kubectl-dr-system get job " + job);
    EXPECT_NE(gone.exit_code, 0) << job << ": " << gone.output;
    EXPECT_NE(gone.output.find("NotFound"), std::string::npos) << gone.output;
  }
  bool pods_gone = false;
  for (int i = 0; i < 100 && !pods_gone; ++i) {
    pods_gone = Kubectl("-n kubectl-dr-system get pods -l dr.kubectl-dr.dev/agent-for=shop-failover -o name")
                    .output.empty();
    if (!pods_gone) usleep(100 * 1000);
  }
  EXPECT_TRUE(pods_gone) << Kubectl("-n kubectl-dr-system get pods -o wide").output;

  // The DR site runs the shop, labelled and transformed as the local agent does it
  // (failover_test.cc), from the inventory on the restored claim.
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get pvc shop-inventory -o jsonpath={.spec.volumeName}/{.status.phase}").output,
            "shop-inventory-pv/Bound");
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
  EXPECT_EQ(Kubectl("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  EXPECT_EQ(Kubectl("-n shop get deployment web -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/recovery}'").output,
            "shop-failover");
  EXPECT_EQ(Kubectl("-n shop get ingress web -o jsonpath={.spec.ingressClassName}").output, "traefik");
  EXPECT_EQ(Kubectl("-n shop get ingress web -o "
                    "'jsonpath={.metadata.annotations.nginx\\.ingress\\.kubernetes\\.io/rewrite-target}'").output,
            "");

  // The old primary: quiesced, its inventory claim fenced, the plan spent.
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "0");
  EXPECT_EQ(Source("get ns kubectl-dr-system -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output,
            "true");
  EXPECT_EQ(Source("-n kubectl-dr-system get pvc shop-inventory -o "
                   "'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'").output,
            "shop-to-dr");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}/{.status.spentBy}").output,
            "Spent/shop-failover");
  // Spending the plan kept what agent install recorded in its status.
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o "
                    "jsonpath={.status.inventoryVolume.volume.pvName}").output,
            "shop-inventory-pv");

  // On the spent plan, agent install puts back the restore agent (a recovery may still need it to
  // finish) and nothing on the source.
  ASSERT_EQ(Kubectl("-n kubectl-dr-system delete serviceaccount " + dr::AgentServiceAccountName("shop-to-dr")).exit_code,
            0);
  ASSERT_EQ(Source("-n kubectl-dr-system delete cronjob " + dr::CaptureCronJobName("shop-to-dr")).exit_code, 0);
  CommandResult again = AgentInstall();
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("the restore agent is installed on the target for it, the capture is not"),
            std::string::npos)
      << again.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get serviceaccount " + dr::AgentServiceAccountName("shop-to-dr")).exit_code, 0);
  EXPECT_NE(Source("-n kubectl-dr-system get cronjob " + dr::CaptureCronJobName("shop-to-dr")).exit_code, 0);
}

// A drill with its agent as Jobs (the default). Driver none's drill copies hold no data, so the
// Jobs mount a claim of the drill's own on the inventory's volume as captured, read-only (reading
// it in place); the shop is restored into the mapped namespace, the source and the plan untouched,
// and no claim or PV of the plan's inventory is made (a failover's). drill cleanup removes the
// drill's claim and PV and leaves the inventory's files.
TEST_F(AgentFailoverE2eTest, ADrillRunsItsAgentAsJobsOnAClaimOfItsOwnAndCleanupRemovesIt) {
  ASSERT_EQ(AgentInstall().exit_code, 0);
  CommandResult recovery =
      Dr("recovery create shop-drill --plan shop-to-dr --action Test --namespace-mapping shop=shop-drill");
  ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
  WaitForCache("drrecoveries", 2);

  CommandResult drill = Dr("drill shop-drill --yes --no-wait");
  ASSERT_EQ(drill.exit_code, 0) << drill.output << Kubectl("-n kubectl-dr-system get jobs,pods,pvc -o yaml").output;
  EXPECT_NE(drill.output.find("recovery shop-drill (Test of plan shop-to-dr): Succeeded"), std::string::npos)
      << drill.output;
  json rec = json::parse(Kubectl("-n kubectl-dr-system get drr shop-drill -o json").output, nullptr, false);
  ASSERT_TRUE(rec.is_object());
  EXPECT_NE(StepOf(rec, "RestoreInventoryVolume").value("message", "").find(
                "persistentvolumeclaim kubectl-dr-system/kubectl-dr-inventory-shop-drill bound to the inventory's "
                "volume as captured, read in place"),
            std::string::npos)
      << rec.dump(2);
  EXPECT_NE(StepOf(rec, "StartAgent").value("message", "").find(
                "agent job kubectl-dr-system/" + dr::DescribeJobName("shop-drill") + ": inventory generation 1"),
            std::string::npos)
      << rec.dump(2);
  EXPECT_EQ(rec["status"]["restored"]["failed"], 0) << rec.dump(2);
  EXPECT_EQ(Kubectl("-n shop-drill get configmap web-config -o jsonpath={.data.greeting}").output,
            "hello from the primary");
  EXPECT_EQ(Kubectl("get pv kubectl-dr-inventory-shop-drill -o "
                    "jsonpath={.spec.hostPath.path}/{.spec.persistentVolumeReclaimPolicy}").output,
            inventory_ + "/Retain");
  EXPECT_NE(Kubectl("-n kubectl-dr-system get pvc shop-inventory").exit_code, 0) << "the plan's inventory claim";
  EXPECT_NE(Kubectl("get pv shop-inventory-pv").exit_code, 0) << "the plan's inventory PV";
  EXPECT_NE(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}").output, "Spent");
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");

  CommandResult cleanup = Dr("drill cleanup shop-drill --yes");
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.output;
  EXPECT_NE(Kubectl("-n kubectl-dr-system get pvc kubectl-dr-inventory-shop-drill").exit_code, 0);
  EXPECT_NE(Kubectl("get pv kubectl-dr-inventory-shop-drill").exit_code, 0);
  EXPECT_NE(Kubectl("get namespace shop-drill").exit_code, 0);
  CommandResult show = Dr("inventory show --inventory-path " + inventory_);
  EXPECT_EQ(show.exit_code, 0) << "the inventory's files are kept: " << show.output;
}

// Without the agent's identity on the DR site, the preflight stops the failover before anything
// changes (past the plan's spending, agent install would install only half of what it does),
// saying what to run; the rerun then goes through.
TEST_F(AgentFailoverE2eTest, WithoutTheAgentInstalledThePreflightStopsSayingWhatToRun) {
  CommandResult failover = Dr("failover shop-failover --yes");
  EXPECT_EQ(failover.exit_code, 1) << failover.output;
  EXPECT_NE(failover.output.find("the agent's service account kubectl-dr-system/" +
                                 dr::AgentServiceAccountName("shop-to-dr") + " is not on the target (context target): "
                                 "install the restore agent there: kubectl dr --context target agent install --plan "
                                 "shop-to-dr"),
            std::string::npos)
      << failover.output;
  json rec = Recovery();
  EXPECT_EQ(StepOf(rec, "Preflight")["state"], "Failed") << rec.dump(2);
  EXPECT_NE(StepOf(rec, "Preflight").value("message", "").find("agent install --plan shop-to-dr"), std::string::npos);
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}").output, "");
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get jobs -o name").output, "") << "no Job without the agent's identity";

  ASSERT_EQ(AgentInstall().exit_code, 0);
  CommandResult resumed = Dr("failover shop-failover --yes");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  rec = Recovery();
  EXPECT_EQ(rec["status"]["phase"], "Succeeded");
  EXPECT_EQ(StepOf(rec, "Preflight")["attempts"], 2) << rec.dump(2);
  EXPECT_EQ(StepOf(rec, "StartAgent")["attempts"], 1) << rec.dump(2);
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
}

// The agent finds something on the DR site that the restore would overwrite: its first Job fails
// with the agent's own words, before any object (or the workloads' storage) moves; once the
// conflict is gone, the rerun replaces the failed Job and goes on.
TEST_F(AgentFailoverE2eTest, AFailedAgentFailsItsStepWithTheAgentsMessage) {
  ASSERT_EQ(AgentInstall().exit_code, 0);
  ASSERT_EQ(Kubectl("create namespace shop").exit_code, 0);
  ASSERT_EQ(Kubectl("-n shop create configmap web-config --from-literal=greeting=local").exit_code, 0);

  CommandResult failover = Dr("failover shop-failover --yes");
  EXPECT_EQ(failover.exit_code, 1) << failover.output;
  EXPECT_NE(failover.output.find("the agent (job kubectl-dr-system/" + dr::DescribeJobName("shop-failover") +
                                 ") failed: "),
            std::string::npos)
      << failover.output;
  EXPECT_NE(failover.output.find("ConfigMap shop/web-config"), std::string::npos) << failover.output;
  EXPECT_NE(failover.output.find("no object was restored"), std::string::npos) << failover.output;
  json rec = Recovery();
  EXPECT_EQ(StepOf(rec, "StartAgent")["state"], "Failed") << rec.dump(2);
  EXPECT_NE(StepOf(rec, "StartAgent").value("message", "").find("ConfigMap shop/web-config"), std::string::npos)
      << rec.dump(2);
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "local");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + dr::RestoreJobName("shop-failover")).exit_code, 1)
      << "nothing restored";
  // The failed Job is kept for diagnosis, named in the report; it ran as the agent's service
  // account and, not being one of the recovery's objects, without the recovery label.
  const std::string describe = dr::DescribeJobName("shop-failover");
  EXPECT_NE(failover.output.find("warning: agent job kubectl-dr-system/" + describe +
                                 " failed; it is kept for diagnosis: kubectl -n kubectl-dr-system logs job/" + describe),
            std::string::npos)
      << failover.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + describe + " -o jsonpath={.status.failed}").output, "1");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + describe + " -o jsonpath={.spec.template.spec.serviceAccountName}")
                .output,
            dr::AgentServiceAccountName("shop-to-dr"));
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + describe +
                    " -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/recovery}'").output,
            "");
  EXPECT_FALSE(JobResult(describe).ok);
  const std::string failed_uid =
      Kubectl("-n kubectl-dr-system get job " + dr::DescribeJobName("shop-failover") + " -o jsonpath={.metadata.uid}")
          .output;

  ASSERT_EQ(Kubectl("-n shop delete configmap web-config").exit_code, 0);
  ASSERT_EQ(Kubectl("delete namespace shop --wait=true").exit_code, 0);
  CommandResult resumed = Dr("failover shop-failover --yes");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("StartAgent"), std::string::npos);
  // The next attempt replaced the failed Job, and once it succeeded it went too.
  CommandResult describe_after = Kubectl("-n kubectl-dr-system get job " + describe + " -o jsonpath={.metadata.uid}");
  EXPECT_NE(describe_after.output, failed_uid);
  EXPECT_NE(describe_after.exit_code, 0) << describe_after.output;
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
}

// What the agent's restore warns of (here a PriorityClass the DR site defines otherwise, which the
// restore does not replace) reaches the report, as with the agent in the plugin.
TEST_F(AgentFailoverE2eTest, TheAgentsRestoreWarningsReachTheReport) {
  ASSERT_EQ(AgentInstall().exit_code, 0);
  const std::string source_class =
      "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: shop-critical}\nvalue: 1000\n";
  ASSERT_EQ(Source("apply -f " + dir_.Write("pc-source.yaml", source_class)).exit_code, 0);
  CommandResult uses = Source("-n shop patch deployment web --type=merge -p "
                              "'{\"spec\":{\"template\":{\"spec\":{\"priorityClassName\":\"shop-critical\"}}}}'");
  ASSERT_EQ(uses.exit_code, 0) << uses.output;
  const std::string target_class =
      "apiVersion: scheduling.k8s.io/v1\nkind: PriorityClass\nmetadata: {name: shop-critical}\nvalue: 10\n";
  ASSERT_EQ(Kubectl("apply -f " + dir_.Write("pc-target.yaml", target_class)).exit_code, 0);
  CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;

  CommandResult failover = pair_->Shell("sh -c 'kubectl dr --context " + target().context() +
                                        " failover shop-failover --yes -o json 2>/dev/null'");
  ASSERT_EQ(failover.exit_code, 0) << failover.output;
  json report = json::parse(failover.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << failover.output;
  const std::string want = "PriorityClass shop-critical differs on the target: value is 10 there, 1000 in the inventory";
  EXPECT_NE(std::find(report["warnings"].begin(), report["warnings"].end(), json(want)), report["warnings"].end())
      << report.dump(2);
  // Recorded by the agent beside its counts, so a later look at the recovery has it too.
  json rec = Recovery();
  EXPECT_EQ(rec["status"]["warnings"], json::array({want})) << rec.dump(2);
  EXPECT_EQ(Kubectl("get priorityclass shop-critical -o jsonpath={.value}").output, "10") << "not replaced";
  // The capture RoleBinding agent install put in shop on the source is kubectl-dr's own, per site:
  // left out of the inventory, not restored on the target.
  EXPECT_EQ(Source("-n shop get rolebinding " + dr::AgentServiceAccountName("shop-to-dr") + "-capture -o name").exit_code,
            0);
  EXPECT_NE(Kubectl("-n shop get rolebinding " + dr::AgentServiceAccountName("shop-to-dr") + "-capture").exit_code, 0);
}

// A dry run with the agent as a Job checks what it can without the inventory (the agent's identity
// among the rest), says what it cannot show, and makes no Job.
TEST_F(AgentFailoverE2eTest, ADryRunWithTheAgentAsAJobNamesTheMissingAgentAndMakesNoJob) {
  CommandResult missing = Dr("failover shop-failover --dry-run");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("problem: the agent's service account kubectl-dr-system/" +
                                dr::AgentServiceAccountName("shop-to-dr") + " is not on the target"),
            std::string::npos)
      << missing.output;

  ASSERT_EQ(AgentInstall().exit_code, 0);
  CommandResult dry = Dr("failover shop-failover --dry-run -o json");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  json r = json::parse(dry.output.substr(dry.output.find('{')), nullptr, false);
  ASSERT_TRUE(r.is_object()) << dry.output;
  EXPECT_EQ(r["ready"], true) << r.dump(2);
  EXPECT_EQ(r["steps"][6]["name"], "StartAgent");
  EXPECT_EQ(r["steps"][6]["state"], "run");
  EXPECT_NE(r["steps"][6]["what"].get<std::string>().find(dr::DescribeJobName("shop-failover")), std::string::npos);
  ASSERT_EQ(r["notes"].size(), 1u) << r.dump(2);
  EXPECT_NE(r["notes"][0].get<std::string>().find("--agent local --inventory-path DIR"), std::string::npos);
  EXPECT_FALSE(r["inventory"].contains("objectsByKind")) << r.dump(2);
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get jobs -o name").output, "");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drr shop-failover -o jsonpath={.status}").output, "");
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
}

// The primary is gone: the inventory's own volume comes from what agent install recorded in the
// plan, and without that record the failover says what to do and changes nothing.
TEST_F(AgentFailoverE2eTest, WithThePrimaryDownTheInventoryVolumeComesFromThePlansRecord) {
  ASSERT_EQ(AgentInstall().exit_code, 0);
  CommandResult forget = Kubectl("-n kubectl-dr-system patch drplan shop-to-dr --subresource=status --type=json "
                                 "-p '[{\"op\":\"remove\",\"path\":\"/status/inventoryVolume\"}]'");
  ASSERT_EQ(forget.exit_code, 0) << forget.output;
  ASSERT_TRUE(pair_->source().Stop().ok());
  CommandResult blind = Dr("failover shop-failover --yes");
  EXPECT_EQ(blind.exit_code, 1) << blind.output;
  EXPECT_NE(blind.output.find("the source does not answer and plan \"shop-to-dr\" records none: record it while the "
                              "source answers (kubectl dr --context target agent install --plan shop-to-dr)"),
            std::string::npos)
      << blind.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}").output, "")
      << "nothing changed";

  ASSERT_TRUE(pair_->source().Restart().ok());
  ASSERT_EQ(AgentInstall().exit_code, 0);
  ASSERT_TRUE(pair_->source().Stop().ok());
  CommandResult failover = Dr("failover shop-failover --yes");
  ASSERT_TRUE(pair_->source().Restart().ok());
  ASSERT_EQ(failover.exit_code, 0) << failover.output;
  json rec = Recovery();
  EXPECT_EQ(StepOf(rec, "QuiesceSource")["state"], "Skipped") << rec.dump(2);
  EXPECT_EQ(StepOf(rec, "StartAgent")["state"], "Succeeded") << rec.dump(2);
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get pvc shop-inventory -o jsonpath={.spec.volumeName}").output,
            "shop-inventory-pv");
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
}

// The way back with the agent as a Job on the primary: its Jobs read the DR site's inventory there
// and bring the primary's stale copies to the DR site's state (--existing update, a failback's
// default).
TEST_F(AgentFailoverE2eTest, FailsBackWithTheAgentAsAJobOnThePrimary) {
  ASSERT_EQ(AgentInstall().exit_code, 0);
  CommandResult failover = Dr("failover shop-failover --yes");
  ASSERT_EQ(failover.exit_code, 0) << failover.output;

  // Life goes on at the DR site, whose own inventory claim holds what the failback restores.
  ASSERT_EQ(Kubectl("-n shop scale deployment web --replicas=3").exit_code, 0);
  ASSERT_EQ(Kubectl("-n shop patch configmap web-config --type=merge -p '{\"data\":{\"greeting\":\"hello from "
                    "the DR site\"}}'").exit_code, 0);
  const std::string back_dir = dir_.path() + "/inventory-back";
  std::string claim = testutil::ReadData("e2e/agent/failback.yaml");
  for (size_t at; (at = claim.find("BACK_DIR")) != std::string::npos;) claim.replace(at, 8, back_dir);
  ASSERT_EQ(Kubectl("apply -f " + dir_.Write("failback.yaml", claim)).exit_code, 0);

  // The primary gets kubectl-dr (its webhook guards the fence there), the failback plan, the agent.
  int port = 0;
  std::string url, certs;
  std::unique_ptr<WebhookProcess> primary_webhook;
  StartWebhook(pair_->source(), dir_.path() + "/primary", &port, &url, &certs, &primary_webhook);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(Source("apply -f " + testutil::DataPath("e2e/agent/plan-back.yaml")).exit_code, 0);
  auto back = [&](const std::string& args) {
    return pair_->Shell("kubectl dr --context " + pair_->source().context() + " " + args);
  };
  CommandResult capture = back("inventory capture --plan shop-back --agent local --inventory-path " + back_dir);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  CommandResult install = back("agent install --plan shop-back");
  ASSERT_EQ(install.exit_code, 0) << install.output;
  ASSERT_EQ(back("recovery create shop-failback --plan shop-back --action Failback").exit_code, 0);

  CommandResult failback = back("failback shop-failback --yes");
  ASSERT_EQ(failback.exit_code, 0) << failback.output << primary_webhook->Log()
                                   << Source("-n kubectl-dr-system get jobs,pods -o yaml").output;
  EXPECT_NE(failback.output.find("recovery shop-failback (Failback of plan shop-back): Succeeded"), std::string::npos)
      << failback.output;

  // The primary runs the DR site's state, unfenced, restored by the agent's Jobs there.
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "3");
  EXPECT_EQ(Source("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the DR site");
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "");
  EXPECT_EQ(Source("-n kubectl-dr-system get pvc shop-back-inventory -o jsonpath={.spec.volumeName}").output,
            "shop-back-inventory-pv");
  // Both Jobs ran there and, their results journaled, were deleted.
  for (const std::string& job : {dr::DescribeJobName("shop-failback"), dr::RestoreJobName("shop-failback")}) {
    EXPECT_NE(failback.output.find("agent job kubectl-dr-system/" + job), std::string::npos) << job;
    EXPECT_NE(Source("-n kubectl-dr-system get job " + job).output.find("NotFound"), std::string::npos) << job;
  }
  json rec = json::parse(Source("-n kubectl-dr-system get drr shop-failback -o json").output, nullptr, false);
  ASSERT_TRUE(rec.is_object());
  EXPECT_EQ(StepOf(rec, "StartAgent")["state"], "Succeeded") << rec.dump(2);
  EXPECT_EQ(StepOf(rec, "Unfence")["state"], "Succeeded") << rec.dump(2);
  EXPECT_NE(StepOf(rec, "RestoreObjects").value("message", "").find("by agent job"), std::string::npos) << rec.dump(2);
  // The DR site is quiesced, its replicas remembered.
  EXPECT_EQ(Kubectl("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "0");
}

TEST_F(AgentFailoverE2eTest, BadCombinationsOfTheAgentFlagsAreRefusedBeforeAnything) {
  struct Case {
    std::string args;
    int exit_code;
    std::string want;
  } cases[] = {
      {"failover shop-failover --yes --inventory-path " + inventory_, 2,
       "--inventory-path is read by the agent in the plugin: add --agent local"},
      {"failover shop-failover --yes --agent local", 2, "--agent local needs --inventory-path DIR"},
      {"failover shop-failover --yes --agent pod", 2, "--agent \"pod\": use job or local"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args);
    CommandResult r = Dr(c.args);
    EXPECT_EQ(r.exit_code, c.exit_code) << r.output;
    EXPECT_NE(r.output.find(c.want), std::string::npos) << r.output;
  }
  EXPECT_EQ(Recovery().value("status", json::object()).value("phase", ""), "") << "nothing ran";
}

// What a real API server makes of the agent's objects, where no kubelet runs their pods (the real
// pair without kubesim-controllers): agent install and its record are accepted, the Job is admitted
// and made (its pod stays Pending), the wait for it ends at the deadline naming the pod, and the
// rerun waits for the same Job instead of a second.
class AgentWithoutKubeletE2eTest : public AgentFailoverE2eTest {
 protected:
  AgentWithoutKubeletE2eTest() { pair_options_.simulators = false; }
  bool NeedsPodsToRun() const override { return false; }
  void SetUp() override {
    if (ClusterPair::Simulated()) GTEST_SKIP() << "kubesim's node runs the agent's pods: see AgentFailoverE2eTest";
    AgentFailoverE2eTest::SetUp();
  }
};

TEST_F(AgentWithoutKubeletE2eTest, TheAgentJobIsMadeAndItsWaitEndsAtTheDeadlineLeavingItForTheRerun) {
  CommandResult install = AgentInstall();
  ASSERT_EQ(install.exit_code, 0) << install.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.inventoryVolume.volume.pvName}")
                .output,
            "shop-inventory-pv");

  CommandResult failover = Dr("failover shop-failover --yes --no-wait --timeout 20s");
  EXPECT_EQ(failover.exit_code, 1) << failover.output;
  const std::string job = dr::DescribeJobName("shop-failover");
  EXPECT_NE(failover.output.find("agent job kubectl-dr-system/" + job + " has not finished (pod " + job + "-"),
            std::string::npos)
      << failover.output;
  json rec = Recovery();
  EXPECT_EQ(StepOf(rec, "RestoreInventoryVolume")["state"], "Succeeded") << rec.dump(2);
  EXPECT_EQ(StepOf(rec, "StartAgent")["state"], "Failed") << rec.dump(2);
  const std::string uid = Kubectl("-n kubectl-dr-system get job " + job + " -o jsonpath={.metadata.uid}").output;
  ASSERT_FALSE(uid.empty());
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + job +
                    " -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/recovery-uid}'").output,
            rec["metadata"]["uid"].get<std::string>());
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + job +
                    " -o jsonpath={.spec.template.spec.volumes[0].persistentVolumeClaim.readOnly}").output,
            "true");

  CommandResult again = Dr("failover shop-failover --yes --no-wait --timeout 10s");
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get job " + job + " -o jsonpath={.metadata.uid}").output, uid)
      << "the rerun waits for the Job already there";
  EXPECT_EQ(StepOf(Recovery(), "StartAgent")["attempts"], 2);
}

}  // namespace
}  // namespace kdr::e2e
