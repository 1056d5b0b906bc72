#include "dr/readiness.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/strings.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kube/object.h"
#include "storage/registry.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kValidating{"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"};
const kube::Gvr kMutating{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"};
const kube::Gvr kRecoveries{std::string(kGroup), std::string(kVersion), std::string(kRecoveryResource)};
const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
constexpr std::string_view kWebhookName = "kubectl-dr-webhook";
// Names the probes give their dry-run objects (never persisted).
constexpr std::string_view kProbeName = "kubectl-dr-webhook-probe";
// The recovery label value ListConflicts compares with when the check is for no recovery: upper
// case, so no DRRecovery (a DNS-1123 name) has it and every recovery's objects count.
constexpr std::string_view kNoRecovery = "PlanCheck";

std::string InstallFix(std::string_view context) {
  return "kubectl dr install --context " + std::string(context);
}

// A webhook configuration: present, and every webhook in it with a CA bundle.
Status CheckConfiguration(kube::Client& cluster, const kube::Gvr& gvr, std::string_view kind,
                          std::string_view site, std::string_view context) {
  Result<json> config = cluster.Get(gvr, "", kWebhookName);
  if (!config.ok()) {
    if (config.status().IsNotFound()) {
      return Status::FailedPrecondition("the kubectl-dr webhook is not installed on the " + std::string(site) + " (no " +
                                        std::string(kind) + " " + std::string(kWebhookName) +
                                        "): nothing guards failed-over claims or transforms restored objects there; "
                                        "run " + InstallFix(context));
    }
    return config.status().WithContext("reading " + std::string(kind) + " " + std::string(kWebhookName) + " on the " +
                                       std::string(site));
  }
  const json& hooks = kube::FieldAt(*config, {"webhooks"});
  if (!hooks.is_array() || hooks.empty()) {
    return Status::FailedPrecondition(std::string(kind) + " " + std::string(kWebhookName) + " on the " +
                                      std::string(site) + " lists no webhook; run " + InstallFix(context));
  }
  for (const json& hook : hooks) {
    if (kube::StringField(hook, {"clientConfig", "caBundle"}).empty()) {
      // Without it the API server cannot verify the webhook: with failurePolicy Fail every
      // matching write is refused.
      return Status::FailedPrecondition("webhook " + Quote(kube::StringField(hook, {"name"})) + " of " +
                                        std::string(kind) + " " + std::string(kWebhookName) + " on the " +
                                        std::string(site) + " has no caBundle (cert-manager's CA injector has not "
                                        "filled it?); run " + InstallFix(context));
    }
  }
  return Status::Ok();
}

// A dry-run create the webhook's rules select. Answered (admitted, or denied by a policy) is
// healthy; the API server failing to call it is not.
Status Probe(kube::Client& cluster, const kube::Gvr& gvr, std::string_view ns, const json& object,
             std::string_view what, std::string_view site, std::string_view context) {
  kube::WriteOptions w;
  w.dry_run = true;
  Result<json> r = cluster.Create(gvr, ns, object, w);
  if (r.ok() || r.status().IsAlreadyExists()) return Status::Ok();  // AlreadyExists: admitted first
  const std::string m = r.status().message();
  if (m.find("denied the request") != std::string::npos) return Status::Ok();
  if (m.find("failed calling webhook") != std::string::npos) {
    return Status::FailedPrecondition("the API server of the " + std::string(site) + " cannot call the kubectl-dr "
                                      "webhook (" + m + "): with failurePolicy Fail the writes it guards are refused; "
                                      "check the webhook's pods, or re-run " + InstallFix(context));
  }
  if (r.status().IsNotFound()) {
    return Status::FailedPrecondition("a dry-run " + std::string(what) + " on the " + std::string(site) + " was refused (" +
                                      m + "): kubectl-dr is not fully installed there; run " + InstallFix(context));
  }
  return r.status().WithContext("probing the webhook on the " + std::string(site) + " with a dry-run " +
                                std::string(what));
}

Verdict Worst(Verdict a, Verdict b) {
  auto rank = [](Verdict v) {
    switch (v) {
      case Verdict::kOk: return 0;
      case Verdict::kWarning: return 1;
      case Verdict::kUnchecked: return 2;
      case Verdict::kFailed: return 3;
    }
    return 3;
  };
  return rank(a) >= rank(b) ? a : b;
}

// A group's state, judged for a failover from the plan's source to its target.
ReadinessCheck JudgeGroup(const storage::ConsistencyGroup& cg, const Result<storage::CgState>& st,
                          const Clock::WallTime now, GroupReadiness* out) {
  ReadinessCheck c{"storage: " + std::string(storage::ToString(cg.role)), Verdict::kOk, "", ""};
  out->role = std::string(storage::ToString(cg.role));
  out->name = cg.name;
  out->volumes = cg.volumes.size();
  const std::string volumes = std::to_string(cg.volumes.size()) + " volume(s)";
  if (!st.ok()) {
    out->replication = "error";
    c.verdict = Verdict::kFailed;
    c.message = volumes + ": " + st.status().message();
    c.fix = "fix the storage state named above; a failover stops on it";
    return c;
  }
  out->replication = std::string(storage::ToString(st->replication));
  out->caught_up = st->caught_up;
  out->backend = st->backend;
  if (st->last_sync) out->last_sync = FormatRfc3339(*st->last_sync);
  std::string found = volumes + ", " + out->replication;
  if (!st->backend.empty()) found += " (" + st->backend + ")";
  switch (st->replication) {
    case storage::Replication::kReplicating:
      if (!st->caught_up) {
        c.verdict = Verdict::kWarning;
        found += "; not caught up";
        if (st->last_sync) {
          found += ", last sync " + out->last_sync + " (" +
                   std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - *st->last_sync).count()) +
                   "s ago)";
        }
        c.fix = "a failover syncs first when the source answers; otherwise it loses what was not replicated";
      }
      break;
    case storage::Replication::kExternal:
      found += ": not managed by kubectl-dr";
      break;
    case storage::Replication::kFailingOver:
      c.verdict = Verdict::kWarning;
      c.fix = "a failover started and did not finish: running the failover again completes it";
      break;
    case storage::Replication::kFailedOver:
      c.verdict = Verdict::kFailed;
      c.fix = "the target's copies are already the writable ones: this plan has failed over; clone it to protect "
              "again: kubectl dr plan clone";
      break;
    case storage::Replication::kReversed:
      c.verdict = Verdict::kFailed;
      c.fix = "replication runs from the target to the source: that is a failback's starting point, not a failover's";
      break;
    case storage::Replication::kUnknown:
      c.verdict = Verdict::kFailed;
      c.fix = "the storage cannot be read now; a failover would stop at this group";
      break;
  }
  c.message = found;
  return c;
}

}  // namespace

