// kubectl dr agent capture|restore|install: the agent (DESIGN.md section 1), the same binary run
// as a Job on a cluster with the inventory volume mounted. capture and restore run in the pod,
// with the in-cluster configuration (the pod's service account) when no kubeconfig is given;
// install puts the capture CronJob on the plan's source and the restore agent's identity on its
// target. Each run ends with one JSON line (dr::AgentResult) on stdout and, in a pod, in the
// container's termination message, where whoever waits for the Job reads it.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/clock.h"
#include "base/fs.h"
#include "base/strings.h"
#include "cli/cli.h"
#include "dr/agent_job.h"
#include "dr/agent_restore.h"
#include "dr/inventory_volume.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "install/install.h"
#include "inventory/capture.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/object.h"
#include "kube_context.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

const kube::Gvr kPlans{std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kPlanResource)};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};

struct AgentCaptureOptions {
  std::string plan;
  std::vector<std::string> namespaces;
  std::string inventory_pvc;
  std::string inventory_path;
  int keep = inventory::kDefaultKeep;
};

struct AgentRestoreCliOptions {
  std::string recovery;
  std::string inventory_path;
  std::optional<int64_t> generation;
  std::string existing = "fail";
  int parallel = 16;
  std::string timeout = "30m";
  bool describe = false;
  bool rerun_finished_jobs = false;
};

struct AgentInstallOptions {
  std::string plan;
  std::string image;
  std::string schedule;
};

std::string DrNamespace(const GlobalOptions& g) {
  return g.namespace_name.empty() ? std::string(dr::kSystemNamespace) : g.namespace_name;
}

std::string Getenv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// In a pod the kubelet reads the container's terminationMessagePath (/dev/termination-log);
// kubesim's node, which cannot mount there, names the file in KUBECTL_DR_TERMINATION_LOG.
// Outside a pod nothing is written.
void WriteTerminationMessage(const Env& env, const std::string& text) {
  std::string path = Getenv("KUBECTL_DR_TERMINATION_LOG");
  if (path.empty() && !Getenv("KUBERNETES_SERVICE_HOST").empty()) path = std::string(dr::kTerminationLogPath);
  if (path.empty() || env.fs == nullptr) return;
  (void)env.fs->WriteFileBuffered(path, text, 0644);  // best effort: the log says the same
}

// Ends a run: the result on stdout and in the termination message, the status unchanged.
Status Finish(const CommandContext& ctx, Status status, dr::AgentResult result) {
  if (!status.ok()) {
    result.ok = false;
    result.message = status.message();
  }
  std::string line = dr::FormatAgentResult(result);
  *ctx.streams.out << line << "\n";
  WriteTerminationMessage(ctx.env, line);
  if (status.ok() && !result.ok) return Status::Aborted(result.message);
  return status;
}

// The plan, when this cluster holds it: nullopt when it does not (a source, where plans do not
// live, or the DR CRDs not installed), so the capture runs from its flags.
Result<std::optional<dr::DRPlan>> ReadPlanIfHere(kube::Client& client, const std::string& ns, const std::string& name) {
  Result<json> obj = client.Get(kPlans, ns, name);
  if (!obj.ok()) {
    if (obj.status().IsNotFound() || obj.status().code() == StatusCode::kPermissionDenied) {
      return std::optional<dr::DRPlan>();
    }
    return obj.status().WithContext("reading drplan " + ns + "/" + name);
  }
  Result<dr::DRPlan> plan = dr::DRPlanFromJson(*obj);
  if (!plan.ok()) return plan.status().WithContext("reading drplan " + ns + "/" + name);
  return std::optional<dr::DRPlan>(std::move(*plan));
}

Status RecordCapture(kube::Client& client, const std::string& ns, const std::string& plan, const inventory::Index& index) {
  json patch = {{"status",
                 {{"lastCapture",
                   {{"generation", index.generation},
                    {"capturedAt", FormatRfc3339(index.capture_end)},
                    {"objects", static_cast<int64_t>(index.objects.size())}}}}}};
  kube::PatchOptions po;
  po.subresource = "status";
  Result<json> r = client.Patch(kPlans, ns, plan, kube::PatchType::kMergePatch, patch, po);
  return r.ok() ? Status::Ok() : r.status();
}

