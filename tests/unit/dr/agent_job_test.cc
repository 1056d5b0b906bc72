#include "dr/agent_job.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kdr::dr {
namespace {

using nlohmann::json;

DRPlan Plan(const std::string& name = "shop-to-dr") {
  DRPlan p;
  p.metadata.name = name;
  p.spec.namespaces = {"shop", "payments"};
  p.spec.inventory_pvc_namespace = "kubectl-dr-system";
  p.spec.inventory_pvc_name = "shop-inventory";
  return p;
}

const json* Find(const std::vector<json>& objects, const std::string& kind, const std::string& ns = "") {
  for (const json& o : objects) {
    if (o.value("kind", "") == kind && o["metadata"].value("namespace", "") == ns) return &o;
  }
  return nullptr;
}

TEST(AgentJobTest, AgentImageTakesTheInstallManifestsTag) {
  auto image = AgentImage();
  ASSERT_TRUE(image.ok()) << image.status().message();
  EXPECT_EQ(*image, "ghcr.io/kubectl-dr/kubectl-dr:v0.1.0");
  EXPECT_TRUE(IsAgentImage(*image));
  EXPECT_TRUE(IsAgentImage("ghcr.io/kubectl-dr/kubectl-dr@sha256:0123"));
  EXPECT_FALSE(IsAgentImage("ghcr.io/kubectl-dr/kubectl-dr-webhook:v0.1.0"));
  EXPECT_FALSE(IsAgentImage("nginx:1.27"));
}

TEST(AgentJobTest, CaptureReadsOnlyThePlansNamespacesAndNeverWritesThem) {
  auto objects = CaptureAgentObjects(Plan(), {});
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  // Namespaced reads are bound in each protected namespace, not cluster-wide.
  ASSERT_NE(Find(*objects, "RoleBinding", "shop"), nullptr);
  ASSERT_NE(Find(*objects, "RoleBinding", "payments"), nullptr);
  for (const json& o : *objects) {
    if (o["kind"] == "ClusterRoleBinding") {
      EXPECT_NE(o["roleRef"]["name"].get<std::string>().find("capture-cluster"), std::string::npos)
          << "only the cluster-scoped reads are bound cluster-wide: " << o.dump();
    }
    if (o["kind"] != "ClusterRole" && o["kind"] != "Role") continue;
    for (const json& rule : o["rules"]) {
      for (const json& verb : rule["verbs"]) {
        const std::string v = verb.get<std::string>();
        bool status_write = rule["resources"][0].get<std::string>() == "drplans/status";
        EXPECT_TRUE(v == "get" || v == "list" || (status_write && (v == "patch" || v == "update")))
            << o["metadata"]["name"] << " grants " << v << " on " << rule.dump();
      }
    }
  }
}

TEST(AgentJobTest, CaptureCronJobRunsTheAgentWithTheClaimMounted) {
  DRPlan plan = Plan();
  plan.spec.schedule = "@hourly";
  auto objects = CaptureAgentObjects(plan, {});
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  const json& cron = objects->back();
  ASSERT_EQ(cron["kind"], "CronJob");
  EXPECT_EQ(cron["metadata"]["namespace"], "kubectl-dr-system");
  EXPECT_EQ(cron["spec"]["schedule"], "@hourly");
  EXPECT_EQ(cron["spec"]["concurrencyPolicy"], "Forbid");
  const json& pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], AgentServiceAccountName("shop-to-dr"));
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "shop-inventory");
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"], std::string(kInventoryMountPath));
  EXPECT_EQ(c["args"], json::array({"agent", "capture", "--plan", "shop-to-dr", "--namespaces", "shop,payments",
                                    "--inventory-pvc", "kubectl-dr-system/shop-inventory", "--inventory-path",
                                    std::string(kInventoryMountPath), "-n", "kubectl-dr-system"}));

  AgentOptions flag;
  flag.schedule = "*/5 * * * *";
  EXPECT_EQ(CaptureAgentObjects(plan, flag)->back()["spec"]["schedule"], "*/5 * * * *");
  plan.spec.schedule.clear();
  EXPECT_EQ(CaptureAgentObjects(plan, {})->back()["spec"]["schedule"], std::string(kDefaultCaptureSchedule));
}

TEST(AgentJobTest, LongPlanNamesAreCutToKubernetesLimitsAndStayDistinct) {
  const std::string a(80, 'a');
  const std::string b = std::string(79, 'a') + "b";
  EXPECT_LE(CaptureCronJobName(a).size(), 52u);
  EXPECT_NE(CaptureCronJobName(a), CaptureCronJobName(b));
  EXPECT_LE(RestoreJobName(a).size(), 63u);
  EXPECT_EQ(CaptureCronJobName("shop"), "kubectl-dr-capture-shop");
}

