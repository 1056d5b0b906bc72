#pragma once

// The recovery workflow (DESIGN.md section 3): a DRRecovery run step by step, each step idempotent
// and journaled in its status (journal.h), so running it again after a crash, a ^C or a lost laptop
// resumes at the first step not done; a Lease on the target (kube/lease.h) keeps a second run of the
// same plan out.
//
// The storage is moved by the plan's driver (storage/driver.h) and the objects are restored by the
// restore engine (inventory/restore.h, through dr/agent_restore.h's RestoreRecoveryObjects), with
// the agent in one of two places:
//
//   Agent::kJob    (`--agent job`, the default of the CLI) the agent runs as Jobs on the target
//                  (dr/agent_run.h) mounting the restored inventory claim. The plugin never reads
//                  the inventory: before the agent can, the steps that move and restore the
//                  inventory's own volume take what they need of it from the source, or from the
//                  plan's status.inventoryVolume when the source does not answer
//                  (dr/inventory_volume.h). StartAgent runs `kubectl-dr agent restore --describe`,
//                  which checks the inventory, refuses conflicts under ExistingPolicy::kFail (the
//                  preflight cannot list them without the inventory) and records the generation,
//                  capture time (RPO), object count and volume map in the recovery's
//                  status.inventory, from which the workload volumes are discovered (then and in a
//                  resumed run). RestoreObjects runs `kubectl-dr agent restore`, reporting its
//                  progress from the recovery's status.progress, and takes the counts and failures
//                  from its result and status. A failed agent fails its step with the agent's own
//                  message. The agent's ServiceAccount and RBAC must be on the target (`kubectl dr
//                  agent install`): the preflight checks them, saying what to run, before anything
//                  changes (StartAgent checks them again).
//   Agent::kLocal  (`--agent local --inventory-path DIR`) the same code runs in this process,
//                  reading the inventory from a directory holding it as replicated
//                  (inventory/format.h); StartAgent is skipped.
//
// A drill never attaches a live replica. With Agent::kLocal it reads the replicated inventory in
// place and copies only the workloads' volumes. With Agent::kJob, PrepareDrill also copies the
// inventory's volume, RestoreInventoryVolume makes a claim of the drill's own on that copy
// (DrillInventoryClaimName, agent_job.h; on the volume as captured, read-only, when the storage's
// copies hold no data: driver none) for the agent's Jobs to mount, and StartAgent, once the agent
// has read the volume map, copies the workloads' volumes (dr/drill_copies.h). Drill cleanup removes
// the claim, its PV, the copy and any agent Job kept after a failure.
//
//   Failover: Preflight, QuiesceSource, SyncInventory, SpendPlan, FailoverInventory,
//             RestoreInventoryVolume, StartAgent, WorkloadVolumes, RestoreObjects, FenceSource, Verify
//   Failback: Preflight, QuiesceSource, SyncInventory (Recover), SpendPlan, FailbackInventory
//             (Restore), Unfence, RestoreInventoryVolume, StartAgent, WorkloadVolumes (Recover,
//             Restore), RestoreObjects, Verify
//   Test:     Preflight, PrepareDrill, RestoreInventoryVolume (kJob: the drill's own claim),
//             StartAgent, RestoreObjects, Verify
//
// The source of a failover is never needed: when it is unreachable, quiesce and fencing are
// skipped with a warning (run `kubectl dr fence` when it is back). Nothing on the source changes
// in a drill, and a drill does not spend the plan.
//
// A failback runs a plan defined the other way round (its source is the DR site, its target the
// old primary) and needs both sites and both storage backends: preflight refuses otherwise. The
// DR site is quiesced first; its changes replicate back (Recover, waited for: not best effort)
// before the plan is spent; the primary's claims and namespaces that the failover fenced are
// unfenced once the inventory's volume is back, before anything there is replaced or restored, as
// the user running the failback (recorded in status.startedBy from a SelfSubjectReview: the
// webhook admits the unfence from that user while the failback runs). The primary's stale copies
// are replaced with the DR site's objects when the caller passes ExistingPolicy::kUpdate (the
// CLI's default for a failback).
//
// RestoreInventoryVolume: an inventory PV already on the target that names another volume than the
// storage gives (a failback's old primary: its inventory claim bound to the stale original), or
// an inventory claim bound to another PV, is made anew under ExistingPolicy::kUpdate (the stale
// volume kept, inventory/replace_volume.h) and refused otherwise (FailedPrecondition naming the
// PV, both volumes and --existing update): the agent would read a stale inventory.
//
// Errors: a step that fails stops the run with its error (the step Failed in the journal, the
// recovery left Running so that the next run resumes there). Preflight changes nothing: a spent
// plan, a finished recovery, a missing webhook, a torn inventory or conflicts on the target are
// FailedPrecondition listing everything found. One object's failure in the restore does not stop
// the rest; the report lists them all.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "dr/types.h"
#include "inventory/restore.h"

namespace kdr::kube {
class Client;
}

