// kubectl dr plan create|describe|delete. create checks everything it can before the first write
// (the flags, both contexts, the namespaces and the inventory claim on the source, the storage
// parameters and credentials) and reports every problem at once; then the server judges the plan
// in a dry run, the driver protects the plan's volumes (Longhorn: standby volumes on the target
// that follow the source's backups) and the plan is written to the DR namespace of the target.
// Protecting before writing keeps a failed create repeatable: Protect is idempotent, and a plan
// on the cluster always has its replicas.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <ostream>
#include <set>
#include <unistd.h>

#include "base/clock.h"
#include "base/strings.h"
#include "cli/cli.h"
#include "cron_schedule.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "dr_site.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kube_context.h"
#include "output.h"
#include "recovery_view.h"
#include "storage/registry.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
constexpr std::string_view kPlanType = "drplan.dr.kubectl-dr.dev";

struct CreateOptions {
  std::string name;
  std::string source_context;
  std::string target_context;
  std::string namespaces;     // as given
  std::string inventory_pvc;  // NS/NAME
  std::string storage;
  std::vector<std::string> storage_params;  // k=v, repeated
  std::string credentials_secret;
  std::string schedule;
  std::string timeout = "10m";
  bool dry_run = false;
};

struct DeleteOptions {
  std::string name;
  bool yes = false;
};

// Problems found while checking, all reported together. The code of the first problem that is
// not a usage error decides the exit (a missing namespace is state to fix, not a typo).
class Problems {
 public:
  void Add(const Status& s) {
    if (s.ok()) return;
    if (code_ == StatusCode::kInvalidArgument) code_ = s.code();
    lines_.push_back(s.message());
  }
  bool empty() const { return lines_.empty(); }
  Status ToStatus(const std::string& what) const {
    if (lines_.size() == 1) return Status(code_, what + ": " + lines_.front());
    std::string msg = what + ": " + std::to_string(lines_.size()) + " problems:";
    for (const std::string& l : lines_) msg += "\n  " + l;
    return Status(code_, msg);
  }

 private:
  StatusCode code_ = StatusCode::kInvalidArgument;
  std::vector<std::string> lines_;
};

// The plan the flags describe, and every problem with them that needs no cluster.
dr::DRPlan PlanFromFlags(const CreateOptions& o, const std::string& ns, Problems* p) {
  dr::DRPlan plan;
  plan.metadata.name = o.name;
  plan.metadata.namespace_name = ns;
  plan.metadata.labels["app.kubernetes.io/managed-by"] = "kubectl-dr";
  plan.spec.source_context = o.source_context;
  plan.spec.target_context = o.target_context;
  plan.spec.credentials_secret = o.credentials_secret;
  // Trimmed: the CRD's pattern for spec.schedule admits no blanks around it.
  plan.spec.schedule = std::string(TrimSpace(o.schedule));
  p->Add(dr::ValidateDns1123Subdomain(o.name, "NAME (the plan)"));
  if (o.source_context.empty()) p->Add(Status::InvalidArgument("--source-context is empty"));
  if (o.target_context.empty()) p->Add(Status::InvalidArgument("--target-context is empty"));
  if (!o.source_context.empty() && o.source_context == o.target_context) {
    p->Add(Status::InvalidArgument("--source-context and --target-context are both " + Quote(o.source_context) +
                                   ": a plan moves workloads between two clusters"));
  }

  std::set<std::string> seen;
  for (const std::string& n : Split(o.namespaces, ',')) {
    if (n.empty()) {
      p->Add(Status::InvalidArgument("--namespaces " + Quote(o.namespaces) + " has an empty item"));
      continue;
    }
    Status valid = dr::ValidateDns1123Label(n, "--namespaces");
    if (!valid.ok()) {
      p->Add(valid);
    } else if (!seen.insert(n).second) {
      p->Add(Status::InvalidArgument("--namespaces names " + Quote(n) + " twice"));
    } else {
      plan.spec.namespaces.push_back(n);
    }
  }

  const size_t slash = o.inventory_pvc.find('/');
  if (slash == std::string::npos || o.inventory_pvc.find('/', slash + 1) != std::string::npos) {
    p->Add(Status::InvalidArgument("--inventory-pvc " + Quote(o.inventory_pvc) +
                                   " is not NAMESPACE/NAME (e.g. kubectl-dr-system/shop-inventory)"));
  } else {
    plan.spec.inventory_pvc_namespace = o.inventory_pvc.substr(0, slash);
    plan.spec.inventory_pvc_name = o.inventory_pvc.substr(slash + 1);
    p->Add(dr::ValidateDns1123Label(plan.spec.inventory_pvc_namespace, "--inventory-pvc namespace"));
    p->Add(dr::ValidateDns1123Subdomain(plan.spec.inventory_pvc_name, "--inventory-pvc name"));
  }

  bool driver_known = false;
  const std::vector<std::string> drivers = storage::DriverNames();
  for (dr::StorageDriver d : {dr::StorageDriver::kLonghorn, dr::StorageDriver::kAlletra, dr::StorageDriver::kNone}) {
    if (o.storage == dr::ToString(d)) {
      plan.spec.driver = d;
      driver_known = true;
    }
  }
  if (!driver_known) {
    p->Add(Status::InvalidArgument("--storage " + Quote(o.storage) + " is not one of " + Join(drivers, ", ") +
                                   DidYouMean(o.storage, drivers)));
  }
  for (const std::string& kv : o.storage_params) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      p->Add(Status::InvalidArgument("--storage-param " + Quote(kv) + " is not KEY=VALUE (e.g. "
                                     "longhornNamespace=longhorn-system)"));
    } else if (!plan.spec.storage_parameters.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second) {
      p->Add(Status::InvalidArgument("--storage-param gives " + Quote(kv.substr(0, eq)) + " twice"));
    }
  }
  if (!o.credentials_secret.empty()) {
    p->Add(dr::ValidateDns1123Subdomain(o.credentials_secret, "--credentials-secret"));
  } else if (driver_known) {
    // With a Secret named, the driver checks parameters and Secret together once it is read.
    p->Add(storage::ValidatePlanStorage(plan, nullptr));
  }
  if (!o.schedule.empty()) p->Add(ValidateCronSchedule(o.schedule, "--schedule"));
  return plan;
}

