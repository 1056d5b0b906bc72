#pragma once

// Printing results the way kubectl and krew do, for every command that shows objects:
//   table  UPPERCASE headers, columns two spaces apart, `<none>` for an empty cell
//   wide   the table with the command's extra columns
//   json   the object itself (4-space indent, as kubectl), or a `List` of several
//   yaml   likewise, block style
//   name   bare names, one per line (for pipes and xargs)
// Results go to the out stream only, so `-o json | jq` works.

#include <chrono>
#include <initializer_list>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace kdr::plugin {

enum class OutputFormat { kTable, kWide, kJson, kYaml, kName };

std::string_view ToString(OutputFormat f);

// Parses the -o value for `command`; "" is `fallback`. A value outside `allowed` is
// InvalidArgument naming it and listing the allowed ones:
// "-o \"xml\" is not supported by plan get: use one of table, wide, json, yaml, name".
Result<OutputFormat> ParseOutputFormat(std::string_view value, std::string_view command,
                                       std::initializer_list<OutputFormat> allowed,
                                       OutputFormat fallback = OutputFormat::kTable);

// A table: cells are plain text; an empty cell prints as `<none>`. Headers are printed in upper
// case. Rows shorter than the headers are padded with empty cells.
struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
};

// The table's text: each column as wide as its widest cell, two spaces between columns, no
// trailing spaces, one line per row after the header line.
std::string FormatTable(const Table& table);

// kubectl's age of a duration (apimachinery's HumanDuration): "45s", "5m30s", "42m", "3h", "5h12m",
// "2d", "3d4h", "400d", "2y30d", "10y"; "0s" for up to 1s in the future (clock skew) and
// "<invalid>" beyond.
std::string HumanDuration(std::chrono::nanoseconds d);

// The AGE column for an RFC 3339 creationTimestamp: HumanDuration(now - t), or "<unknown>" when
// the timestamp is empty or malformed.
std::string FormatAge(std::string_view timestamp, Clock::WallTime now);

// A copy of an object for -o json|yaml: metadata.managedFields removed (kubectl hides them).
nlohmann::json ForDisplay(const nlohmann::json& object);

// Prints objects as json or yaml: one object as itself unless `as_list`, otherwise (or for any
// other count) a `List` {apiVersion: v1, kind: List, items, metadata: {resourceVersion: ""}}.
// REQUIRES: format is kJson or kYaml.
void PrintObjects(const std::vector<nlohmann::json>& objects, OutputFormat format, bool as_list,
                  std::ostream& out);

// Bare metadata.name of each object, one per line.
void PrintNames(const std::vector<nlohmann::json>& objects, std::ostream& out);

}  // namespace kdr::plugin
