#include "base/yaml.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/json.h"
#include "base/strings.h"

namespace kdr {
namespace {

using nlohmann::json;

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

// Parses an integer in YAML 1.1 notation (sign, 0x, 0o, leading-0 octal, '_' separators).
bool ParseInt(std::string s, json* out) {
  if (s.empty()) return false;
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  bool neg = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return false;
  int base = 10;
  if (s.size() - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    base = 16;
    i += 2;
  } else if (s.size() - i > 2 && s[i] == '0' && s[i + 1] == 'o') {
    base = 8;
    i += 2;
  } else if (s.size() - i > 1 && s[i] == '0') {
    base = 8;
    i += 1;
  }
  std::string digits = s.substr(i);
  if (digits.empty()) return false;
  for (char c : digits) {
    bool ok = base == 16 ? std::isxdigit(static_cast<unsigned char>(c))
              : base == 8 ? (c >= '0' && c <= '7')
                          : std::isdigit(static_cast<unsigned char>(c));
    if (!ok) return false;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(digits.c_str(), &end, base);
  if (errno == ERANGE || *end != '\0') return false;
  if (neg) {
    if (v > static_cast<unsigned long long>(std::numeric_limits<long long>::max()) + 1ULL) return false;
    *out = static_cast<long long>(0 - v);
  } else if (v <= static_cast<unsigned long long>(std::numeric_limits<long long>::max())) {
    *out = static_cast<long long>(v);
  } else {
    *out = v;
  }
  return true;
}

bool ParseFloat(const std::string& s, json* out) {
  if (IsOneOf(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (IsOneOf(s, {"-.inf", "-.Inf", "-.INF"})) {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (IsOneOf(s, {".nan", ".NaN", ".NAN"})) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  bool digits = false, dot = false;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.')) {
    if (s[i] == '.') {
      if (dot) return false;
      dot = true;
    } else if (s[i] != '_') {
      digits = true;
    }
    ++i;
  }
  if (!digits) return false;
  bool exp = false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    exp = true;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return false;
  }
  if (i != s.size() || (!dot && !exp)) return false;
  std::string clean = s;
  clean.erase(std::remove(clean.begin(), clean.end(), '_'), clean.end());
  const double v = std::strtod(clean.c_str(), nullptr);
  // Out of range ("1e99999") is not a float to go-yaml (strconv.ParseFloat fails): a string.
  if (std::isinf(v)) return false;
  *out = v;
  return true;
}

json PlainScalar(const std::string& s) {
  if (IsOneOf(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (IsOneOf(s, {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})) return true;
  if (IsOneOf(s, {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})) {
    return false;
  }
  json number;
  if (ParseInt(s, &number)) return number;
  if (ParseFloat(s, &number)) return number;
  return s;
}

std::string Where(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// The limits of yaml.h, charged node by node by every walk over parsed documents. The budget
// spans the whole stream.
class Limits {
 public:
  Limits(std::string_view what, size_t text_size)
      : what_(what), budget_(4 * text_size + (size_t{1} << 20)), left_(budget_) {}

  // Charges `node`, inside `depth` containers, and checks its scalar.
  Status Charge(const YAML::Node& node, int depth) {
    if (depth >= kMaxJsonDepth && (node.IsMap() || node.IsSequence())) {
      return Error(node, "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    size_t cost = 1;
    if (node.IsScalar()) {
      const std::string& s = node.Scalar();
      cost += s.size();
      size_t bad = 0;
      if (!IsValidUtf8(s, &bad)) {
        return Error(node, "invalid UTF-8 (byte " +
                               PrintableBytes(std::string_view(s).substr(bad, 1)) + " at offset " +
                               std::to_string(bad) + " of a scalar); YAML must be UTF-8");
      }
    }
    if (cost > left_) {
      return Error(node, "aliases expand the document past " + std::to_string(budget_) +
                             " nodes and scalar bytes (4 times its size plus 1 MiB); write the "
                             "repeated parts out instead of aliasing them");
    }
    left_ -= cost;
    return Status::Ok();
  }

  Status Error(const YAML::Node& node, const std::string& why) const {
    return Status::InvalidArgument(Prefix(what_) + "invalid YAML at " + Where(node.Mark()) + ": " +
                                   why);
  }

  static std::string Prefix(std::string_view what) {
    return what.empty() ? std::string() : std::string(what) + ": ";
  }

 private:
  const std::string_view what_;
  const size_t budget_;
  size_t left_;
};

Status Check(const YAML::Node& node, Limits* limits, int depth) {
  KDR_RETURN_IF_ERROR(limits->Charge(node, depth));
  if (node.IsSequence()) {
    for (const auto& item : node) KDR_RETURN_IF_ERROR(Check(item, limits, depth + 1));
  } else if (node.IsMap()) {
    for (const auto& kv : node) {
      KDR_RETURN_IF_ERROR(Check(kv.first, limits, depth + 1));
      KDR_RETURN_IF_ERROR(Check(kv.second, limits, depth + 1));
    }
  }
  return Status::Ok();
}

Result<json> Convert(const YAML::Node& node, std::string_view what, Limits* limits, int depth) {
  KDR_RETURN_IF_ERROR(limits->Charge(node, depth));
  switch (node.Type()) {
    case YAML::NodeType::Undefined:
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar: {
      // yaml-cpp tags plain scalars "?" and quoted or literal ones "!".
      if (node.Tag() == "!") return json(node.Scalar());
      if (node.Tag() == "!!str" || node.Tag() == "tag:yaml.org,2002:str") return json(node.Scalar());
      return PlainScalar(node.Scalar());
    }
    case YAML::NodeType::Sequence: {
      json arr = json::array();
      for (const auto& item : node) {
        KDR_ASSIGN_OR_RETURN(json v, Convert(item, what, limits, depth + 1));
        arr.push_back(std::move(v));
      }
      return arr;
    }
    case YAML::NodeType::Map: {
      json obj = json::object();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
          return Status::InvalidArgument(std::string(what) + ": " + Where(kv.first.Mark()) +
                                         ": mapping keys must be scalars");
        }
        KDR_RETURN_IF_ERROR(limits->Charge(kv.first, depth + 1));
        const std::string& key = kv.first.Scalar();
        if (obj.contains(key)) {
          return Status::InvalidArgument(std::string(what) + ": " + Where(kv.first.Mark()) +
                                         ": duplicate key \"" + key + "\"");
        }
        KDR_ASSIGN_OR_RETURN(json v, Convert(kv.second, what, limits, depth + 1));
        obj[key] = std::move(v);
      }
      return obj;
    }
  }
  return json(nullptr);
}

// yaml-cpp's parse, its exceptions turned into InvalidArgument.
Result<std::vector<YAML::Node>> Parse(std::string_view text, std::string_view what) {
  try {
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::DeepRecursion& e) {
    return Status::InvalidArgument(Limits::Prefix(what) + "invalid YAML at " + Where(e.mark) +
                                   ": nests about 500 levels deep, past yaml-cpp's limit");
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(Limits::Prefix(what) + "invalid YAML at " + Where(e.mark) +
                                   ": " + PrintableBytes(e.msg));
  }
}

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  json typed = PlainScalar(s);
  if (!typed.is_string()) return true;
  if (std::isspace(static_cast<unsigned char>(s.front())) ||
      std::isspace(static_cast<unsigned char>(s.back()))) {
    return true;
  }
  static constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) {
    // "-x" and "?x" and ":x" are plain-safe only when followed by non-space; keep it simple.
    return true;
  }
  if (s.find(": ") != std::string::npos || s.find(" #") != std::string::npos ||
      s.find('\n') != std::string::npos || s.back() == ':') {
    return true;
  }
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string QuoteScalar(const std::string& s) {
  return json(s).dump();  // a JSON string is a valid YAML double-quoted scalar
}

std::string ScalarText(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    return NeedsQuotes(s) ? QuoteScalar(s) : s;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isnan(d)) return ".nan";
    if (std::isinf(d)) return d > 0 ? ".inf" : "-.inf";
  }
  return v.dump();
}

// Block style nests a value's text under its parent's indentation, so the text of a value nested d
// deep grows as d^2: past this depth a value is printed in flow style (its JSON, which YAML reads),
// keeping -o yaml linear for the deepest objects accepted (kMaxJsonDepth).
constexpr int kMaxBlockDepth = 64;

void Emit(const json& v, int indent, int depth, std::string* out);

void EmitBlockString(const std::string& s, int indent, std::string* out) {
  // Multi-line strings as literal blocks, like kubectl.
  *out += s.back() == '\n' ? "|\n" : "|-\n";
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    std::string line = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty()) *out += std::string(indent, ' ') + line;
    *out += '\n';
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

bool IsMultiline(const json& v) {
  if (!v.is_string()) return false;
  const auto& s = v.get_ref<const std::string&>();
  if (s.find('\n') == std::string::npos) return false;
  // Literal blocks cannot carry trailing spaces on lines or leading spaces reliably; quote those.
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && i > 0 && s[i - 1] == ' ') return false;
    if (static_cast<unsigned char>(s[i]) < 0x20 && s[i] != '\n') return false;
  }
  return s[0] != ' ';
}

void EmitValueAfterKey(const json& v, int indent, int depth, std::string* out) {
  if (v.is_structured() && !v.empty() && depth >= kMaxBlockDepth) {
    *out += ' ' + v.dump(-1, ' ', false, json::error_handler_t::replace) + '\n';
  } else if (v.is_object() && !v.empty()) {
    *out += '\n';
    Emit(v, indent + 2, depth + 1, out);
  } else if (v.is_array() && !v.empty()) {
    *out += '\n';
    Emit(v, indent, depth + 1, out);  // kubectl style: list items at the key's indentation
  } else if (v.is_object()) {
    *out += " {}\n";
  } else if (v.is_array()) {
    *out += " []\n";
  } else if (IsMultiline(v)) {
    *out += ' ';
    EmitBlockString(v.get_ref<const std::string&>(), indent + 2, out);
  } else {
    *out += ' ' + ScalarText(v) + '\n';
  }
}

void Emit(const json& v, int indent, int depth, std::string* out) {
  std::string pad(indent, ' ');
  if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      *out += pad;
      *out += NeedsQuotes(it.key()) ? QuoteScalar(it.key()) : it.key();
      *out += ':';
      EmitValueAfterKey(it.value(), indent, depth, out);
    }
  } else if (v.is_array()) {
    for (const auto& item : v) {
      *out += pad + "-";
      if (item.is_structured() && !item.empty() && depth >= kMaxBlockDepth) {
        EmitValueAfterKey(item, indent, depth, out);
      } else if (item.is_object() && !item.empty()) {
        // First key on the dash line, the rest indented under it.
        std::string nested;
        Emit(item, indent + 2, depth + 1, &nested);
        *out += ' ';
        *out += nested.substr(static_cast<size_t>(indent + 2));
      } else if (item.is_array() && !item.empty()) {
        *out += '\n';
        Emit(item, indent + 2, depth + 1, out);
      } else {
        EmitValueAfterKey(item, indent, depth, out);
      }
    }
  } else {
    *out += pad + ScalarText(v) + '\n';
  }
}

}  // namespace

