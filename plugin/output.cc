#include "output.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <ostream>

#include "base/strings.h"
#include "base/yaml.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

constexpr std::string_view kNone = "<none>";

constexpr std::pair<OutputFormat, std::string_view> kFormats[] = {
    {OutputFormat::kTable, "table"}, {OutputFormat::kWide, "wide"}, {OutputFormat::kJson, "json"},
    {OutputFormat::kYaml, "yaml"},   {OutputFormat::kName, "name"},
};

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string_view ToString(OutputFormat f) {
  for (const auto& [v, name] : kFormats) {
    if (v == f) return name;
  }
  return "table";
}

Result<OutputFormat> ParseOutputFormat(std::string_view value, std::string_view command,
                                       std::initializer_list<OutputFormat> allowed, OutputFormat fallback) {
  if (value.empty()) return fallback;
  std::vector<std::string> names;
  for (OutputFormat f : allowed) names.emplace_back(ToString(f));
  for (OutputFormat f : allowed) {
    if (ToString(f) == value) return f;
  }
  return Status::InvalidArgument("-o " + Quote(value) + " is not supported by " + std::string(command) +
                                 ": use " + (names.size() == 1 ? "" : "one of ") + Join(names, ", "));
}

std::string FormatTable(const Table& table) {
  const size_t cols = table.headers.size();
  auto cell = [&](const std::vector<std::string>& row, size_t i) -> std::string {
    if (i >= row.size() || row[i].empty()) return std::string(kNone);
    return row[i];
  };
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header;
  for (const auto& h : table.headers) header.push_back(Upper(h));
  lines.push_back(std::move(header));
  for (const auto& row : table.rows) {
    std::vector<std::string> line;
    for (size_t i = 0; i < cols; ++i) line.push_back(cell(row, i));
    lines.push_back(std::move(line));
  }
  std::vector<size_t> width(cols, 0);
  for (const auto& line : lines) {
    for (size_t i = 0; i < cols; ++i) width[i] = std::max(width[i], line[i].size());
  }
  std::string out;
  for (const auto& line : lines) {
    std::string text;
    for (size_t i = 0; i < cols; ++i) {
      text += line[i];
      if (i + 1 < cols) text += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += text + "\n";
  }
  return out;
}

std::string HumanDuration(std::chrono::nanoseconds d) {
  using namespace std::chrono;
  const long long seconds = duration_cast<std::chrono::seconds>(d).count();
  if (seconds < -1) return "<invalid>";
  if (seconds < 0) return "0s";
  if (seconds < 60 * 2) return std::to_string(seconds) + "s";
  const long long minutes = seconds / 60;
  if (minutes < 10) {
    const long long s = seconds % 60;
    return std::to_string(minutes) + "m" + (s == 0 ? "" : std::to_string(s) + "s");
  }
  if (minutes < 60 * 3) return std::to_string(minutes) + "m";
  const long long hours = minutes / 60;
  if (hours < 8) {
    const long long m = minutes % 60;
    return std::to_string(hours) + "h" + (m == 0 ? "" : std::to_string(m) + "m");
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    const long long h = hours % 24;
    return std::to_string(hours / 24) + "d" + (h == 0 ? "" : std::to_string(h) + "h");
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const long long days = (hours / 24) % 365;
    return std::to_string(hours / 24 / 365) + "y" + (days == 0 ? "" : std::to_string(days) + "d");
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string FormatAge(std::string_view timestamp, Clock::WallTime now) {
  Clock::WallTime t;
  if (timestamp.empty() || !ParseRfc3339(std::string(timestamp), &t)) return "<unknown>";
  return HumanDuration(now - t);
}

json ForDisplay(const json& object) {
  json copy = object;
  if (copy.is_object() && copy.contains("metadata") && copy["metadata"].is_object()) {
    copy["metadata"].erase("managedFields");
  }
  return copy;
}

void PrintObjects(const std::vector<json>& objects, OutputFormat format, bool as_list, std::ostream& out) {
  json doc;
  if (objects.size() == 1 && !as_list) {
    doc = ForDisplay(objects[0]);
  } else {
    json items = json::array();
    for (const json& o : objects) items.push_back(ForDisplay(o));
    doc = {{"apiVersion", "v1"},
           {"kind", "List"},
           {"items", std::move(items)},
           {"metadata", {{"resourceVersion", ""}}}};
  }
  if (format == OutputFormat::kJson) {
    out << doc.dump(4) << "\n";
  } else {
    out << JsonToYaml(doc);
  }
}

void PrintNames(const std::vector<json>& objects, std::ostream& out) {
  for (const json& o : objects) {
    const json& meta = o.is_object() && o.contains("metadata") ? o["metadata"] : json::object();
    out << (meta.is_object() ? meta.value("name", "") : "") << "\n";
  }
}

}  // namespace kdr::plugin