TEST(AgentJobTest, RestoreJobPassesTheWorkflowsChoices) {
  RestoreJobOptions o;
  o.existing = "update";
  o.parallel = 4;
  o.generation = 3;
  o.rerun_finished_jobs = true;
  auto job = RestoreJob(Plan(), "shop-failover", {}, o);
  ASSERT_TRUE(job.ok()) << job.status().message();
  EXPECT_EQ((*job)["metadata"]["name"], "kubectl-dr-restore-shop-failover");
  EXPECT_EQ((*job)["metadata"]["labels"][std::string(kAgentRecoveryLabel)], "shop-failover");
  // Not the recovery label: the transforms webhook would apply the recovery's modifiers to the Job.
  EXPECT_FALSE((*job)["metadata"]["labels"].contains(std::string(kRecoveryLabel)));
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  EXPECT_EQ((*job)["spec"]["template"]["spec"]["containers"][0]["args"],
            json::array({"agent", "restore", "--recovery", "shop-failover", "--inventory-path",
                         std::string(kInventoryMountPath), "-n", "kubectl-dr-system", "--existing", "update",
                         "--parallel", "4", "--generation", "3", "--rerun-finished-jobs"}));
}

TEST(AgentJobTest, DescribeJobOfTheStartAgentStepReadsTheClaimReadOnly) {
  RestoreJobOptions o;
  o.describe = true;
  o.existing = "fail";
  o.timeout = std::chrono::seconds(120);
  o.recovery_uid = "uid-7";
  AgentOptions image;
  image.image = "registry.local/kubectl-dr:v9";
  auto job = RestoreJob(Plan(), "shop-failover", image, o);
  ASSERT_TRUE(job.ok()) << job.status().message();
  EXPECT_EQ((*job)["metadata"]["name"], "kubectl-dr-describe-shop-failover");
  EXPECT_EQ((*job)["metadata"]["namespace"], "kubectl-dr-system");
  EXPECT_EQ((*job)["metadata"]["annotations"][std::string(kRecoveryUidAnnotation)], "uid-7");
  const json& pod = (*job)["spec"]["template"]["spec"];
  EXPECT_EQ(pod["serviceAccountName"], AgentServiceAccountName("shop-to-dr"));
  EXPECT_EQ(pod["restartPolicy"], "Never");
  // Read-only: the agent only reads the inventory, and a failback's claim is still fenced then.
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"], json({{"claimName", "shop-inventory"}, {"readOnly", true}}));
  const json& c = pod["containers"][0];
  EXPECT_EQ(c["image"], "registry.local/kubectl-dr:v9");
  EXPECT_EQ(c["volumeMounts"][0]["readOnly"], true);
  EXPECT_EQ(c["args"], json::array({"agent", "restore", "--recovery", "shop-failover", "--inventory-path",
                                    std::string(kInventoryMountPath), "-n", "kubectl-dr-system", "--describe",
                                    "--existing", "fail", "--timeout", "120s"}));
  EXPECT_EQ(DescribeJobName("shop-failover"), "kubectl-dr-describe-shop-failover");
  EXPECT_LE(DescribeJobName(std::string(80, 'a')).size(), 63u);
  EXPECT_NE(DescribeJobName(std::string(80, 'a')), RestoreJobName(std::string(80, 'a')));

  // The capture still writes its claim.
  auto objects = CaptureAgentObjects(Plan(), {});
  ASSERT_TRUE(objects.ok());
  EXPECT_EQ(objects->back()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]
                ["readOnly"],
            false);
}

