#pragma once

// Deadline: when a storage call gives up. Every storage call takes one: the time on the driver's
// Clock after which it stops waiting (kDeadlineExceeded, naming what it was waiting for) and a
// stop token that ends it early (kCancelled, the user's ^C). Waiting happens only through the
// Clock, so tests with a FakeClock never wait on the wall clock.
//
// The poll loops of the drivers read, then decide, then pause:
//
//   for (;;) {
//     KDR_ASSIGN_OR_RETURN(auto v, ReadVolume());
//     if (Active(v)) return Status::Ok();
//     KDR_RETURN_IF_ERROR(Pause(clock, deadline, poll, "activating pvc-1",
//                               "DR volume pvc-1 still restoring at the deadline: ..."));
//   }
//
// so the error of a deadline names what the last read found still pending.

#include <algorithm>
#include <chrono>
#include <stop_token>
#include <string_view>
#include <utility>

#include "base/clock.h"
#include "base/status.h"

namespace kdr::storage {

struct Deadline {
  Clock::MonoTime at;
  std::stop_token stop;

  // A deadline `budget` from now on `clock`.
  static Deadline After(const Clock& clock, std::chrono::nanoseconds budget,
                        std::stop_token stop = {}) {
    return Deadline{
        clock.Monotonic() + std::chrono::duration_cast<Clock::MonoTime::duration>(budget),
        std::move(stop)};
  }

  // Time left on `clock` (zero or less once passed).
  std::chrono::nanoseconds Remaining(const Clock& clock) const { return at - clock.Monotonic(); }
  bool Expired(const Clock& clock) const { return clock.Monotonic() >= at; }
};

// The intervals of a poll loop: they start at max/16 and double up to max, so a state that
// settles at once is seen within tens of milliseconds while a slow one is not read more often
// than every max (DriverOptions::poll_interval).
class Backoff {
 public:
  explicit Backoff(std::chrono::nanoseconds max) : max_(max), next_(max / 16) {}
  std::chrono::nanoseconds Next() {
    std::chrono::nanoseconds d = next_;
    next_ = std::min(max_, next_ * 2);
    return d;
  }

 private:
  const std::chrono::nanoseconds max_;
  std::chrono::nanoseconds next_;
};

// kCancelled "<what>: stopped" when stop was requested, kDeadlineExceeded "<what>: the deadline
// passed" when no time is left, else Ok. For the start of a call and between its steps.
Status CheckDeadline(const Clock& clock, const Deadline& deadline, std::string_view what);

// Sleeps `interval` on `clock`, cut short at the deadline. kCancelled "<what>: stopped" when
// stop is requested before or during the sleep; kDeadlineExceeded with `pending` (what the
// caller still waits for) when the deadline has passed, before or after the sleep; else Ok.
Status Pause(Clock& clock, const Deadline& deadline, std::chrono::nanoseconds interval,
             std::string_view what, std::string_view pending);

}  // namespace kdr::storage
