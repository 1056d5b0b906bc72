// kubectl dr recovery create|get|list|describe|delete: DRRecovery objects, the recovery jobs defined
// in advance so that a failover starts fast. They live beside their plan, in the DR namespace of
// the plan's target cluster (the current context). `create` checks everything (the plan, the
// namespaces, the mapping, the modifier file) before the first write; its modifiers are stored in
// a ConfigMap the recovery names, which `delete` removes with it.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>

#include "base/clock.h"
#include "base/strings.h"
#include "cli/cli.h"
#include "cli/get_command.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kube_context.h"
#include "modifier_file.h"
#include "output.h"
#include "recovery_view.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
constexpr std::string_view kRecoveryType = "drrecovery.dr.kubectl-dr.dev";
// Marks the ConfigMap holding a recovery's modifiers. Not dr.kubectl-dr.dev/recovery: that label
// asks the webhook to transform the object as a restored one.
constexpr std::string_view kModifiersOfLabel = "dr.kubectl-dr.dev/modifiers-of";
constexpr std::string_view kModifiersKey = "modifiers.yaml";
// A drill restores into these when --namespace-mapping does not name a namespace.
constexpr std::string_view kDrillSuffix = "-drtest";

struct CreateOptions {
  std::string name;
  std::string plan;
  std::string action = "Failover";
  std::string namespaces;  // as given
  std::string modifiers;   // a file
  std::string vm_power_on;  // "", "true", "false"
  std::string mapping;     // "a=b,c=d"
  bool dry_run = false;
};

struct DeleteOptions {
  std::string name;
  bool force = false;
};

Result<dr::RecoveryAction> ParseAction(const std::string& s) {
  for (dr::RecoveryAction a : {dr::RecoveryAction::kFailover, dr::RecoveryAction::kFailback, dr::RecoveryAction::kTest}) {
    if (s == dr::ToString(a)) return a;
    if (ToLower(s) == ToLower(std::string(dr::ToString(a)))) {
      return Status::InvalidArgument("--action " + Quote(s) + ": write it " + Quote(dr::ToString(a)) +
                                     " (one of Failover, Failback, Test)");
    }
  }
  return Status::InvalidArgument("--action " + Quote(s) + " is not one of Failover, Failback, Test");
}

// "a,b" -> {a, b}; empty items are a mistake to report (CLI11 would drop them).
Result<std::vector<std::string>> ParseList(const std::string& text, const std::string& flag) {
  std::vector<std::string> out = Split(text, ',');
  for (const std::string& item : out) {
    if (item.empty()) return Status::InvalidArgument(flag + " " + Quote(text) + " has an empty item");
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseMapping(const std::string& text) {
  std::map<std::string, std::string> out;
  KDR_ASSIGN_OR_RETURN(std::vector<std::string> pairs, ParseList(text, "--namespace-mapping"));
  for (const std::string& pair : pairs) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == pair.size()) {
      return Status::InvalidArgument("--namespace-mapping: " + Quote(pair) + " is not SOURCE=TARGET (e.g. shop=shop-drtest)");
    }
    std::string from = pair.substr(0, eq), to = pair.substr(eq + 1);
    if (!kube::IsDns1123Label(to)) {
      return Status::InvalidArgument("--namespace-mapping: " + Quote(to) + " is not a valid namespace name (a "
                                     "lowercase RFC 1123 label)");
    }
    if (!out.emplace(from, to).second) {
      return Status::InvalidArgument("--namespace-mapping maps " + Quote(from) + " twice");
    }
  }
  return out;
}

std::string ModifiersConfigMapName(const std::string& recovery) { return recovery + "-modifiers"; }

