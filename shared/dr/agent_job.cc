#include "dr/agent_job.h"

#include <cstdint>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

constexpr std::string_view kWebhookImageRepository = "ghcr.io/kubectl-dr/kubectl-dr-webhook";
// Kubernetes' limits: a CronJob's name leaves 11 characters for the Jobs' suffix; a Job's name is
// a label value (63) in its pods.
constexpr size_t kCronJobNameMax = 52;
constexpr size_t kJobNameMax = 63;
constexpr size_t kNameMax = 253;

// FNV-1a, 8 hex digits: a short stable suffix for names cut to fit.
std::string ShortHash(std::string_view text) {
  uint32_t h = 2166136261u;
  for (unsigned char c : text) {
    h ^= c;
    h *= 16777619u;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 7; i >= 0; --i) out.push_back(kHex[(h >> (i * 4)) & 0xf]);
  return out;
}

std::string Fit(std::string name, size_t max) {
  if (name.size() <= max) return name;
  std::string hash = ShortHash(name);
  name.resize(max - hash.size() - 1);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name + "-" + hash;
}

json Labels(std::string_view plan) {
  return {{"app.kubernetes.io/name", "kubectl-dr"},
          {"app.kubernetes.io/component", "agent"},
          {std::string(kPlanLabel), std::string(plan)}};
}

json Meta(std::string_view name, std::string_view ns, std::string_view plan) {
  json m = {{"name", std::string(name)}, {"labels", Labels(plan)}};
  if (!ns.empty()) m["namespace"] = std::string(ns);
  return m;
}

json Rule(std::vector<std::string> groups, std::vector<std::string> resources, std::vector<std::string> verbs) {
  return {{"apiGroups", groups}, {"resources", resources}, {"verbs", verbs}};
}

json Subject(const DRPlan& plan) {
  return json::array({{{"kind", "ServiceAccount"},
                       {"name", AgentServiceAccountName(plan.metadata.name)},
                       {"namespace", plan.spec.inventory_pvc_namespace}}});
}

json Binding(std::string_view kind, std::string_view name, std::string_view ns, std::string_view role_kind,
             std::string_view role, const DRPlan& plan) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", std::string(kind)},
          {"metadata", Meta(name, ns, plan.metadata.name)},
          {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", std::string(role_kind)}, {"name", std::string(role)}}},
          {"subjects", Subject(plan)}};
}

json Role(std::string_view kind, std::string_view name, std::string_view ns, const DRPlan& plan, json rules) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", std::string(kind)},
          {"metadata", Meta(name, ns, plan.metadata.name)},
          {"rules", std::move(rules)}};
}

json ServiceAccount(const DRPlan& plan, const std::string& image) {
  json meta = Meta(AgentServiceAccountName(plan.metadata.name), plan.spec.inventory_pvc_namespace, plan.metadata.name);
  meta["annotations"] = {{std::string(kAgentImageAnnotation), image}};
  return {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", std::move(meta)}};
}

// The agent's pod: the plugin binary with `args`, the inventory claim mounted, its termination
// message read by whoever waits for the Job.
json PodTemplate(const DRPlan& plan, const std::string& image, std::vector<std::string> args, bool read_only,
                 const std::string& claim = "") {
  json container = {{"name", "agent"},
                    {"image", image},
                    {"imagePullPolicy", "IfNotPresent"},
                    {"command", json::array({"kubectl-dr"})},
                    {"args", std::move(args)},
                    {"terminationMessagePath", std::string(kTerminationLogPath)},
                    {"terminationMessagePolicy", "FallbackToLogsOnError"},
                    {"volumeMounts", json::array({{{"name", "inventory"},
                                                   {"mountPath", std::string(kInventoryMountPath)},
                                                   {"readOnly", read_only}}})},
                    {"securityContext",
                     {{"allowPrivilegeEscalation", false},
                      {"readOnlyRootFilesystem", true},
                      {"runAsNonRoot", true},
                      {"capabilities", {{"drop", json::array({"ALL"})}}}}}};
  return {{"metadata", {{"labels", Labels(plan.metadata.name)}}},
          {"spec",
           {{"serviceAccountName", AgentServiceAccountName(plan.metadata.name)},
            {"restartPolicy", "Never"},
            {"containers", json::array({container})},
            {"volumes", json::array({{{"name", "inventory"},
                                      {"persistentVolumeClaim",
                                       {{"claimName", claim.empty() ? plan.spec.inventory_pvc_name : claim}, {"readOnly", read_only}}}}})}}}};
}

Status CheckPlan(const DRPlan& plan) {
  if (plan.metadata.name.empty()) return Status::InvalidArgument("the plan has no name");
  if (plan.spec.inventory_pvc_namespace.empty() || plan.spec.inventory_pvc_name.empty()) {
    return Status::InvalidArgument("plan " + Quote(plan.metadata.name) +
                                   " has no spec.inventory claim for the agent to mount");
  }
  return Status::Ok();
}

Result<std::string> ImageOf(const AgentOptions& options) {
  if (options.image.empty()) return AgentImage();
  const std::string& i = options.image;
  if (i.find_first_of(" \t\n\"'") != std::string::npos || i.front() == '/' || i.back() == ':' || i.back() == '/') {
    return Status::InvalidArgument("--image " + Quote(i) + " is not an image reference: use REGISTRY/NAME:TAG, e.g. " +
                                   std::string(kAgentImageRepository) + ":v0.1.0");
  }
  return i;
}

}  // namespace