Status RunAgentCapture(const AgentCaptureOptions& o, const CommandContext& ctx, dr::AgentResult* result) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.plan, "--plan"));
  if (o.inventory_path.empty()) {
    return Status::InvalidArgument("--inventory-path is required: where the inventory volume is mounted");
  }
  if (o.keep < 1) return Status::InvalidArgument("--keep must be at least 1, not " + std::to_string(o.keep));
  std::string pvc_ns, pvc_name;
  if (!o.inventory_pvc.empty()) {
    size_t slash = o.inventory_pvc.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == o.inventory_pvc.size()) {
      return Status::InvalidArgument("--inventory-pvc " + Quote(o.inventory_pvc) + ": use NAMESPACE/NAME");
    }
    pvc_ns = o.inventory_pvc.substr(0, slash);
    pvc_name = o.inventory_pvc.substr(slash + 1);
  }
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(std::optional<dr::DRPlan> plan, ReadPlanIfHere(*client, ns, o.plan));
  inventory::CaptureOptions co;
  co.plan = {ns, o.plan};
  co.namespaces = o.namespaces;
  co.inventory_pvc_namespace = pvc_ns;
  co.inventory_pvc_name = pvc_name;
  co.keep = o.keep;
  co.holder = "kubectl-dr agent" + (Getenv("HOSTNAME").empty() ? std::string() : " in pod " + Getenv("HOSTNAME"));
  if (plan) {
    if (plan->spent()) {
      return Status::FailedPrecondition("plan " + Quote(o.plan) + " was spent by " + Quote(plan->status.spent_by) +
                                        ": its inventory failed over; clone it: kubectl dr plan clone " + o.plan +
                                        " --name NEW --inventory-pvc NEW-PVC");
    }
    if (co.namespaces.empty()) co.namespaces = plan->spec.namespaces;
    if (co.inventory_pvc_name.empty()) {
      co.inventory_pvc_namespace = plan->spec.inventory_pvc_namespace;
      co.inventory_pvc_name = plan->spec.inventory_pvc_name;
    }
  } else if (co.namespaces.empty()) {
    return Status::FailedPrecondition("drplan " + ns + "/" + o.plan +
                                      " is not on this cluster (plans live on the target): give the plan's "
                                      "namespaces with --namespaces, as the capture CronJob does");
  }
  const std::string root = ExpandHome(o.inventory_path);
  *ctx.streams.err << "capturing plan " << Quote(o.plan) << " (namespaces " << Join(co.namespaces, ", ")
                   << ") into " << root << "\n";
  Result<inventory::Index> index = inventory::Capture(*client, ctx.env, root, co);
  if (!index.ok()) return index.status().WithContext("capturing plan " + Quote(o.plan));
  for (const std::string& w : index->warnings) *ctx.streams.err << "warning: " << w << "\n";
  for (const inventory::UnlistedResource& u : index->unlisted) {
    *ctx.streams.err << "warning: not captured: " << (u.group.empty() ? u.resource : u.resource + "." + u.group)
                     << (u.namespace_name.empty() ? "" : " in namespace " + u.namespace_name) << ": " << u.message
                     << "\n";
  }
  result->ok = true;
  result->generation = index->generation;
  result->captured_at = FormatRfc3339(index->capture_end);
  result->objects = static_cast<int64_t>(index->objects.size());
  result->message = "inventory generation " + std::to_string(index->generation) + ": " +
                    std::to_string(index->objects.size()) + " objects, " + std::to_string(index->volumes.size()) +
                    " volumes" +
                    (index->unlisted.empty() ? "" : ", " + std::to_string(index->unlisted.size()) + " not readable");
  if (plan) {
    Status recorded = RecordCapture(*client, ns, o.plan, *index);
    if (!recorded.ok()) {
      // The inventory is written and current: the plan's status is a report, not the capture.
      *ctx.streams.err << "warning: the capture is done but not recorded in drplan " << o.plan << ": "
                       << recorded.message() << "\n";
    }
  } else {
    *ctx.streams.err << "drplan " << o.plan << " is not on this cluster: the capture is not recorded in its status\n";
  }
  return Status::Ok();
}