Status RunCreate(const CreateOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "recovery create",
                                         {OutputFormat::kYaml, OutputFormat::kJson, OutputFormat::kName},
                                         OutputFormat::kName));
  // Everything that needs no cluster first.
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME (the recovery)"));
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.plan, "--plan"));
  KDR_ASSIGN_OR_RETURN(dr::RecoveryAction action, ParseAction(o.action));
  std::vector<std::string> namespaces;
  if (!o.namespaces.empty()) {
    KDR_ASSIGN_OR_RETURN(namespaces, ParseList(o.namespaces, "--namespaces"));
  }
  std::map<std::string, std::string> mapping;
  if (!o.mapping.empty()) {
    if (action != dr::RecoveryAction::kTest) {
      return Status::InvalidArgument("--namespace-mapping is for drills (--action Test): a failover or failback "
                                     "restores each namespace under its own name");
    }
    KDR_ASSIGN_OR_RETURN(mapping, ParseMapping(o.mapping));
  }
  std::optional<bool> power_on;
  if (!o.vm_power_on.empty()) {
    if (o.vm_power_on != "true" && o.vm_power_on != "false") {
      return Status::InvalidArgument("--vm-power-on=" + o.vm_power_on + ": use true or false");
    }
    power_on = o.vm_power_on == "true";
  }
  std::string modifiers_text;
  size_t rules = 0;
  if (!o.modifiers.empty()) {
    KDR_ASSIGN_OR_RETURN(modifiers_text, ReadModifierFile(o.modifiers, ctx));
    KDR_ASSIGN_OR_RETURN(rules, CheckModifiers(modifiers_text, o.modifiers, *ctx.streams.err));
  }

  // Then the cluster: the plan, the namespaces, the mapping's targets.
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*target, ns, o.plan));
  if (plan.spent()) {
    return Status::FailedPrecondition("plan " + Quote(o.plan) + " was spent by " + Quote(plan.status.spent_by) +
                                      "; clone it: kubectl dr plan clone " + o.plan +
                                      " --name NEW --inventory-pvc NEW-PVC");
  }
  for (const std::string& n : namespaces) {
    if (std::find(plan.spec.namespaces.begin(), plan.spec.namespaces.end(), n) == plan.spec.namespaces.end()) {
      return Status::InvalidArgument("--namespaces: " + Quote(n) + " is not protected by plan " + Quote(o.plan) +
                                     " (it protects " + Join(plan.spec.namespaces, ", ") + ")" +
                                     DidYouMean(n, plan.spec.namespaces));
    }
  }
  const std::vector<std::string>& chosen = namespaces.empty() ? plan.spec.namespaces : namespaces;
  if (action == dr::RecoveryAction::kTest) {
    for (const auto& [from, to] : mapping) {
      if (std::find(chosen.begin(), chosen.end(), from) == chosen.end()) {
        return Status::InvalidArgument("--namespace-mapping: " + Quote(from) + " is not restored by this drill (it "
                                       "restores " + Join(chosen, ", ") + ")");
      }
    }
    std::set<std::string> targets;
    for (const std::string& n : chosen) {
      auto [it, added] = mapping.emplace(n, n + std::string(kDrillSuffix));
      if (!added && it->second == n) {
        return Status::InvalidArgument("--namespace-mapping maps " + Quote(n) + " onto itself: a drill restores "
                                       "beside the namespaces a failover would use");
      }
    }
    for (const auto& [from, to] : mapping) {
      if (!targets.insert(to).second) {
        return Status::InvalidArgument("--namespace-mapping maps two namespaces onto " + Quote(to));
      }
      if (std::find(plan.spec.namespaces.begin(), plan.spec.namespaces.end(), to) != plan.spec.namespaces.end()) {
        return Status::InvalidArgument("--namespace-mapping maps " + Quote(from) + " onto " + Quote(to) +
                                       ", which plan " + Quote(o.plan) + " protects");
      }
      Result<json> existing = target->Get(kNamespaces, "", to);
      if (existing.ok()) {
        return Status::FailedPrecondition("namespace " + Quote(to) + " already exists on the target (" +
                                          ContextName(*target) + "): a drill restores into new namespaces; "
                                          "delete it, or map " + Quote(from) + " elsewhere with --namespace-mapping");
      }
      if (!existing.status().IsNotFound()) return existing.status().WithContext("checking namespace " + to);
    }
  }
  if (Result<json> existing = target->Get(kRecoveryGvr, ns, o.name); existing.ok()) {
    return Status::AlreadyExists("drrecovery " + Quote(o.name) + " already exists in namespace " + ns +
                                 "; choose another NAME (a finished recovery is never re-run)");
  }

  dr::DRRecovery r;
  r.metadata.name = o.name;
  r.metadata.namespace_name = ns;
  r.spec.plan_name = o.plan;
  r.spec.action = action;
  r.spec.namespaces = namespaces;
  r.spec.vm_power_on = power_on;
  r.spec.namespace_mapping = mapping;
  kube::WriteOptions write;
  write.dry_run = o.dry_run;
  write.field_manager = "kubectl-dr";

  // The ConfigMap first: the recovery names it, and a restore labelled with a recovery whose
  // ConfigMap is missing is refused by the webhook.
  const std::string cm_name = ModifiersConfigMapName(o.name);
  bool made_config_map = false;
  if (!o.modifiers.empty()) {
    r.spec.modifiers_config_map = cm_name;
    json cm = {{"apiVersion", "v1"},
               {"kind", "ConfigMap"},
               {"metadata",
                {{"name", cm_name},
                 {"namespace", ns},
                 {"labels", {{std::string(kModifiersOfLabel), o.name}, {"app.kubernetes.io/managed-by", "kubectl-dr"}}}}},
               {"data", {{std::string(kModifiersKey), modifiers_text}}}};
    Result<json> made = target->Create(kConfigMaps, ns, cm, write);
    if (!made.ok()) {
      if (made.status().IsAlreadyExists()) {
        return Status::AlreadyExists("configmap " + ns + "/" + cm_name + " already exists; it would hold the "
                                     "modifiers of recovery " + Quote(o.name) + ": delete it or choose another NAME");
      }
      return made.status().WithContext("creating configmap " + ns + "/" + cm_name);
    }
    made_config_map = !o.dry_run;
  }
  const json object = dr::ToJson(r);
  Result<json> created = target->Create(kRecoveryGvr, ns, object, write);
  if (!created.ok()) {
    if (made_config_map) (void)target->Delete(kConfigMaps, ns, cm_name);
    return created.status().WithContext("creating drrecovery " + ns + "/" + o.name + " on " + ContextName(*target));
  }

  std::ostream& out = *ctx.streams.out;
  if (format == OutputFormat::kName) {
    out << kRecoveryType << "/" << o.name << " created" << (o.dry_run ? " (server dry run)" : "") << "\n";
  } else {
    PrintObjects({o.dry_run ? object : *created}, format, false, out);
  }
  std::ostream& err = *ctx.streams.err;
  err << "recovery " << Quote(o.name) << ": " << dr::ToString(action) << " of plan " << Quote(o.plan) << " ("
      << plan.spec.source_context << " -> " << plan.spec.target_context << "), namespaces " << Join(chosen, ", ");
  if (action == dr::RecoveryAction::kTest) {
    std::vector<std::string> pairs;
    for (const auto& [from, to] : mapping) pairs.push_back(from + " -> " + to);
    err << " restored as " << Join(pairs, ", ");
  }
  err << "\n";
  if (!o.modifiers.empty()) {
    err << "resource modifiers: " << rules << (rules == 1 ? " rule" : " rules") << " in configmap " << ns << "/"
        << cm_name << "\n";
  }
  if (o.dry_run) {
    err << "nothing was created (--dry-run)\n";
  } else {
    const std::string_view verb = action == dr::RecoveryAction::kFailover   ? "failover"
                                  : action == dr::RecoveryAction::kFailback ? "failback"
                                                                            : "drill";
    err << "next: kubectl dr " << verb << " " << o.name << "\n";
  }
  return Status::Ok();
}