namespace kdr::dr {

struct WorkflowEvent {
  enum class Kind { kStepStarted, kStepFinished, kRestoreProgress, kWarning };
  Kind kind = Kind::kStepStarted;
  std::string step;
  StepState state = StepState::kRunning;
  std::string message;
  inventory::RestoreProgress progress;  // kRestoreProgress
};

struct WorkflowOptions {
  std::string recovery;  // REQUIRED: the DRRecovery's name
  std::string dr_namespace = "kubectl-dr-system";
  enum class Agent { kLocal, kJob };
  Agent agent = Agent::kLocal;
  // kLocal: the inventory as replicated to the DR site, read here. REQUIRED with kLocal, unused
  // with kJob.
  std::string inventory_path;
  std::optional<int64_t> generation;  // default: the current one
  inventory::ExistingPolicy existing = inventory::ExistingPolicy::kFail;
  int parallel = 16;
  bool rerun_finished_jobs = false;
  bool no_wait = false;  // Verify skipped
  // QuiesceSource is Skipped with the reason "--skip-quiesce" and the report warns that the
  // source's workloads were left running (they may still write to the volumes that fail over).
  bool skip_quiesce = false;
  // Each storage call, the claim binding and the readiness wait get this long.
  std::chrono::nanoseconds timeout{std::chrono::minutes(30)};
  // The Lease's holder identity ("alice@laptop pid 42").
  std::string holder;
  // kJob: the longest pause between two reads of the agent's Job.
  std::chrono::milliseconds agent_poll_interval{std::chrono::seconds(1)};
  // Called on the caller's thread for steps and warnings, from restore workers (serialized) for
  // progress. May be empty.
  std::function<void(const WorkflowEvent&)> on_event;
};

struct StepReport {
  std::string name;
  StepState state = StepState::kPending;
  int attempts = 0;
  std::chrono::nanoseconds elapsed{0};  // of its last attempt
  std::string message;
};

struct WorkflowReport {
  std::string recovery;
  std::string plan;
  RecoveryAction action = RecoveryAction::kFailover;
  std::optional<RecoveryPhase> phase;
  std::string started_at;   // the first run's start
  std::string finished_at;  // empty unless finished
  std::chrono::nanoseconds rto{0};  // started_at to finished_at (or to now)
  // RPO: when the restored inventory was captured, and the storage's last sync when known.
  std::string inventory_captured_at;
  int64_t inventory_generation = 0;
  std::string storage_last_sync;
  std::vector<StepReport> steps;
  inventory::RestoreCounts counts;
  std::vector<inventory::ObjectFailure> failures;
  std::vector<std::string> warnings;
};

// What a run would do, as PlanRecovery finds it.
struct PlannedStep {
  std::string name;
  // "done" (Succeeded or Skipped in the journal: a run resumes after it), "run" or "skip".
  std::string state;
  std::string what;  // what it would do, or why it would be skipped
};

struct PlannedGroup {
  std::string role;  // "inventory", "workloads"
  std::string name;
  std::vector<std::string> claims;  // "shop/data", as captured
  std::string replication;          // as the driver reads it now ("" when it could not)
};

struct DryRunReport {
  std::string recovery;
  std::string plan;
  RecoveryAction action = RecoveryAction::kFailover;
  std::string source_context;
  std::string target_context;
  bool source_reachable = false;
  // Why a real run would not start cleanly, each with what to do; empty: it would.
  std::vector<std::string> problems;
  bool ready() const { return problems.empty(); }
  std::vector<PlannedStep> steps;  // every step of the action, in order
  std::vector<PlannedGroup> groups;
  int64_t inventory_generation = 0;  // 0: not read here
  std::string inventory_captured_at;
  // The inventory's objects in the recovery's namespaces (and cluster-scoped ones), by kind
  // ("Deployment.apps"); empty when the inventory is not read here (--agent job: the agent reads
  // it on the target), which `notes` then says.
  std::map<std::string, int64_t> objects_by_kind;
  // What the restore would meet on the target; refused (a problem) under --existing fail.
  std::vector<inventory::Conflict> conflicts;
  std::string existing;  // the policy they would meet: "fail", "skip", "update"
  // The source's workloads QuiesceSource would stop: "deployment shop/web: 2 -> 0 replicas".
  std::vector<std::string> quiesce;
  std::vector<std::string> warnings;
  std::vector<std::string> notes;  // what the dry run could not see, and why
};

// `--dry-run`: the preflight of a run of the recovery named in options, and what the run would do,
// changing nothing on either cluster: no Lease, no journal or status write, no Job, no storage
// call that changes state. It reads the recovery, plan, journal, Lease and inventory (as the run
// would: options.agent), asks the driver for the groups and their state, lists the conflicts on
// the target, and, on a reachable source, what QuiesceSource would stop (server-side dry-run
// patches, which persist nothing; so are the webhook's probes). Every problem is listed, none
// stops the others' checks. Ok with `report` filled whether or not a run would start
// (report->ready()); an error only when no report can be made: InvalidArgument for bad options,
// NotFound for a recovery or plan that is not there, the target's errors reading them.
Status PlanRecovery(kube::Client& target, kube::Client* source, const Env& env, const WorkflowOptions& options,
                    DryRunReport* report, std::stop_token stop = {});

// Runs (or resumes) the recovery named in options on the plan's target. `source` is the plan's
// source cluster, or null when it cannot be reached (the caller probes it with a short deadline).
// Returns the report once every step is done (Ok even when objects failed to restore: see the
// report), or the error that stopped the run; `report` (when not null) is filled either way.
Status RunRecovery(kube::Client& target, kube::Client* source, const Env& env, const WorkflowOptions& options,
                   WorkflowReport* report, std::stop_token stop = {});

}  // namespace kdr::dr
