// kubectl dr inventory capture|show: the inventory of a plan (shared/inventory/). capture reads
// the plan from the cluster of the current context (the target, where plans live), reaches the
// source through the plan's spec.sourceContext and writes a new generation; with --agent local
// the capture runs here, into a directory where the inventory volume is mounted. show lists the
// generations of such a directory and describes one, verified.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <map>
#include <optional>
#include <ostream>

#include "base/clock.h"
#include "base/fs.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "dr/agent_job.h"
#include "dr/agent_run.h"
#include "dr/plan_clone.h"
#include "dr/types.h"
#include "inventory/capture.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/deadline.h"
#include "kube_context.h"
#include "output.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

const kube::Gvr kPlans{std::string(dr::kGroup), std::string(dr::kVersion), std::string(dr::kPlanResource)};

struct CaptureOptions {
  std::string plan;
  std::string agent = "job";
  std::string inventory_path;
  int keep = inventory::kDefaultKeep;
  std::string timeout = "10m";
};

struct ShowOptions {
  std::string plan;
  std::string inventory_path;
  std::optional<int64_t> generation;
};

std::string DrNamespace(const GlobalOptions& g) {
  return g.namespace_name.empty() ? std::string(dr::kSystemNamespace) : g.namespace_name;
}

Result<dr::DRPlan> ReadPlan(kube::Client& target, const std::string& ns, const std::string& name) {
  Result<json> obj = target.Get(kPlans, ns, name);
  if (!obj.ok()) {
    if (obj.status().IsNotFound()) {
      std::vector<std::string> names;
      if (Result<json> list = target.List(kPlans, ns); list.ok() && (*list)["items"].is_array()) {
        for (const json& p : (*list)["items"]) names.push_back(p["metadata"].value("name", ""));
      }
      return Status::NotFound("drplan " + Quote(name) + " not found in namespace " + ns +
                              " of the current context; plans live on the target cluster: choose it "
                              "with --context" + DidYouMean(name, names));
    }
    return obj.status().WithContext("reading drplan " + ns + "/" + name);
  }
  Result<dr::DRPlan> plan = dr::DRPlanFromJson(*obj);
  if (!plan.ok()) return plan.status().WithContext("reading drplan " + ns + "/" + name);
  return plan;
}

// "Deployment.apps", "ConfigMap": a kind with its group, as kubectl names resources.
std::string KindName(const inventory::ObjectEntry& e) {
  return e.group.empty() ? e.kind : e.kind + "." + e.group;
}

std::map<std::string, int64_t> CountsByKind(const inventory::Index& index) {
  std::map<std::string, int64_t> counts;
  for (const inventory::ObjectEntry& e : index.objects) ++counts[KindName(e)];
  return counts;
}

int64_t Total(const std::map<std::string, int64_t>& counts) {
  int64_t n = 0;
  for (const auto& [_, c] : counts) n += c;
  return n;
}

std::string Unlisted(const inventory::UnlistedResource& u) {
  std::string what = u.group.empty() ? u.resource : u.resource + "." + u.group;
  if (!u.name.empty()) what += " " + u.name;
  if (!u.namespace_name.empty()) what += " in namespace " + u.namespace_name;
  return what + ": " + u.code + ": " + u.message;
}