Status RunAgentRestoreCli(const AgentRestoreCliOptions& o, const CommandContext& ctx, dr::AgentResult* result) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.recovery, "--recovery"));
  if (o.parallel < 1) return Status::InvalidArgument("--parallel must be at least 1, not " + std::to_string(o.parallel));
  KDR_ASSIGN_OR_RETURN(inventory::ExistingPolicy existing, inventory::ParseExistingPolicy(o.existing));
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseRequestTimeout(o.timeout));
  if (timeout.count() <= 0) return Status::InvalidArgument("--timeout must be more than 0");
  dr::AgentRestoreOptions ro;
  ro.recovery = o.recovery;
  ro.dr_namespace = DrNamespace(ctx.globals);
  ro.inventory_path = ExpandHome(o.inventory_path);
  ro.generation = o.generation;
  ro.describe = o.describe;
  ro.restore.existing = existing;
  ro.restore.parallel = o.parallel;
  ro.restore.rerun_finished_jobs = o.rerun_finished_jobs;
  ro.restore.timeout = timeout;
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  *ctx.streams.err << (o.describe ? "reading the inventory of recovery " : "restoring recovery ") << Quote(o.recovery)
                   << " from " << ro.inventory_path << "\n";
  KDR_ASSIGN_OR_RETURN(*result, dr::RunAgentRestore(*client, ctx.env, ro));
  *ctx.streams.err << result->message << "\n";
  return Status::Ok();
}

Status Apply(kube::Client& client, const std::vector<json>& objects, const std::string& where, std::ostream& out) {
  kube::PatchOptions apply;
  apply.field_manager = std::string(install::kFieldManager);
  apply.force = true;
  for (const json& obj : objects) {
    Result<kube::ApiResource> r = client.mapper().ForObject(obj);
    if (!r.ok()) return r.status().WithContext("applying " + install::ObjectRef(obj) + " on " + where);
    Result<json> applied = client.Apply(r->gvr, r->namespaced ? kube::Namespace(obj) : "", obj, apply);
    if (!applied.ok()) {
      return applied.status().WithContext("applying " + install::ObjectRef(obj) + " on " + where +
                                          " (re-run kubectl dr agent install once fixed)");
    }
    out << install::ObjectRef(obj) << " serverside-applied (" << where << ")\n";
  }
  return Status::Ok();
}

// Leaves out of `objects` those in namespace `ns` when `ns` is not on the cluster, printing
// `why`: the agent's account on a DR site without the inventory claim's namespace (one of the
// plan's, which the failover makes, and the account with it: agent_job.h), the Role recording
// captures in a plan on a source without the DR namespace (no plan lives there).
Status LeaveOutWithoutNamespace(kube::Client& client, const std::string& ns, const std::string& where,
                                const std::string& why, std::vector<json>* objects, const CommandContext& ctx) {
  Result<json> found = client.Get(kNamespaces, "", ns);
  if (found.ok()) return Status::Ok();
  if (!found.status().IsNotFound()) return found.status().WithContext("reading namespace " + ns + " on the " + where);
  std::erase_if(*objects, [&](const json& obj) { return kube::Namespace(obj) == ns; });
  *ctx.streams.err << "namespace " << ns << " is not on the " << where << ": " << why << "\n";
  return Status::Ok();
}

Status ApplyRestoreAgent(kube::Client& target, const dr::DRPlan& plan, std::vector<json> objects,
                         const CommandContext& ctx) {
  const std::string& ns = plan.spec.inventory_pvc_namespace;
  KDR_RETURN_IF_ERROR(LeaveOutWithoutNamespace(
      target, ns, "target", "the failover makes it for the inventory claim, and the agent's service account " + ns +
                                "/" + dr::AgentServiceAccountName(plan.metadata.name) + " before the agent's first Job",
      &objects, ctx));
  return Apply(target, objects, "target", *ctx.streams.out);
}