// A site's client, once it answered: nullptr with the problem recorded otherwise.
std::unique_ptr<kube::Client> Reach(const GlobalOptions& g, const Env& env, const std::string& context,
                                    const std::string& site, Problems* p) {
  Result<std::unique_ptr<kube::Client>> c = SiteClient(g, env, context, site);
  if (!c.ok()) {
    p->Add(c.status());
    return nullptr;
  }
  if (Result<json> v = (*c)->ServerVersion(); !v.ok()) {
    p->Add(v.status().WithContext("reaching the " + site + " (context " + Quote(context) + ")"));
    return nullptr;
  }
  return std::move(*c);
}

// What the target must offer: the DRPlan CRD, the DR namespace, the name free, the inventory
// claim not already another plan's. And the credentials Secret with the driver's verdict.
void CheckTarget(kube::Client& target, const dr::DRPlan& plan, Problems* p) {
  const std::string& ns = plan.metadata.namespace_name;
  Result<json> list = target.ListAll(kPlanGvr, ns);
  if (!list.ok()) {
    if (list.status().IsNotFound()) {
      Result<json> ns_obj = target.Get(kNamespaces, "", ns);
      p->Add(Status::FailedPrecondition(
          (ns_obj.ok() || !ns_obj.status().IsNotFound() ? "" : "namespace " + ns + " does not exist and ") +
          std::string("the target cluster (") + ContextName(target) + ") does not serve drplans." +
          std::string(dr::kGroup) + ": install kubectl-dr there first (kubectl dr install --context " +
          plan.spec.target_context + ")"));
      return;
    }
    p->Add(list.status().WithContext("listing drplans on the target (" + ContextName(target) + ")"));
    return;
  }
  if (Result<json> ns_obj = target.Get(kNamespaces, "", ns); !ns_obj.ok()) {
    p->Add(ns_obj.status().IsNotFound()
               ? Status::FailedPrecondition("namespace " + ns + " does not exist on the target (" +
                                            ContextName(target) + "): install kubectl-dr there (kubectl dr install "
                                            "--context " + plan.spec.target_context + "), or choose another with -n")
               : ns_obj.status().WithContext("reading namespace " + ns + " on the target"));
  }
  for (const json& item : (*list)["items"]) {
    Result<dr::DRPlan> other = dr::DRPlanFromJson(item);
    if (!other.ok()) continue;
    if (other->metadata.name == plan.metadata.name) {
      p->Add(Status::AlreadyExists("drplan " + Quote(plan.metadata.name) + " already exists in namespace " + ns +
                                   " on the target; choose another NAME, or delete it first (kubectl dr plan "
                                   "delete " + plan.metadata.name + ")"));
    } else if (!other->spent() && other->spec.source_context == plan.spec.source_context &&
               other->spec.inventory_pvc_namespace == plan.spec.inventory_pvc_namespace &&
               other->spec.inventory_pvc_name == plan.spec.inventory_pvc_name) {
      p->Add(Status::FailedPrecondition("--inventory-pvc " + plan.spec.inventory_pvc_namespace + "/" +
                                        plan.spec.inventory_pvc_name + " already holds the inventory of plan " +
                                        Quote(other->metadata.name) + ": each plan needs its own"));
    }
  }
  if (plan.spec.credentials_secret.empty()) return;
  Result<storage::Credentials> creds = storage::ReadCredentials(target, ns, plan.spec.credentials_secret);
  if (!creds.ok()) {
    p->Add(creds.status().WithContext("--credentials-secret"));
    return;
  }
  p->Add(storage::ValidatePlanStorage(plan, &*creds));
}

