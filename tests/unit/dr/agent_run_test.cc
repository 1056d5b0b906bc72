// The workflow's agent Jobs against an API server (kubesim without its controllers: the test plays
// the Job controller and the kubelet, writing the Job's and the pod's status as they would): the
// identity check before a Job is made, a Job run to its end, reused by name, replaced when it
// failed or belongs to an earlier recovery of the same name, and the waits' ends.

#include "dr/agent_run.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "workloads_fixture.h"

namespace kdr::dr {
namespace {

using nlohmann::json;
using testing::kNamespaces;
using testing::kServiceAccounts;

const kube::Gvr kJobs{"batch", "v1", "jobs"};
const kube::Gvr kPods{"", "v1", "pods"};
const kube::Gvr kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles"};
const kube::Gvr kClusterRoleBindings{"rbac.authorization.k8s.io", "v1", "clusterrolebindings"};
constexpr const char* kNs = "kubectl-dr-system";

DRPlan Plan() {
  DRPlan p;
  p.metadata.name = "shop-to-dr";
  p.spec.source_context = "prod-east";
  p.spec.target_context = "dr-west";
  p.spec.namespaces = {"shop"};
  p.spec.inventory_pvc_namespace = kNs;
  p.spec.inventory_pvc_name = "shop-inventory";
  return p;
}

class AgentRunTest : public testing::DrOnKubesimTest {
 protected:
  AgentRunTest() : DrOnKubesimTest(/*controllers=*/false) {}

  void SetUp() override {
    DrOnKubesimTest::SetUp();
    if (HasFatalFailure()) return;
    MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", kNs}}}});
    // What kubesim's namespace controller (off here) would make: the pods the test writes run as it.
    MustCreate(kServiceAccounts, kNs,
               {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}, {"namespace", kNs}}}});
  }

  // What `kubectl dr agent install` leaves on the target, made with the given image.
  void Install(const std::string& image = "registry.local/kubectl-dr:v9") {
    AgentOptions o;
    o.image = image;
    auto objects = RestoreAgentObjects(Plan(), o);
    ASSERT_TRUE(objects.ok()) << objects.status().message();
    for (const json& obj : *objects) {
      const std::string kind = obj["kind"];
      const kube::Gvr& gvr = kind == "ServiceAccount" ? kServiceAccounts
                             : kind == "ClusterRole"  ? kClusterRoles
                                                      : kClusterRoleBindings;
      MustCreate(gvr, kind == "ServiceAccount" ? kNs : "", obj);
    }
  }

  json Job(const std::string& uid = "recovery-uid-1") {
    RestoreJobOptions o;
    o.recovery_uid = uid;
    AgentOptions image;
    image.image = "registry.local/kubectl-dr:v9";
    auto job = RestoreJob(Plan(), "shop-failover", image, o);
    EXPECT_TRUE(job.ok()) << job.status().message();
    return job.ok() ? *job : json();
  }

  // The Job controller and the kubelet: a pod of the Job that ran and exited with `exit_code`
  // and `message` as its termination message, and the Job's condition.
  void Finish(int exit_code, const std::string& message) {
    json job = Get(kJobs, RestoreJobName("shop-failover"), kNs);
    json pod = {{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"generateName", kube::Name(job) + "-"},
                  {"namespace", kNs},
                  {"labels", {{"job-name", kube::Name(job)}}},
                  {"ownerReferences", json::array({{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"name", kube::Name(job)},
                                                    {"uid", kube::Uid(job)}, {"controller", true}}})}}},
                {"spec", {{"restartPolicy", "Never"}, {"containers", json::array({{{"name", "agent"}, {"image", "x"}}})}}}};
    Result<json> made = client_->Create(kPods, kNs, pod);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    (*made)["status"] = {{"phase", exit_code == 0 ? "Succeeded" : "Failed"},
                         {"containerStatuses",
                          json::array({{{"name", "agent"},
                                        {"state",
                                         {{"terminated",
                                           {{"exitCode", exit_code},
                                            {"reason", exit_code == 0 ? "Completed" : "Error"},
                                            {"finishedAt", "2026-01-01T00:00:00Z"},
                                            {"message", message}}}}}}})}};
    ASSERT_TRUE(client_->UpdateStatus(kPods, kNs, *made).ok());
    SetJobCondition(kube::Name(job), exit_code == 0 ? "Complete" : "Failed");
  }

  void SetJobCondition(const std::string& name, const std::string& type) {
    json job = Get(kJobs, name, kNs);
    job["status"]["conditions"] = json::array({{{"type", type}, {"status", "True"}}});
    Result<json> r = client_->UpdateStatus(kJobs, kNs, job);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  storage::Deadline Deadline(std::stop_token stop = {}) {
    return storage::Deadline::After(clock_, std::chrono::minutes(10), stop);
  }

  static AgentResult Outcome(bool ok, const std::string& message) {
    AgentResult r;
    r.ok = ok;
    r.message = message;
    return r;
  }
};