// --agent job: a Job made from the capture CronJob `kubectl dr agent install` put on the source (as
// `kubectl create job --from=cronjob/...` makes it), run to its end; its agent's result (the pod's
// termination message) says which generation it wrote. The pod cannot reach the plan on the
// target, so the capture is recorded in the plan's status here.
Status RunCaptureJob(const CaptureOptions& o, const CommandContext& ctx, const dr::DRPlan& plan, kube::Client& target,
                     kube::Client& source, const std::string& where, OutputFormat format) {
  static const kube::Gvr kCronJobs{"batch", "v1", "cronjobs"};
  static const kube::Gvr kJobs{"batch", "v1", "jobs"};
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseRequestTimeout(o.timeout));
  if (timeout.count() <= 0) return Status::InvalidArgument("--timeout must be positive (e.g. 10m)");
  const std::string ns = plan.spec.inventory_pvc_namespace;
  const std::string cron_name = dr::CaptureCronJobName(plan.metadata.name);
  Result<json> cron = source.Get(kCronJobs, ns, cron_name);
  if (!cron.ok()) {
    if (cron.status().IsNotFound()) {
      return Status::FailedPrecondition("the capture cronjob " + ns + "/" + cron_name + " is not on " + where +
                                        ": install it: kubectl dr agent install --plan " + plan.metadata.name +
                                        " (or capture here: --agent local --inventory-path DIR)");
    }
    return cron.status().WithContext("reading the capture cronjob " + ns + "/" + cron_name + " on " + where);
  }
  // Named as the CronJob names its runs, by the second instead of the minute: a name a second
  // capture never reuses (52 + 1 + 10 characters, within a Job's 63).
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(ctx.env.clock->Now().time_since_epoch());
  KDR_ASSIGN_OR_RETURN(json job, dr::JobFromCronJob(*cron, cron_name + "-" + std::to_string(now.count())));
  if (o.keep != inventory::kDefaultKeep) {
    json& args = job["spec"]["template"]["spec"]["containers"][0]["args"];
    if (args.is_array()) args.push_back("--keep=" + std::to_string(o.keep));
  }
  *ctx.streams.err << "capturing plan " << Quote(o.plan) << " in job " << ns << "/" << kube::Name(job) << " on "
                   << where << "\n";
  dr::AgentJobOptions jo;
  // Each capture makes its own Job: the next one does not wait for this one.
  jo.left_running = "it is left to finish on its own, and the generation it writes becomes current (what a "
                    "failover reads) when it does";
  KDR_ASSIGN_OR_RETURN(dr::AgentJobRun run,
                       dr::RunAgentJob(source, *ctx.env.clock, job, storage::Deadline::After(*ctx.env.clock, timeout),
                                       jo));
  const std::string logs = "kubectl --context " + plan.spec.source_context + " -n " + ns + " logs job/" +
                           kube::Name(job);
  const std::optional<dr::AgentResult>& r = run.state.result;
  if (run.state.phase != dr::AgentJobState::Phase::kSucceeded || !r || !r->ok) {
    return Status::FailedPrecondition("the capture job " + run.job + " on " + where + " failed: " +
                                      (r ? r->message : run.state.detail) + "; the job is kept: " + logs +
                                      " shows what it did");
  }
  // Its result is read: the Job goes, its pod with it (the last capture is in the plan's status).
  kube::DeleteOptions d;
  d.propagation_policy = "Background";
  if (Result<json> del = source.Delete(kJobs, ns, kube::Name(job), d); !del.ok() && !del.status().IsNotFound()) {
    *ctx.streams.err << "warning: the capture job " << run.job << " succeeded but could not be deleted: "
                     << del.status().message() << "\n";
  }
  json patch = {{"status",
                 {{"lastCapture", {{"generation", r->generation}, {"capturedAt", r->captured_at}, {"objects", r->objects}}}}}};
  kube::PatchOptions po;
  po.subresource = "status";
  if (Result<json> rec = target.Patch(kPlans, plan.metadata.namespace_name, plan.metadata.name,
                                      kube::PatchType::kMergePatch, patch, po);
      !rec.ok()) {
    *ctx.streams.err << "warning: the capture is done but not recorded in drplan " << plan.metadata.name << ": "
                     << rec.status().message() << "\n";
  }
  std::ostream& out = *ctx.streams.out;
  if (format != OutputFormat::kTable) {
    json doc = {{"plan", plan.metadata.name}, {"job", run.job},          {"generation", r->generation},
                {"capturedAt", r->captured_at}, {"objects", r->objects}, {"message", r->message}};
    if (format == OutputFormat::kJson) {
      out << doc.dump(4) << "\n";
    } else {
      out << JsonToYaml(doc);
    }
    return Status::Ok();
  }
  out << "inventory generation " << r->generation << " captured by job " << run.job << " on " << where << ": "
      << r->objects << " objects; recovery point " << r->captured_at << "\n";
  return Status::Ok();
}

