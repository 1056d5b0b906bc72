#pragma once

// Logger: the seam for diagnostics. The plugin logs progress to stderr (results alone go to
// stdout); the webhook writes one JSON line per decision.
//
// Redaction is the logger's job, not the caller's: a field whose key names a secret (token,
// password, key, secret, authorization, certificate data...) is written as "<redacted>", and
// messages are scrubbed of bearer tokens, PEM blocks and "token=..." style assignments, so a
// careless call site cannot leak credentials into a log.
//
// Thread-safe: lines from different threads never interleave.

#include <iosfwd>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kdr {

class Clock;

enum class LogLevel { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3, kTrace = 4 };

std::string_view LogLevelName(LogLevel level);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// True when a field of this name carries credentials and must never be printed.
bool IsSensitiveKey(std::string_view key);
// Returns text with bearer tokens, PEM blocks and secret assignments replaced by <redacted>.
std::string RedactSecrets(std::string_view text);

class LogSink {
 public:
  virtual ~LogSink() = default;
  // Fields arrive already redacted.
  virtual void Write(LogLevel level, std::string_view message, const LogFields& fields) = 0;
};

// "I1121 08:19:00.123 message key=value key2=\"two words\"" (klog-like), one line per call.
class TextLogSink final : public LogSink {
 public:
  // out must outlive the sink. clock may be null (no timestamp, as in tests).
  TextLogSink(std::ostream* out, const Clock* clock);
  void Write(LogLevel level, std::string_view message, const LogFields& fields) override;

 private:
  std::ostream* const out_;
  const Clock* const clock_;
};

// {"ts":"...","level":"info","msg":"...","key":"value"} one object per line.
class JsonLogSink final : public LogSink {
 public:
  JsonLogSink(std::ostream* out, const Clock* clock);
  void Write(LogLevel level, std::string_view message, const LogFields& fields) override;

 private:
  std::ostream* const out_;
  const Clock* const clock_;
};

class Logger {
 public:
  // verbosity: messages at or below this level are written (kInfo by default; -v raises it).
  explicit Logger(std::unique_ptr<LogSink> sink, LogLevel verbosity = LogLevel::kInfo);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void Log(LogLevel level, std::string_view message, LogFields fields = {});
  void Error(std::string_view m, LogFields f = {}) { Log(LogLevel::kError, m, std::move(f)); }
  void Warning(std::string_view m, LogFields f = {}) { Log(LogLevel::kWarning, m, std::move(f)); }
  void Info(std::string_view m, LogFields f = {}) { Log(LogLevel::kInfo, m, std::move(f)); }
  void Debug(std::string_view m, LogFields f = {}) { Log(LogLevel::kDebug, m, std::move(f)); }

  bool Enabled(LogLevel level) const { return level <= verbosity_; }
  void set_verbosity(LogLevel v) { verbosity_ = v; }
  LogLevel verbosity() const { return verbosity_; }

  // A logger that drops everything.
  static std::unique_ptr<Logger> Null();

 private:
  std::mutex mu_;
  std::unique_ptr<LogSink> sink_;
  LogLevel verbosity_;
};

// Maps kubectl's -v N to a level: 0 -> info, 1-5 -> debug, 6+ -> trace (request logging).
LogLevel VerbosityFromFlag(int v);

}  // namespace kdr
