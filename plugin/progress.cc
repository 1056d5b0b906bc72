#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <ostream>

namespace kdr::plugin {
namespace {

constexpr auto kPlainEvery = std::chrono::seconds(5);
constexpr auto kLiveEvery = std::chrono::milliseconds(100);
constexpr size_t kLiveWarnings = 5;

std::string Seconds(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  }
  return buf;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

}  // namespace

ProgressView::Mode ProgressView::Detect(const std::ostream& err) {
  if (&err != &std::cerr || ::isatty(2) != 1) return Mode::kPlain;
  const char* term = std::getenv("TERM");
  if (term == nullptr || std::string_view(term) == "dumb") return Mode::kPlain;
  return Mode::kLive;
}

ProgressView::ProgressView(std::ostream& err, Mode mode, const Clock& clock,
                           const std::vector<std::string_view>& steps)
    : err_(err), mode_(mode), clock_(clock) {
  for (std::string_view s : steps) {
    Step step;
    step.name = std::string(s);
    steps_.push_back(std::move(step));
  }
  if (mode_ == Mode::kLive) {
    ticker_ = std::jthread([this](std::stop_token stop) {
      std::mutex m;
      std::condition_variable_any cv;
      std::unique_lock wait_lock(m);
      while (!stop.stop_requested()) {
        cv.wait_for(wait_lock, stop, std::chrono::milliseconds(500), [] { return false; });
        if (stop.stop_requested()) break;
        std::lock_guard lock(mu_);
        if (!finished_) Draw();
      }
    });
  }
}

ProgressView::~ProgressView() { Finish(); }

ProgressView::Step* ProgressView::Find(const std::string& name) {
  for (Step& s : steps_) {
    if (s.name == name) return &s;
  }
  Step step;
  step.name = name;
  steps_.push_back(std::move(step));
  return &steps_.back();
}

std::string ProgressView::RestoreLine(Clock::MonoTime now) const {
  const inventory::RestoreProgress& p = *restore_;
  std::string line = "restored " + std::to_string(p.done) + "/" + std::to_string(p.total) + " (" +
                     std::string(inventory::TierName(p.tier)) + ")";
  const double secs = std::chrono::duration<double>(now - restore_started_).count();
  if (secs > 0 && p.done > 0) {
    const double rate = static_cast<double>(p.done) / secs;
    char buf[64];
    std::snprintf(buf, sizeof buf, ", %.0f/s", rate);
    line += buf;
    if (p.done < p.total) {
      line += ", ETA " + Seconds(std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::duration<double>(static_cast<double>(p.total - p.done) / rate)));
    }
  }
  line += ", " + std::to_string(p.failed) + " failed";
  return line;
}

void ProgressView::On(const dr::WorkflowEvent& e) {
  std::lock_guard lock(mu_);
  if (finished_) return;
  const Clock::MonoTime now = clock_.Monotonic();
  switch (e.kind) {
    case dr::WorkflowEvent::Kind::kStepStarted: {
      Step* s = Find(e.step);
      s->state = dr::StepState::kRunning;
      s->started = now;
      s->message.clear();
      if (mode_ == Mode::kPlain) err_ << e.step << ": running\n" << std::flush;
      break;
    }
    case dr::WorkflowEvent::Kind::kStepFinished: {
      Step* s = Find(e.step);
      s->state = e.state;
      s->elapsed = now - s->started;
      s->message = e.message;
      if (mode_ == Mode::kPlain) {
        err_ << e.step << ": " << dr::ToString(e.state) << " in " << Seconds(s->elapsed)
             << (e.message.empty() ? "" : " (" + e.message + ")") << "\n" << std::flush;
      }
      break;
    }
    case dr::WorkflowEvent::Kind::kRestoreProgress: {
      if (!restore_) {
        // The rate counts from the start of the step that restores (its first object is already done).
        restore_started_ = now;
        for (const Step& s : steps_) {
          if (s.name == e.step && s.state == dr::StepState::kRunning) restore_started_ = s.started;
        }
      }
      restore_ = e.progress;
      if (mode_ == Mode::kLive) {
        if (now - last_draw_ < kLiveEvery && e.progress.done != e.progress.total) return;
        break;
      }
      // A line each tenth of the way, at the end, and every few seconds while it moves.
      const int64_t tenth = e.progress.total > 0 ? e.progress.done * 10 / e.progress.total : 0;
      if (tenth != last_plain_tenth_ || e.progress.done == e.progress.total || now - last_plain_ >= kPlainEvery) {
        err_ << "  " << RestoreLine(now) << "\n" << std::flush;
        last_plain_tenth_ = tenth;
        last_plain_ = now;
      }
      return;
    }
    case dr::WorkflowEvent::Kind::kWarning:
      warnings_.push_back(e.message);
      if (mode_ == Mode::kPlain) err_ << "warning: " << e.message << "\n" << std::flush;
      break;
  }
  if (mode_ == Mode::kLive) Draw();
}

std::string ProgressView::Render() {
  const Clock::MonoTime now = clock_.Monotonic();
  size_t width = 0;
  for (const Step& s : steps_) width = std::max(width, s.name.size());
  std::string out;
  for (const Step& s : steps_) {
    const bool running = s.state == dr::StepState::kRunning;
    const auto elapsed = running ? now - s.started : s.elapsed;
    out += std::string(running ? "> " : "  ") + Pad(s.name, width + 2) + Pad(std::string(dr::ToString(s.state)), 11);
    if (running || s.state != dr::StepState::kPending) out += Pad(Seconds(elapsed), 8);
    if (!s.message.empty()) out += s.message;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  }
  if (restore_) out += "  " + RestoreLine(now) + "\n";
  const size_t first = warnings_.size() > kLiveWarnings ? warnings_.size() - kLiveWarnings : 0;
  if (first > 0) out += "  (" + std::to_string(first) + " earlier warning(s))\n";
  for (size_t i = first; i < warnings_.size(); ++i) out += "warning: " + warnings_[i] + "\n";
  return out;
}

void ProgressView::Draw() {
  std::string block = Render();
  std::string frame;
  // Back to the first line of the previous frame, then each line cleared as it is rewritten.
  if (drawn_lines_ > 0) frame += "\x1b[" + std::to_string(drawn_lines_) + "F";
  size_t lines = 0;
  size_t start = 0;
  while (start < block.size()) {
    size_t end = block.find('\n', start);
    frame += "\x1b[2K" + block.substr(start, end - start) + "\n";
    start = end + 1;
    ++lines;
  }
  // A frame shorter than the last (cannot happen today: steps and warnings only grow) is cleared.
  for (size_t i = lines; i < drawn_lines_; ++i) frame += "\x1b[2K\n";
  drawn_lines_ = std::max(lines, drawn_lines_);
  err_ << frame << std::flush;
  last_draw_ = clock_.Monotonic();
}

void ProgressView::Finish() {
  {
    std::lock_guard lock(mu_);
    if (finished_) return;
    if (mode_ == Mode::kLive) Draw();
    finished_ = true;
  }
  if (ticker_.joinable()) {
    ticker_.request_stop();
    ticker_.join();
  }
}

}  // namespace kdr::plugin