Status RunAgentInstall(const AgentInstallOptions& o, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.plan, "--plan"));
  const std::string ns = DrNamespace(ctx.globals);
  dr::AgentOptions ao;
  ao.image = o.image;
  ao.schedule = o.schedule;
  ao.dr_namespace = ns;
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));
  Result<json> obj = target->Get(kPlans, ns, o.plan);
  if (!obj.ok()) {
    if (obj.status().IsNotFound()) {
      return Status::NotFound("drplan " + Quote(o.plan) + " not found in namespace " + ns +
                              " of the current context; plans live on the target cluster: choose it with --context");
    }
    return obj.status().WithContext("reading drplan " + ns + "/" + o.plan);
  }
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, dr::DRPlanFromJson(*obj));
  // Everything rendered before the first write.
  KDR_ASSIGN_OR_RETURN(std::vector<json> restore, dr::RestoreAgentObjects(plan, ao));
  if (plan.spent()) {
    // Nothing to capture any more, and the source may be gone; but the recovery that spent it may
    // still need its agent on the target to finish (failover --agent job).
    KDR_RETURN_IF_ERROR(ApplyRestoreAgent(*target, plan, std::move(restore), ctx));
    *ctx.streams.err << "plan " << Quote(o.plan) << " was spent by " << Quote(plan.status.spent_by)
                     << ": the restore agent is installed on the target for it, the capture is not (clone the plan "
                        "to protect what is left: kubectl dr plan clone " << o.plan
                     << " --name NEW --inventory-pvc NEW-PVC)\n";
    return Status::Ok();
  }
  KDR_ASSIGN_OR_RETURN(std::vector<json> capture, dr::CaptureAgentObjects(plan, ao));
  if (plan.spec.source_context.empty()) {
    return Status::FailedPrecondition("plan " + Quote(o.plan) + " has no spec.sourceContext: the capture CronJob "
                                      "goes on the source");
  }
  GlobalOptions source_globals = ctx.globals;
  source_globals.context = plan.spec.source_context;
  const std::string source_where = "source (context " + plan.spec.source_context + ")";
  Result<std::unique_ptr<kube::Client>> source = ClientFromGlobals(source_globals, ctx.env);
  if (!source.ok()) return source.status().WithContext("reaching the " + source_where);
  KDR_RETURN_IF_ERROR(LeaveOutWithoutNamespace(**source, ns, source_where,
                                               "no plan lives there, so the capture has no plan status to record in",
                                               &capture, ctx));
  KDR_RETURN_IF_ERROR(Apply(**source, capture, source_where, *ctx.streams.out));
  KDR_RETURN_IF_ERROR(ApplyRestoreAgent(*target, plan, std::move(restore), ctx));
  // What a failover with the agent as a Job restores before the agent can read the inventory,
  // kept where the plan is for when the source is gone (dr/inventory_volume.h).
  Result<inventory::RestoreInput> volume = dr::ReadInventoryVolume(**source, plan);
  Status recorded = volume.ok() ? dr::RecordInventoryVolume(*target, plan, *volume, *ctx.env.clock) : volume.status();
  if (recorded.ok()) {
    *ctx.streams.out << "drplan " << plan.metadata.name << " records the inventory claim's volume ("
                     << (volume->volumes.front().pv_name.empty() ? "not bound yet" : volume->volumes.front().pv_name)
                     << ")\n";
  } else {
    *ctx.streams.err << "warning: the inventory claim's volume is not recorded in drplan " << plan.metadata.name << ": "
                     << recorded.message() << "; a failover with --agent job then needs the source to answer\n";
  }
  const json& cron = capture.back();
  *ctx.streams.err << "the capture runs on the source on schedule " << Quote(kube::StringField(cron, {"spec", "schedule"}))
                   << "; run one now: kubectl dr --context " << plan.spec.target_context
                   << " inventory capture --plan " << plan.metadata.name << "\n";
  return Status::Ok();
}

}  // namespace

