// kubectl dr plan get|list|ls and plan clone: DRPlans on the cluster of the current context (plans
// live on the target, which is reachable when the source is gone). The cloning rules are in
// shared/dr/plan_clone.h; this file reads the cluster, checks everything, then writes once.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <ostream>

#include "base/clock.h"
#include "base/strings.h"
#include "cli/cli.h"
#include "cli/get_command.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/object.h"
#include "dr_site.h"
#include "kube_context.h"
#include "output.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

constexpr std::string_view kPlanType = "drplan.dr.kubectl-dr.dev";

struct CloneOptions {
  std::string source;
  dr::CloneRequest request;
  std::string namespaces;          // --namespaces as given
  std::string exclude_namespaces;  // --exclude-namespaces as given
  bool dry_run = false;
};

std::string Str(const json& obj, std::initializer_list<std::string_view> path) {
  return kube::StringField(obj, path);
}

std::string Name(const json& plan) { return Str(plan, {"metadata", "name"}); }

// Every plan in ns ("" = all namespaces). A 404 on the collection means the cluster does not
// serve the DRPlan CRD.
Result<std::vector<json>> ListPlans(kube::Client& client, const std::string& ns) {
  Result<json> list = client.ListAll(kPlanGvr, ns);
  if (!list.ok()) {
    if (list.status().IsNotFound()) {
      return Status::FailedPrecondition("the cluster of " + ContextName(client) + " does not serve " +
                                        std::string(dr::kPlanResource) + "." + std::string(dr::kGroup) +
                                        "/" + std::string(dr::kVersion) +
                                        ": install kubectl-dr there first (kubectl dr install), or "
                                        "choose the target cluster with --context");
    }
    return list.status().WithContext("listing drplans" + (ns.empty() ? std::string() : " in namespace " + ns) +
                                     " on " + ContextName(client));
  }
  std::vector<json> items;
  if (list->contains("items") && (*list)["items"].is_array()) {
    for (json& item : (*list)["items"]) items.push_back(std::move(item));
  }
  return items;
}

std::vector<std::string> Names(const std::vector<json>& plans) {
  std::vector<std::string> names;
  for (const json& p : plans) names.push_back(Name(p));
  return names;
}

Status PlanNotFound(const std::string& name, const std::string& ns, const std::vector<json>& plans) {
  return Status::NotFound("drplan " + Quote(name) + " not found in namespace " + ns +
                          DidYouMean(name, Names(plans)));
}

std::vector<std::string> PlanRow(const json& plan, bool wide, Clock::WallTime now) {
  std::vector<std::string> ns_list;
  const json* spec_ns = nullptr;
  if (plan.contains("spec") && plan["spec"].is_object() && plan["spec"].contains("namespaces")) {
    spec_ns = &plan["spec"]["namespaces"];
  }
  if (spec_ns != nullptr && spec_ns->is_array()) {
    for (const json& n : *spec_ns) {
      if (n.is_string()) ns_list.push_back(n.get<std::string>());
    }
  }
  std::vector<std::string> row = {Name(plan),
                                  Str(plan, {"status", "phase"}),
                                  Str(plan, {"spec", "sourceContext"}),
                                  Str(plan, {"spec", "targetContext"}),
                                  Join(ns_list, ","),
                                  Str(plan, {"spec", "storage", "driver"}),
                                  Str(plan, {"status", "spentBy"}),
                                  FormatAge(Str(plan, {"metadata", "creationTimestamp"}), now)};
  if (wide) {
    std::string inv_ns = Str(plan, {"spec", "inventory", "pvcNamespace"});
    std::string inv = Str(plan, {"spec", "inventory", "pvcName"});
    row.push_back(inv.empty() ? "" : (inv_ns.empty() ? inv : inv_ns + "/" + inv));
    row.push_back(Str(plan, {"spec", "schedule"}));
  }
  return row;
}

