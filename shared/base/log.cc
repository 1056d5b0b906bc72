#include "base/log.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <ostream>

#include "base/clock.h"
#include "base/strings.h"

namespace kdr {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Replaces the value after each "<word>=" or "<word>: " for secret-looking words.
std::string RedactAssignments(std::string text) {
  static constexpr std::string_view kWords[] = {"token", "password", "passwd", "secret",
                                                "apikey", "api_key", "client-key",
                                                "client_key", "authorization"};
  std::string lower = Lower(text);
  for (std::string_view word : kWords) {
    size_t pos = 0;
    while ((pos = lower.find(word, pos)) != std::string::npos) {
      size_t v = pos + word.size();
      // Allow a few identifier characters after the word ("tokenFile", "token_data").
      while (v < lower.size() && (std::isalnum(static_cast<unsigned char>(lower[v])) ||
                                  lower[v] == '_' || lower[v] == '-')) {
        ++v;
      }
      if (v < lower.size() && lower[v] == '"') ++v;
      if (v < lower.size() && (lower[v] == '=' || lower[v] == ':')) {
        ++v;
        while (v < lower.size() && (lower[v] == ' ' || lower[v] == '"')) ++v;
        size_t end = v;
        while (end < lower.size() && !std::isspace(static_cast<unsigned char>(lower[end])) &&
               lower[end] != '"' && lower[end] != ',' && lower[end] != '}' && lower[end] != '&') {
          ++end;
        }
        if (end > v && lower.compare(v, kRedacted.size(), kRedacted) != 0) {
          text.replace(v, end - v, kRedacted);
          lower.replace(v, end - v, kRedacted);
        }
        pos = v + kRedacted.size();
      } else {
        pos = v;
      }
    }
  }
  return text;
}

void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string TimestampMillis(const Clock* clock, bool iso) {
  if (clock == nullptr) return "";
  auto now = clock->Now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::time_t tt = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[40];
  if (iso) {
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms.count()));
    return out;
  }
  std::strftime(buf, sizeof buf, "%m%d %H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03d", buf, static_cast<int>(ms.count()));
  return out;
}

}  // namespace

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError: return "error";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kInfo: return "info";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kTrace: return "trace";
  }
  return "info";
}

bool IsSensitiveKey(std::string_view key) {
  std::string k = Lower(key);
  static constexpr std::string_view kParts[] = {"token", "password", "passwd", "secret",
                                                "authorization", "apikey", "api_key",
                                                "private", "credential", "cookie"};
  for (std::string_view p : kParts) {
    if (k.find(p) != std::string::npos) return true;
  }
  // "key", "client-key", "tls.key", "keyData" but not "monkey" or "keyspace"-like names: a key
  // field is one whose name is or ends with "key" / "key-data" / "keydata".
  if (k == "key" || EndsWith(k, "-key") || EndsWith(k, "_key") || EndsWith(k, ".key") ||
      EndsWith(k, "keydata") || EndsWith(k, "key-data")) {
    return true;
  }
  return false;  // certificates are public; only their keys are secret
}

std::string RedactSecrets(std::string_view text) {
  std::string out(text);
  // PEM private keys (and any PEM block of a key).
  for (;;) {
    size_t begin = out.find("-----BEGIN ");
    if (begin == std::string::npos) break;
    size_t label_end = out.find("-----", begin + 11);
    if (label_end == std::string::npos) break;
    std::string label = out.substr(begin + 11, label_end - (begin + 11));
    std::string end_marker = "-----END " + label + "-----";
    size_t end = out.find(end_marker, label_end);
    if (end == std::string::npos) {
      out.replace(begin, out.size() - begin, kRedacted);
      break;
    }
    out.replace(begin, end + end_marker.size() - begin, kRedacted);
  }
  // "Bearer <token>" in any case.
  std::string lower = Lower(out);
  size_t pos = 0;
  while ((pos = lower.find("bearer ", pos)) != std::string::npos) {
    size_t v = pos + 7;
    size_t end = v;
    while (end < out.size() && !std::isspace(static_cast<unsigned char>(out[end])) &&
           out[end] != '"' && out[end] != ',') {
      ++end;
    }
    if (end > v && out.compare(v, kRedacted.size(), kRedacted) != 0) {
      out.replace(v, end - v, kRedacted);
      lower.replace(v, end - v, kRedacted);
    }
    pos = v + kRedacted.size();
  }
  return RedactAssignments(std::move(out));
}

TextLogSink::TextLogSink(std::ostream* out, const Clock* clock) : out_(out), clock_(clock) {}

void TextLogSink::Write(LogLevel level, std::string_view message, const LogFields& fields) {
  std::string line;
  if (clock_ != nullptr) {
    line += static_cast<char>(std::toupper(LogLevelName(level)[0]));
    line += TimestampMillis(clock_, false);
    line += ' ';
  } else if (level <= LogLevel::kWarning) {
    line += level == LogLevel::kError ? "error: " : "warning: ";
  }
  line += message;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    if (v.find_first_of(" \t\"=") != std::string::npos || v.empty()) {
      AppendJsonString(&line, v);
    } else {
      line += v;
    }
  }
  line += '\n';
  *out_ << line << std::flush;
}

JsonLogSink::JsonLogSink(std::ostream* out, const Clock* clock) : out_(out), clock_(clock) {}

void JsonLogSink::Write(LogLevel level, std::string_view message, const LogFields& fields) {
  std::string line = "{";
  if (clock_ != nullptr) {
    line += "\"ts\":";
    AppendJsonString(&line, TimestampMillis(clock_, true));
    line += ',';
  }
  line += "\"level\":";
  AppendJsonString(&line, LogLevelName(level));
  line += ",\"msg\":";
  AppendJsonString(&line, message);
  for (const auto& [k, v] : fields) {
    line += ',';
    AppendJsonString(&line, k);
    line += ':';
    AppendJsonString(&line, v);
  }
  line += "}\n";
  *out_ << line << std::flush;
}

Logger::Logger(std::unique_ptr<LogSink> sink, LogLevel verbosity)
    : sink_(std::move(sink)), verbosity_(verbosity) {}

void Logger::Log(LogLevel level, std::string_view message, LogFields fields) {
  if (!Enabled(level) || sink_ == nullptr) return;
  for (auto& [k, v] : fields) {
    if (IsSensitiveKey(k)) {
      v = std::string(kRedacted);
    } else {
      v = RedactSecrets(v);
    }
  }
  std::string clean = RedactSecrets(message);
  std::lock_guard lock(mu_);
  sink_->Write(level, clean, fields);
}

std::unique_ptr<Logger> Logger::Null() { return std::make_unique<Logger>(nullptr); }

LogLevel VerbosityFromFlag(int v) {
  if (v <= 0) return LogLevel::kInfo;
  if (v <= 5) return LogLevel::kDebug;
  return LogLevel::kTrace;
}

}  // namespace kdr
