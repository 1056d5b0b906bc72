// kubectl dr failover NAME, kubectl dr failback NAME and kubectl dr drill NAME: run (or resume) a
// recovery job created with `kubectl dr recovery create`, step by step (shared/dr/workflow.h), with progress on stderr and the
// final report (RTO, RPO, the steps, the counts, every failure) on stdout.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <iostream>
#include <ostream>
#include <unistd.h>

#include "base/strings.h"
#include "cli/cli.h"
#include "dr/journal.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "dr/workflow.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube_context.h"
#include "output.h"
#include "progress.h"

namespace kdr::plugin {

void RegisterDrillCleanup(CLI::App* drill, const Registrar& r);  // drill_cleanup.cc

namespace {

using nlohmann::json;

struct RunOptions {
  std::string name;
  std::string agent = "job";
  std::string inventory_path;
  int64_t generation = 0;  // 0: current
  std::string existing;  // "": fail, or update for a failback (the old primary's stale copies)
  int parallel = 16;
  std::string timeout = "30m";
  bool no_wait = false;
  bool yes = false;
};

std::string Holder() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const char* user = std::getenv("USER");
  return std::string(user != nullptr ? user : "unknown") + "@" + host + " pid " + std::to_string(::getpid());
}

std::string Seconds(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.1fs" : "%.0fs", s);
  return buf;
}

json ReportJson(const dr::WorkflowReport& r) {
  json steps = json::array();
  for (const auto& s : r.steps) {
    steps.push_back({{"name", s.name}, {"state", std::string(dr::ToString(s.state))}, {"attempts", s.attempts},
                     {"seconds", std::chrono::duration<double>(s.elapsed).count()}, {"message", s.message}});
  }
  json failures = json::array();
  for (const auto& f : r.failures) {
    failures.push_back({{"object", f.object.ToString()}, {"tier", std::string(inventory::TierName(f.tier))},
                        {"code", std::string(StatusCodeName(f.status.code()))}, {"message", f.status.message()}});
  }
  return {{"recovery", r.recovery},
          {"plan", r.plan},
          {"action", std::string(dr::ToString(r.action))},
          {"phase", r.phase ? std::string(dr::ToString(*r.phase)) : "Pending"},
          {"startedAt", r.started_at},
          {"finishedAt", r.finished_at},
          {"rtoSeconds", std::chrono::duration<double>(r.rto).count()},
          {"rpo", {{"inventoryCapturedAt", r.inventory_captured_at}, {"inventoryGeneration", r.inventory_generation},
                   {"storageLastSync", r.storage_last_sync}}},
          {"steps", steps},
          {"restored", {{"created", r.counts.created}, {"updated", r.counts.updated}, {"existing", r.counts.existing},
                        {"skipped", r.counts.skipped}, {"failed", r.counts.failed}}},
          {"failures", failures},
          {"warnings", r.warnings}};
}

void PrintReport(const dr::WorkflowReport& r, std::ostream& out) {
  out << "recovery " << r.recovery << " (" << dr::ToString(r.action) << " of plan " << r.plan << "): "
      << (r.phase ? std::string(dr::ToString(*r.phase)) : "Pending") << "\n";
  out << "RTO " << Seconds(r.rto) << " (started " << r.started_at << ")";
  if (!r.inventory_captured_at.empty()) {
    out << "; RPO: inventory generation " << r.inventory_generation << " captured " << r.inventory_captured_at;
  }
  if (!r.storage_last_sync.empty()) out << ", storage last synced " << r.storage_last_sync;
  out << "\n";
  Table t;
  t.headers = {"STEP", "STATE", "ATTEMPTS", "TIME", "MESSAGE"};
  for (const auto& s : r.steps) {
    t.rows.push_back({s.name, std::string(dr::ToString(s.state)), std::to_string(s.attempts), Seconds(s.elapsed), s.message});
  }
  out << FormatTable(t);
  out << "restored: " << (r.counts.created + r.counts.updated + r.counts.existing) << " (" << r.counts.created
      << " created, " << r.counts.updated << " updated, " << r.counts.existing << " already there), "
      << r.counts.skipped << " skipped, " << r.counts.failed << " failed\n";
  for (const auto& f : r.failures) out << "failed: " << f.object.ToString() << ": " << f.status.message() << "\n";
  for (const auto& w : r.warnings) out << "warning: " << w << "\n";
}

Status Confirm(const RunOptions& o, const dr::DRRecovery& rec, const dr::DRPlan& plan, const CommandContext& ctx) {
  if (o.yes) return Status::Ok();
  const bool tty = ctx.streams.in == &std::cin && ::isatty(0) == 1;
  const std::string what = std::string(dr::ToString(rec.spec.action)) + " of plan " + Quote(plan.metadata.name) +
                           " from " + plan.spec.source_context + " to " + plan.spec.target_context;
  if (!tty) {
    return Status::FailedPrecondition("recovery " + Quote(o.name) + " is a " + what + "; it is not confirmed and "
                                      "stdin is not a terminal to ask: add --yes");
  }
  *ctx.streams.err << "This runs recovery " << Quote(o.name) << ": " << what
                   << (rec.spec.action == dr::RecoveryAction::kTest
                           ? " (a drill: nothing changes on the source, the plan stays usable)"
                           : ". The plan will be spent: it cannot be used again (clone it afterwards).")
                   << "\nType the recovery's name to go on: ";
  std::string answer;
  std::getline(*ctx.streams.in, answer);
  if (answer != o.name) return Status::Cancelled("not confirmed; nothing was changed");
  return Status::Ok();
}

// The command that runs recoveries of this action.
std::string CommandOf(dr::RecoveryAction action) {
  switch (action) {
    case dr::RecoveryAction::kFailover: return "failover";
    case dr::RecoveryAction::kFailback: return "failback";
    case dr::RecoveryAction::kTest: return "drill";
  }
  return "failover";
}

Status RunWorkflow(const RunOptions& o, dr::RecoveryAction action, const CommandContext& ctx) {
  const std::string command = CommandOf(action);
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, command,
                                         {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}));
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME (the recovery)"));
  KDR_ASSIGN_OR_RETURN(inventory::ExistingPolicy existing,
                       inventory::ParseExistingPolicy(
                           !o.existing.empty() ? o.existing : action == dr::RecoveryAction::kFailback ? "update" : "fail"));
  if (o.agent != "local" && o.agent != "job") {
    return Status::InvalidArgument("--agent " + Quote(o.agent) + ": use job or local");
  }
  if (o.agent == "job" && !o.inventory_path.empty()) {
    return Status::InvalidArgument("--inventory-path is read by the agent in the plugin: add --agent local (with "
                                   "--agent job, the default, the agent reads the inventory from its restored "
                                   "volume on the target)");
  }
  if (o.agent == "local" && o.inventory_path.empty()) {
    return Status::InvalidArgument("--agent local needs --inventory-path DIR, the directory holding the replicated "
                                   "inventory");
  }
  if (o.agent == "job" && action == dr::RecoveryAction::kTest) {
    return Status::FailedPrecondition("a drill reads the replicated inventory in place, and an agent Job cannot mount "
                                      "it (the DR site's inventory volume stays a replica, and a drill copies only the "
                                      "workloads' volumes): run the drill with --agent local --inventory-path DIR");
  }
  if (o.parallel < 1 || o.parallel > 256) return Status::InvalidArgument("--parallel must be between 1 and 256");
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseRequestTimeout(o.timeout));
  if (timeout.count() <= 0) return Status::InvalidArgument("--timeout must be positive");

  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));
  Result<json> obj = target->Get(kRecoveryGvr, ns, o.name);
  if (!obj.ok()) {
    if (obj.status().IsNotFound()) {
      return Status::NotFound("drrecovery " + Quote(o.name) + " not found in namespace " + ns +
                              " of the current context; create it first: kubectl dr recovery create " + o.name +
                              " --plan PLAN" +
                              (action == dr::RecoveryAction::kFailover ? "" : " --action " + std::string(dr::ToString(action))));
    }
    return obj.status().WithContext("reading drrecovery " + ns + "/" + o.name);
  }
  KDR_ASSIGN_OR_RETURN(dr::DRRecovery rec, dr::DRRecoveryFromJson(*obj));
  const bool is_drill = rec.spec.action == dr::RecoveryAction::kTest;
  if (rec.spec.action != action) {
    return Status::FailedPrecondition("recovery " + Quote(o.name) + " is a " + std::string(dr::ToString(rec.spec.action)) +
                                      ": run it with kubectl dr " + CommandOf(rec.spec.action) + " " + o.name);
  }
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*target, ns, rec.spec.plan_name));
  KDR_RETURN_IF_ERROR(Confirm(o, rec, plan, ctx));

  // The source only when it answers at once: a failover never waits on the dead site (a failback
  // needs it, and its preflight says so).
  std::unique_ptr<kube::Client> source;
  if (!is_drill) {
    GlobalOptions g = ctx.globals;
    g.request_timeout = "5s";
    Result<std::unique_ptr<kube::Client>> c = SiteClient(g, ctx.env, plan.spec.source_context, "source cluster");
    if (c.ok() && (*c)->ServerVersion().ok()) {
      source = std::move(*c);
    } else {
      *ctx.streams.err << "warning: the source cluster (context " << Quote(plan.spec.source_context) << ") does not answer"
                       << (action == dr::RecoveryAction::kFailback ? "\n" : ": quiesce and fencing will be skipped\n");
    }
  }

  dr::WorkflowOptions w;
  w.recovery = o.name;
  w.dr_namespace = ns;
  w.agent = o.agent == "job" ? dr::WorkflowOptions::Agent::kJob : dr::WorkflowOptions::Agent::kLocal;
  w.inventory_path = o.inventory_path;
  if (o.generation > 0) w.generation = o.generation;
  w.existing = existing;
  w.parallel = o.parallel;
  w.no_wait = o.no_wait;
  w.timeout = timeout;
  w.holder = Holder();
  ProgressView view(*ctx.streams.err, ProgressView::Detect(*ctx.streams.err), *ctx.env.clock,
                    dr::StepsOf(rec.spec.action));
  w.on_event = [&view](const dr::WorkflowEvent& e) { view.On(e); };
  dr::WorkflowReport report;
  Status st = dr::RunRecovery(*target, source.get(), ctx.env, w, &report);
  view.Finish();
  std::ostream& out = *ctx.streams.out;
  if (!report.steps.empty()) {
    if (format == OutputFormat::kTable) {
      PrintReport(report, out);
    } else {
      PrintObjects({ReportJson(report)}, format, false, out);
    }
  }
  if (!st.ok()) return st;
  if (report.counts.failed > 0) {
    return Status::Aborted(std::to_string(report.counts.failed) + " object(s) failed to restore (listed above); the "
                           "rest were restored");
  }
  return Status::Ok();
}

