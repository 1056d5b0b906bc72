// kubectl dr plan check NAME: is the plan ready for a failover, now? The checks are
// shared/dr/readiness.h (the same the failover's preflight makes); this file reaches the sites,
// picks the recovery the check is for, and prints the report. Exit 0 only when every check is ok
// or a warning.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/strings.h"
#include "cli/cli.h"
#include "dr/plan_clone.h"
#include "dr/readiness.h"
#include "dr/types.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kube_context.h"
#include "output.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

struct CheckOptions {
  std::string name;
  std::string inventory_path;
  int64_t generation = 0;  // 0: the current one
  std::string recovery;
  std::string max_rpo = "1h";
};

// The recovery to check for: --recovery (which must be of this plan), else the plan's one
// unfinished Failover recovery when there is exactly one (objects an interrupted run restored are
// its own, not conflicts), else none.
Result<std::optional<dr::DRRecovery>> ChooseRecovery(kube::Client& target, const std::string& ns,
                                                     const CheckOptions& o, std::ostream& err) {
  Result<json> list = target.ListAll(kRecoveryGvr, ns);
  if (!list.ok()) return list.status().WithContext("listing drrecoveries in " + ns);
  std::vector<dr::DRRecovery> mine;
  std::vector<std::string> names;
  for (const json& item : (*list)["items"]) {
    Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(item);
    if (!r.ok()) continue;
    names.push_back(r->metadata.name);
    if (!o.recovery.empty() && r->metadata.name == o.recovery) {
      if (r->spec.plan_name != o.name) {
        return Status::InvalidArgument("--recovery " + Quote(o.recovery) + " recovers plan " +
                                       Quote(r->spec.plan_name) + ", not " + Quote(o.name));
      }
      return std::optional<dr::DRRecovery>(*r);
    }
    if (r->spec.plan_name == o.name && r->spec.action == dr::RecoveryAction::kFailover && !r->finished()) {
      mine.push_back(*r);
    }
  }
  if (!o.recovery.empty()) {
    return Status::NotFound("drrecovery " + Quote(o.recovery) + " not found in namespace " + ns +
                            DidYouMean(o.recovery, names));
  }
  if (mine.size() != 1) return std::optional<dr::DRRecovery>();
  err << "checking for recovery " << Quote(mine.front().metadata.name) << " (--recovery to choose another)\n";
  return std::optional<dr::DRRecovery>(mine.front());
}

json ReportJson(const dr::ReadinessReport& r, const dr::DRPlan& plan, const std::string& recovery) {
  json checks = json::array();
  for (const auto& c : r.checks) {
    checks.push_back({{"name", c.name}, {"result", std::string(dr::ToString(c.verdict))}, {"message", c.message},
                      {"fix", c.fix}});
  }
  json groups = json::array();
  for (const auto& g : r.groups) {
    groups.push_back({{"role", g.role}, {"name", g.name}, {"volumes", g.volumes}, {"replication", g.replication},
                      {"caughtUp", g.caught_up}, {"lastSync", g.last_sync}, {"backend", g.backend}});
  }
  json conflicts = json::array();
  for (const auto& c : r.conflicts) conflicts.push_back({{"object", c.object.ToString()}, {"reason", c.reason}});
  json unfenced = json::array();
  for (const auto& c : r.unfenced) unfenced.push_back({{"namespace", c.namespace_name}, {"name", c.name}});
  json rpo = {{"inventoryGeneration", r.inventory_generation}, {"inventoryCapturedAt", r.inventory_captured_at}};
  rpo["ageSeconds"] = r.inventory_age ? json(r.inventory_age->count()) : json(nullptr);
  return {{"plan", r.plan},
          {"namespace", plan.metadata.namespace_name},
          {"sourceContext", plan.spec.source_context},
          {"targetContext", plan.spec.target_context},
          {"recovery", recovery},
          {"ready", r.ready()},
          {"checks", checks},
          {"rpo", rpo},
          {"storage", groups},
          {"conflicts", conflicts},
          {"unfencedClaims", unfenced}};
}

void PrintReport(const dr::ReadinessReport& r, const dr::DRPlan& plan, std::ostream& out) {
  out << "plan " << r.plan << " (" << plan.spec.source_context << " -> " << plan.spec.target_context << "): ";
  if (r.ready()) {
    out << "ready for a failover";
    if (size_t w = r.Count(dr::Verdict::kWarning)) out << " (" << w << " warning" << (w == 1 ? "" : "s") << ")";
  } else {
    out << "NOT READY (" << r.Count(dr::Verdict::kFailed) << " failed, " << r.Count(dr::Verdict::kUnchecked)
        << " unchecked)";
  }
  out << "\n";
  Table t;
  t.headers = {"CHECK", "RESULT", "DETAILS"};
  for (const auto& c : r.checks) t.rows.push_back({c.name, std::string(dr::ToString(c.verdict)), c.message});
  out << FormatTable(t);
  bool heading = false;
  for (const auto& c : r.checks) {
    if (c.fix.empty() || c.verdict == dr::Verdict::kOk) continue;
    if (!heading) out << "To do:\n";
    heading = true;
    out << "  " << c.name << ": " << c.fix << "\n";
  }
  if (!r.conflicts.empty()) {
    out << "Conflicts on the target:\n";
    for (const auto& c : r.conflicts) out << "  " << c.object.ToString() << ": " << c.reason << "\n";
  }
}