TEST(AgentJobTest, RestoreIdentityCarriesTheImageAndDeletesOnlyClaimsAndVolumes) {
  AgentOptions o;
  o.image = "registry.local/kubectl-dr:v9";
  auto objects = RestoreAgentObjects(Plan(), o);
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  const json* sa = Find(*objects, "ServiceAccount", "kubectl-dr-system");
  ASSERT_NE(sa, nullptr);
  EXPECT_EQ((*sa)["metadata"]["annotations"][std::string(kAgentImageAnnotation)], "registry.local/kubectl-dr:v9");
  const json* binding = Find(*objects, "ClusterRoleBinding");
  ASSERT_NE(binding, nullptr);
  EXPECT_EQ((*binding)["metadata"]["name"], RestoreRoleName("shop-to-dr"));
  EXPECT_EQ((*binding)["subjects"][0]["name"], AgentServiceAccountName("shop-to-dr"));
  const json* role = Find(*objects, "ClusterRole");
  ASSERT_NE(role, nullptr);
  // Also on the ClusterRole: the account may have to wait for its namespace (the failover's).
  EXPECT_EQ((*role)["metadata"]["annotations"][std::string(kAgentImageAnnotation)], "registry.local/kubectl-dr:v9");
  auto alone = AgentServiceAccount(Plan(), o);
  ASSERT_TRUE(alone.ok()) << alone.status().message();
  EXPECT_EQ(*alone, *sa);
  for (const json& rule : (*role)["rules"]) {
    for (const json& verb : rule["verbs"]) {
      if (verb != "delete") continue;
      EXPECT_EQ(rule["resources"], json::array({"persistentvolumes", "persistentvolumeclaims"})) << rule.dump();
      EXPECT_EQ(rule["apiGroups"], json::array({""})) << rule.dump();
    }
  }
  // Without --image: the install manifests' tag.
  auto plain = RestoreAgentObjects(Plan(), {});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->front()["metadata"]["annotations"][std::string(kAgentImageAnnotation)], *AgentImage());
}

TEST(AgentJobTest, BadInputIsRefusedNamingWhatIsMissing) {
  DRPlan no_claim = Plan();
  no_claim.spec.inventory_pvc_name.clear();
  auto r = CaptureAgentObjects(no_claim, {});
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("inventory claim"), std::string::npos) << r.status().message();
  AgentOptions bad_image;
  bad_image.image = "not an image";
  auto j = RestoreJob(Plan(), "r", bad_image);
  EXPECT_EQ(j.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(j.status().message().find("--image"), std::string::npos) << j.status().message();
  auto cron = JobFromCronJob(json{{"kind", "CronJob"}, {"metadata", {{"name", "x"}}}}, "now");
  EXPECT_EQ(cron.status().code(), StatusCode::kInvalidArgument);
}

TEST(AgentJobTest, ResultRoundTripsAndOtherTerminationMessagesAreRefused) {
  AgentResult in;
  in.ok = true;
  in.message = "done";
  in.generation = 7;
  in.captured_at = "2026-01-01T00:00:00Z";
  in.objects = 42;
  auto out = ParseAgentResult(FormatAgentResult(in));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE(out->ok);
  EXPECT_EQ(out->generation, 7);
  EXPECT_EQ(out->objects, 42);
  EXPECT_EQ(out->captured_at, "2026-01-01T00:00:00Z");
  in.message = std::string(10000, 'x');
  EXPECT_LE(FormatAgentResult(in).size(), 4096u);
  EXPECT_TRUE(ParseAgentResult(FormatAgentResult(in)).ok());
  for (const char* text : {"", "Error: exit 1", "{\"ok\": true}"}) {
    EXPECT_EQ(ParseAgentResult(text).status().code(), StatusCode::kInvalidArgument) << text;
  }
}

TEST(AgentJobTest, RestoreResultKeepsItsCountsAndSaysWhetherTheRestoreRanToItsEnd) {
  AgentResult in;
  in.message = "3 restored, 0 skipped, 2 failed";
  in.objects = 3;
  in.created = 1;
  in.updated = 1;
  in.existing = 1;
  in.failed = 2;
  auto out = ParseAgentResult(FormatAgentResult(in));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(out->created, 1);
  EXPECT_EQ(out->updated, 1);
  EXPECT_EQ(out->existing, 1);
  EXPECT_EQ(out->failed, 2);
  EXPECT_FALSE(out->ok);
  EXPECT_TRUE(out->finished()) << "objects failed, the restore went on to its end";
  AgentResult stopped;
  stopped.message = "1 object(s) on the target were not created by recovery";
  EXPECT_FALSE(ParseAgentResult(FormatAgentResult(stopped))->finished());
}

