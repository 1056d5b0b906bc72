// kubectl dr fence --plan P: fences the source of a spent plan again, for a source that comes back
// after a failover (or whose fence was left incomplete), and stops the workloads the failover moved
// that still run there (QuiesceFailedOver). The plan is read from the cluster of the
// current context (the target); the source is reached through spec.sourceContext. The rules are
// in shared/dr/fence.h.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <tuple>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/strings.h"
#include "cli/cli.h"
#include "dr/fence.h"
#include "dr/plan_clone.h"
#include "dr/quiesce.h"
#include "dr/types.h"
#include "kube/client.h"
#include "dr_site.h"
#include "kube_context.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

struct FenceOptions {
  std::string plan;
  bool dry_run = false;
};

// The fence refuses new writable mounts of the failed-over claims, but a source that was cut off
// during the failover was never quiesced: its pods may still run, writing to the old copies. So
// the workloads of the namespaces the spending recovery moved stop too (as QuiesceSource would
// have stopped them), after the fence, which keeps new pods from mounting the claims meanwhile.
// The recovery names them (a subset failover leaves the rest running under a clone of the plan);
// without it they are not guessed.
Status QuiesceFailedOver(const FenceOptions& o, const dr::DRPlan& plan, kube::Client& target, kube::Client& source,
                         const std::string& where, const CommandContext& ctx) {
  std::vector<std::string> namespaces;
  Result<json> recovery = target.Get(kRecoveryGvr, DrNamespace(ctx.globals), plan.status.spent_by);
  if (recovery.ok()) {
    KDR_ASSIGN_OR_RETURN(dr::DRRecovery r, dr::DRRecoveryFromJson(*recovery));
    namespaces = r.spec.namespaces.empty() ? plan.spec.namespaces : r.spec.namespaces;
  } else if (!recovery.status().IsNotFound()) {
    return recovery.status().WithContext("reading drrecovery " + plan.status.spent_by + ", which spent the plan");
  } else {
    *ctx.streams.err << "warning: drrecovery " << Quote(plan.status.spent_by) << ", which spent plan "
                     << Quote(o.plan) << ", is not on the target, so which of the plan's namespaces it moved is "
                     << "unknown and no workload was stopped on " << where << "; stop those it moved: kubectl dr "
                     << "quiesce --context " << plan.spec.source_context << " --namespaces "
                     << Join(plan.spec.namespaces, ",") << " (leaving out any a clone of the plan protects)\n";
    return Status::Ok();
  }
  // A namespace the source no longer has runs nothing.
  std::vector<std::string> present;
  for (const std::string& n : namespaces) {
    Result<json> got = source.Get(kube::Gvr{"", "v1", "namespaces"}, "", n);
    if (got.ok()) {
      present.push_back(n);
    } else if (!got.status().IsNotFound()) {
      return got.status().WithContext("reading namespace " + n + " on " + where);
    }
  }
  if (present.empty()) return Status::Ok();
  namespaces = std::move(present);
  dr::QuiesceOptions q;
  q.namespaces = namespaces;
  q.dry_run = o.dry_run;
  Result<dr::QuiesceResult> stopped = dr::Quiesce(source, ctx.env, q);
  if (!stopped.ok()) return stopped.status().WithContext("stopping the failed-over workloads on " + where);
  for (const dr::QuiesceChange& c : stopped->changes) {
    *ctx.streams.out << c.object << ": " << c.change << (o.dry_run ? " (server dry run)" : "") << "\n";
  }
  if (!stopped->changes.empty()) {
    *ctx.streams.err << "plan " << Quote(o.plan) << ": " << stopped->changes.size() << " workload(s) of "
                     << Join(namespaces, ", ") << " stopped on " << where
                     << (o.dry_run ? "; nothing was changed (--dry-run)" : "") << "\n";
  }
  return Status::Ok();
}

