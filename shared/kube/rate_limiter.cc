#include "kube/rate_limiter.h"

#include <algorithm>

namespace kdr::kube {

RateLimiter::RateLimiter(double qps, int burst, Clock* clock)
    : qps_(qps), burst_(std::max(1, burst)), clock_(clock), tokens_(burst_), last_(clock->Monotonic()) {}

void RateLimiter::RefillLocked(Clock::MonoTime now) {
  if (now <= last_) return;
  double elapsed = std::chrono::duration<double>(now - last_).count();
  tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
  last_ = now;
}

bool RateLimiter::TryAcquire() {
  if (qps_ <= 0) return true;
  std::lock_guard<std::mutex> lock(mu_);
  RefillLocked(clock_->Monotonic());
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

bool RateLimiter::Wait(std::stop_token stop) {
  if (qps_ <= 0) return !stop.stop_requested();
  std::chrono::nanoseconds wait{0};
  {
    std::lock_guard<std::mutex> lock(mu_);
    RefillLocked(clock_->Monotonic());
    tokens_ -= 1;  // reserve; a negative balance is the queue of sleepers ahead
    if (tokens_ < 0) {
      wait = std::chrono::nanoseconds(static_cast<long long>(-tokens_ / qps_ * 1e9));
    }
  }
  if (wait.count() > 0 && !clock_->SleepFor(wait, stop)) {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_ += 1;
    return false;
  }
  return true;
}

}  // namespace kdr::kube
