#pragma once

// A token bucket (client-go's flowcontrol): up to `burst` calls at once, refilled at `qps` per
// second. Time comes from the injected Clock, so tests with a FakeClock never wait.

#include <chrono>
#include <mutex>
#include <stop_token>

#include "base/clock.h"

namespace kdr::kube {

class RateLimiter {
 public:
  // qps <= 0: unlimited. burst < 1 is taken as 1. clock is not owned and must outlive this.
  RateLimiter(double qps, int burst, Clock* clock);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes one token, sleeping (through the clock) until one is available. Returns false when
  // stop was requested first (the token is then given back). Thread-safe: waiters are served
  // in the order they reserved.
  bool Wait(std::stop_token stop = {});

  // Takes a token only if one is available now.
  bool TryAcquire();

 private:
  void RefillLocked(Clock::MonoTime now);

  const double qps_;
  const double burst_;
  Clock* const clock_;
  std::mutex mu_;
  double tokens_;          // may go negative: reserved by sleeping waiters
  Clock::MonoTime last_;
};

}  // namespace kdr::kube
