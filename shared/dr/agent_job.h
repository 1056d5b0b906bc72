#pragma once

// The agent's objects on a cluster (DESIGN.md section 1: `kubectl-dr agent`, the same binary as
// the plugin, run as a Job mounting the inventory volume), computed without a cluster so they are
// testable:
//
//   - on the source, the capture: a ServiceAccount, the least RBAC a capture needs, and a CronJob
//     running `kubectl-dr agent capture` on the plan's schedule with the inventory claim mounted;
//   - on the target, the restore: a ServiceAccount and its RBAC (created by `kubectl dr agent
//     install`), and the Jobs the workflow creates for one recovery (RestoreJob): the describe
//     run of its StartAgent step and the restore of its RestoreObjects step. Both mount the
//     inventory claim read-only: they only read it (and the webhook admits a read-only mount of
//     a claim it fences).
//
// Everything lives in the inventory claim's namespace (a pod mounts claims of its own namespace
// only), named after the plan so several plans share a cluster. The image is the plugin's: the
// repository kAgentImageRepository, tagged as the install manifests' webhook image.

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "dr/types.h"
#include "install/manifests.h"

namespace kdr::dr {

// The agent's image repository; kubesim's node runs pods of this image as real kubectl-dr
// processes.
inline constexpr std::string_view kAgentImageRepository = "ghcr.io/kubectl-dr/kubectl-dr";
// Where the agent's pods mount the inventory claim.
inline constexpr std::string_view kInventoryMountPath = "/var/lib/kubectl-dr/inventory";
// Where a container's termination message goes (the container's terminationMessagePath).
inline constexpr std::string_view kTerminationLogPath = "/dev/termination-log";
// The capture schedule when neither the flag nor the plan gives one.
inline constexpr std::string_view kDefaultCaptureSchedule = "*/15 * * * *";
// Labels on every agent object: app.kubernetes.io/component=agent and this one, naming the plan.
inline constexpr std::string_view kPlanLabel = "dr.kubectl-dr.dev/plan";
// On the workflow's agent Jobs: the recovery they work for. Not the recovery label, which makes
// the transforms webhook apply the recovery's modifiers to what carries it.
inline constexpr std::string_view kAgentRecoveryLabel = "dr.kubectl-dr.dev/agent-for";
// On the workflow's agent Jobs: the uid of their DRRecovery, so that a Job left by an earlier
// recovery of the same name is never taken for this one's.
inline constexpr std::string_view kRecoveryUidAnnotation = "dr.kubectl-dr.dev/recovery-uid";
// On the agent's ServiceAccount: the image `kubectl dr agent install` chose (--image), which the
// workflow's Jobs run.
inline constexpr std::string_view kAgentImageAnnotation = "dr.kubectl-dr.dev/agent-image";

struct AgentOptions {
  // The agent image; "" = AgentImage() of the embedded manifests.
  std::string image;
  // The capture CronJob's schedule; "" = the plan's spec.schedule, else kDefaultCaptureSchedule.
  std::string schedule;
  // The namespace holding the plan (on the target) or its status (-n of the agent).
  std::string dr_namespace = std::string(kSystemNamespace);
};

// The agent image of the install manifests: kAgentImageRepository with the webhook Deployment's
// tag ("ghcr.io/kubectl-dr/kubectl-dr:v0.1.0"). InvalidArgument when the manifests hold no
// webhook image.
Result<std::string> AgentImage(std::span<const install::ManifestFile> files = install::EmbeddedManifests());

// True when `image` is of kAgentImageRepository (any tag or digest).
bool IsAgentImage(std::string_view image);

// Names, derived from the plan's: "kubectl-dr-agent-<plan>" (service account, roles, bindings),
// "kubectl-dr-capture-<plan>" (CronJob), "kubectl-dr-restore-<recovery>" and
// "kubectl-dr-describe-<recovery>" (Jobs), "kubectl-dr-agent-<plan>-restore" (the target's
// ClusterRole and ClusterRoleBinding). Long names are cut to fit Kubernetes' limits (52
// characters for a CronJob, 63 for a Job) with a hash suffix.
std::string AgentServiceAccountName(std::string_view plan);
std::string CaptureCronJobName(std::string_view plan);
std::string RestoreJobName(std::string_view recovery);
std::string DescribeJobName(std::string_view recovery);
std::string RestoreRoleName(std::string_view plan);
// A drill's own claim on the DR site for the inventory its agent Jobs mount (drill --agent job),
// "kubectl-dr-inventory-<recovery>", also the name of its PV: never the names of the plan's
// inventory claim and PV, which a failover restores there.
std::string DrillInventoryClaimName(std::string_view recovery);

// The source's capture objects, in apply order: ServiceAccount; a ClusterRole reading the
// cluster-scoped objects a capture follows (namespaces, PVs, StorageClasses, PriorityClasses,
// RuntimeClasses, CRDs, ClusterRoles and ClusterRoleBindings) and its binding; a ClusterRole reading every
// namespaced resource, bound by a RoleBinding in each of the plan's namespaces only; a Role in the
// DR namespace to read the plan and record the capture in its status; the CronJob (concurrency
// Forbid, one attempt per schedule) running
//   kubectl-dr agent capture --plan P --namespaces a,b --inventory-pvc NS/NAME
//       --inventory-path kInventoryMountPath -n DR_NAMESPACE
// with the claim mounted. InvalidArgument for a schedule or image that is not well formed.
Result<std::vector<nlohmann::json>> CaptureAgentObjects(const DRPlan& plan, const AgentOptions& options);

// The target's restore identity: ServiceAccount (annotated kAgentImageAnnotation with the image)
// and a ClusterRole (RestoreRoleName, annotated with the image too) bound to it that may create
// and update what a restore writes (any resource: a restore recreates custom resources, CRDs and
// RBAC, and Kubernetes lets only a holder of a permission grant it), delete the claims and PVs an
// update replaces, plus the plan and recovery status. The account lives in the inventory claim's
// namespace, which on the DR site is often one of the plan's and arrives only with the failover
// (its RestoreInventoryVolume step): `agent install` then leaves the account out, and the
// workflow makes it (AgentServiceAccount) before its first Job, with the image the ClusterRole
// records.
Result<std::vector<nlohmann::json>> RestoreAgentObjects(const DRPlan& plan, const AgentOptions& options);
// The first of RestoreAgentObjects: the agent's ServiceAccount with its image.
Result<nlohmann::json> AgentServiceAccount(const DRPlan& plan, const AgentOptions& options);

// A Job of the workflow's agent for `recovery` on the target (backoffLimit 0: the workflow
// decides on retries; its journal makes a rerun resume), in the inventory claim's namespace,
// mounting the claim read-only:
//   kubectl-dr agent restore --recovery R --inventory-path kInventoryMountPath -n DR_NAMESPACE
//       [--describe] [--existing POLICY] [--parallel N] [--generation G] [--timeout Ns]
//       [--rerun-finished-jobs]
// (or job.claim) named RestoreJobName(recovery), or DescribeJobName(recovery) with --describe (the StartAgent
// step: read and check the inventory, list conflicts, record it in the recovery; no restore).
struct RestoreJobOptions {
  std::string existing;  // fail|skip|update; "" = the agent's default
  int parallel = 0;      // 0 = the agent's default
  std::optional<int64_t> generation;
  bool describe = false;
  bool rerun_finished_jobs = false;  // restore Jobs that finished on the source (they run again)
  std::chrono::seconds timeout{0};  // the agent's storage and claim waits; 0 = its default
  std::string recovery_uid;         // kRecoveryUidAnnotation; "" = none
  // The claim to mount (in the inventory claim's namespace); "" = the plan's inventory claim. A
  // drill's Jobs mount its own (DrillInventoryClaimName).
  std::string claim;
};
Result<nlohmann::json> RestoreJob(const DRPlan& plan, std::string_view recovery, const AgentOptions& options,
                                  const RestoreJobOptions& job = {});

// A Job made from a CronJob's jobTemplate now, as `kubectl create job --from=cronjob/NAME` makes
// it (annotation cronjob.kubernetes.io/instantiate: manual, the CronJob as owner): a capture run
// on demand. InvalidArgument when the CronJob has no jobTemplate.
Result<nlohmann::json> JobFromCronJob(const nlohmann::json& cronjob, std::string_view job_name);

// What an agent run reports as its container's termination message (and the agent prints last):
// one line of JSON, at most 4096 bytes as the kubelet keeps.
struct AgentResult {
  bool ok = false;
  std::string message;     // the error, or a one-line summary
  int64_t generation = 0;  // the inventory generation captured or restored
  std::string captured_at;  // its capture end (RFC 3339)
  int64_t objects = 0;     // captured objects, or restored (created + updated + existing)
  int64_t skipped = 0;
  int64_t failed = 0;
  // A restore's objects, split (objects = created + updated + existing).
  int64_t created = 0;
  int64_t updated = 0;
  int64_t existing = 0;
  // True when a restore ran to its end (ok, or ok false because objects failed, which the counts
  // say); false for an error that stopped it (conflicts, a torn inventory, the server).
  bool finished() const { return ok || failed > 0; }
};
std::string FormatAgentResult(const AgentResult& result);
// InvalidArgument when `text` is not an agent result (an image that is not the agent's, a
// process killed before writing one).
Result<AgentResult> ParseAgentResult(std::string_view text);

// Where one of the workflow's agent Jobs stands, read from the Job and its pods (those it owns,
// by uid) as the cluster shows them:
//   kRunning    neither Complete nor Failed; `detail` says what its pod is doing ("pod X:
//               Pending: ContainerCreating", "pod X: Pending: ImagePullBackOff: ...")
//   kSucceeded  Complete; `result` from the finished pod's termination message when it has one
//   kFailed     Failed; `result` as above, `detail` the pod's end ("pod X exited 1 (Error): ...")
//               or the Job's condition when no pod is left
struct AgentJobState {
  enum class Phase { kRunning, kSucceeded, kFailed };
  Phase phase = Phase::kRunning;
  std::optional<AgentResult> result;
  std::string pod;  // the pod read ("" when none)
  std::string detail;
};
// `pods`: a list's items (any pods: those not owned by `job` are ignored).
AgentJobState ReadAgentJobState(const nlohmann::json& job, const nlohmann::json& pods);

}  // namespace kdr::dr