// A Job as the Job controller leaves it, and pods as the kubelet leaves them.
json JobWith(const std::string& condition) {
  json job = {{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", {{"name", "kubectl-dr-restore-r"}, {"namespace", "kubectl-dr-system"}, {"uid", "job-uid"}}},
              {"status", json::object()}};
  if (!condition.empty()) {
    job["status"]["conditions"] = json::array({{{"type", condition}, {"status", "True"}, {"reason", "BackoffLimitExceeded"},
                                                {"message", "Job has reached the specified backoff limit"}}});
  }
  return job;
}

json PodOf(const std::string& name, const std::string& owner_uid, json state, const std::string& created = "2026-01-01T00:00:00Z") {
  return {{"metadata",
           {{"name", name},
            {"creationTimestamp", created},
            {"ownerReferences", json::array({{{"kind", "Job"}, {"name", "kubectl-dr-restore-r"}, {"uid", owner_uid}}})}}},
          {"status", {{"phase", "Pending"}, {"containerStatuses", json::array({{{"name", "agent"}, {"state", state}}})}}}};
}

json Terminated(int code, const std::string& reason, const std::string& message, const std::string& finished) {
  json t = {{"exitCode", code}, {"reason", reason}, {"finishedAt", finished}};
  if (!message.empty()) t["message"] = message;
  return {{"terminated", t}};
}

TEST(AgentJobStateTest, ReadsTheAgentsResultFromTheFinishedPod) {
  AgentResult ok;
  ok.ok = true;
  ok.message = "12 restored, 0 skipped, 0 failed";
  ok.objects = 12;
  AgentResult failed;
  failed.message = "the inventory at /var/lib/kubectl-dr/inventory was captured for plan \"other\"";
  const std::string log_tail = "restoring recovery \"r\" from /inv\n" + FormatAgentResult(failed);
  using Phase = AgentJobState::Phase;
  struct Case {
    std::string name;
    json job;
    json pods;
    Phase phase;
    std::optional<std::string> result_message;
    std::string detail_has;
  } cases[] = {
      {"no pod yet", JobWith(""), json::array(), Phase::kRunning, std::nullopt, "no pod yet"},
      {"image not pulled", JobWith(""),
       json::array({PodOf("p1", "job-uid",
                          {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "Back-off pulling image"}}}})}),
       Phase::kRunning, std::nullopt, "pod p1: Pending: ImagePullBackOff: Back-off pulling image"},
      {"complete", JobWith("Complete"),
       json::array({PodOf("p1", "job-uid", Terminated(0, "Completed", FormatAgentResult(ok), "2026-01-01T00:01:00Z"))}),
       Phase::kSucceeded, ok.message, "exited 0 (Completed)"},
      {"failed with the agent's result, log tail before it", JobWith("Failed"),
       json::array({PodOf("p1", "job-uid", Terminated(1, "Error", log_tail, "2026-01-01T00:01:00Z"))}),
       Phase::kFailed, failed.message, "pod p1: exited 1 (Error)"},
      {"killed without a result", JobWith("Failed"),
       json::array({PodOf("p1", "job-uid", Terminated(137, "OOMKilled", "", "2026-01-01T00:01:00Z"))}),
       Phase::kFailed, std::nullopt, "pod p1: exited 137 (OOMKilled)"},
      {"the last pod to finish is read, other Jobs' pods ignored", JobWith("Complete"),
       json::array({PodOf("old", "job-uid", Terminated(1, "Error", FormatAgentResult(failed), "2026-01-01T00:01:00Z")),
                    PodOf("new", "job-uid", Terminated(0, "Completed", FormatAgentResult(ok), "2026-01-01T00:02:00Z")),
                    PodOf("other", "other-uid", Terminated(0, "Completed", FormatAgentResult(ok), "2026-01-01T00:09:00Z"))}),
       Phase::kSucceeded, ok.message, "pod new:"},
      {"failed, pods gone", JobWith("Failed"), json::array(), Phase::kFailed, std::nullopt,
       "no pod left; the Job says BackoffLimitExceeded: Job has reached the specified backoff limit"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AgentJobState s = ReadAgentJobState(c.job, c.pods);
    EXPECT_EQ(s.phase, c.phase);
    EXPECT_EQ(s.result.has_value(), c.result_message.has_value());
    if (s.result && c.result_message) {
      EXPECT_EQ(s.result->message, *c.result_message);
    }
    EXPECT_NE(s.detail.find(c.detail_has), std::string::npos) << s.detail;
  }
}

TEST(AgentJobTest, JobFromCronJobIsOwnedByItAndMarkedManual) {
  auto objects = CaptureAgentObjects(Plan(), {});
  ASSERT_TRUE(objects.ok());
  json cron = objects->back();
  cron["metadata"]["uid"] = "uid-1";
  auto job = JobFromCronJob(cron, "capture-now");
  ASSERT_TRUE(job.ok()) << job.status().message();
  EXPECT_EQ((*job)["metadata"]["namespace"], "kubectl-dr-system");
  EXPECT_EQ((*job)["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
  EXPECT_EQ((*job)["metadata"]["ownerReferences"][0]["uid"], "uid-1");
  EXPECT_EQ((*job)["spec"], cron["spec"]["jobTemplate"]["spec"]);
}

}  // namespace
}  // namespace kdr::dr
