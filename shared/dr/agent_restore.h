#pragma once

// The RestoreObjects step's work (DESIGN.md section 3, step 9), in one place for both agents: the
// workflow in the plugin (`--agent local`) and `kubectl-dr agent restore`, the Job the workflow
// starts on the target (`--agent job`). Both restore the same way: the recovery's namespaces
// (mapped for a drill), the PVs of failed-over volumes as the storage driver gives them, every
// object labelled with the recovery so the webhook transforms it.

#include <chrono>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "dr/agent_job.h"
#include "dr/types.h"
#include "inventory/restore.h"

namespace kdr::kube {
class Client;
}
namespace kdr::storage {
class Driver;
struct ConsistencyGroup;
}  // namespace kdr::storage

namespace kdr::dr {

struct ObjectRestoreOptions {
  inventory::ExistingPolicy existing = inventory::ExistingPolicy::kFail;
  int parallel = 16;
  bool rerun_finished_jobs = false;
  // The storage calls and the claims' binding each get this long.
  std::chrono::nanoseconds timeout{std::chrono::minutes(30)};
  std::function<void(const inventory::RestoreProgress&)> progress;  // may be empty
};

// The restore engine's options for `recovery` of `plan`, the same for both agents: the recovery's
// namespaces (the plan's when it names none), its namespace mapping, its name as the recovery
// label (so the webhook transforms each object), and `options`' choices. No rewrite_volume.
inventory::RestoreOptions RecoveryRestoreOptions(const DRPlan& plan, const DRRecovery& recovery,
                                                 const ObjectRestoreOptions& options);

// Restores `input` for `recovery` of `plan` on `target`. `groups` are the storage groups the
// driver discovered (or, for a drill, the copies PrepareDrill made): a PV whose claim is in one of
// them is replaced with driver.VolumeSourceFor's. Conflicts under kFail come back in the result's
// status with DescribeConflicts' lines. REQUIRES: env.clock set.
inventory::RestoreResult RestoreRecoveryObjects(kube::Client& target, const Env& env, const DRPlan& plan,
                                                const DRRecovery& recovery, inventory::RestoreInput input,
                                                storage::Driver& driver,
                                                const std::vector<storage::ConsistencyGroup>& groups,
                                                const ObjectRestoreOptions& options, std::stop_token stop = {});

// What a restore warns of, in the report's words, the same for both agents: an object the restore
// does not replace that differs on the target ("StorageClass fast differs on the target: ...").
std::vector<std::string> RestoreWarnings(const inventory::RestoreResult& result);

// `kubectl-dr agent restore`: on the target, with the inventory volume mounted at inventory_path.
struct AgentRestoreOptions {
  std::string recovery;  // REQUIRED
  std::string dr_namespace = std::string(kSystemNamespace);
  std::string inventory_path;  // REQUIRED
  std::optional<int64_t> generation;
  // Read, check and record the inventory (the workflow's StartAgent step); restore nothing.
  bool describe = false;
  ObjectRestoreOptions restore;
};

// Reads the recovery and its plan from `target`, opens the inventory (checked as the workflow
// checks it: the plan's, not torn, every object's sha256), then:
//
//   describe  lists what would conflict on the target (refused under existing=fail, as the
//             preflight of `--agent local` refuses it) and records the generation, its capture
//             time, the object count and the volume map in the recovery's status.inventory, for
//             the workflow (it does not read the inventory itself)
//   restore   discovers the plan's storage groups (a drill: its copies, which PrepareDrill names
//             the same every time), restores as RestoreRecoveryObjects, writes its progress to
//             status.progress as it goes (every few seconds and at each tier), and records the
//             counts in status.restored and the first kMaxRecordedFailures failures in
//             status.failures
//
// The result says what happened (ok false with the failures' count when objects failed).
// Errors: the recovery or plan missing (NotFound), a finished recovery, the plan not the
// inventory's or a torn inventory (FailedPrecondition), conflicts under existing=fail
// (FailedPrecondition listing them; nothing restored), the storage's and the server's errors.
Result<AgentResult> RunAgentRestore(kube::Client& target, const Env& env, const AgentRestoreOptions& options,
                                    std::stop_token stop = {});

}  // namespace kdr::dr
