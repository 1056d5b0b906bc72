#pragma once

// The schedule of a plan's inventory capture (spec.schedule), checked as Kubernetes checks a
// CronJob's spec.schedule (robfig/cron's standard parser, which kube-apiserver uses): five fields
// (minute hour day-of-month month day-of-week) or a descriptor, so a plan never holds a schedule
// its capture CronJob would be refused with.

#include <string_view>

#include "base/status.h"

namespace kdr::plugin {

// Accepts "*/15 * * * *", "0 2 * * mon-fri", "30 1 1,15 * *", "@hourly", "@daily", "@every 30m".
// Fields: * or ? (any), N, N-M, lists (a,b), steps (*/N, N-M/N, N/N); months jan-dec and days
// sun-sat by name, any case; day-of-week 0-6 (0 = Sunday). A TZ= or CRON_TZ= prefix is refused
// (a CronJob's spec.timeZone says the zone). InvalidArgument naming `flag`, the field, the value
// and its range: "--schedule \"0 25 * * *\": hour \"25\" is out of range 0-23".
Status ValidateCronSchedule(std::string_view schedule, std::string_view flag);

}  // namespace kdr::plugin