TEST_F(AgentRunTest, WithoutTheAgentsIdentityTheErrorSaysWhatToRun) {
  auto missing = CheckAgentIdentity(*client_, Plan());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(missing.status().message(),
            "the agent's service account kubectl-dr-system/kubectl-dr-agent-shop-to-dr is not on the target (context "
            "dr-west): install the restore agent there: kubectl dr --context dr-west agent install --plan shop-to-dr "
            "(or run the agent in the plugin: --agent local --inventory-path DIR)");

  // The account alone may do nothing.
  MustCreate(kServiceAccounts, kNs,
             {{"apiVersion", "v1"}, {"kind", "ServiceAccount"},
              {"metadata", {{"name", AgentServiceAccountName("shop-to-dr")}, {"namespace", kNs}}}});
  auto unbound = CheckAgentIdentity(*client_, Plan());
  EXPECT_EQ(unbound.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(unbound.status().message().find("clusterrolebinding kubectl-dr-agent-shop-to-dr-restore is not on the "
                                            "target"),
            std::string::npos)
      << unbound.status().message();
  EXPECT_NE(unbound.status().message().find("agent install --plan shop-to-dr"), std::string::npos);
}

TEST_F(AgentRunTest, ABindingOfAnotherAccountIsNotTheAgents) {
  Install();
  json binding = Get(kClusterRoleBindings, RestoreRoleName("shop-to-dr"), "");
  binding["subjects"][0]["name"] = "someone-else";
  ASSERT_TRUE(client_->Update(kClusterRoleBindings, "", binding).ok());
  auto id = CheckAgentIdentity(*client_, Plan());
  EXPECT_EQ(id.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(id.status().message().find("does not bind the agent's service account"), std::string::npos)
      << id.status().message();
}

TEST_F(AgentRunTest, TheInstalledIdentityGivesTheImageAgentInstallChose) {
  Install("registry.local/kubectl-dr:v9");
  auto id = CheckAgentIdentity(*client_, Plan());
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_EQ(id->namespace_name, kNs);
  EXPECT_EQ(id->service_account, AgentServiceAccountName("shop-to-dr"));
  EXPECT_EQ(id->image, "registry.local/kubectl-dr:v9");
}

// agent install on a DR site without the inventory claim's namespace (one of the plan's, made by
// the failover) leaves the account out: the binding says the agent is installed, the ClusterRole
// keeps the image, and the account is made before the first Job, once.
TEST_F(AgentRunTest, InstalledWithoutItsNamespaceTheAccountIsMadeWithTheImageTheRoleKeeps) {
  AgentOptions o;
  o.image = "registry.local/kubectl-dr:v9";
  auto objects = RestoreAgentObjects(Plan(), o);
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  for (const json& obj : *objects) {
    if (obj["kind"] == "ClusterRole") MustCreate(kClusterRoles, "", obj);
    if (obj["kind"] == "ClusterRoleBinding") MustCreate(kClusterRoleBindings, "", obj);
  }
  auto id = CheckAgentIdentity(*client_, Plan());
  ASSERT_TRUE(id.ok()) << id.status().message();
  EXPECT_FALSE(id->service_account_exists);
  EXPECT_EQ(id->image, "registry.local/kubectl-dr:v9");

  ASSERT_TRUE(EnsureAgentServiceAccount(*client_, Plan(), *id).ok());
  json sa = Get(kServiceAccounts, AgentServiceAccountName("shop-to-dr"), kNs);
  EXPECT_EQ(sa["metadata"]["annotations"][std::string(kAgentImageAnnotation)], "registry.local/kubectl-dr:v9");
  EXPECT_EQ(sa["metadata"]["labels"]["app.kubernetes.io/component"], "agent") << "left out of captures";
  // Made meanwhile by another run: taken as it is.
  ASSERT_TRUE(EnsureAgentServiceAccount(*client_, Plan(), *id).ok());
  auto again = CheckAgentIdentity(*client_, Plan());
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_TRUE(again->service_account_exists);
  EXPECT_EQ(again->image, "registry.local/kubectl-dr:v9");
}

TEST_F(AgentRunTest, TheAccountCannotBeMadeWhereItsNamespaceIsNotAndTheErrorSaysWhy) {
  DRPlan plan = Plan();
  plan.spec.inventory_pvc_namespace = "payments";  // not on this cluster
  AgentIdentity id;
  id.namespace_name = "payments";
  id.service_account = AgentServiceAccountName("shop-to-dr");
  id.image = "registry.local/kubectl-dr:v9";
  id.service_account_exists = false;
  Status made = EnsureAgentServiceAccount(*client_, plan, id);
  EXPECT_FALSE(made.ok());
  EXPECT_NE(made.message().find("creating the agent's service account payments/kubectl-dr-agent-shop-to-dr"),
            std::string::npos)
      << made.message();
}

TEST_F(AgentRunTest, RunsTheJobToItsEndThenReusesItInsteadOfStartingASecond) {
  int polls = 0;
  AgentJobOptions o;
  o.on_poll = [&] {
    if (++polls == 1) Finish(0, FormatAgentResult(Outcome(true, "7 restored, 0 skipped, 0 failed")));
  };
  auto run = RunAgentJob(*client_, clock_, Job(), Deadline(), o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->job, "kubectl-dr-system/kubectl-dr-restore-shop-failover");
  EXPECT_FALSE(run->reused);
  EXPECT_EQ(run->state.phase, AgentJobState::Phase::kSucceeded);
  ASSERT_TRUE(run->state.result.has_value()) << run->state.detail;
  EXPECT_EQ(run->state.result->message, "7 restored, 0 skipped, 0 failed");
  const std::string uid = kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs));

  // A rerun (the plugin died after the Job was made) takes the same Job and its result.
  int later_polls = 0;
  AgentJobOptions again;
  again.on_poll = [&] { ++later_polls; };
  auto second = RunAgentJob(*client_, clock_, Job(), Deadline(), again);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_TRUE(second->reused);
  EXPECT_EQ(later_polls, 0);
  EXPECT_EQ(second->state.result->message, "7 restored, 0 skipped, 0 failed");
  EXPECT_EQ(kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs)), uid);
  EXPECT_EQ((*client_->List(kJobs, kNs))["items"].size(), 1u);
}