Status CheckPlanNotSpent(const DRPlan& plan, std::string_view recovery) {
  if (!plan.spent() || (!recovery.empty() && plan.status.spent_by == recovery)) return Status::Ok();
  return Status::FailedPrecondition("plan " + Quote(plan.metadata.name) + " was spent by " +
                                    Quote(plan.status.spent_by) + "; clone it: kubectl dr plan clone " +
                                    plan.metadata.name + " --name NEW --inventory-pvc NEW-PVC");
}

Status CheckWebhook(kube::Client& cluster, std::string_view dr_namespace, std::string_view plan,
                    std::string_view site, std::string_view context) {
  KDR_RETURN_IF_ERROR(
      CheckConfiguration(cluster, kValidating, "validatingwebhookconfiguration", site, context));
  KDR_RETURN_IF_ERROR(CheckConfiguration(cluster, kMutating, "mutatingwebhookconfiguration", site, context));
  // The spent-plans rule selects DRRecovery creates; the transforms rule objects carrying the
  // recovery label (its policy denies one whose recovery does not exist: an answer all the same).
  const json recovery = {{"apiVersion", std::string(kApiVersion)},
                         {"kind", std::string(kRecoveryKind)},
                         {"metadata", {{"name", std::string(kProbeName)}, {"namespace", std::string(dr_namespace)}}},
                         {"spec", {{"planRef", {{"name", plan.empty() ? std::string(kProbeName) : std::string(plan)}}},
                                   {"action", "Failover"}}}};
  KDR_RETURN_IF_ERROR(Probe(cluster, kRecoveries, dr_namespace, recovery, "drrecovery create", site, context));
  const json config_map = {
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", std::string(kProbeName)},
        {"namespace", std::string(dr_namespace)},
        {"labels", {{std::string(kRecoveryLabel), std::string(kProbeName)}}}}}};
  return Probe(cluster, kConfigMaps, dr_namespace, config_map, "configmap create", site, context);
}

