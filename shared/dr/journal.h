#pragma once

// The journal of a recovery: DRRecovery.status.steps[], one entry per step of DESIGN.md section 3,
// in order. Every step is idempotent, so a run that died (a crash, ^C, a lost laptop) resumes at
// the first step not Succeeded or Skipped, and a step that was Running when the run died is simply
// run again (its attempts counted).
//
// The journal only edits the steps in memory; the workflow writes the DRRecovery status after each
// change (through drrecoveries/status), so the journal on the cluster is never behind by more than
// the step in flight. Not thread-safe: one workflow owns it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "dr/types.h"

namespace kdr::dr {

// Step names, as they appear in status.steps[].name and in progress lines.
namespace step {
inline constexpr std::string_view kPreflight = "Preflight";
inline constexpr std::string_view kQuiesceSource = "QuiesceSource";
inline constexpr std::string_view kSyncInventory = "SyncInventory";
inline constexpr std::string_view kSpendPlan = "SpendPlan";
inline constexpr std::string_view kFailoverInventory = "FailoverInventory";
inline constexpr std::string_view kRestoreInventoryVolume = "RestoreInventoryVolume";
inline constexpr std::string_view kStartAgent = "StartAgent";
inline constexpr std::string_view kWorkloadVolumes = "WorkloadVolumes";
inline constexpr std::string_view kRestoreObjects = "RestoreObjects";
inline constexpr std::string_view kFenceSource = "FenceSource";
inline constexpr std::string_view kVerify = "Verify";
// Failback: Recover then Restore of the storage groups replaces the failover of the inventory;
// the primary's fence is lifted before its workloads are restored.
inline constexpr std::string_view kFailbackInventory = "FailbackInventory";
inline constexpr std::string_view kUnfence = "Unfence";
// Drill: copies of the replicated volumes, never the live DR volumes.
inline constexpr std::string_view kPrepareDrill = "PrepareDrill";
}  // namespace step

// The steps of an action, in the order they run.
const std::vector<std::string_view>& StepsOf(RecoveryAction action);

class Journal {
 public:
  // Works on `steps` (a DRRecovery's status.steps, possibly from an earlier run). REQUIRES: the
  // pointers outlive the journal.
  Journal(RecoveryAction action, std::vector<RecoveryStep>* steps, const Clock* clock);

  // Brings `steps` to the action's list: missing steps are added Pending, in order; entries are
  // kept as they are otherwise. FailedPrecondition when the journal holds a step the action does
  // not have, or its steps out of order (a status written by something else: refuse to guess).
  Status Reconcile();

  // The first step not Succeeded or Skipped; nullopt when every step is done.
  std::optional<std::string_view> Next() const;
  bool Done() const { return !Next().has_value(); }

  // State changes. Start sets Running, counts an attempt and stamps startedAt (and clears
  // finishedAt and message); the others stamp finishedAt. InvalidArgument for a step not in the
  // journal (a bug in the caller).
  Status Start(std::string_view name);
  Status Succeed(std::string_view name, std::string message = "");
  Status Fail(std::string_view name, std::string message);
  Status Skip(std::string_view name, std::string message);

  const RecoveryStep* Find(std::string_view name) const;

 private:
  RecoveryStep* Mutable(std::string_view name);

  const RecoveryAction action_;
  std::vector<RecoveryStep>* const steps_;
  const Clock* const clock_;
};

}  // namespace kdr::dr