TEST_F(AgentRunTest, ARunningJobOfTheSameRecoveryIsWaitedFor) {
  MustCreate(kJobs, kNs, Job());
  const std::string uid = kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs));
  AgentJobOptions o;
  o.on_poll = [&] { Finish(0, FormatAgentResult(Outcome(true, "done"))); };
  auto run = RunAgentJob(*client_, clock_, Job(), Deadline(), o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_TRUE(run->reused);
  EXPECT_EQ(kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs)), uid);
}

TEST_F(AgentRunTest, AFailedJobIsReportedWithTheAgentsMessageAndReplacedByTheNextAttempt) {
  AgentJobOptions fail;
  fail.on_poll = [&] { Finish(1, "restoring...\n" + FormatAgentResult(Outcome(false, "the inventory is torn"))); };
  auto run = RunAgentJob(*client_, clock_, Job(), Deadline(), fail);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->state.phase, AgentJobState::Phase::kFailed);
  ASSERT_TRUE(run->state.result.has_value()) << run->state.detail;
  EXPECT_EQ(run->state.result->message, "the inventory is torn");
  EXPECT_FALSE(run->state.result->finished());
  const std::string failed_uid = kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs));

  AgentJobOptions ok;
  ok.on_poll = [&] { Finish(0, FormatAgentResult(Outcome(true, "done"))); };
  auto retry = RunAgentJob(*client_, clock_, Job(), Deadline(), ok);
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_FALSE(retry->reused);
  EXPECT_EQ(retry->state.phase, AgentJobState::Phase::kSucceeded);
  EXPECT_NE(kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs)), failed_uid);
}