// The namespaces and the inventory claim, on the source.
void CheckSource(kube::Client& source, const dr::DRPlan& plan, Problems* p) {
  std::vector<std::string> existing;
  if (Result<json> all = source.ListAll(kNamespaces, ""); all.ok()) {
    for (const json& n : (*all)["items"]) existing.push_back(kube::StringField(n, {"metadata", "name"}));
  }
  for (const std::string& n : plan.spec.namespaces) {
    Result<json> got = source.Get(kNamespaces, "", n);
    if (got.ok()) continue;
    p->Add(got.status().IsNotFound()
               ? Status::FailedPrecondition("namespace " + Quote(n) + " (--namespaces) does not exist on the source (" +
                                            ContextName(source) + ")" + DidYouMean(n, existing))
               : got.status().WithContext("reading namespace " + n + " on the source"));
  }
  if (plan.spec.inventory_pvc_name.empty()) return;
  const std::string& pvc_ns = plan.spec.inventory_pvc_namespace;
  Result<json> pvc = source.Get(kClaims, pvc_ns, plan.spec.inventory_pvc_name);
  if (pvc.ok()) return;
  if (!pvc.status().IsNotFound()) {
    p->Add(pvc.status().WithContext("reading the inventory pvc on the source"));
    return;
  }
  std::vector<std::string> claims;
  if (Result<json> all = source.ListAll(kClaims, pvc_ns); all.ok()) {
    for (const json& c : (*all)["items"]) claims.push_back(kube::StringField(c, {"metadata", "name"}));
  }
  p->Add(Status::FailedPrecondition("--inventory-pvc " + pvc_ns + "/" + plan.spec.inventory_pvc_name +
                                    " does not exist on the source (" + ContextName(source) +
                                    "): create it there first, a small volume replicated by the " +
                                    std::string(dr::ToString(plan.spec.driver)) + " storage" +
                                    DidYouMean(plan.spec.inventory_pvc_name, claims)));
}