GetKind PlanGetKind() {
  GetKind kind;
  kind.command = "plan get";
  kind.noun = "plan";
  kind.resource = "drplan";
  kind.list = ListPlans;
  kind.headers = {"NAME", "PHASE", "SOURCE", "TARGET", "NAMESPACES", "DRIVER", "SPENT-BY", "AGE"};
  kind.wide_headers = {"INVENTORY", "SCHEDULE"};
  kind.row = PlanRow;
  return kind;
}

// The plans of the namespace as typed plans; one that does not parse keeps only its name (it
// still takes the name, and cannot be the source).
std::vector<dr::DRPlan> TypedPlans(const std::vector<json>& plans) {
  std::vector<dr::DRPlan> out;
  for (const json& p : plans) {
    Result<dr::DRPlan> typed = dr::DRPlanFromJson(p);
    if (typed.ok()) {
      out.push_back(std::move(*typed));
    } else {
      dr::DRPlan named;
      named.metadata.name = Name(p);
      out.push_back(std::move(named));
    }
  }
  return out;
}

Status RunClone(const CloneOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "plan clone", {OutputFormat::kYaml, OutputFormat::kJson},
                                         OutputFormat::kName));
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.source, "SOURCE (the plan to clone)"));
  KDR_RETURN_IF_ERROR(dr::ValidateCloneRequest(o.request));
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(std::vector<json> plans, ListPlans(*client, ns));

  auto it = std::find_if(plans.begin(), plans.end(), [&](const json& p) { return Name(p) == o.source; });
  if (it == plans.end()) return PlanNotFound(o.source, ns, plans);
  Result<dr::DRPlan> source = dr::DRPlanFromJson(*it);
  if (!source.ok()) {
    return source.status().WithContext("reading drplan " + ns + "/" + o.source);
  }

  std::optional<dr::DRRecovery> spending;
  if (source->spent() && !source->status.spent_by.empty()) {
    const std::string& rec_name = source->status.spent_by;
    Result<json> rec = client->Get(kRecoveryGvr, ns, rec_name);
    if (rec.ok()) {
      Result<dr::DRRecovery> typed = dr::DRRecoveryFromJson(*rec);
      if (!typed.ok()) return typed.status().WithContext("reading drrecovery " + ns + "/" + rec_name);
      spending = std::move(*typed);
    } else if (!rec.status().IsNotFound()) {
      return rec.status().WithContext("reading drrecovery " + ns + "/" + rec_name +
                                      ", which spent plan " + Quote(o.source));
    }
  }

  KDR_ASSIGN_OR_RETURN(dr::ClonePlanResult clone,
                       dr::ClonePlan(*source, spending, TypedPlans(plans), o.request));
  const json object = dr::ToJson(clone.plan);
  // Even a --dry-run goes to the server (dryRun=All): the CRD schema and the admission webhooks
  // judge the clone exactly as they would judge the real write.
  kube::WriteOptions write;
  write.dry_run = o.dry_run;
  write.field_manager = "kubectl-dr";
  Result<json> created = client->Create(kPlanGvr, ns, object, write);
  if (!created.ok()) {
    if (created.status().IsAlreadyExists()) {
      return Status::AlreadyExists("drplan " + Quote(o.request.new_name) + " already exists in namespace " +
                                   ns + "; choose another --name");
    }
    return created.status().WithContext("creating drplan " + ns + "/" + o.request.new_name + " on " +
                                        ContextName(*client));
  }

  std::ostream& out = *ctx.streams.out;
  std::ostream& err = *ctx.streams.err;
  if (format == OutputFormat::kJson || format == OutputFormat::kYaml) {
    PrintObjects({o.dry_run ? object : *created}, format, false, out);
  } else {
    out << kPlanType << "/" << o.request.new_name << " cloned from " << o.source
        << (o.dry_run ? " (server dry run)" : "") << "\n";
  }

  const dr::DRPlan& plan = clone.plan;
  err << "plan " << Quote(plan.metadata.name) << " protects " << Join(plan.spec.namespaces, ", ");
  if (!clone.added.empty()) err << " (not in " << Quote(o.source) << ": " << Join(clone.added, ", ") << ")";
  err << "\n";
  if (!clone.left_out.empty()) {
    std::vector<std::string> failed, excluded;
    for (const std::string& n : clone.left_out) {
      bool f = std::find(clone.failed_over.begin(), clone.failed_over.end(), n) != clone.failed_over.end();
      (f ? failed : excluded).push_back(n);
    }
    if (!failed.empty()) {
      err << "left out " << Join(failed, ", ") << ": failed over by recovery " << Quote(source->status.spent_by)
          << "\n";
    }
    if (!excluded.empty()) err << "left out " << Join(excluded, ", ") << ": not chosen\n";
  }
  const std::string pvc = plan.spec.inventory_pvc_namespace + "/" + plan.spec.inventory_pvc_name;
  err << "next: create the inventory PVC " << pvc << " on the source cluster (context "
      << Quote(plan.spec.source_context) << "), replicated by the " << dr::ToString(plan.spec.driver)
      << " storage like " << source->spec.inventory_pvc_namespace << "/" << source->spec.inventory_pvc_name
      << ", before plan " << Quote(plan.metadata.name) << " captures its first inventory\n";
  if (o.dry_run) err << "nothing was created (--dry-run)\n";
  return Status::Ok();
}

}  // namespace

