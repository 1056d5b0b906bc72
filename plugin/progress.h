#pragma once

// What a running failover, failback or drill shows on stderr (issue 11, "Seeing it happen").
//
// Live (stderr is a terminal): one block redrawn in place, every step with its state and elapsed
// time (the running one ticking), the restore's objects done of total with rate, ETA and failures,
// and the warnings so far. Plain (a pipe, a CI log): one line per step change, the restore's counts
// at each tenth of the way (and at least every 5 s while it moves), and each warning, as it comes.
//
//   ProgressView view(*ctx.streams.err, ProgressView::Mode::kLive, *env.clock, dr::StepsOf(action));
//   options.on_event = [&](const dr::WorkflowEvent& e) { view.On(e); };
//   ... RunRecovery ...
//   view.Finish();
//
// Thread-safe: On may be called from the workflow's thread and the restore's workers; in live
// mode a ticker thread redraws twice a second until Finish (or destruction).

#include <chrono>
#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "dr/workflow.h"

namespace kdr::plugin {

class ProgressView {
 public:
  enum class Mode { kPlain, kLive };

  // kLive when fd 2 is a terminal and TERM is not "dumb", else kPlain.
  static Mode Detect(const std::ostream& err);

  ProgressView(std::ostream& err, Mode mode, const Clock& clock, const std::vector<std::string_view>& steps);
  ~ProgressView();
  ProgressView(const ProgressView&) = delete;
  ProgressView& operator=(const ProgressView&) = delete;

  void On(const dr::WorkflowEvent& event);
  // Draws the last state (live) and stops the ticker. Idempotent.
  void Finish();

  // The live block as it would be drawn now, without cursor movement (tests).
  std::string Render();

 private:
  struct Step {
    std::string name;
    dr::StepState state = dr::StepState::kPending;
    Clock::MonoTime started{};
    std::chrono::nanoseconds elapsed{0};
    std::string message;
  };
  Step* Find(const std::string& name);
  std::string RestoreLine(Clock::MonoTime now) const;
  void Draw();  // REQUIRES: mu_ held

  std::ostream& err_;
  const Mode mode_;
  const Clock& clock_;
  std::mutex mu_;
  std::vector<Step> steps_;
  std::optional<inventory::RestoreProgress> restore_;
  Clock::MonoTime restore_started_{};
  Clock::MonoTime last_plain_{};
  int64_t last_plain_tenth_ = -1;
  Clock::MonoTime last_draw_{};
  std::vector<std::string> warnings_;
  size_t drawn_lines_ = 0;
  bool finished_ = false;
  std::jthread ticker_;
};

}  // namespace kdr::plugin