Status RunCapture(const CaptureOptions& o, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.plan, "--plan"));
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "inventory capture",
                                         {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}));
  if (o.agent != "job" && o.agent != "local") {
    return Status::InvalidArgument("--agent " + Quote(o.agent) + " is not one of job, local");
  }
  if (o.keep < 1) {
    return Status::InvalidArgument("--keep must be at least 1 (the generation being written), not " +
                                   std::to_string(o.keep));
  }
  if (o.agent == "job" && !o.inventory_path.empty()) {
    return Status::InvalidArgument("--inventory-path is where --agent local writes; with --agent job (the default) "
                                   "the capture Job on the source mounts the inventory claim itself");
  }
  if (o.agent == "local" && o.inventory_path.empty()) {
    return Status::InvalidArgument("--agent local needs --inventory-path DIR: where the inventory "
                                   "volume is mounted on this machine");
  }
  if (ctx.env.fs == nullptr || ctx.env.clock == nullptr) {
    return Status::Internal("no file system or clock in the environment");
  }

  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*target, ns, o.plan));
  if (plan.spent()) {
    return Status::FailedPrecondition(
        "plan " + Quote(o.plan) + " was spent by " + Quote(plan.status.spent_by) +
        ": its inventory failed over and is read-only on the source; clone it: kubectl dr plan clone " +
        o.plan + " --name NEW --inventory-pvc NEW-PVC");
  }
  if (plan.spec.source_context.empty()) {
    return Status::FailedPrecondition("plan " + Quote(o.plan) +
                                      " has no spec.sourceContext: the capture cannot reach its source");
  }
  GlobalOptions source_globals = ctx.globals;
  source_globals.context = plan.spec.source_context;
  const std::string where = "the source cluster (context " + Quote(plan.spec.source_context) + ")";
  Result<std::unique_ptr<kube::Client>> source = ClientFromGlobals(source_globals, ctx.env);
  if (!source.ok()) return source.status().WithContext("reaching " + where);
  if (o.agent == "job") return RunCaptureJob(o, ctx, plan, *target, **source, where, format);

  inventory::CaptureOptions co;
  co.plan = {ns, o.plan};
  co.namespaces = plan.spec.namespaces;
  co.inventory_pvc_namespace = plan.spec.inventory_pvc_namespace;
  co.inventory_pvc_name = plan.spec.inventory_pvc_name;
  co.keep = o.keep;
  const std::string root = ExpandHome(o.inventory_path);
  *ctx.streams.err << "capturing plan " << Quote(o.plan) << " from " << where << " into " << root << "\n";
  Result<inventory::Index> index = inventory::Capture(**source, ctx.env, root, co);
  if (!index.ok()) return index.status().WithContext("capturing plan " + Quote(o.plan) + " from " + where);

  for (const std::string& w : index->warnings) *ctx.streams.err << "warning: " << w << "\n";
  for (const inventory::UnlistedResource& u : index->unlisted) {
    *ctx.streams.err << "warning: not captured: " << Unlisted(u) << "\n";
  }
  std::ostream& out = *ctx.streams.out;
  if (format != OutputFormat::kTable) {
    json doc = inventory::ToJson(*index);
    if (format == OutputFormat::kJson) {
      out << doc.dump(4) << "\n";
    } else {
      out << JsonToYaml(doc);
    }
    return Status::Ok();
  }
  const std::map<std::string, int64_t> kinds = CountsByKind(*index);
  out << "inventory generation " << index->generation << " captured in " << root << ": "
      << index->objects.size() << " objects of " << kinds.size() << " kinds, " << index->volumes.size()
      << " volumes, " << Total(index->left_out) << " left out"
      << (index->unlisted.empty() ? "" : ", " + std::to_string(index->unlisted.size()) + " not readable")
      << "; recovery point " << FormatRfc3339(index->capture_end) << "\n";
  return Status::Ok();
}

std::string GenerationState(const inventory::GenerationInfo& g) {
  if (g.state.ok()) return "complete";
  if (g.state.code() == StatusCode::kFailedPrecondition &&
      g.state.message().find("is missing") != std::string::npos) {
    return "unfinished";
  }
  return "unreadable";
}

json GenerationsJson(const std::vector<inventory::GenerationInfo>& gens) {
  json out = json::array();
  for (const inventory::GenerationInfo& g : gens) {
    json row = {{"generation", g.generation}, {"current", g.current}, {"state", GenerationState(g)}};
    if (g.index) {
      row["captureEnd"] = FormatRfc3339(g.index->capture_end);
      row["objects"] = g.index->objects.size();
    } else {
      row["reason"] = g.state.message();
    }
    out.push_back(std::move(row));
  }
  return out;
}