void RegisterAgent(const Registrar& r) {
  CLI::App* cmd = r.root->add_subcommand(
      "agent",
      "The in-cluster agent: capture and restore the inventory in a pod; install its CronJob");
  cmd->require_subcommand(1);

  auto copts = std::make_shared<AgentCaptureOptions>();
  CLI::App* capture = cmd->add_subcommand(
      "capture", "Capture the plan's namespaces into the mounted inventory volume (runs in the capture CronJob's pods)");
  capture->add_option("--plan", copts->plan, "The plan being captured (required)")->required()->type_name("NAME");
  capture->add_option("--namespaces", copts->namespaces,
                      "The namespaces to capture (default: the plan's, when the plan is on this cluster)")
      ->delimiter(',')
      ->type_name("NS,...");
  capture->add_option("--inventory-pvc", copts->inventory_pvc,
                      "The plan's inventory claim, for the volume map (default: the plan's)")
      ->type_name("NS/NAME");
  capture->add_option("--inventory-path", copts->inventory_path, "Where the inventory volume is mounted (required)")
      ->required()
      ->type_name("DIR");
  capture->add_option("--keep", copts->keep, "Complete generations to keep, the new one included")->type_name("N");
  capture->footer(
      "The cluster is the pod's (in-cluster configuration: KUBERNETES_SERVICE_HOST/PORT and the service\n"
      "account's token and CA) unless --kubeconfig or a kubeconfig says otherwise. When the plan is on this\n"
      "cluster the capture is recorded in its status.lastCapture. The result is one JSON line on stdout and in\n"
      "the container's termination message (/dev/termination-log, or the file KUBECTL_DR_TERMINATION_LOG names).\n\n"
      "Examples:\n"
      "  kubectl-dr agent capture --plan shop-to-dr --namespaces shop,payments \\\n"
      "      --inventory-pvc kubectl-dr-system/shop-inventory --inventory-path /var/lib/kubectl-dr/inventory");
  capture->callback([r, copts] {
    *r.action = [r, copts] {
      dr::AgentResult result;
      Status s = RunAgentCapture(*copts, *r.context, &result);
      return Finish(*r.context, s, result);
    };
  });

  auto ropts = std::make_shared<AgentRestoreCliOptions>();
  CLI::App* restore = cmd->add_subcommand(
      "restore", "Restore a recovery's objects from the mounted inventory volume (runs in the restore Job's pod)");
  restore->add_option("--recovery", ropts->recovery, "The DRRecovery being run (required)")->required()->type_name("NAME");
  restore->add_option("--inventory-path", ropts->inventory_path, "Where the inventory volume is mounted (required)")
      ->required()
      ->type_name("DIR");
  restore->add_option("--generation", ropts->generation, "The inventory generation (default: the current one)")
      ->type_name("N");
  restore->add_option("--existing", ropts->existing, "An object already on the target: fail, skip or update")
      ->type_name("POLICY");
  restore->add_option("--parallel", ropts->parallel, "Objects written at once within a tier")->type_name("N");
  restore->add_option("--timeout", ropts->timeout, "How long the storage calls and claim binding may take")
      ->type_name("DURATION");
  restore->add_flag("--rerun-finished-jobs", ropts->rerun_finished_jobs,
                    "Restore the Jobs that finished on the source too: they run again on the target");
  restore->add_flag("--describe", ropts->describe,
                    "Read and check the inventory, list what would conflict, record the inventory (generation, "
                    "capture time, objects, volume map) in the recovery's status; restore nothing");
  restore->footer(
      "Restores as `kubectl dr failover --agent local` does, on the cluster of the pod, writes its progress to\n"
      "the recovery's status.progress, and records the counts in status.restored and the first 100 failures in\n"
      "status.failures; the result is one JSON line on stdout and in the termination message. The workflow\n"
      "(failover|failback|drill --agent job) runs it as Jobs: --describe in its StartAgent step, the restore in\n"
      "its RestoreObjects step.\n\n"
      "Examples:\n"
      "  kubectl-dr agent restore --recovery shop-failover --inventory-path /var/lib/kubectl-dr/inventory");
  restore->callback([r, ropts] {
    *r.action = [r, ropts] {
      dr::AgentResult result;
      Status s = RunAgentRestoreCli(*ropts, *r.context, &result);
      return Finish(*r.context, s, result);
    };
  });

  auto iopts = std::make_shared<AgentInstallOptions>();
  CLI::App* install = cmd->add_subcommand(
      "install", "Install the capture CronJob on the plan's source and the restore agent's identity on its target");
  install->add_option("--plan", iopts->plan, "The plan (read from the current context: the target)")
      ->required()
      ->type_name("NAME");
  install->add_option("--image", iopts->image,
                      "The agent image (default: " + std::string(dr::kAgentImageRepository) +
                          " with the install manifests' tag)")
      ->type_name("IMAGE");
  install->add_option("--schedule", iopts->schedule,
                      "The capture's cron schedule (default: the plan's spec.schedule, else \"" +
                          std::string(dr::kDefaultCaptureSchedule) + "\")")
      ->type_name("CRON");
  install->footer(
      "On the source (the plan's sourceContext), in the inventory claim's namespace: the service account\n"
      "kubectl-dr-agent-PLAN, read-only RBAC on the plan's namespaces (a RoleBinding in each) and the\n"
      "cluster-scoped objects a capture follows, and the CronJob kubectl-dr-capture-PLAN mounting the\n"
      "inventory claim. On the target: the same service account, allowed to restore (failover --agent job),\n"
      "annotated with the image its Jobs run; and the inventory claim's volume, read on the source, recorded\n"
      "in the plan's status.inventoryVolume so that a failover with --agent job can restore it when the source\n"
      "is gone. Re-running it updates them (server-side apply). For a spent plan it installs only the target's\n"
      "restore agent, which the recovery that spent the plan may still need.\n\n"
      "Examples:\n"
      "  kubectl dr agent install --plan shop-to-dr --schedule '*/10 * * * *'\n"
      "  kubectl dr inventory capture --plan shop-to-dr");
  install->callback([r, iopts] { *r.action = [r, iopts] { return RunAgentInstall(*iopts, *r.context); }; });
}

}  // namespace kdr::plugin