Status RunFence(const FenceOptions& o, const CommandContext& ctx) {
  KDR_RETURN_IF_ERROR(dr::ValidateDns1123Subdomain(o.plan, "--plan"));
  const std::string ns = DrNamespace(ctx.globals);
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> target, ClientFromGlobals(ctx.globals, ctx.env));
  KDR_ASSIGN_OR_RETURN(dr::DRPlan plan, ReadPlan(*target, ns, o.plan));
  if (!plan.spent()) {
    return Status::FailedPrecondition(
        "plan " + Quote(o.plan) + " has not failed over (phase " + (plan.status.phase ? std::string(dr::ToString(*plan.status.phase)) : std::string("none")) +
        "): fencing its source now would stop the workloads that run there. kubectl dr fence is "
        "for the old primary after a failover");
  }

  const std::string where = "the source cluster (context " + Quote(plan.spec.source_context) + ")";
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> source,
                       SiteClient(ctx.globals, ctx.env, plan.spec.source_context, "source cluster"));

  // The plan's inventory claim, plus every claim already labelled for it: their namespaces may
  // have lost the fence (repair).
  std::vector<dr::ClaimRef> claims = {{plan.spec.inventory_pvc_namespace, plan.spec.inventory_pvc_name}};
  Result<std::vector<dr::ClaimRef>> labelled = dr::FailedOverClaims(*source, o.plan);
  if (!labelled.ok()) {
    if (labelled.status().code() == StatusCode::kUnavailable) {
      return labelled.status().WithContext(where + " is unreachable; run kubectl dr fence again once it "
                                           "is back");
    }
    return labelled.status().WithContext("on " + where);
  }
  claims.insert(claims.end(), labelled->begin(), labelled->end());
  // And the claims the spending recovery restored on the DR site: a failover that ran with the
  // source down fenced none of them there. Their data lives on the DR site now, so the old
  // primary's copies are fenced too (a claim the source no longer has is left out).
  if (!plan.status.spent_by.empty()) {
    KDR_ASSIGN_OR_RETURN(std::vector<dr::ClaimRef> restored, dr::RestoredClaims(*target, plan.status.spent_by));
    for (dr::ClaimRef& c : restored) {
      Result<json> there = source->Get(kube::Gvr{"", "v1", "persistentvolumeclaims"}, c.namespace_name, c.name);
      if (there.ok()) {
        claims.push_back(std::move(c));
      } else if (there.status().code() != StatusCode::kNotFound) {
        return there.status().WithContext("on " + where);
      }
    }
  }
  std::sort(claims.begin(), claims.end(), [](const dr::ClaimRef& a, const dr::ClaimRef& b) {
    return std::tie(a.namespace_name, a.name) < std::tie(b.namespace_name, b.name);
  });
  claims.erase(std::unique(claims.begin(), claims.end(),
                           [](const dr::ClaimRef& a, const dr::ClaimRef& b) {
                             return a.namespace_name == b.namespace_name && a.name == b.name;
                           }),
               claims.end());

  Result<std::vector<dr::FenceChange>> changes = dr::Fence(*source, o.plan, claims, o.dry_run);
  if (!changes.ok()) return changes.status().WithContext("on " + where);
  std::ostream& out = *ctx.streams.out;
  size_t changed = 0;
  for (const dr::FenceChange& c : *changes) {
    out << c.object << (c.changed ? " fenced" : " already fenced") << (c.changed && o.dry_run ? " (server dry run)" : "")
        << "\n";
    changed += c.changed;
  }
  *ctx.streams.err << "plan " << Quote(o.plan) << ": " << changed << " object(s) fenced on " << where
                   << (o.dry_run ? "; nothing was changed (--dry-run)" : "") << "\n";
  return QuiesceFailedOver(o, plan, *target, *source, where, ctx);
}

}  // namespace

void RegisterFence(const Registrar& r) {
  auto opts = std::make_shared<FenceOptions>();
  CLI::App* cmd = r.root->add_subcommand(
      "fence",
      "Fence the source of a spent plan again: label its namespaces fenced and its failed-over claims, "
      "so the webhook there refuses writable mounts, then stop the workloads of the namespaces the failover "
      "moved, as its quiesce would have (for an old primary that comes back)");
  cmd->add_option("--plan", opts->plan, "The spent plan whose source to fence (required)")
      ->type_name("NAME")
      ->required();
  cmd->add_flag("--dry-run", opts->dry_run,
                "Check every label with the server (dryRun=All) and print what would change");
  cmd->footer(
      "Examples:\n"
      "  kubectl dr fence --plan shop-to-dr --context dr-west\n"
      "  kubectl dr fence --plan shop-to-dr --dry-run");
  cmd->callback([r, opts] { *r.action = [r, opts] { return RunFence(*opts, *r.context); }; });
}

}  // namespace kdr::plugin