Result<std::string> AgentImage(std::span<const install::ManifestFile> files) {
  KDR_ASSIGN_OR_RETURN(std::vector<json> objects, install::BuildKustomization(files, "base"));
  for (const json& o : objects) {
    if (o.value("kind", "") != "Deployment") continue;
    for (const json& c : o.value("/spec/template/spec/containers"_json_pointer, json::array())) {
      std::string image = c.value("image", "");
      if (!StartsWith(image, kWebhookImageRepository)) continue;
      return std::string(kAgentImageRepository) + image.substr(kWebhookImageRepository.size());
    }
  }
  return Status::InvalidArgument("the install manifests hold no " + std::string(kWebhookImageRepository) +
                                 " image to take the agent's tag from: give --image");
}

bool IsAgentImage(std::string_view image) {
  if (!StartsWith(image, kAgentImageRepository)) return false;
  std::string_view rest = image.substr(kAgentImageRepository.size());
  return rest.empty() || rest.front() == ':' || rest.front() == '@';
}

std::string AgentServiceAccountName(std::string_view plan) {
  return Fit("kubectl-dr-agent-" + std::string(plan), kNameMax);
}
std::string CaptureCronJobName(std::string_view plan) {
  return Fit("kubectl-dr-capture-" + std::string(plan), kCronJobNameMax);
}
std::string RestoreJobName(std::string_view recovery) {
  return Fit("kubectl-dr-restore-" + std::string(recovery), kJobNameMax);
}
std::string DescribeJobName(std::string_view recovery) {
  return Fit("kubectl-dr-describe-" + std::string(recovery), kJobNameMax);
}
std::string RestoreRoleName(std::string_view plan) { return Fit(AgentServiceAccountName(plan) + "-restore", kNameMax); }
std::string DrillInventoryClaimName(std::string_view recovery) {
  return Fit("kubectl-dr-inventory-" + std::string(recovery), kNameMax);
}