Status RunCreate(const CreateOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "plan create",
                                         {OutputFormat::kYaml, OutputFormat::kJson, OutputFormat::kName},
                                         OutputFormat::kName));
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseRequestTimeout(o.timeout));
  if (timeout.count() <= 0) return Status::InvalidArgument("--timeout must be positive (e.g. 10m)");
  if (ctx.env.clock == nullptr) return Status::Internal("no clock in the environment");
  std::ostream& err = *ctx.streams.err;
  const std::string ns = DrNamespace(ctx.globals);
  const std::string what = "plan " + Quote(o.name) + " not created";

  Problems problems;
  dr::DRPlan plan = PlanFromFlags(o, ns, &problems);
  if (!problems.empty()) return problems.ToStatus(what);

  // Then both sites, every problem of both at once.
  std::unique_ptr<kube::Client> target = Reach(ctx.globals, ctx.env, o.target_context, "target cluster", &problems);
  std::unique_ptr<kube::Client> source = Reach(ctx.globals, ctx.env, o.source_context, "source cluster", &problems);
  if (target) CheckTarget(*target, plan, &problems);
  if (source) CheckSource(*source, plan, &problems);
  if (!problems.empty()) return problems.ToStatus(what);

  // The server judges the plan (CRD schema, admission) before any storage is touched.
  const json object = dr::ToJson(plan);
  kube::WriteOptions dry;
  dry.dry_run = true;
  dry.field_manager = "kubectl-dr";
  if (Result<json> judged = target->Create(kPlanGvr, ns, object, dry); !judged.ok()) {
    return judged.status().WithContext("creating drplan " + ns + "/" + o.name + " on " + ContextName(*target));
  }
  std::ostream& out = *ctx.streams.out;
  if (o.dry_run) {
    if (format == OutputFormat::kName) {
      out << kPlanType << "/" << o.name << " created (server dry run)\n";
    } else {
      PrintObjects({object}, format, false, out);
    }
    err << "plan " << Quote(o.name) << " checked: " << o.source_context << " -> " << o.target_context
        << ", namespaces " << Join(plan.spec.namespaces, ", ") << ", storage " << dr::ToString(plan.spec.driver) << "\n";
    if (plan.spec.driver == dr::StorageDriver::kLonghorn) {
      err << "without --dry-run, standby volumes for the plan's Longhorn volumes are made on the target first\n";
    }
    err << "nothing was created (--dry-run)\n";
    return Status::Ok();
  }

  storage::DriverOptions dopts;
  dopts.env = ctx.env;
  dopts.source = source.get();
  dopts.target = target.get();
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<storage::Driver> driver, storage::NewDriver(plan, dopts));
  if (plan.spec.driver == dr::StorageDriver::kLonghorn) {
    err << "protecting the plan's Longhorn volumes: standby volumes on the target from the source's backups\n";
  }
  Result<std::vector<storage::Volume>> protected_volumes =
      driver->Protect(plan, storage::Deadline::After(*ctx.env.clock, timeout));
  if (!protected_volumes.ok()) {
    return protected_volumes.status().WithContext("protecting the volumes of plan " + Quote(o.name) +
                                                  " (nothing written yet; run the same command again once fixed)");
  }

  kube::WriteOptions write;
  write.field_manager = "kubectl-dr";
  Result<json> created = target->Create(kPlanGvr, ns, object, write);
  if (!created.ok()) {
    return created.status().WithContext("creating drplan " + ns + "/" + o.name + " on " + ContextName(*target));
  }
  // Ready, so that `plan get` shows the phase at once; a failure here leaves a usable plan.
  (*created)["status"] = {{"phase", std::string(dr::ToString(dr::PlanPhase::kReady))}};
  Result<json> ready = target->UpdateStatus(kPlanGvr, ns, *created);
  if (ready.ok()) created = std::move(ready);
  else err << "warning: plan " << Quote(o.name) << " created, its status not set Ready: " << ready.status().message() << "\n";

  if (format == OutputFormat::kName) {
    out << kPlanType << "/" << o.name << " created\n";
  } else {
    PrintObjects({*created}, format, false, out);
  }
  err << "plan " << Quote(o.name) << " on " << ContextName(*target) << ": protects " << Join(plan.spec.namespaces, ", ")
      << " of " << o.source_context << ", inventory " << o.inventory_pvc << ", storage "
      << dr::ToString(plan.spec.driver) << "\n";
  for (const storage::Volume& v : *protected_volumes) {
    auto vol = v.target.find("volume");
    err << "  pvc " << v.pvc() << ": standby volume " << (vol == v.target.end() ? "?" : vol->second)
        << " on the target\n";
  }
  if (plan.spec.driver == dr::StorageDriver::kLonghorn && protected_volumes->empty()) {
    err << "warning: no claim of the plan is a Longhorn volume on the source yet; run plan create's Protect again "
           "by deleting and re-creating the plan once they are\n";
  }
  // The capture CronJob is the agent's (kubectl dr agent install), which reads spec.schedule.
  if (!plan.spec.schedule.empty()) {
    err << "schedule " << Quote(plan.spec.schedule) << " stored in the plan; install the capture CronJob on the "
        << "source with: kubectl dr --context " << o.target_context << " agent install --plan " << o.name << "\n";
  } else {
    err << "next: capture the inventory (kubectl dr --context " << o.target_context << " agent install --plan "
        << o.name << " to capture on a schedule), then kubectl dr plan check " << o.name << "\n";
  }
  return Status::Ok();
}