Status RunCheck(const CheckOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "plan check",
                                         {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}));
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME (the plan)"));
  if (!o.recovery.empty()) KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.recovery, "--recovery"));
  if (o.generation < 0) return Status::InvalidArgument("--generation must be positive");
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds max_rpo, ParseRequestTimeout(o.max_rpo));
  if (max_rpo.count() <= 0) return Status::InvalidArgument("--max-rpo must be positive (e.g. 30m, 2h)");
  if (ctx.env.clock == nullptr || ctx.env.fs == nullptr) return Status::Internal("no clock or file system in the environment");
  std::ostream& err = *ctx.streams.err;

  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*target, ns, o.name));
  KDR_ASSIGN_OR_RETURN(std::optional<dr::DRRecovery> recovery, ChooseRecovery(*target, ns, o, err));

  // The source only when it answers at once, as the failover reaches it.
  std::unique_ptr<kube::Client> source;
  std::string unreachable;
  {
    GlobalOptions g = ctx.globals;
    g.request_timeout = "5s";
    Result<std::unique_ptr<kube::Client>> c = SiteClient(g, ctx.env, plan.spec.source_context, "source cluster");
    if (!c.ok()) {
      unreachable = c.status().message();
    } else if (Result<json> v = (*c)->ServerVersion(); !v.ok()) {
      unreachable = v.status().message();
    } else {
      source = std::move(*c);
    }
  }

  dr::ReadinessInput in;
  in.plan = &plan;
  in.dr_namespace = ns;
  in.target = target.get();
  in.source = source.get();
  in.source_unreachable = unreachable;
  if (recovery) {
    in.recovery = recovery->metadata.name;
    in.namespaces = recovery->spec.namespaces;
    in.namespace_mapping = recovery->spec.namespace_mapping;
  }
  in.inventory_path = o.inventory_path;
  if (o.generation > 0) in.generation = o.generation;
  in.max_rpo = max_rpo;
  in.env = ctx.env;
  dr::ReadinessReport report = dr::CheckReadiness(in);

  std::ostream& out = *ctx.streams.out;
  if (format == OutputFormat::kTable) {
    PrintReport(report, plan, out);
  } else {
    PrintObjects({ReportJson(report, plan, in.recovery)}, format, false, out);
  }
  if (report.ready()) return Status::Ok();
  return Status::FailedPrecondition("plan " + Quote(o.name) + " is not ready for a failover: " +
                                    std::to_string(report.Count(dr::Verdict::kFailed)) + " check(s) failed, " +
                                    std::to_string(report.Count(dr::Verdict::kUnchecked)) + " could not be made");
}

}  // namespace

void RegisterPlanCheck(CLI::App* plan, const Registrar& r) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* cmd = plan->add_subcommand(
      "check", "Report whether a failover of the plan would start cleanly now: RPO, storage, webhooks, conflicts, "
               "fencing (exit 0 only then)");
  cmd->add_option("NAME", o->name, "The plan")->required();
  cmd->add_option("--inventory-path", o->inventory_path,
                  "The directory holding the replicated inventory (as failover --agent local reads it): needed for "
                  "the RPO, the storage groups and the conflicts")
      ->type_name("DIR");
  cmd->add_option("--generation", o->generation, "The inventory generation to check (default: the current one)")
      ->type_name("N");
  cmd->add_option("--recovery", o->recovery,
                  "Check for this recovery of the plan (its namespaces; what it restored is not a conflict); default: "
                  "the plan's unfinished Failover recovery when there is one")
      ->type_name("NAME");
  cmd->add_option("--max-rpo", o->max_rpo, "An inventory older than this is stale")->type_name("DURATION");
  cmd->footer(
      "Examples:\n"
      "  kubectl dr plan check shop-to-dr --inventory-path /mnt/inventory\n"
      "  kubectl dr plan check shop-to-dr --inventory-path /mnt/inventory --max-rpo 30m -o json");
  cmd->callback([r, o] { *r.action = [r, o] { return RunCheck(*o, *r.context); }; });
}

}  // namespace kdr::plugin