std::string GenerationsTable(const std::vector<inventory::GenerationInfo>& gens) {
  Table t;
  t.headers = {"GENERATION", "CURRENT", "CAPTURED", "OBJECTS", "STATE"};
  for (const inventory::GenerationInfo& g : gens) {
    t.rows.push_back({std::to_string(g.generation), g.current ? "true" : "false",
                      g.index ? FormatRfc3339(g.index->capture_end) : "",
                      g.index ? std::to_string(g.index->objects.size()) : "", GenerationState(g)});
  }
  return FormatTable(t);
}

std::string Describe(const inventory::Inventory& inv, Clock::WallTime now) {
  const inventory::Index& x = inv.index();
  std::string s;
  auto line = [&](std::string_view key, const std::string& value) {
    s += std::string(key) + std::string(13 - key.size(), ' ') + value + "\n";
  };
  line("Generation:", std::to_string(x.generation) + (inv.current() ? " (current)" : ""));
  line("Plan:", x.plan.namespace_name + "/" + x.plan.name);
  line("Namespaces:", Join(x.namespaces, ", "));
  line("Source:", x.source.server + (x.source.kube_system_uid.empty()
                                         ? std::string()
                                         : " (kube-system uid " + x.source.kube_system_uid + ")"));
  line("Captured:", FormatRfc3339(x.capture_start) + " to " + FormatRfc3339(x.capture_end) + " (" +
                        HumanDuration(x.capture_end - x.capture_start) + ") by kubectl-dr " +
                        x.kubectl_dr_version);
  line("RPO:", HumanDuration(now - x.capture_end) + " (now - capture end)");
  line("Objects:", std::to_string(x.objects.size()) + " (verified)");

  Table kinds;
  kinds.headers = {"KIND", "COUNT"};
  for (const auto& [k, n] : CountsByKind(x)) kinds.rows.push_back({k, std::to_string(n)});
  s += "\n" + FormatTable(kinds);

  s += "\n";
  if (x.volumes.empty()) {
    s += "No volumes.\n";
  } else {
    Table vols;
    vols.headers = {"CLAIM", "VOLUME", "STORAGECLASS", "CAPACITY", "ACCESS MODES", "CSI DRIVER",
                    "VOLUME HANDLE", "STORAGE"};
    for (const inventory::VolumeMapEntry& v : x.volumes) {
      std::vector<std::string> storage;
      for (const auto& [k, val] : v.storage) storage.push_back(k + "=" + val);
      vols.rows.push_back({v.pvc_namespace + "/" + v.pvc_name + (v.inventory ? " (inventory)" : ""),
                           v.pv_name, v.storage_class, v.capacity, Join(v.access_modes, ","),
                           v.csi_driver, v.volume_handle, Join(storage, ",")});
    }
    s += FormatTable(vols);
  }
  if (!x.left_out.empty()) {
    Table left;
    left.headers = {"LEFT OUT", "COUNT"};
    for (const auto& [reason, n] : x.left_out) left.rows.push_back({reason, std::to_string(n)});
    s += "\n" + FormatTable(left);
  }
  if (!x.unlisted.empty()) {
    s += "\nNot captured (the source refused to show them):\n";
    for (const inventory::UnlistedResource& u : x.unlisted) s += "  " + Unlisted(u) + "\n";
  }
  if (!x.warnings.empty()) {
    s += "\nWarnings:\n";
    for (const std::string& w : x.warnings) s += "  " + w + "\n";
  }
  return s;
}

