#pragma once

// Is a plan ready for a failover? The checks behind `kubectl dr plan check` and the failover's
// Preflight step (DESIGN.md section 3, step 1), each a read that changes nothing:
//
//   plan        not spent (CheckPlanNotSpent)
//   webhook     on each site: both configurations present with a CA bundle, and the API server
//               actually reaching the webhook, proved by two server-side dry-run creates that
//               its rules select (CheckWebhook). A dry run persists nothing; the webhook's
//               policies answer them (allowed, or denied with a reason: either way it answers)
//   inventory   readable, captured for this plan, and not older than a limit: its age is the RPO
//               a failover would have now
//   storage     where replication of each consistency group stands (StorageVerdict)
//   conflicts   objects on the target a restore would refuse (inventory::ListConflicts)
//   fencing     failed-over claims of the plan on the source whose namespace is not fenced, so
//               the webhook there does not see their pods (UnfencedClaims)
//
// CheckReadiness runs them all and reports every one, with what was found and the next step; a
// check that cannot be made (no inventory given, a site that does not answer) is reported as
// kUnchecked with the reason, never silently skipped.
//
//   dr::ReadinessInput in{...};
//   dr::ReadinessReport r = dr::CheckReadiness(in);
//   if (!r.ready()) ...   // some check failed or could not be made

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "dr/fence.h"
#include "dr/types.h"
#include "inventory/restore.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::dr {

// The failover's and the webhook's text for a spent plan. Ok unless the plan is spent by a
// recovery other than `recovery` ("" = any recovery): FailedPrecondition "plan \"P\" was spent by
// \"R\"; clone it: kubectl dr plan clone P --name NEW --inventory-pvc NEW-PVC".
Status CheckPlanNotSpent(const DRPlan& plan, std::string_view recovery = "");

// The kubectl-dr webhook on one cluster, as the API server meets it. Ok when the validating and
// mutating configurations named kubectl-dr-webhook exist, every webhook in them has a caBundle,
// and a server-side dry-run create of a DRRecovery (planRef `plan`) and of a ConfigMap labelled
// with a recovery, both in `dr_namespace`, are answered by the webhook. Errors:
//   FailedPrecondition  not installed, no CA bundle, or the API server cannot call the webhook
//                       (its words: "failed calling webhook ..."); the message names `site`
//                       ("target") and ends with the fix: kubectl dr install --context `context`
//   the cluster's own   (Unavailable, PermissionDenied, ...) when it cannot be asked at all
// Nothing is persisted (dryRun=All); the webhook logs the two probe decisions.
Status CheckWebhook(kube::Client& cluster, std::string_view dr_namespace, std::string_view plan,
                    std::string_view site, std::string_view context);

// One line per conflict, each starting with "\n  ": "\n  Namespace shop: exists on the target ...".
std::string DescribeConflicts(const std::vector<inventory::Conflict>& conflicts);

// What a failover's preflight refuses conflicts with: FailedPrecondition "N object(s) on the
// target were not created by this recovery (nothing was changed; choose --existing skip or
// update, or remove them):" and DescribeConflicts. Ok when there are none.
Status RefuseConflicts(const std::vector<inventory::Conflict>& conflicts);

// The failed-over claims of `plan` on `cluster` whose namespace is not labelled fenced (the
// webhook does not see the pods of such a namespace: the fence has a hole). Sorted. `kubectl dr
// fence --plan P` repairs it. Errors: the cluster's.
Result<std::vector<ClaimRef>> UnfencedClaims(kube::Client& cluster, std::string_view plan);

enum class Verdict {
  kOk,
  kWarning,    // a failover would start, but look at it
  kFailed,     // a failover would not start cleanly
  kUnchecked,  // could not be checked (the reason is the message): readiness is not confirmed
};
std::string_view ToString(Verdict v);  // "ok", "warning", "failed", "unchecked"

struct ReadinessCheck {
  std::string name;  // "plan", "webhook on target", "storage: inventory", ...
  Verdict verdict = Verdict::kOk;
  std::string message;  // what was found
  std::string fix;      // what to do; "" when nothing
};

// One consistency group's state (storage/driver.h CgState, in words).
struct GroupReadiness {
  std::string role;  // "inventory", "workloads"
  std::string name;
  size_t volumes = 0;
  std::string replication;  // "replicating", "failed over", ...
  bool caught_up = false;
  std::string last_sync;  // RFC 3339; "" when unknown
  std::string backend;    // the backend's words
};

struct ReadinessInput {
  const DRPlan* plan = nullptr;  // REQUIRED
  std::string dr_namespace = std::string(kSystemNamespace);
  kube::Client* target = nullptr;  // REQUIRED: the cluster holding the plan
  // The source; null when it does not answer, `source_unreachable` saying why.
  kube::Client* source = nullptr;
  std::string source_unreachable;
  // The recovery the check is for ("" = none: all of the plan's namespaces, and objects labelled
  // by any recovery count as conflicts). Its namespaces and mapping are `namespaces` / `mapping`.
  std::string recovery;
  std::vector<std::string> namespaces;  // empty: the plan's
  std::map<std::string, std::string> namespace_mapping;
  // The replicated inventory (format.h); "" = not given: inventory, storage and conflicts are
  // kUnchecked.
  std::string inventory_path;
  std::optional<int64_t> generation;
  // An inventory older than this is stale (kFailed): a failover now would lose more than that.
  std::chrono::nanoseconds max_rpo{std::chrono::hours(1)};
  // Each storage call gets this long.
  std::chrono::nanoseconds storage_timeout{std::chrono::minutes(1)};
  Env env;  // clock and fs REQUIRED
};

struct ReadinessReport {
  std::string plan;
  std::vector<ReadinessCheck> checks;
  // Filled as far as the checks got.
  int64_t inventory_generation = 0;
  std::string inventory_captured_at;  // RFC 3339: the RPO point
  std::optional<std::chrono::seconds> inventory_age;
  size_t inventory_objects = 0;
  std::vector<GroupReadiness> groups;
  std::vector<inventory::Conflict> conflicts;
  std::vector<ClaimRef> unfenced;

  // Every check ok or a warning.
  bool ready() const;
  size_t Count(Verdict v) const;
};

// Runs every check above; never stops at the first problem. REQUIRES: input.plan, input.target,
// input.env.clock and input.env.fs are set.
ReadinessReport CheckReadiness(const ReadinessInput& input, std::stop_token stop = {});

}  // namespace kdr::dr
