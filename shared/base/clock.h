#pragma once

// Clock: the seam for time. Only main() builds a RealClock; tests use testutil::FakeClock, whose
// sleeps advance time at once, so no test waits on the wall clock.

#include <chrono>
#include <stop_token>
#include <string>

namespace kdr {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonoTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;

  // Wall-clock time, for timestamps written into objects (startedAt, spentAt).
  virtual WallTime Now() const = 0;
  // Monotonic time, for timeouts, backoff and measuring durations.
  virtual MonoTime Monotonic() const = 0;
  // Sleeps for d, or less if stop is requested. Returns false when woken by stop.
  // Thread-safe.
  virtual bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) = 0;
};

// The process clock. Thread-safe.
class RealClock final : public Clock {
 public:
  WallTime Now() const override;
  MonoTime Monotonic() const override;
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override;
};

// RFC 3339 in UTC with second precision, as Kubernetes writes metav1.Time: "2026-11-21T08:19:00Z".
std::string FormatRfc3339(Clock::WallTime t);
// Parses RFC 3339 ("2026-11-21T08:19:00Z", fractions and offsets allowed). False when malformed.
bool ParseRfc3339(const std::string& s, Clock::WallTime* out);

}  // namespace kdr