Status RunShow(const ShowOptions& o, const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(OutputFormat format,
                       ParseOutputFormat(ctx.globals.output, "inventory show",
                                         {OutputFormat::kTable, OutputFormat::kJson, OutputFormat::kYaml}));
  if (o.generation && *o.generation < 1) {
    return Status::InvalidArgument("--generation must be at least 1, not " + std::to_string(*o.generation));
  }
  if (o.inventory_path.empty()) {
    if (!o.plan.empty()) {
      // TODO(inventory): #9 read a plan's inventory through its PVC (an agent Job).
      return Status::FailedPrecondition(
          "reading the inventory of plan " + Quote(o.plan) + " through its claim is not built yet: "
          "mount the inventory volume and pass --inventory-path DIR");
    }
    return Status::InvalidArgument("kubectl dr inventory show needs --inventory-path DIR (where the "
                                   "inventory volume is mounted)");
  }
  if (ctx.env.fs == nullptr || ctx.env.clock == nullptr) {
    return Status::Internal("no file system or clock in the environment");
  }
  const std::string root = ExpandHome(o.inventory_path);
  KDR_ASSIGN_OR_RETURN(std::vector<inventory::GenerationInfo> gens,
                       inventory::Inventory::ListGenerations(*ctx.env.fs, root));
  Result<inventory::Inventory> inv = inventory::Inventory::Open(*ctx.env.fs, root, o.generation);
  std::ostream& out = *ctx.streams.out;
  if (!inv.ok()) {
    // The kept generations help choose --generation; they go out before the error.
    if (format == OutputFormat::kTable && !gens.empty()) out << GenerationsTable(gens);
    return inv.status();
  }
  const Clock::WallTime now = ctx.env.clock->Now();
  if (format == OutputFormat::kTable) {
    out << GenerationsTable(gens) << "\n" << Describe(*inv, now);
    return Status::Ok();
  }
  const auto rpo = std::chrono::duration_cast<std::chrono::seconds>(now - inv->index().capture_end);
  json counts = json::object();
  for (const auto& [k, n] : CountsByKind(inv->index())) counts[k] = n;
  json doc = {{"path", root},
              {"generations", GenerationsJson(gens)},
              {"generation", inv->generation()},
              {"current", inv->current()},
              {"rpoSeconds", rpo.count()},
              {"countsByKind", counts},
              {"index", inventory::ToJson(inv->index())}};
  if (format == OutputFormat::kJson) {
    out << doc.dump(4) << "\n";
  } else {
    out << JsonToYaml(doc);
  }
  return Status::Ok();
}

}  // namespace

void RegisterInventory(const Registrar& r) {
  CLI::App* cmd = r.root->add_subcommand(
      "inventory", "Capture and inspect a plan's inventory: the manifests of its workloads and their volume map");
  cmd->require_subcommand(1);

  auto copts = std::make_shared<CaptureOptions>();
  CLI::App* capture = cmd->add_subcommand(
      "capture",
      "Capture a plan's workloads from its source cluster into a new inventory generation");
  capture->add_option("--plan", copts->plan, "The plan whose namespaces to capture (required)")
      ->type_name("NAME")
      ->required();
  capture->add_option("--agent", copts->agent,
                      "Where the capture runs: job (a Job on the source, mounting the inventory "
                      "volume) or local (here, into --inventory-path)")
      ->type_name("job|local");
  capture->add_option("--inventory-path", copts->inventory_path,
                      "With --agent local: the directory where the inventory volume is mounted")
      ->type_name("DIR");
  capture->add_option("--keep", copts->keep, "Complete generations to keep, the new one included")
      ->type_name("N");
  capture->add_option("--timeout", copts->timeout, "--agent job: how long the capture Job may take")
      ->type_name("DURATION");
  capture->footer(
      "With --agent job (the default) the capture runs on the source as a Job made from the capture CronJob\n"
      "that kubectl dr agent install put there (as kubectl create job --from=cronjob/... makes it), mounting\n"
      "the inventory claim; the command waits for it, reports the generation it wrote, records it in the\n"
      "plan's status.lastCapture and deletes the Job. A Job that fails is kept for its logs.\n\n"
      "Examples:\n"
      "  kubectl dr inventory capture --plan shop-to-dr\n"
      "  kubectl dr inventory capture --plan shop-to-dr --agent local --inventory-path /mnt/shop-inventory\n"
      "  kubectl dr inventory capture --plan shop-to-dr --agent local --inventory-path DIR --keep 5 -o json");
  capture->callback([r, copts] { *r.action = [r, copts] { return RunCapture(*copts, *r.context); }; });

  auto sopts = std::make_shared<ShowOptions>();
  CLI::App* show = cmd->add_subcommand(
      "show", "List an inventory's generations and describe one: times, RPO, counts by kind, volume map");
  show->add_option("--inventory-path", sopts->inventory_path, "The directory where the inventory volume is mounted")
      ->type_name("DIR");
  show->add_option("--plan", sopts->plan, "The plan whose inventory to show (through its claim; not built yet)")
      ->type_name("NAME");
  show->add_option("--generation", sopts->generation, "The generation to describe (default: the current one)")
      ->type_name("N");
  show->footer(
      "Examples:\n"
      "  kubectl dr inventory show --inventory-path /mnt/shop-inventory\n"
      "  kubectl dr inventory show --inventory-path /mnt/shop-inventory --generation 6 -o json");
  show->callback([r, sopts] { *r.action = [r, sopts] { return RunShow(*sopts, *r.context); }; });
}

}  // namespace kdr::plugin