void AddRunFlags(CLI::App* cmd, const std::shared_ptr<RunOptions>& o) {
  cmd->add_option("NAME", o->name, "The recovery (kubectl dr recovery create)")->required();
  cmd->add_option("--agent", o->agent,
                  "Where the agent that reads the inventory and restores the objects runs: job (default: Jobs on "
                  "the target mounting the restored inventory claim; needs kubectl dr agent install --plan P) or "
                  "local (in this process, reading --inventory-path)")
      ->type_name("job|local");
  cmd->add_option("--inventory-path", o->inventory_path,
                  "--agent local: the directory holding the replicated inventory")->type_name("DIR");
  cmd->add_option("--generation", o->generation, "The inventory generation to restore (default: the current one)")
      ->type_name("N");
  cmd->add_option("--existing", o->existing,
                  "What to do with objects on the target not created by this recovery: fail, skip or update "
                  "(default: fail; for a failback, update)")
      ->type_name("POLICY");
  cmd->add_option("--parallel", o->parallel, "Objects created at once within a tier")->type_name("N");
  cmd->add_option("--timeout", o->timeout, "How long each storage call and each wait may take")->type_name("DURATION");
  cmd->add_flag("--no-wait", o->no_wait, "Do not wait for the restored workloads to be ready");
  cmd->add_flag("--yes", o->yes, "Do not ask for confirmation");
}

}  // namespace

