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
  std::string agent;  // "": job
  std::string inventory_path;
  int64_t generation = 0;  // 0: current
  std::string existing;  // "": fail, or update for a failback (the old primary's stale copies)
  int parallel = 16;
  std::string timeout = "30m";
  bool no_wait = false;
  bool yes = false;
  bool dry_run = false;
  bool skip_quiesce = false;
  bool rerun_finished_jobs = false;
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

json DryRunJson(const dr::DryRunReport& r) {
  json steps = json::array();
  for (const auto& s : r.steps) steps.push_back({{"name", s.name}, {"state", s.state}, {"what", s.what}});
  json groups = json::array();
  for (const auto& g : r.groups) {
    groups.push_back({{"role", g.role}, {"name", g.name}, {"replication", g.replication}, {"claims", g.claims}});
  }
  json conflicts = json::array();
  for (const auto& c : r.conflicts) conflicts.push_back({{"object", c.object.ToString()}, {"reason", c.reason}});
  int64_t objects = 0;
  for (const auto& [_, n] : r.objects_by_kind) objects += n;
  json inventory = {{"generation", r.inventory_generation}, {"capturedAt", r.inventory_captured_at}};
  if (!r.objects_by_kind.empty()) {
    inventory["objects"] = objects;
    inventory["objectsByKind"] = r.objects_by_kind;
  }
  return {{"recovery", r.recovery},
          {"plan", r.plan},
          {"action", std::string(dr::ToString(r.action))},
          {"dryRun", true},
          {"ready", r.ready()},
          {"problems", r.problems},
          {"sourceContext", r.source_context},
          {"targetContext", r.target_context},
          {"sourceReachable", r.source_reachable},
          {"steps", steps},
          {"storage", groups},
          {"inventory", inventory},
          {"existing", r.existing},
          {"conflicts", conflicts},
          {"quiesce", r.quiesce},
          {"warnings", r.warnings},
          {"notes", r.notes}};
}

void PrintDryRun(const dr::DryRunReport& r, std::ostream& out) {
  out << "dry run of recovery " << r.recovery << " (" << dr::ToString(r.action) << " of plan " << r.plan << ", "
      << r.source_context << " -> " << r.target_context << "): "
      << (r.ready() ? std::string("a run would start cleanly")
                    : "a run would NOT start cleanly (" + std::to_string(r.problems.size()) + " problem" +
                          (r.problems.size() == 1 ? "" : "s") + ")")
      << "; nothing was changed\n";
  if (r.action != dr::RecoveryAction::kTest) {
    out << "source (context " << r.source_context << "): " << (r.source_reachable ? "answers" : "does not answer")
        << "\n";
  }
  if (r.inventory_generation > 0) {
    out << "inventory: generation " << r.inventory_generation << " captured " << r.inventory_captured_at << "\n";
  }
  Table steps;
  steps.headers = {"STEP", "WOULD", "WHAT"};
  for (const auto& s : r.steps) steps.rows.push_back({s.name, s.state, s.what.empty() ? "<none>" : s.what});
  out << FormatTable(steps);
  if (!r.groups.empty()) {
    Table groups;
    groups.headers = {"STORAGE", "GROUP", "REPLICATION", "CLAIMS"};
    for (const auto& g : r.groups) {
      groups.rows.push_back({g.role, g.name, g.replication.empty() ? "<unknown>" : g.replication,
                             g.claims.empty() ? "<none>" : Join(g.claims, ",")});
    }
    out << FormatTable(groups);
  }
  if (!r.objects_by_kind.empty()) {
    int64_t objects = 0;
    for (const auto& [_, n] : r.objects_by_kind) objects += n;
    out << "inventory objects of the recovery's namespaces (cluster-scoped ones included): " << objects << "\n";
    Table kinds;
    kinds.headers = {"KIND", "OBJECTS"};
    for (const auto& [kind, n] : r.objects_by_kind) kinds.rows.push_back({kind, std::to_string(n)});
    out << FormatTable(kinds);
  }
  if (!r.quiesce.empty()) {
    out << "would quiesce on the source:\n";
    for (const auto& q : r.quiesce) out << "  " << q << "\n";
  }
  if (!r.conflicts.empty()) {
    out << "conflicts on the target (existing: " << r.existing << "):\n";
    for (const auto& c : r.conflicts) out << "  " << c.object.ToString() << ": " << c.reason << "\n";
  }
  for (const auto& p : r.problems) out << "problem: " << p << "\n";
  for (const auto& w : r.warnings) out << "warning: " << w << "\n";
  for (const auto& n : r.notes) out << "note: " << n << "\n";
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

Status RunWorkflow(const RunOptions& given, dr::RecoveryAction action, const CommandContext& ctx) {
  const std::string command = CommandOf(action);
  RunOptions o = given;
  if (o.agent.empty()) o.agent = "job";
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
  // A dry run changes nothing, so it asks nothing.
  if (!o.dry_run) KDR_RETURN_IF_ERROR(Confirm(o, rec, plan, ctx));

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
  w.skip_quiesce = o.skip_quiesce;
  w.rerun_finished_jobs = o.rerun_finished_jobs;
  w.timeout = timeout;
  w.holder = Holder();
  if (o.dry_run) {
    dr::DryRunReport plan_report;
    KDR_RETURN_IF_ERROR(dr::PlanRecovery(*target, source.get(), ctx.env, w, &plan_report));
    if (format == OutputFormat::kTable) {
      PrintDryRun(plan_report, *ctx.streams.out);
    } else {
      PrintObjects({DryRunJson(plan_report)}, format, false, *ctx.streams.out);
    }
    if (plan_report.ready()) return Status::Ok();
    return Status::FailedPrecondition("recovery " + Quote(o.name) + " would not start cleanly: " +
                                      std::to_string(plan_report.problems.size()) + " problem(s), listed above; "
                                      "nothing was changed");
  }
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
                  "Where the agent that reads the inventory and restores the objects runs: job (the default: Jobs "
                  "on the target mounting the restored inventory claim, or a drill's claim on a copy of it; needs "
                  "kubectl dr agent install --plan P) or local (in this process, reading --inventory-path)")
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
  cmd->add_flag("--rerun-finished-jobs", o->rerun_finished_jobs,
                "Restore the Jobs that finished on the source too (by default they are skipped: restored, a "
                "finished Job runs again, its status being the source's)");
  cmd->add_flag("--yes", o->yes, "Do not ask for confirmation");
  cmd->add_flag("--dry-run", o->dry_run,
                "Run the preflight only and show what a run would do (its steps, storage groups, objects by kind, "
                "conflicts, what it would quiesce); change nothing on either cluster, ask nothing; exit 0 only when a "
                "run would start cleanly");
}