std::string DescribeConflicts(const std::vector<inventory::Conflict>& conflicts) {
  std::string out;
  for (const auto& c : conflicts) out += "\n  " + c.object.ToString() + ": " + c.reason;
  return out;
}

Status RefuseConflicts(const std::vector<inventory::Conflict>& conflicts) {
  if (conflicts.empty()) return Status::Ok();
  return Status::FailedPrecondition(std::to_string(conflicts.size()) +
                                    " object(s) on the target were not created by this recovery (nothing was "
                                    "changed; choose --existing skip or update, or remove them):" +
                                    DescribeConflicts(conflicts));
}

Result<std::vector<ClaimRef>> UnfencedClaims(kube::Client& cluster, std::string_view plan) {
  KDR_ASSIGN_OR_RETURN(std::vector<ClaimRef> claims, FailedOverClaims(cluster, plan));
  std::map<std::string, bool> fenced;
  std::vector<ClaimRef> out;
  for (const ClaimRef& c : claims) {
    auto it = fenced.find(c.namespace_name);
    if (it == fenced.end()) {
      Result<json> ns = cluster.Get(kNamespaces, "", c.namespace_name);
      if (!ns.ok()) return ns.status().WithContext("reading namespace " + c.namespace_name);
      it = fenced.emplace(c.namespace_name, kube::Label(*ns, kFencedLabel).value_or("") == "true").first;
    }
    if (!it->second) out.push_back(c);
  }
  return out;
}

std::string_view ToString(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kWarning: return "warning";
    case Verdict::kFailed: return "failed";
    case Verdict::kUnchecked: return "unchecked";
  }
  return "failed";
}

bool ReadinessReport::ready() const { return Count(Verdict::kFailed) == 0 && Count(Verdict::kUnchecked) == 0; }

size_t ReadinessReport::Count(Verdict v) const {
  return static_cast<size_t>(std::count_if(checks.begin(), checks.end(), [v](const auto& c) { return c.verdict == v; }));
}