void RegisterFailover(const Registrar& r) {
  auto f = std::make_shared<RunOptions>();
  CLI::App* failover = r.root->add_subcommand(
      "failover", "Run (or resume) a Failover recovery: move its plan's workloads to the DR site, spend the plan, "
                  "fence the old primary");
  AddRunFlags(failover, f);
  failover->footer(
      "With --agent job (the default) the agent runs on the target as Jobs in the inventory claim's namespace,\n"
      "as the service account kubectl dr agent install put there (the preflight refuses the run without it):\n"
      "StartAgent reads the restored inventory (its recovery point, its volume map, what would conflict),\n"
      "RestoreObjects restores it. A rerun waits for or reads a Job of the same recovery that runs or\n"
      "succeeded, and replaces one that failed. Before the agent can read it, the inventory's own volume is\n"
      "taken from the source, or from the plan (recorded by agent install) when the source does not answer.\n\n"
      "Examples:\n  kubectl dr failover shop-failover --yes\n"
      "  kubectl dr failover shop-failover --agent local --inventory-path /mnt/inventory --yes");
  failover->callback([r, f] { *r.action = [r, f] { return RunWorkflow(*f, dr::RecoveryAction::kFailover, *r.context); }; });

  auto b = std::make_shared<RunOptions>();
  CLI::App* failback = r.root->add_subcommand(
      "failback", "Run (or resume) a Failback recovery, from a plan defined from the DR site back to the primary: "
                  "quiesce the DR site, bring the storage back (Recover then Restore), unfence the primary and bring "
                  "its stale copies to the DR site's state");
  AddRunFlags(failback, b);
  failback->footer("Examples:\n  kubectl dr failback shop-failback --yes\n"
                   "  kubectl dr failback shop-failback --agent local --inventory-path /mnt/inventory --yes");
  failback->callback([r, b] { *r.action = [r, b] { return RunWorkflow(*b, dr::RecoveryAction::kFailback, *r.context); }; });

  auto d = std::make_shared<RunOptions>();
  CLI::App* drill = r.root->add_subcommand(
      "drill", "Run (or resume) a drill (a Test recovery): restore into mapped namespaces on the DR site from copies "
               "of the replicated volumes, changing nothing on the source");
  AddRunFlags(drill, d);
  drill->footer("Examples:\n  kubectl dr drill shop-drill --agent local --inventory-path /mnt/inventory --yes\n"
                "  kubectl dr drill cleanup shop-drill --inventory-path /mnt/inventory --yes");
  // `drill cleanup NAME` is a subcommand, so the drill's own NAME is checked here, not by CLI11.
  drill->get_option("NAME")->required(false);
  RegisterDrillCleanup(drill, r);
  drill->callback([r, d, drill] {
    if (!drill->get_subcommands().empty()) return;
    *r.action = [r, d] {
      if (d->name.empty()) return Status::InvalidArgument("NAME is required: kubectl dr drill NAME, or kubectl dr drill cleanup NAME");
      return RunWorkflow(*d, dr::RecoveryAction::kTest, *r.context);
    };
  });
}

}  // namespace kdr::plugin
