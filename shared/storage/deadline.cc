#include "storage/deadline.h"

#include <algorithm>
#include <string>

namespace kdr::storage {

Status CheckDeadline(const Clock& clock, const Deadline& deadline, std::string_view what) {
  if (deadline.stop.stop_requested()) return Status::Cancelled(std::string(what) + ": stopped");
  if (deadline.Expired(clock)) {
    return Status::DeadlineExceeded(std::string(what) + ": the deadline passed");
  }
  return Status::Ok();
}

Status Pause(Clock& clock, const Deadline& deadline, std::chrono::nanoseconds interval,
             std::string_view what, std::string_view pending) {
  if (deadline.stop.stop_requested()) return Status::Cancelled(std::string(what) + ": stopped");
  if (deadline.Expired(clock)) return Status::DeadlineExceeded(std::string(pending));
  std::chrono::nanoseconds d = std::min(interval, deadline.Remaining(clock));
  if (!clock.SleepFor(d, deadline.stop)) return Status::Cancelled(std::string(what) + ": stopped");
  if (deadline.Expired(clock)) return Status::DeadlineExceeded(std::string(pending));
  return Status::Ok();
}

}  // namespace kdr::storage