GetKind RecoveryGetKind() {
  GetKind kind;
  kind.command = "recovery get";
  kind.noun = "recovery";
  kind.resource = "drrecovery";
  kind.list = ListRecoveries;
  kind.headers = {"NAME", "PLAN", "ACTION", "PHASE", "STEP", "RESTORED", "AGE"};
  kind.wide_headers = {"NAMESPACES", "STARTED", "FINISHED"};
  kind.row = [](const json& obj, bool wide, Clock::WallTime now) {
    const std::string age = FormatAge(kube::StringField(obj, {"metadata", "creationTimestamp"}), now);
    Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(obj);
    if (!r.ok()) {
      // Shown, not hidden: someone wrote it by hand; describe says what is wrong.
      return std::vector<std::string>{kube::StringField(obj, {"metadata", "name"}), "", "", "<invalid>", "", "", age};
    }
    std::vector<std::string> row = {r->metadata.name, r->spec.plan_name, std::string(dr::ToString(r->spec.action)),
                                    PhaseOf(*r),       StepOf(*r),        RestoredOf(*r),
                                    age};
    if (wide) row.insert(row.end(), {Join(r->spec.namespaces, ","), r->status.started_at, r->status.finished_at});
    return row;
  };
  return kind;
}

Status RunDescribe(const std::string& name, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(name, "NAME"));
  if (ctx.env.clock == nullptr) return Status::Internal("no clock in the environment");
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRRecovery r, ReadRecovery(*client, ns, name));
  DescribeRecovery(r, ctx.env.clock->Now(), *ctx.streams.out);
  return Status::Ok();
}