// ---- describe --------------------------------------------------------------------------------

constexpr size_t kKeyWidth = 16;  // "Inventory PVC:" and two spaces

Status RunDescribe(const std::string& name, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(name, "NAME (the plan)"));
  if (ctx.env.clock == nullptr) return Status::Internal("no clock in the environment");
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*client, ns, name));
  KDR_ASSIGN_OR_RETURN(std::vector<json> recoveries, ListRecoveries(*client, ns));
  const Clock::WallTime now = ctx.env.clock->Now();

  std::ostream& out = *ctx.streams.out;
  std::vector<std::string> params;
  for (const auto& [k, v] : plan.spec.storage_parameters) params.push_back(k + "=" + v);
  std::string phase = plan.status.phase ? std::string(dr::ToString(*plan.status.phase)) : "";
  if (plan.spent()) {
    phase += " (by recovery " + Quote(plan.status.spent_by) +
             (plan.status.spent_at.empty() ? "" : " at " + plan.status.spent_at) + ")";
  }
  // kubectl describe's "Key:  value" block: one column as wide as the longest key.
  std::vector<std::pair<std::string, std::string>> rows = {
      {"Name:", plan.metadata.name},
      {"Namespace:", plan.metadata.namespace_name},
      {"Source:", "context " + Quote(plan.spec.source_context)},
      {"Target:", "context " + Quote(plan.spec.target_context)},
      {"Namespaces:", Join(plan.spec.namespaces, ", ")},
      {"Inventory PVC:", plan.spec.inventory_pvc_namespace + "/" + plan.spec.inventory_pvc_name},
      {"Storage:", std::string(dr::ToString(plan.spec.driver))},
      {"Parameters:", Join(params, ", ")},
      {"Credentials:", plan.spec.credentials_secret.empty() ? "" : "secret " + ns + "/" + plan.spec.credentials_secret},
      {"Schedule:", plan.spec.schedule},
      {"Created:", plan.metadata.creation_timestamp.empty()
                       ? ""
                       : plan.metadata.creation_timestamp + " (" + FormatAge(plan.metadata.creation_timestamp, now) +
                             " ago)"},
      {"Phase:", phase}};
  if (auto it = plan.metadata.annotations.find(std::string(dr::kClonedFromAnnotation));
      it != plan.metadata.annotations.end()) {
    rows.push_back({"Cloned from:", it->second});
  }
  // Last capture: what the capture agent records in status.lastCapture (read raw: the typed plan
  // does not carry it); absent, the inventory itself says.
  std::string capture = "<none recorded> (kubectl dr plan check " + name + " --inventory-path DIR reads the "
                        "inventory's age)";
  if (Result<json> raw = client->Get(kPlanGvr, ns, name); raw.ok()) {
    const json& last = kube::FieldAt(*raw, {"status", "lastCapture"});
    const std::string at = kube::StringField(last, {"capturedAt"});
    if (!at.empty()) {
      capture = at + " (" + FormatAge(at, now) + " ago)";
      if (last.contains("generation") && last["generation"].is_number_integer()) {
        capture += ", generation " + std::to_string(last["generation"].get<int64_t>());
      }
      if (last.contains("objects") && last["objects"].is_number_integer()) {
        capture += ", " + std::to_string(last["objects"].get<int64_t>()) + " objects";
      }
    }
  }
  rows.push_back({"Last capture:", capture});
  for (const auto& [key, value] : rows) {
    out << key << std::string(kKeyWidth - key.size(), ' ') << (value.empty() ? "<none>" : value) << "\n";
  }

  if (!plan.status.conditions.empty()) {
    out << "Conditions:\n";
    Table c;
    c.headers = {"TYPE", "STATUS", "REASON", "AGE", "MESSAGE"};
    for (const dr::Condition& cond : plan.status.conditions) {
      c.rows.push_back({cond.type, cond.status, cond.reason, FormatAge(cond.last_transition_time, now), cond.message});
    }
    for (const std::string& line : Split(FormatTable(c), '\n')) {
      if (!line.empty()) out << "  " << line << "\n";
    }
  }
  std::vector<std::vector<std::string>> uses;
  for (const json& obj : recoveries) {
    Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(obj);
    if (!r.ok() || r->spec.plan_name != name) continue;
    uses.push_back({r->metadata.name, std::string(dr::ToString(r->spec.action)), PhaseOf(*r), StepOf(*r),
                    RestoredOf(*r), FormatAge(r->metadata.creation_timestamp, now)});
  }
  if (uses.empty()) {
    out << "Recoveries:     <none> (kubectl dr recovery create NAME --plan " << name << ")\n";
  } else {
    out << "Recoveries:\n";
    Table r;
    r.headers = {"NAME", "ACTION", "PHASE", "STEP", "RESTORED", "AGE"};
    r.rows = std::move(uses);
    for (const std::string& line : Split(FormatTable(r), '\n')) {
      if (!line.empty()) out << "  " << line << "\n";
    }
  }
  return Status::Ok();
}

