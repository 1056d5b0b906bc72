#include "dr/journal.h"

#include <algorithm>

#include "base/strings.h"

namespace kdr::dr {

const std::vector<std::string_view>& StepsOf(RecoveryAction action) {
  using namespace step;
  // DESIGN.md section 3, steps 1-11.
  static const std::vector<std::string_view> kFailover = {
      kPreflight,  kQuiesceSource,   kSyncInventory,  kSpendPlan,   kFailoverInventory,
      kRestoreInventoryVolume, kStartAgent, kWorkloadVolumes, kRestoreObjects, kFenceSource, kVerify};
  // The DR site is quiesced first; the storage goes back through Recover and Restore; what the
  // failover fenced on the primary is unfenced as soon as the inventory's volume is back, before
  // anything there is replaced or mounted: the inventory claim, bound to the stale volume and
  // fenced, is made anew on the volume that comes back (the webhook refuses to delete a fenced
  // claim, and the agent's pods may not mount one), and the workloads come back after it.
  static const std::vector<std::string_view> kFailback = {
      kPreflight,  kQuiesceSource,   kSyncInventory, kSpendPlan, kFailbackInventory,
      kUnfence, kRestoreInventoryVolume, kStartAgent, kWorkloadVolumes, kRestoreObjects, kVerify};
  // Nothing on the source changes and the plan is not spent.
  static const std::vector<std::string_view> kTest = {
      kPreflight, kPrepareDrill, kRestoreInventoryVolume, kStartAgent, kRestoreObjects, kVerify};
  switch (action) {
    case RecoveryAction::kFailover: return kFailover;
    case RecoveryAction::kFailback: return kFailback;
    case RecoveryAction::kTest: return kTest;
  }
  return kFailover;
}

Journal::Journal(RecoveryAction action, std::vector<RecoveryStep>* steps, const Clock* clock)
    : action_(action), steps_(steps), clock_(clock) {}

Status Journal::Reconcile() {
  const std::vector<std::string_view>& want = StepsOf(action_);
  // Every recorded step must be one of ours, in our order.
  size_t at = 0;
  for (const RecoveryStep& s : *steps_) {
    auto it = std::find(want.begin() + at, want.end(), s.name);
    if (it == want.end()) {
      const bool known = std::find(want.begin(), want.end(), s.name) != want.end();
      return Status::FailedPrecondition(
          "the recovery's journal (status.steps) " +
          std::string(known ? "lists step " + Quote(s.name) + " out of order"
                            : "holds step " + Quote(s.name) + ", which a " +
                                  std::string(ToString(action_)) + " does not have") +
          "; it was not written by this version of kubectl dr: create a new recovery");
    }
    at = static_cast<size_t>(it - want.begin()) + 1;
  }
  std::vector<RecoveryStep> merged;
  merged.reserve(want.size());
  for (std::string_view name : want) {
    auto it = std::find_if(steps_->begin(), steps_->end(), [&](const RecoveryStep& s) { return s.name == name; });
    if (it != steps_->end()) {
      merged.push_back(*it);
    } else {
      RecoveryStep s;
      s.name = std::string(name);
      merged.push_back(std::move(s));
    }
  }
  *steps_ = std::move(merged);
  return Status::Ok();
}

std::optional<std::string_view> Journal::Next() const {
  for (const RecoveryStep& s : *steps_) {
    if (s.state != StepState::kSucceeded && s.state != StepState::kSkipped) return std::string_view(s.name);
  }
  return std::nullopt;
}

const RecoveryStep* Journal::Find(std::string_view name) const {
  for (const RecoveryStep& s : *steps_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

RecoveryStep* Journal::Mutable(std::string_view name) {
  for (RecoveryStep& s : *steps_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

Status Journal::Start(std::string_view name) {
  RecoveryStep* s = Mutable(name);
  if (s == nullptr) return Status::InvalidArgument("journal: no step " + Quote(name));
  s->state = StepState::kRunning;
  ++s->attempts;
  s->started_at = FormatRfc3339(clock_->Now());
  s->finished_at.clear();
  s->message.clear();
  return Status::Ok();
}

namespace {

Status Finish(RecoveryStep* s, std::string_view name, StepState state, std::string message, const Clock* clock) {
  if (s == nullptr) return Status::InvalidArgument("journal: no step " + Quote(name));
  s->state = state;
  s->finished_at = FormatRfc3339(clock->Now());
  s->message = std::move(message);
  return Status::Ok();
}

}  // namespace

Status Journal::Succeed(std::string_view name, std::string message) {
  return Finish(Mutable(name), name, StepState::kSucceeded, std::move(message), clock_);
}

Status Journal::Fail(std::string_view name, std::string message) {
  return Finish(Mutable(name), name, StepState::kFailed, std::move(message), clock_);
}

Status Journal::Skip(std::string_view name, std::string message) {
  return Finish(Mutable(name), name, StepState::kSkipped, std::move(message), clock_);
}

}  // namespace kdr::dr
