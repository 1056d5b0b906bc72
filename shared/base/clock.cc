#include "base/clock.h"

#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace kdr {

Clock::WallTime RealClock::Now() const { return std::chrono::system_clock::now(); }

Clock::MonoTime RealClock::Monotonic() const { return std::chrono::steady_clock::now(); }

bool RealClock::SleepFor(std::chrono::nanoseconds d, std::stop_token stop) {
  if (!stop.stop_possible()) {
    std::this_thread::sleep_for(d);
    return true;
  }
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

std::string FormatRfc3339(Clock::WallTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool ParseRfc3339(const std::string& s, Clock::WallTime* out) {
  int y, mo, d, h, mi, sec;
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &consumed) !=
      6) {
    return false;
  }
  size_t i = static_cast<size_t>(consumed);
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  long offset_seconds = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (std::sscanf(s.c_str() + i + 1, "%2d:%2d", &oh, &om) != 2) return false;
    offset_seconds = (oh * 3600L + om * 60L) * (s[i] == '+' ? 1 : -1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
      sec > 60) {
    return false;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  const std::time_t tt = timegm(&tm) - offset_seconds;
  // The clock counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11. A time outside (an exec
  // plugin's token "expiring" in 4562) is the clock's first or last instant, not an overflow.
  using Seconds = std::chrono::seconds;
  const Seconds::rep last = std::chrono::duration_cast<Seconds>(Clock::WallTime::max().time_since_epoch()).count();
  const Seconds::rep first = std::chrono::duration_cast<Seconds>(Clock::WallTime::min().time_since_epoch()).count();
  if (tt >= last) {
    *out = Clock::WallTime::max();
  } else if (tt <= first) {
    *out = Clock::WallTime::min();
  } else {
    *out = std::chrono::system_clock::from_time_t(tt);
  }
  return true;
}

}  // namespace kdr