TEST_F(AgentRunTest, AJobOfAnEarlierRecoveryOfTheSameNameIsNeverTakenForThisOnes) {
  MustCreate(kJobs, kNs, Job("uid-of-a-deleted-recovery"));
  SetJobCondition(RestoreJobName("shop-failover"), "Complete");
  const std::string old_uid = kube::Uid(Get(kJobs, RestoreJobName("shop-failover"), kNs));
  AgentJobOptions o;
  o.on_poll = [&] { Finish(0, FormatAgentResult(Outcome(true, "this recovery's"))); };
  auto run = RunAgentJob(*client_, clock_, Job("recovery-uid-1"), Deadline(), o);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_FALSE(run->reused);
  EXPECT_EQ(run->state.result->message, "this recovery's");
  json now = Get(kJobs, RestoreJobName("shop-failover"), kNs);
  EXPECT_NE(kube::Uid(now), old_uid);
  EXPECT_EQ(kube::Annotation(now, kRecoveryUidAnnotation), "recovery-uid-1");
}

TEST_F(AgentRunTest, AJobThatNeverEndsStopsTheWaitAtTheDeadlineAndIsLeftToRun) {
  auto run = RunAgentJob(*client_, clock_, Job(), storage::Deadline::After(clock_, std::chrono::minutes(2)));
  EXPECT_EQ(run.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(run.status().message().find("agent job kubectl-dr-system/kubectl-dr-restore-shop-failover has not "
                                        "finished (no pod yet)"),
            std::string::npos)
      << run.status().message();
  EXPECT_NE(run.status().message().find("it is left to run, and the next run waits for it"), std::string::npos);
  EXPECT_NE(run.status().message().find("logs job/kubectl-dr-restore-shop-failover"), std::string::npos);
  EXPECT_TRUE(client_->Get(kJobs, kNs, RestoreJobName("shop-failover")).ok());
}

TEST_F(AgentRunTest, TheDeadlineMessageSaysWhatBecomesOfTheJobAsTheCallerTellsIt) {
  AgentJobOptions o;
  o.left_running = "it is left to finish on its own";
  auto run = RunAgentJob(*client_, clock_, Job(), storage::Deadline::After(clock_, std::chrono::minutes(2)), o);
  EXPECT_EQ(run.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(run.status().message().find("has not finished (no pod yet); it is left to finish on its own: kubectl"),
            std::string::npos)
      << run.status().message();
  EXPECT_EQ(run.status().message().find("next run"), std::string::npos) << run.status().message();
}

TEST_F(AgentRunTest, AStopEndsTheWaitAndADeletedJobAbortsIt) {
  std::stop_source stop;
  AgentJobOptions o;
  o.on_poll = [&] { stop.request_stop(); };
  auto stopped = RunAgentJob(*client_, clock_, Job(), Deadline(stop.get_token()), o);
  EXPECT_EQ(stopped.status().code(), StatusCode::kCancelled) << stopped.status().ToString();

  AgentJobOptions del;
  del.on_poll = [&] { ASSERT_TRUE(client_->Delete(kJobs, kNs, RestoreJobName("shop-failover")).ok()); };
  auto deleted = RunAgentJob(*client_, clock_, Job(), Deadline(), del);
  EXPECT_EQ(deleted.status().code(), StatusCode::kAborted) << deleted.status().ToString();
  EXPECT_NE(deleted.status().message().find("was deleted while it ran"), std::string::npos);
}

}  // namespace
}  // namespace kdr::dr