Status RunDelete(const DeleteOptions& o, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME"));
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  Result<json> obj = client->Get(kRecoveryGvr, ns, o.name);
  if (!obj.ok()) return obj.status().WithContext("reading drrecovery " + ns + "/" + o.name);
  Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(*obj);
  if (r.ok() && r->status.phase == dr::RecoveryPhase::kRunning && !o.force) {
    return Status::FailedPrecondition("recovery " + Quote(o.name) + " is running (step " + StepOf(*r) +
                                      "); deleting it would lose its journal: wait for it to finish, or, if "
                                      "its run died and will not be resumed, delete with --force");
  }
  // Only the precise version read: a run that started meanwhile is not deleted blind.
  kube::DeleteOptions del;
  del.precondition_uid = kube::StringField(*obj, {"metadata", "uid"});
  del.precondition_resource_version = kube::StringField(*obj, {"metadata", "resourceVersion"});
  Result<json> gone = client->Delete(kRecoveryGvr, ns, o.name, del);
  if (!gone.ok()) return gone.status().WithContext("deleting drrecovery " + ns + "/" + o.name);
  std::ostream& out = *ctx.streams.out;
  out << kRecoveryType << " \"" << o.name << "\" deleted\n";
  const std::string cm = r.ok() ? r->spec.modifiers_config_map : "";
  if (!cm.empty()) {
    Result<json> cm_obj = client->Get(kConfigMaps, ns, cm);
    // Only the ConfigMap `recovery create` made for it: a shared one is the user's.
    if (cm_obj.ok() && kube::StringField(*cm_obj, {"metadata", "labels", kModifiersOfLabel}) == o.name) {
      Result<json> cm_gone = client->Delete(kConfigMaps, ns, cm);
      if (!cm_gone.ok() && !cm_gone.status().IsNotFound()) {
        return cm_gone.status().WithContext("deleting configmap " + ns + "/" + cm + " (the recovery is deleted)");
      }
      out << "configmap \"" << cm << "\" deleted\n";
    }
  }
  return Status::Ok();
}

}  // namespace

void RegisterRecovery(const Registrar& r) {
  CLI::App* cmd = r.root->add_subcommand(
      "recovery", "Create, list, show and delete recovery jobs (DRRecovery objects beside their plan on the target "
                  "cluster)");
  cmd->require_subcommand(1);

  auto copts = std::make_shared<CreateOptions>();
  CLI::App* create = cmd->add_subcommand(
      "create", "Define a failover, failback or drill of a plan in advance, checked in full before anything is written");
  create->add_option("NAME", copts->name, "The recovery's name")->required();
  create->add_option("--plan", copts->plan, "The plan it recovers (required)")->type_name("NAME")->required();
  create->add_option("--action", copts->action, "Failover, Failback or Test (a drill)")->type_name("ACTION");
  create->add_option("--namespaces", copts->namespaces,
                     "The plan's namespaces to recover, comma-separated (default: all of them)")
      ->type_name("NS,...");
  create->add_option("--resource-modifiers", copts->modifiers,
                     "A Velero-format resource-modifier file applied to the objects as they are restored; "
                     "stored in the ConfigMap NAME-modifiers")
      ->type_name("FILE");
  create->add_option("--vm-power-on", copts->vm_power_on, "Power restored KubeVirt VMs on (true) or off (false)")
      ->type_name("BOOL");
  create->add_option("--namespace-mapping", copts->mapping,
                     "Drills only: restore SOURCE into TARGET, comma-separated SOURCE=TARGET (default: "
                     "NAMESPACE-drtest)")
      ->type_name("A=B,...");
  create->add_flag("--dry-run", copts->dry_run,
                   "Check everything with the server (dryRun=All) and print the result, creating nothing");
  create->footer(
      "Examples:\n"
      "  kubectl dr recovery create shop-failover --plan shop-to-dr --resource-modifiers modifiers.yaml\n"
      "  kubectl dr recovery create shop-drill --plan shop-to-dr --action Test --namespace-mapping shop=shop-drtest");
  create->callback([r, copts] { *r.action = [r, copts] { return RunCreate(*copts, *r.context); }; });

  AddGetSubcommand(cmd, r, RecoveryGetKind(),
                   "List recoveries in the DR namespace (kubectl-dr-system unless -n), or show the named ones",
                   "recoveries");

  auto describe_name = std::make_shared<std::string>();
  CLI::App* describe = cmd->add_subcommand("describe", "Show a recovery: its spec, phase, counts and journal");
  describe->add_option("NAME", *describe_name, "The recovery")->required();
  describe->callback([r, describe_name] { *r.action = [r, describe_name] { return RunDescribe(*describe_name, *r.context); }; });

  auto dopts = std::make_shared<DeleteOptions>();
  CLI::App* del = cmd->add_subcommand(
      "delete", "Delete a recovery and the modifier ConfigMap recovery create made for it (a spent plan stays spent)");
  del->add_option("NAME", dopts->name, "The recovery")->required();
  del->add_flag("--force", dopts->force, "Delete even while it is Running (its run died and will not be resumed)");
  del->callback([r, dopts] { *r.action = [r, dopts] { return RunDelete(*dopts, *r.context); }; });
}

}  // namespace kdr::plugin
