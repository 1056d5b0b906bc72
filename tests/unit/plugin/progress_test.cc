// plugin/progress: what a running recovery shows on stderr, live on a terminal and plain in a log.

#include "progress.h"

#include <gtest/gtest.h>

#include <sstream>

#include "dr/journal.h"
#include "testutil/testutil.h"

namespace kdr::plugin {
namespace {

using namespace std::chrono_literals;
using Kind = dr::WorkflowEvent::Kind;

dr::WorkflowEvent Step(Kind kind, const char* step, dr::StepState state = dr::StepState::kRunning,
                       std::string message = "") {
  return {kind, step, state, std::move(message), {}};
}

dr::WorkflowEvent Progress(int64_t done, int64_t total, int64_t failed = 0) {
  dr::WorkflowEvent e{Kind::kRestoreProgress, "RestoreObjects", dr::StepState::kRunning, "", {}};
  e.progress = {done, total, inventory::Tier::kWorkloads, failed};
  return e;
}

TEST(ProgressViewTest, PlainPrintsAStepLineAtEachChangeAndCountsEachTenth) {
  testutil::FakeClock clock;
  std::ostringstream err;
  ProgressView view(err, ProgressView::Mode::kPlain, clock, dr::StepsOf(dr::RecoveryAction::kFailover));
  view.On(Step(Kind::kStepStarted, "Preflight"));
  clock.Advance(1500ms);
  view.On(Step(Kind::kStepFinished, "Preflight", dr::StepState::kSucceeded, "inventory generation 1"));
  view.On(Step(Kind::kStepStarted, "RestoreObjects"));
  for (int i = 1; i <= 200; ++i) {
    clock.Advance(10ms);
    view.On(Progress(i, 200, i > 150 ? 1 : 0));
  }
  view.On({Kind::kWarning, "", dr::StepState::kRunning, "the source is unreachable", {}});
  view.Finish();
  const std::string out = err.str();
  EXPECT_NE(out.find("Preflight: running\nPreflight: Succeeded in 1.5s (inventory generation 1)\n"), std::string::npos)
      << out;
  // The first object, then each tenth (the last one the end), each with the rate (100 objects a
  // second of fake time, counted from the step's start) and the ETA.
  EXPECT_NE(out.find("  restored 20/200 (workloads), 100/s, ETA 1.8s, 0 failed\n"), std::string::npos) << out;
  EXPECT_NE(out.find("  restored 200/200 (workloads), 100/s, 1 failed\n"), std::string::npos) << out;
  size_t lines = 0;
  for (size_t at = out.find("  restored "); at != std::string::npos; at = out.find("  restored ", at + 1)) ++lines;
  EXPECT_EQ(lines, 11u) << out;
  EXPECT_NE(out.find("  restored 1/200 (workloads), 100/s, ETA 2.0s, 0 failed\n"), std::string::npos) << out;
  EXPECT_NE(out.find("warning: the source is unreachable\n"), std::string::npos);
  EXPECT_EQ(out.find("\x1b["), std::string::npos) << "no terminal codes in a log";
}

TEST(ProgressViewTest, PlainShowsCountsEveryFewSecondsWhenTheRestoreCrawls) {
  testutil::FakeClock clock;
  std::ostringstream err;
  ProgressView view(err, ProgressView::Mode::kPlain, clock, {});
  view.On(Progress(1, 1000));
  clock.Advance(6s);
  view.On(Progress(2, 1000));
  clock.Advance(1s);
  view.On(Progress(3, 1000));
  const std::string out = err.str();
  EXPECT_NE(out.find("restored 1/1000"), std::string::npos) << out;
  EXPECT_NE(out.find("restored 2/1000"), std::string::npos) << out;
  EXPECT_EQ(out.find("restored 3/1000"), std::string::npos) << "within 5s of the last line, below a tenth";
}

TEST(ProgressViewTest, LiveRedrawsOneBlockWithEveryStepTheRunningOneTicking) {
  testutil::FakeClock clock;
  std::ostringstream err;
  ProgressView view(err, ProgressView::Mode::kLive, clock, dr::StepsOf(dr::RecoveryAction::kTest));
  view.On(Step(Kind::kStepStarted, "Preflight"));
  clock.Advance(2s);
  view.On(Step(Kind::kStepFinished, "Preflight", dr::StepState::kSucceeded, "ok"));
  view.On(Step(Kind::kStepStarted, "PrepareDrill"));
  clock.Advance(3s);
  const std::string block = view.Render();
  EXPECT_EQ(block,
            "  Preflight               Succeeded  2.0s    ok\n"
            "> PrepareDrill            Running    3.0s\n"
            "  RestoreInventoryVolume  Pending\n"
            "  StartAgent              Pending\n"
            "  RestoreObjects          Pending\n"
            "  Verify                  Pending\n");
  view.On(Step(Kind::kStepFinished, "PrepareDrill", dr::StepState::kSucceeded));
  view.On(Step(Kind::kStepStarted, "RestoreObjects"));
  view.On(Progress(50, 100, 2));
  clock.Advance(1s);
  view.On(Progress(100, 100, 2));
  EXPECT_NE(view.Render().find("  restored 100/100 (workloads), 100/s, 2 failed\n"), std::string::npos)
      << view.Render();
  view.Finish();
  const std::string out = err.str();
  // Each frame after the first goes back over the last one's lines and clears each line it writes.
  EXPECT_NE(out.find("\x1b[6F\x1b[2K  Preflight"), std::string::npos);
  EXPECT_NE(out.find("\x1b[2K  restored 100/100"), std::string::npos);
}

TEST(ProgressViewTest, LiveKeepsTheLastWarningsInTheBlock) {
  testutil::FakeClock clock;
  std::ostringstream err;
  ProgressView view(err, ProgressView::Mode::kLive, clock, {});
  for (int i = 0; i < 7; ++i) view.On({Kind::kWarning, "", dr::StepState::kRunning, "w" + std::to_string(i), {}});
  EXPECT_EQ(view.Render(), "  (2 earlier warning(s))\nwarning: w2\nwarning: w3\nwarning: w4\nwarning: w5\nwarning: w6\n");
  view.Finish();
}

TEST(ProgressViewTest, NotATerminalIsPlain) {
  std::ostringstream err;
  EXPECT_EQ(ProgressView::Detect(err), ProgressView::Mode::kPlain);
}

}  // namespace
}  // namespace kdr::plugin
