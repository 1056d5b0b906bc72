// kubectl dr drill cleanup NAME: removes from the DR site what the drill NAME (a Test recovery)
// made there, volumes included (shared/dr/drill_cleanup.h), after asking; prints what it removed.

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <unistd.h>

#include "base/strings.h"
#include "cli/cli.h"
#include "dr/drill_cleanup.h"
#include "dr/plan_clone.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube_context.h"
#include "output.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

struct CleanupOptions {
  std::string name;
  std::string inventory_path;
  int64_t generation = 0;  // 0: current
  std::string timeout = "5m";
  bool yes = false;
  bool dry_run = false;
};

std::string Holder() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const char* user = std::getenv("USER");
  return std::string(user != nullptr ? user : "unknown") + "@" + host + " pid " + std::to_string(::getpid()) +
         " (drill cleanup)";
}

json ReportJson(const dr::DrillCleanupReport& r, bool dry_run) {
  json removed = json::array();
  for (const auto& o : r.removed) {
    removed.push_back({{"apiVersion", o.api_version}, {"kind", o.kind}, {"namespace", o.namespace_name}, {"name", o.name}});
  }
  return {{"recovery", r.recovery},  {"plan", r.plan},       {"dryRun", dry_run},
          {"removed", removed},      {"drillVolumes", r.drill_volumes},
          {"kept", r.kept},          {"warnings", r.warnings}};
}

void PrintReport(const dr::DrillCleanupReport& r, bool dry_run, std::ostream& out) {
  if (!r.removed.empty()) {
    Table t;
    t.headers = {"KIND", "NAMESPACE", "NAME"};
    for (const auto& o : r.removed) t.rows.push_back({o.kind, o.namespace_name.empty() ? "<none>" : o.namespace_name, o.name});
    out << FormatTable(t);
  }
  const std::string verb = dry_run ? "would remove" : "removed";
  out << "drill " << r.recovery << " (plan " << r.plan << "): " << verb << " " << r.removed.size() << " object(s)";
  if (!r.drill_volumes.empty()) {
    out << " and the drill copies of " << r.drill_volumes.size() << " volume(s) (" << Join(r.drill_volumes, ", ") << ")";
  }
  out << (r.removed.empty() && r.drill_volumes.empty() && !dry_run ? "; nothing was left to remove" : "") << "\n";
  for (const auto& k : r.kept) out << "kept: " << k << "\n";
}

Status Confirm(const CleanupOptions& o, const dr::DrillCleanupReport& listed, const CommandContext& ctx) {
  const std::string removes = "removes " + std::to_string(listed.removed.size()) + " object(s) from the DR site" +
                              (listed.drill_volumes.empty()
                                   ? std::string()
                                   : " and the drill copies of " + std::to_string(listed.drill_volumes.size()) +
                                         " volume(s)");
  const bool tty = ctx.streams.in == &std::cin && ::isatty(0) == 1;
  if (!tty) {
    return Status::FailedPrecondition("drill cleanup of " + Quote(o.name) + " " + removes + "; it is not confirmed "
                                      "and stdin is not a terminal to ask: add --yes (--dry-run lists them)");
  }
  *ctx.streams.err << "This " << removes << ": what drill " << Quote(o.name)
                   << " made there (--dry-run lists them).\nType the recovery's name to go on: ";
  std::string answer;
  std::getline(*ctx.streams.in, answer);
  if (answer != o.name) return Status::Cancelled("not confirmed; nothing was removed");
  return Status::Ok();
}

Status RunCleanup(const CleanupOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "drill cleanup",
                                         {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}));
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME (the drill's recovery)"));
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseRequestTimeout(o.timeout));
  if (timeout.count() <= 0) return Status::InvalidArgument("--timeout must be positive");
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));

  dr::DrillCleanupOptions c;
  c.recovery = o.name;
  c.dr_namespace = DrNamespace(ctx.globals);
  c.inventory_path = o.inventory_path;
  if (o.generation > 0) c.generation = o.generation;
  c.timeout = timeout;
  c.holder = Holder();
  std::ostream& out = *ctx.streams.out;
  std::ostream& err = *ctx.streams.err;
  auto print = [&](const dr::DrillCleanupReport& r, bool dry_run) {
    for (const auto& w : r.warnings) err << "warning: " << w << "\n";
    if (format == OutputFormat::kTable) {
      PrintReport(r, dry_run, out);
    } else {
      PrintObjects({ReportJson(r, dry_run)}, format, false, out);
    }
  };

  // What would go, read first: it checks the recovery is a drill and finds its volumes before
  // the question, which names the count.
  if (o.dry_run || !o.yes) {
    dr::DrillCleanupOptions dry = c;
    dry.dry_run = true;
    dr::DrillCleanupReport listed;
    KDR_RETURN_IF_ERROR(dr::CleanupDrill(*target, ctx.env, dry, &listed));
    if (o.dry_run) {
      print(listed, true);
      return Status::Ok();
    }
    KDR_RETURN_IF_ERROR(Confirm(o, listed, ctx));
  }
  c.on_removed = [&err](const dr::RemovedObject& r) { err << "deleted " << r.ToString() << "\n"; };
  dr::DrillCleanupReport report;
  Status st = dr::CleanupDrill(*target, ctx.env, c, &report);
  if (!st.ok()) {
    if (!report.removed.empty()) print(report, false);
    return st.WithContext("drill cleanup of " + Quote(o.name) + " (run it again to finish)");
  }
  print(report, false);
  return Status::Ok();
}

}  // namespace

// `kubectl dr drill cleanup NAME`, under the `drill` command (failover.cc).
void RegisterDrillCleanup(CLI::App* drill, const Registrar& r) {
  auto o = std::make_shared<CleanupOptions>();
  CLI::App* cmd = drill->add_subcommand(
      "cleanup", "Remove from the DR site everything a drill made: the objects labelled with it in its namespaces, "
                 "the namespaces it created, its volumes, and the drill copies of the plan's volumes");
  cmd->add_option("NAME", o->name, "The drill (a Test recovery)")->required();
  cmd->add_option("--inventory-path", o->inventory_path,
                  "The inventory the drill restored: its volume map names the volumes whose drill copies are removed "
                  "(not needed with the none driver)")
      ->type_name("DIR");
  cmd->add_option("--generation", o->generation, "The inventory generation the drill restored (default: the current one)")
      ->type_name("N");
  cmd->add_option("--timeout", o->timeout, "How long namespaces and volumes may take to go, and each storage call")
      ->type_name("DURATION");
  cmd->add_flag("--dry-run", o->dry_run, "List what would be removed; change nothing");
  cmd->add_flag("--yes", o->yes, "Do not ask for confirmation");
  cmd->footer("Examples:\n  kubectl dr drill cleanup shop-drill --inventory-path /mnt/inventory --yes\n"
              "  kubectl dr drill cleanup shop-drill --dry-run");
  cmd->callback([r, o] { *r.action = [r, o] { return RunCleanup(*o, *r.context); }; });
}

}  // namespace kdr::plugin
