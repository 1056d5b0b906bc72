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
  auto job = RestoreJob(Plan(), "shop-failover", {}, o);
  ASSERT_TRUE(job.ok()) << job.status().message();
  EXPECT_EQ((*job)["metadata"]["name"], "kubectl-dr-restore-shop-failover");
  EXPECT_EQ((*job)["metadata"]["labels"][std::string(kRecoveryLabel)], "shop-failover");
  EXPECT_EQ((*job)["spec"]["backoffLimit"], 0);
  EXPECT_EQ((*job)["spec"]["template"]["spec"]["containers"][0]["args"],
            json::array({"agent", "restore", "--recovery", "shop-failover", "--inventory-path",
                         std::string(kInventoryMountPath), "-n", "kubectl-dr-system", "--existing", "update",
                         "--parallel", "4", "--generation", "3"}));
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