Result<std::vector<json>> CaptureAgentObjects(const DRPlan& plan, const AgentOptions& options) {
  KDR_RETURN_IF_ERROR(CheckPlan(plan));
  if (plan.spec.namespaces.empty()) {
    return Status::InvalidArgument("plan " + Quote(plan.metadata.name) + " protects no namespace");
  }
  KDR_ASSIGN_OR_RETURN(std::string image, ImageOf(options));
  std::string schedule = options.schedule.empty() ? plan.spec.schedule : options.schedule;
  if (schedule.empty()) schedule = std::string(kDefaultCaptureSchedule);
  const std::string& plan_name = plan.metadata.name;
  const std::string ns = plan.spec.inventory_pvc_namespace;
  const std::string name = AgentServiceAccountName(plan_name);
  const std::string cluster_read = name + "-capture-cluster";
  const std::string namespaced_read = name + "-capture";

  std::vector<json> out;
  out.push_back(ServiceAccount(plan, image));
  // The cluster-scoped objects a capture follows from the namespaces (capture.h), read only.
  out.push_back(Role("ClusterRole", cluster_read, "", plan,
                     json::array({Rule({""}, {"namespaces", "persistentvolumes"}, {"get", "list"}),
                                  Rule({"storage.k8s.io"}, {"storageclasses"}, {"get", "list"}),
                                  Rule({"scheduling.k8s.io"}, {"priorityclasses"}, {"get", "list"}),
                                  Rule({"node.k8s.io"}, {"runtimeclasses"}, {"get", "list"}),
                                  Rule({"apiextensions.k8s.io"}, {"customresourcedefinitions"}, {"get", "list"}),
                                  Rule({"rbac.authorization.k8s.io"}, {"clusterroles", "clusterrolebindings"},
                                       {"get", "list"})})));
  out.push_back(Binding("ClusterRoleBinding", cluster_read, "", "ClusterRole", cluster_read, plan));
  // Every namespaced resource, custom ones included, but bound in the plan's namespaces only.
  out.push_back(Role("ClusterRole", namespaced_read, "", plan, json::array({Rule({"*"}, {"*"}, {"get", "list"})})));
  for (const std::string& protected_ns : plan.spec.namespaces) {
    out.push_back(Binding("RoleBinding", name + "-capture", protected_ns, "ClusterRole", namespaced_read, plan));
  }
  // The plan's status, when the plan lives here (a capture on the target, or a copy of the plan).
  out.push_back(Role("Role", name + "-plan", options.dr_namespace, plan,
                     json::array({Rule({std::string(kGroup)}, {std::string(kPlanResource)}, {"get"}),
                                  Rule({std::string(kGroup)}, {std::string(kPlanResource) + "/status"},
                                       {"get", "patch", "update"})})));
  out.push_back(Binding("RoleBinding", name + "-plan", options.dr_namespace, "Role", name + "-plan", plan));

  std::vector<std::string> args = {"agent", "capture", "--plan", plan_name, "--namespaces", Join(plan.spec.namespaces, ","),
                                   "--inventory-pvc", ns + "/" + plan.spec.inventory_pvc_name,
                                   "--inventory-path", std::string(kInventoryMountPath), "-n", options.dr_namespace};
  json job_spec = {{"backoffLimit", 0}, {"template", PodTemplate(plan, image, std::move(args), /*read_only=*/false)}};
  out.push_back({{"apiVersion", "batch/v1"},
                 {"kind", "CronJob"},
                 {"metadata", Meta(CaptureCronJobName(plan_name), ns, plan_name)},
                 {"spec",
                  {{"schedule", schedule},
                   // Two captures at once would wait on the inventory lock; the next run catches up.
                   {"concurrencyPolicy", "Forbid"},
                   {"successfulJobsHistoryLimit", 3},
                   {"failedJobsHistoryLimit", 3},
                   {"jobTemplate", {{"metadata", {{"labels", Labels(plan_name)}}}, {"spec", job_spec}}}}}});
  return out;
}

Result<std::vector<json>> RestoreAgentObjects(const DRPlan& plan, const AgentOptions& options) {
  KDR_RETURN_IF_ERROR(CheckPlan(plan));
  KDR_ASSIGN_OR_RETURN(std::string image, ImageOf(options));
  const std::string name = RestoreRoleName(plan.metadata.name);
  std::vector<json> out;
  out.push_back(ServiceAccount(plan, image));
  // A restore creates whatever the inventory holds (custom resources, CRDs, RBAC it may only grant
  // while holding it), reads what exists for conflicts, and waits on claims and CRDs. Under
  // --existing update a PV naming another volume is made anew with its claim (restore.h).
  json role = Role("ClusterRole", name, "", plan,
                   json::array({Rule({"*"}, {"*"}, {"get", "list", "watch", "create", "update", "patch"}),
                                Rule({""}, {"persistentvolumes", "persistentvolumeclaims"}, {"delete"})}));
  // The image also where it outlives a namespace that is not on the target yet (the account's).
  role["metadata"]["annotations"] = {{std::string(kAgentImageAnnotation), image}};
  out.push_back(std::move(role));
  out.push_back(Binding("ClusterRoleBinding", name, "", "ClusterRole", name, plan));
  return out;
}

Result<json> AgentServiceAccount(const DRPlan& plan, const AgentOptions& options) {
  KDR_RETURN_IF_ERROR(CheckPlan(plan));
  KDR_ASSIGN_OR_RETURN(std::string image, ImageOf(options));
  return ServiceAccount(plan, image);
}

