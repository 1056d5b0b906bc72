#include "cron_schedule.h"

#include <span>
#include <string>
#include <vector>

#include "base/strings.h"

namespace kdr::plugin {
namespace {

constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                        "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::string_view kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
  std::string_view name;
  int min;
  int max;
  std::span<const std::string_view> names;  // names[i] is min + i
};

constexpr Field kFields[] = {
    {"minute", 0, 59, {}},
    {"hour", 0, 23, {}},
    {"day of month", 1, 31, {}},
    {"month", 1, 12, kMonths},
    // robfig/cron bounds the day of week at 6: "7" for Sunday is refused by kube-apiserver.
    {"day of week", 0, 6, kDays},
};

bool AllDigits(std::string_view s) {
  if (s.empty() || s.size() > 4) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A value of `f`, by number or name; -1 with `why` set when it is neither.
int Value(const Field& f, std::string_view text, std::string* why) {
  if (AllDigits(text)) {
    int v = std::stoi(std::string(text));
    if (v < f.min || v > f.max) {
      *why = std::string(f.name) + " " + Quote(text) + " is out of range " + std::to_string(f.min) + "-" +
             std::to_string(f.max);
      return -1;
    }
    return v;
  }
  const std::string lower = ToLower(text);
  for (size_t i = 0; i < f.names.size(); ++i) {
    if (f.names[i] == lower) return f.min + static_cast<int>(i);
  }
  *why = std::string(f.name) + " " + Quote(text) + " is not a number" +
         (f.names.empty() ? "" : " or a name (" + std::string(f.names.front()) + "-" + std::string(f.names.back()) + ")");
  return -1;
}

// One comma-separated item of a field: *, ?, N, N-M, each optionally /STEP.
bool CheckItem(const Field& f, std::string_view item, std::string* why) {
  if (item.empty()) {
    *why = std::string(f.name) + " has an empty list item";
    return false;
  }
  std::string_view range = item;
  const size_t slash = item.find('/');
  if (slash != std::string_view::npos) {
    range = item.substr(0, slash);
    std::string_view step = item.substr(slash + 1);
    if (!AllDigits(step) || std::stoi(std::string(step)) == 0) {
      *why = std::string(f.name) + " " + Quote(item) + ": the step after / must be a positive number";
      return false;
    }
    if (std::stoi(std::string(step)) > f.max - f.min + 1) {
      *why = std::string(f.name) + " " + Quote(item) + ": the step is larger than the range " +
             std::to_string(f.min) + "-" + std::to_string(f.max);
      return false;
    }
  }
  if (range == "*" || range == "?") return true;
  const size_t dash = range.find('-');
  if (dash == std::string_view::npos) return Value(f, range, why) >= 0;
  const int lo = Value(f, range.substr(0, dash), why);
  if (lo < 0) return false;
  const int hi = Value(f, range.substr(dash + 1), why);
  if (hi < 0) return false;
  if (lo > hi) {
    *why = std::string(f.name) + " range " + Quote(range) + " ends before it starts";
    return false;
  }
  return true;
}

}  // namespace

Status ValidateCronSchedule(std::string_view schedule, std::string_view flag) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument(std::string(flag) + " " + Quote(schedule) + ": " + why);
  };
  const std::string text(TrimSpace(schedule));
  if (text.empty()) return bad("empty; give five fields (minute hour day-of-month month day-of-week), e.g. \"*/15 * * * *\"");
  if (StartsWith(text, "TZ=") || StartsWith(text, "CRON_TZ=")) {
    return bad("a time zone in the schedule is refused by Kubernetes; the capture runs in the source cluster's "
               "time zone");
  }
  if (text[0] == '@') {
    for (std::string_view d : {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}) {
      if (text == d) return Status::Ok();
    }
    if (StartsWith(text, "@every ")) {
      std::string_view d = std::string_view(text).substr(7);
      if (d.size() >= 2 && AllDigits(d.substr(0, d.size() - 1)) && std::string_view("smh").find(d.back()) != std::string_view::npos &&
          std::stoi(std::string(d.substr(0, d.size() - 1))) > 0) {
        return Status::Ok();
      }
      return bad("@every needs a positive duration in s, m or h (e.g. \"@every 30m\")");
    }
    return bad("unknown descriptor; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or "
               "@every DURATION");
  }
  std::vector<std::string> fields;
  // Any run of blanks separates fields, as Go's strings.Fields splits them.
  std::string field;
  for (char c : text + " ") {
    if (c == ' ' || c == '\t') {
      if (!field.empty()) fields.push_back(field);
      field.clear();
    } else {
      field += c;
    }
  }
  if (fields.size() != 5) {
    return bad("has " + std::to_string(fields.size()) + " field" + (fields.size() == 1 ? "" : "s") +
               "; a schedule has five (minute hour day-of-month month day-of-week), e.g. \"*/15 * * * *\"");
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    for (const std::string& item : Split(fields[i], ',')) {
      std::string why;
      if (!CheckItem(kFields[i], item, &why)) return bad(why);
    }
  }
  return Status::Ok();
}

}  // namespace kdr::plugin