ReadinessReport CheckReadiness(const ReadinessInput& in, std::stop_token stop) {
  ReadinessReport r;
  const DRPlan& plan = *in.plan;
  r.plan = plan.metadata.name;
  auto add = [&r](std::string name, Verdict v, std::string message, std::string fix = "") {
    r.checks.push_back({std::move(name), v, std::move(message), std::move(fix)});
  };
  const Clock::WallTime now = in.env.clock->Now();

  // The plan.
  if (Status s = CheckPlanNotSpent(plan, in.recovery); !s.ok()) {
    add("plan", Verdict::kFailed, "spent by " + Quote(plan.status.spent_by) +
                                      (plan.status.spent_at.empty() ? "" : " at " + plan.status.spent_at),
        "kubectl dr plan clone " + plan.metadata.name + " --name NEW --inventory-pvc NEW-PVC");
  } else {
    add("plan", Verdict::kOk,
        plan.status.phase ? std::string(ToString(*plan.status.phase)) : std::string("Ready (no status yet)"));
  }

  // The sites and their webhooks.
  if (in.source == nullptr) {
    add("source cluster", Verdict::kUnchecked,
        "context " + Quote(plan.spec.source_context) + " does not answer" +
            (in.source_unreachable.empty() ? "" : " (" + in.source_unreachable + ")") +
            ": its webhook and fencing cannot be checked; a failover does not need it (quiesce and fencing are "
            "skipped)",
        "once it is back: kubectl dr fence --plan " + plan.metadata.name);
  } else {
    add("source cluster", Verdict::kOk, "context " + Quote(plan.spec.source_context) + " answers");
  }
  auto webhook = [&](kube::Client* cluster, const std::string& site, const std::string& context) {
    const std::string name = "webhook on " + site;
    if (cluster == nullptr) {
      add(name, Verdict::kWarning, "not checked: the " + site + " does not answer");
      return;
    }
    Status s = CheckWebhook(*cluster, in.dr_namespace, site == "target" ? plan.metadata.name : "", site, context);
    if (s.ok()) {
      add(name, Verdict::kOk, "installed, and the API server reaches it (dry-run admission answered)");
    } else if (s.code() == StatusCode::kFailedPrecondition) {
      add(name, Verdict::kFailed, s.message(), InstallFix(context));
    } else {
      add(name, Verdict::kUnchecked, s.message());
    }
  };
  webhook(in.target, "target", plan.spec.target_context);
  webhook(in.source, "source", plan.spec.source_context);

  // The inventory: the RPO, the volume map and the objects to restore.
  std::optional<inventory::Inventory> inv;
  if (in.inventory_path.empty()) {
    const std::string why = "no --inventory-path: the replicated inventory holds ";
    add("inventory", Verdict::kUnchecked, why + "the capture time (RPO)", "give --inventory-path DIR");
    add("storage", Verdict::kUnchecked, why + "the volume map");
    add("conflicts on target", Verdict::kUnchecked, why + "the objects to restore");
  } else {
    Result<inventory::Inventory> opened = inventory::Inventory::Open(*in.env.fs, in.inventory_path, in.generation);
    if (!opened.ok()) {
      add("inventory", Verdict::kFailed, in.inventory_path + ": " + opened.status().message(),
          opened.status().IsNotFound() ? "capture one: kubectl dr inventory capture --plan " + plan.metadata.name
                                       : "");
    } else if (opened->index().plan.name != plan.metadata.name) {
      add("inventory", Verdict::kFailed,
          "the inventory at " + in.inventory_path + " was captured for plan " + Quote(opened->index().plan.name) +
              ", not " + Quote(plan.metadata.name),
          "point --inventory-path at this plan's inventory");
    } else {
      inv.emplace(std::move(*opened));
      const inventory::Index& index = inv->index();
      r.inventory_generation = index.generation;
      r.inventory_captured_at = FormatRfc3339(index.capture_end);
      r.inventory_objects = index.objects.size();
      const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - index.capture_end);
      r.inventory_age = age;
      const std::string found = "generation " + std::to_string(index.generation) + " captured " +
                                r.inventory_captured_at + " (RPO " + std::to_string(age.count()) + "s), " +
                                std::to_string(index.objects.size()) + " objects";
      if (age > in.max_rpo) {
        add("inventory", Verdict::kFailed,
            found + ": older than --max-rpo " +
                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(in.max_rpo).count()) + "s",
            "check the capture CronJob on the source and the inventory's replication, or capture now: kubectl dr "
            "inventory capture --plan " + plan.metadata.name);
      } else {
        add("inventory", Verdict::kOk, found);
      }
    }
    if (!inv) {
      add("storage", Verdict::kUnchecked, "needs a readable inventory (its volume map)");
      add("conflicts on target", Verdict::kUnchecked, "needs a readable inventory (the objects to restore)");
    }
  }

  if (inv) {
    Result<inventory::RestoreInput> input = inventory::ReadRestoreInput(*inv);
    // Storage: where replication of each group stands.
    storage::DriverOptions d;
    d.env = in.env;
    d.source = in.source;
    d.target = in.target;
    const storage::Deadline deadline = storage::Deadline::After(*in.env.clock, in.storage_timeout, stop);
    Result<std::unique_ptr<storage::Driver>> driver = storage::NewDriver(plan, d);
    Result<std::vector<storage::ConsistencyGroup>> groups =
        driver.ok() ? (*driver)->Discover(plan, inv->index().volumes, deadline)
                    : Result<std::vector<storage::ConsistencyGroup>>(driver.status());
    if (!groups.ok()) {
      add("storage", Verdict::kFailed, std::string(ToString(plan.spec.driver)) + ": " + groups.status().message());
    } else {
      for (const auto& cg : *groups) {
        GroupReadiness g;
        ReadinessCheck c = JudgeGroup(cg, (*driver)->State(cg, deadline), now, &g);
        for (const std::string& w : cg.warnings) {
          c.verdict = Worst(c.verdict, Verdict::kWarning);
          c.message += "; " + w;
        }
        r.groups.push_back(std::move(g));
        r.checks.push_back(std::move(c));
      }
      if (groups->empty()) add("storage", Verdict::kOk, "no consistency group (no volume to fail over)");
    }

    // Conflicts on the target, as the failover's preflight lists them.
    if (!input.ok()) {
      add("conflicts on target", Verdict::kFailed, input.status().message());
    } else {
      inventory::RestoreOptions ro;
      ro.recovery = in.recovery.empty() ? std::string(kNoRecovery) : in.recovery;
      ro.namespaces = in.namespaces.empty() ? plan.spec.namespaces : in.namespaces;
      ro.namespace_mapping = in.namespace_mapping;
      Result<std::vector<inventory::Conflict>> conflicts = inventory::ListConflicts(*in.target, *input, ro);
      if (!conflicts.ok()) {
        add("conflicts on target", Verdict::kUnchecked, conflicts.status().message());
      } else {
        r.conflicts = std::move(*conflicts);
        if (in.recovery.empty()) {
          // Said without the placeholder the check compared with.
          const std::string placeholder = Quote(kNoRecovery);
          for (auto& c : r.conflicts) {
            for (const std::string& from : {", not " + placeholder, " by recovery " + placeholder}) {
              if (size_t at = c.reason.find(from); at != std::string::npos) {
                c.reason.replace(at, from.size(), from[0] == ',' ? "" : " by a recovery");
              }
            }
          }
        }
        if (r.conflicts.empty()) {
          add("conflicts on target", Verdict::kOk, "none among " + std::to_string(input->objects.size()) + " objects");
        } else {
          add("conflicts on target", Verdict::kFailed,
              std::to_string(r.conflicts.size()) + " object(s) exist on the target and were not restored by " +
                  (in.recovery.empty() ? "a recovery" : "recovery " + Quote(in.recovery)),
              "remove them, or run the failover with --existing skip or update");
        }
      }
    }
  }

  // The fence on the source: a failed-over claim whose namespace is not fenced is not guarded.
  if (in.source == nullptr) {
    add("fencing on source", Verdict::kUnchecked, "the source does not answer");
  } else {
    Result<std::vector<ClaimRef>> unfenced = UnfencedClaims(*in.source, plan.metadata.name);
    if (!unfenced.ok()) {
      add("fencing on source", Verdict::kUnchecked, unfenced.status().message());
    } else if (unfenced->empty()) {
      add("fencing on source", Verdict::kOk, "no failed-over claim of this plan outside a fenced namespace");
    } else {
      std::vector<std::string> names;
      for (const ClaimRef& c : *unfenced) names.push_back(c.namespace_name + "/" + c.name);
      r.unfenced = std::move(*unfenced);
      add("fencing on source", Verdict::kFailed,
          std::to_string(names.size()) + " failed-over claim(s) in a namespace not labelled " +
              std::string(kFencedLabel) + "=true, so the webhook does not guard their pods: " + Join(names, ", "),
          "kubectl dr fence --plan " + plan.metadata.name);
    }
  }
  return r;
}

}  // namespace kdr::dr