Result<json> RestoreJob(const DRPlan& plan, std::string_view recovery, const AgentOptions& options,
                        const RestoreJobOptions& job) {
  KDR_RETURN_IF_ERROR(CheckPlan(plan));
  if (recovery.empty()) return Status::InvalidArgument("the recovery's name is empty");
  KDR_ASSIGN_OR_RETURN(std::string image, ImageOf(options));
  if (job.timeout.count() < 0) return Status::InvalidArgument("the agent's timeout is negative");
  std::vector<std::string> args = {"agent", "restore", "--recovery", std::string(recovery), "--inventory-path",
                                   std::string(kInventoryMountPath), "-n", options.dr_namespace};
  if (job.describe) args.push_back("--describe");
  if (!job.existing.empty()) args.insert(args.end(), {"--existing", job.existing});
  if (job.parallel > 0) args.insert(args.end(), {"--parallel", std::to_string(job.parallel)});
  if (job.generation) args.insert(args.end(), {"--generation", std::to_string(*job.generation)});
  if (job.timeout.count() > 0) args.insert(args.end(), {"--timeout", std::to_string(job.timeout.count()) + "s"});
  if (job.rerun_finished_jobs) args.push_back("--rerun-finished-jobs");
  json labels = Labels(plan.metadata.name);
  labels[std::string(kAgentRecoveryLabel)] = std::string(recovery);
  json meta = Meta(job.describe ? DescribeJobName(recovery) : RestoreJobName(recovery),
                   plan.spec.inventory_pvc_namespace, plan.metadata.name);
  meta["labels"] = labels;
  if (!job.recovery_uid.empty()) meta["annotations"] = {{std::string(kRecoveryUidAnnotation), job.recovery_uid}};
  return json{{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata", meta},
              {"spec", {{"backoffLimit", 0}, {"template", PodTemplate(plan, image, std::move(args), /*read_only=*/true, job.claim)}}}};
}

Result<json> JobFromCronJob(const json& cronjob, std::string_view job_name) {
  const json* tmpl = nullptr;
  if (cronjob.contains("spec") && cronjob["spec"].is_object() && cronjob["spec"].contains("jobTemplate")) {
    tmpl = &cronjob["spec"]["jobTemplate"];
  }
  if (tmpl == nullptr || !tmpl->is_object() || !tmpl->contains("spec")) {
    return Status::InvalidArgument("cronjob " + Quote(cronjob.value("/metadata/name"_json_pointer, std::string())) +
                                   " has no spec.jobTemplate.spec");
  }
  json meta = tmpl->value("metadata", json::object());
  meta["name"] = std::string(job_name);
  meta["namespace"] = cronjob.value("/metadata/namespace"_json_pointer, std::string());
  meta["annotations"]["cronjob.kubernetes.io/instantiate"] = "manual";
  meta["ownerReferences"] = json::array({{{"apiVersion", "batch/v1"},
                                          {"kind", "CronJob"},
                                          {"name", cronjob.value("/metadata/name"_json_pointer, std::string())},
                                          {"uid", cronjob.value("/metadata/uid"_json_pointer, std::string())},
                                          {"controller", true}}});
  if (meta["ownerReferences"][0]["uid"].get<std::string>().empty()) meta.erase("ownerReferences");
  return json{{"apiVersion", "batch/v1"}, {"kind", "Job"}, {"metadata", meta}, {"spec", (*tmpl)["spec"]}};
}

std::string FormatAgentResult(const AgentResult& r) {
  json j = {{"kind", "AgentResult"}, {"ok", r.ok}, {"message", r.message}};
  if (r.generation > 0) j["generation"] = r.generation;
  if (!r.captured_at.empty()) j["capturedAt"] = r.captured_at;
  j["objects"] = r.objects;
  if (r.skipped > 0) j["skipped"] = r.skipped;
  if (r.failed > 0) j["failed"] = r.failed;
  if (r.created > 0) j["created"] = r.created;
  if (r.updated > 0) j["updated"] = r.updated;
  if (r.existing > 0) j["existing"] = r.existing;
  std::string out = j.dump();
  // The kubelet keeps 4096 bytes of a termination message: shorten the message, keep the JSON whole.
  if (out.size() > 4096) {
    j["message"] = r.message.substr(0, r.message.size() - std::min(r.message.size(), out.size() - 4096 + 16)) + "...";
    out = j.dump();
  }
  return out;
}

Result<AgentResult> ParseAgentResult(std::string_view text) {
  json j = json::parse(TrimSpace(text), nullptr, false);
  if (!j.is_object() || j.value("kind", "") != "AgentResult" || !j.contains("ok") || !j["ok"].is_boolean()) {
    return Status::InvalidArgument("not a kubectl-dr agent result: " + Quote(std::string(text.substr(0, 200))));
  }
  AgentResult r;
  r.ok = j["ok"].get<bool>();
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string(); };
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number_integer() ? j[k].get<int64_t>() : int64_t{0}; };
  r.message = str("message");
  r.captured_at = str("capturedAt");
  r.generation = num("generation");
  r.objects = num("objects");
  r.skipped = num("skipped");
  r.failed = num("failed");
  r.created = num("created");
  r.updated = num("updated");
  r.existing = num("existing");
  return r;
}

