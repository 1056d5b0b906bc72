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

// Restores `input` for `recovery` of `plan` on `target`. `groups` are the storage groups the
// driver discovered (or, for a drill, the copies PrepareDrill made): a PV whose claim is in one of
// them is replaced with driver.VolumeSourceFor's. Conflicts under kFail come back in the result's
// status with DescribeConflicts' lines. REQUIRES: env.clock set.
inventory::RestoreResult RestoreRecoveryObjects(kube::Client& target, const Env& env, const DRPlan& plan,
                                                const DRRecovery& recovery, inventory::RestoreInput input,
                                                storage::Driver& driver,
                                                const std::vector<storage::ConsistencyGroup>& groups,
                                                const ObjectRestoreOptions& options, std::stop_token stop = {});

// `kubectl-dr agent restore`: on the target, with the inventory volume mounted at inventory_path.
struct AgentRestoreOptions {
  std::string recovery;  // REQUIRED
  std::string dr_namespace = std::string(kSystemNamespace);
  std::string inventory_path;  // REQUIRED
  std::optional<int64_t> generation;
  ObjectRestoreOptions restore;
};

// Reads the recovery and its plan from `target`, opens the inventory (checked as the workflow
// checks it: the plan's, not torn), discovers the plan's storage groups (a drill: its copies,
// which PrepareDrill names the same every time), restores, and records the counts in the
// recovery's status.restored. The result says what happened (ok false with the failures'
// count when objects failed: the workflow's report lists them from the agent's log). Errors: the
// recovery or plan missing (NotFound), a finished recovery, the plan not the inventory's or a
// torn inventory (FailedPrecondition), conflicts under existing=fail (FailedPrecondition listing
// them), the storage's and the server's errors.
Result<AgentResult> RunAgentRestore(kube::Client& target, const Env& env, const AgentRestoreOptions& options,
                                    std::stop_token stop = {});

}  // namespace kdr::dr