Result<json> YamlToJson(std::string_view text, std::string_view what) {
  KDR_ASSIGN_OR_RETURN(auto docs, YamlDocumentsToJson(text, what));
  if (docs.empty()) return json(nullptr);
  if (docs.size() > 1) {
    return Status::InvalidArgument(std::string(what) + ": expected one YAML document, found " +
                                   std::to_string(docs.size()));
  }
  return std::move(docs[0]);
}

Result<std::vector<json>> YamlDocumentsToJson(std::string_view text, std::string_view what) {
  KDR_ASSIGN_OR_RETURN(std::vector<YAML::Node> nodes, Parse(text, what));
  std::vector<json> out;
  Limits limits(what, text.size());
  try {
    for (const auto& node : nodes) {
      if (node.IsNull() || !node.IsDefined()) continue;
      KDR_ASSIGN_OR_RETURN(json v, Convert(node, what, &limits, 0));
      out.push_back(std::move(v));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(Limits::Prefix(what) + "invalid YAML at " + Where(e.mark) +
                                   ": " + PrintableBytes(e.msg));
  }
  return out;
}

Result<std::vector<YAML::Node>> LoadYamlDocuments(std::string_view text, std::string_view what) {
  KDR_ASSIGN_OR_RETURN(std::vector<YAML::Node> nodes, Parse(text, what));
  Limits limits(what, text.size());
  try {
    for (const auto& node : nodes) KDR_RETURN_IF_ERROR(Check(node, &limits, 0));
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(Limits::Prefix(what) + "invalid YAML at " + Where(e.mark) +
                                   ": " + PrintableBytes(e.msg));
  }
  return nodes;
}

std::string JsonToYaml(const json& value) {
  std::string out;
  if (value.is_object() && value.empty()) return "{}\n";
  if (value.is_array() && value.empty()) return "[]\n";
  Emit(value, 0, 1, &out);
  return out;
}

}  // namespace kdr