namespace {

bool HasCondition(const json& job, std::string_view type) {
  for (const json& c : job.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") == type && c.value("status", "") == "True") return true;
  }
  return false;
}

std::string ConditionMessage(const json& job, std::string_view type) {
  for (const json& c : job.value("/status/conditions"_json_pointer, json::array())) {
    if (c.value("type", "") != type) continue;
    std::string reason = c.value("reason", ""), message = c.value("message", "");
    return reason + (reason.empty() || message.empty() ? "" : ": ") + message;
  }
  return "";
}

bool OwnedBy(const json& pod, const std::string& uid) {
  for (const json& o : pod.value("/metadata/ownerReferences"_json_pointer, json::array())) {
    if (o.value("uid", "") == uid) return true;
  }
  return false;
}

// The agent container's status (the first container's when none is named "agent").
json ContainerStatus(const json& pod) {
  const json statuses = pod.value("/status/containerStatuses"_json_pointer, json::array());
  for (const json& c : statuses) {
    if (c.value("name", "") == "agent") return c;
  }
  return statuses.empty() ? json::object() : statuses[0];
}

// "Pending: ImagePullBackOff: Back-off pulling image ...", "Running", "exited 1 (Error): ...".
std::string PodWords(const json& pod) {
  const std::string phase = pod.value("/status/phase"_json_pointer, std::string("Pending"));
  const json c = ContainerStatus(pod);
  const json terminated = c.value("/state/terminated"_json_pointer, json());
  if (terminated.is_object()) {
    std::string words = "exited " + std::to_string(terminated.value("exitCode", 0));
    if (!terminated.value("reason", "").empty()) words += " (" + terminated.value("reason", "") + ")";
    std::string message = std::string(TrimSpace(terminated.value("message", "")));
    if (!message.empty()) words += ": " + message.substr(0, 1000);
    return words;
  }
  const json waiting = c.value("/state/waiting"_json_pointer, json());
  if (waiting.is_object()) {
    std::string words = phase + ": " + waiting.value("reason", "waiting");
    if (!waiting.value("message", "").empty()) words += ": " + waiting.value("message", "");
    return words;
  }
  // Not started at all: the scheduler's or the volume's reason, when the pod has one.
  for (const json& k : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (k.value("status", "") == "False" && !k.value("message", "").empty()) {
      return phase + ": " + k.value("reason", k.value("type", "")) + ": " + k.value("message", "");
    }
  }
  return phase;
}

}  // namespace

AgentJobState ReadAgentJobState(const json& job, const json& pods) {
  AgentJobState s;
  if (HasCondition(job, "Complete")) {
    s.phase = AgentJobState::Phase::kSucceeded;
  } else if (HasCondition(job, "Failed")) {
    s.phase = AgentJobState::Phase::kFailed;
  }
  // The pod to read: the last one to finish, else the newest.
  const std::string uid = job.value("/metadata/uid"_json_pointer, std::string());
  const json* chosen = nullptr;
  std::string chosen_key;
  const json none = json::array();
  const json& list = pods.is_array() ? pods : none;  // both lvalues: `chosen` points into it after the loop
  for (const json& p : list) {
    if (!uid.empty() && !OwnedBy(p, uid)) continue;
    const json c = ContainerStatus(p);
    std::string finished = c.value("/state/terminated/finishedAt"_json_pointer, std::string());
    std::string key = (finished.empty() ? "0" : "1" + finished) +
                      p.value("/metadata/creationTimestamp"_json_pointer, std::string());
    if (chosen == nullptr || key > chosen_key) {
      chosen = &p;
      chosen_key = std::move(key);
    }
  }
  if (chosen != nullptr) {
    s.pod = chosen->value("/metadata/name"_json_pointer, std::string());
    s.detail = "pod " + s.pod + ": " + PodWords(*chosen);
    std::string message = ContainerStatus(*chosen).value("/state/terminated/message"_json_pointer, std::string());
    // The result is the last line (FallbackToLogsOnError puts the log's tail there on a failure).
    std::string_view text = TrimSpace(message);
    if (size_t nl = text.rfind('\n'); nl != std::string_view::npos) text = text.substr(nl + 1);
    if (Result<AgentResult> r = ParseAgentResult(text); r.ok()) s.result = std::move(*r);
  } else if (s.phase == AgentJobState::Phase::kFailed) {
    s.detail = "no pod left; the Job says " + ConditionMessage(job, "Failed");
  } else if (s.phase == AgentJobState::Phase::kRunning) {
    s.detail = "no pod yet";
  }
  return s;
}

}  // namespace kdr::dr