// ---- delete ----------------------------------------------------------------------------------

Status ConfirmDelete(const DeleteOptions& o, const dr::DRPlan& plan, const CommandContext& ctx) {
  if (o.yes) return Status::Ok();
  const bool tty = ctx.streams.in == &std::cin && ::isatty(0) == 1;
  if (!tty) {
    return Status::FailedPrecondition("deleting plan " + Quote(o.name) + " is not confirmed and stdin is not a "
                                      "terminal to ask: add --yes");
  }
  *ctx.streams.err << "This deletes plan " << Quote(o.name) << " (" << plan.spec.source_context << " -> "
                   << plan.spec.target_context << ", namespaces " << Join(plan.spec.namespaces, ", ")
                   << "): its recoveries can no longer run.\nType the plan's name to go on: ";
  std::string answer;
  std::getline(*ctx.streams.in, answer);
  if (answer != o.name) return Status::Cancelled("not confirmed; nothing was deleted");
  return Status::Ok();
}

Status RunDelete(const DeleteOptions& o, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.name, "NAME (the plan)"));
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*client, ns, o.name));
  KDR_ASSIGN_OR_RETURN(std::vector<json> recoveries, ListRecoveries(*client, ns));
  std::vector<std::string> running, others;
  for (const json& obj : recoveries) {
    Result<dr::DRRecovery> r = dr::DRRecoveryFromJson(obj);
    if (!r.ok() || r->spec.plan_name != o.name) continue;
    if (r->status.phase == dr::RecoveryPhase::kRunning) {
      running.push_back(r->metadata.name + " (step " + StepOf(*r) + ")");
    } else {
      others.push_back(r->metadata.name);
    }
  }
  if (!running.empty()) {
    return Status::FailedPrecondition("plan " + Quote(o.name) + " is in use by running recover" +
                                      (running.size() == 1 ? "y " : "ies ") + Join(running, ", ") +
                                      ": wait for it to finish (kubectl dr status NAME --watch); a run that died is "
                                      "resumed by running its command again, or deleted with kubectl dr recovery "
                                      "delete NAME --force");
  }
  KDR_RETURN_IF_ERROR(ConfirmDelete(o, plan, ctx));
  // Only the version read and checked: a recovery started meanwhile moves nothing on the plan,
  // but a plan re-created under the same name is not deleted blind.
  kube::DeleteOptions del;
  del.precondition_uid = plan.metadata.uid;
  del.precondition_resource_version = plan.metadata.resource_version;
  Result<json> gone = client->Delete(kPlanGvr, ns, o.name, del);
  if (!gone.ok()) return gone.status().WithContext("deleting drplan " + ns + "/" + o.name);
  *ctx.streams.out << kPlanType << " \"" << o.name << "\" deleted\n";
  std::ostream& err = *ctx.streams.err;
  if (!others.empty()) {
    err << "recoveries " << Join(others, ", ") << " still name it and can no longer run: kubectl dr recovery "
        << "delete NAME\n";
  }
  if (plan.spec.driver == dr::StorageDriver::kLonghorn && !plan.spent()) {
    err << "the plan's standby volumes stay on the target (Longhorn volumes labelled dr.kubectl-dr.dev/plan="
        << o.name << "): delete them in Longhorn when no longer wanted\n";
  }
  return Status::Ok();
}

}  // namespace