// Failover and failback stop the source's workloads first (QuiesceSource); a drill never does.
void AddSkipQuiesceFlag(CLI::App* cmd, const std::shared_ptr<RunOptions>& o, std::string_view site) {
  cmd->add_flag("--skip-quiesce", o->skip_quiesce,
                "Leave the workloads on " + std::string(site) + " running: the QuiesceSource step is skipped "
                "(journaled with the reason --skip-quiesce) and the report warns of it; what they write after the "
                "storage's last sync is lost");
}

}  // namespace

void RegisterFailover(const Registrar& r) {
  auto f = std::make_shared<RunOptions>();
  CLI::App* failover = r.root->add_subcommand(
      "failover", "Run (or resume) a Failover recovery: move its plan's workloads to the DR site, spend the plan, "
                  "fence the old primary");
  AddRunFlags(failover, f);
  AddSkipQuiesceFlag(failover, f, "the source");
  failover->footer(
      "With --agent job (the default) the agent runs on the target as Jobs in the inventory claim's namespace,\n"
      "as the service account kubectl dr agent install put there (the preflight refuses the run without it):\n"
      "StartAgent reads the restored inventory (its recovery point, its volume map, what would conflict),\n"
      "RestoreObjects restores it. A rerun waits for or reads a Job of the same recovery that runs or\n"
      "succeeded, and replaces one that failed. Before the agent can read it, the inventory's own volume is\n"
      "taken from the source, or from the plan (recorded by agent install) when the source does not answer.\n\n"
      "--dry-run runs the preflight alone and shows what a run would do; it changes nothing and exits 1\n"
      "when a run would not start cleanly (every problem listed: a spent plan, the webhook, conflicts...).\n\n"
      "Examples:\n  kubectl dr failover shop-failover --dry-run\n  kubectl dr failover shop-failover --yes\n"
      "  kubectl dr failover shop-failover --agent local --inventory-path /mnt/inventory --yes");
  failover->callback([r, f] { *r.action = [r, f] { return RunWorkflow(*f, dr::RecoveryAction::kFailover, *r.context); }; });

  auto b = std::make_shared<RunOptions>();
  CLI::App* failback = r.root->add_subcommand(
      "failback", "Run (or resume) a Failback recovery, from a plan defined from the DR site back to the primary: "
                  "quiesce the DR site, bring the storage back (Recover then Restore), unfence the primary and bring "
                  "its stale copies to the DR site's state");
  AddRunFlags(failback, b);
  AddSkipQuiesceFlag(failback, b, "the DR site (the failback's source)");
  failback->footer("Examples:\n  kubectl dr failback shop-failback --yes\n"
                   "  kubectl dr failback shop-failback --agent local --inventory-path /mnt/inventory --yes");
  failback->callback([r, b] { *r.action = [r, b] { return RunWorkflow(*b, dr::RecoveryAction::kFailback, *r.context); }; });

  auto d = std::make_shared<RunOptions>();
  CLI::App* drill = r.root->add_subcommand(
      "drill", "Run (or resume) a drill (a Test recovery): restore into mapped namespaces on the DR site from copies "
               "of the replicated volumes, changing nothing on the source");
  AddRunFlags(drill, d);
  drill->footer("A drill never attaches a live replica. With --agent job (the default) it copies the inventory's\n"
                "volume and makes a claim of its own on the copy (kubectl-dr-inventory-NAME, in the inventory\n"
                "claim's namespace) for the agent's Jobs to mount; with driver none, whose copies hold no data,\n"
                "the claim is on the inventory's volume as captured, mounted read-only. The workloads' volumes\n"
                "are copied once the agent has read the volume map. With --agent local the inventory is read in\n"
                "place from --inventory-path and only the workloads' volumes are copied. drill cleanup removes\n"
                "all of it, the copies included.\n\n"
                "Examples:\n  kubectl dr drill shop-drill --yes\n"
                "  kubectl dr drill shop-drill --inventory-path /mnt/inventory --agent local --dry-run\n"
                "  kubectl dr drill cleanup shop-drill --yes");
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