void RegisterPlan(const Registrar& r) {
  CLI::App* cmd = r.root->add_subcommand(
      "plan", "Create, list, describe, clone, check and delete DR plans (DRPlan objects on the target cluster of the "
      "current context)");
  cmd->require_subcommand(1);

  CLI::App* get = AddGetSubcommand(
      cmd, r, PlanGetKind(), "List DR plans in the DR namespace (kubectl-dr-system unless -n), or show the named ones",
      "plans");
  get->footer(
      "Examples:\n"
      "  kubectl dr plan list\n"
      "  kubectl dr plan get shop-to-dr -o yaml\n"
      "  kubectl dr plan ls -A -o wide");

  auto copts = std::make_shared<CloneOptions>();
  CLI::App* clone = cmd->add_subcommand(
      "clone",
      "Create a new plan from an existing (typically spent) one, with a new inventory PVC, protecting "
      "the namespaces its failover left on the source");
  clone->add_option("SOURCE", copts->source, "The plan to clone")->required();
  clone->add_option("--name", copts->request.new_name, "Name of the new plan (required)")->type_name("NAME");
  clone->add_option("--inventory-pvc", copts->request.inventory_pvc_name,
                    "The new plan's inventory PVC (required): the source's can no longer be written "
                    "once failed over")
      ->type_name("NAME");
  clone->add_option("--inventory-namespace", copts->request.inventory_pvc_namespace,
                    "Namespace of the inventory PVC (default: the source plan's)")
      ->type_name("NS");
  CLI::Option* namespaces =
      clone->add_option("--namespaces", copts->namespaces,
                        "Exactly the namespaces the new plan protects, comma-separated (default: the "
                        "source's that were not failed over)")
          ->type_name("NS,...");
  CLI::Option* exclude = clone->add_option("--exclude-namespaces", copts->exclude_namespaces,
                                           "Namespaces left out of the default set, comma-separated")
                             ->type_name("NS,...");
  clone->add_flag("--dry-run", copts->dry_run,
                  "Check everything with the server (dryRun=All) and print the result, creating nothing");
  clone->footer(
      "Examples:\n"
      "  kubectl dr plan clone shop-to-dr --name shop-to-dr-2 --inventory-pvc shop-inventory-2\n"
      "  kubectl dr plan clone shop-to-dr --name payments-to-dr --inventory-pvc payments-inventory \\\n"
      "      --namespaces payments --dry-run -o yaml");
  clone->callback([r, copts, namespaces, exclude] {
    // Split here rather than by CLI11, which drops empty items: "a,,b" is a mistake to report.
    if (namespaces->count() > 0) copts->request.namespaces = Split(copts->namespaces, ',');
    if (exclude->count() > 0) copts->request.exclude_namespaces = Split(copts->exclude_namespaces, ',');
    *r.action = [r, copts] { return RunClone(*copts, *r.context); };
  });

  RegisterPlanCheck(cmd, r);
  RegisterPlanCreate(cmd, r);
}

}  // namespace kdr::plugin