void RegisterPlanCreate(CLI::App* plan, const Registrar& r) {
  auto copts = std::make_shared<CreateOptions>();
  CLI::App* create = plan->add_subcommand(
      "create", "Define a DR plan, checked in full before anything is written; its storage is prepared (Longhorn: "
                "standby volumes on the target) and the plan written to the target cluster");
  // A flag given twice keeps its last value, as kubectl's flags do.
  create->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  create->add_option("NAME", copts->name, "The plan's name")->required();
  create->add_option("--source-context", copts->source_context,
                     "Kubeconfig context of the cluster the workloads run on (required)")
      ->type_name("CONTEXT")
      ->required();
  create->add_option("--target-context", copts->target_context,
                     "Kubeconfig context of the DR site; the plan is written there (required)")
      ->type_name("CONTEXT")
      ->required();
  create->add_option("--namespaces", copts->namespaces, "The namespaces the plan protects, comma-separated (required)")
      ->type_name("NS,...")
      ->required();
  create->add_option("--inventory-pvc", copts->inventory_pvc,
                     "The replicated claim on the source holding the inventory (required)")
      ->type_name("NS/NAME")
      ->required();
  create->add_option("--storage", copts->storage, "The storage driver: longhorn, alletra or none (required)")
      ->type_name("DRIVER")
      ->required();
  create->add_option("--storage-param", copts->storage_params,
                     "A driver parameter, repeatable (longhorn: longhornNamespace; alletra: sourceArray, "
                     "targetArray, csiSecretName, csiSecretNamespace)")
      ->type_name("KEY=VALUE")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  create->add_option("--credentials-secret", copts->credentials_secret,
                     "The Secret in the DR namespace of the target holding the storage credentials (alletra)")
      ->type_name("NAME");
  create->add_option("--schedule", copts->schedule,
                     "Cron schedule of the inventory capture on the source (\"*/15 * * * *\", @hourly), stored in "
                     "the plan")
      ->type_name("CRON");
  create->add_option("--timeout", copts->timeout, "How long preparing the storage may take")->type_name("DURATION");
  create->add_flag("--dry-run", copts->dry_run,
                   "Check everything, with the server too (dryRun=All), and print the plan, changing nothing");
  create->footer(
      "Examples:\n"
      "  kubectl dr plan create shop-to-dr --source-context prod-east --target-context dr-west \\\n"
      "      --namespaces shop,payments --inventory-pvc kubectl-dr-system/shop-inventory \\\n"
      "      --storage longhorn --storage-param longhornNamespace=longhorn-system --schedule '*/15 * * * *'\n"
      "  kubectl dr plan create shop-to-dr --source-context prod-east --target-context dr-west \\\n"
      "      --namespaces shop --inventory-pvc shop/shop-inventory --storage alletra \\\n"
      "      --storage-param sourceArray=array-a --storage-param targetArray=array-b \\\n"
      "      --credentials-secret shop-arrays --dry-run -o yaml");
  create->callback([r, copts] { *r.action = [r, copts] { return RunCreate(*copts, *r.context); }; });

  auto describe_name = std::make_shared<std::string>();
  CLI::App* describe = plan->add_subcommand(
      "describe", "Show a plan: its spec, phase, conditions, last capture and the recoveries that use it");
  describe->add_option("NAME", *describe_name, "The plan")->required();
  describe->callback(
      [r, describe_name] { *r.action = [r, describe_name] { return RunDescribe(*describe_name, *r.context); }; });

  auto dopts = std::make_shared<DeleteOptions>();
  CLI::App* del = plan->add_subcommand(
      "delete", "Delete a plan (refused while a recovery of it is running); asks first unless --yes");
  del->add_option("NAME", dopts->name, "The plan")->required();
  del->add_flag("--yes", dopts->yes, "Do not ask");
  del->callback([r, dopts] { *r.action = [r, dopts] { return RunDelete(*dopts, *r.context); }; });
}

}  // namespace kdr::plugin
