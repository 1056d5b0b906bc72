#include "base/yaml.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_map>

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

std::string Prefix(std::string_view what) {
  return what.empty() ? std::string() : std::string(what) + ": ";
}

Status Invalid(std::string_view what, const YAML::Mark& mark, const std::string& why) {
  return Status::InvalidArgument(Prefix(what) + "invalid YAML at " + Where(mark) + ": " + why);
}

// Reads a YAML stream from yaml-cpp's parse events, enforcing the limits of yaml.h as it goes, and
// (when building) makes each document's JSON. One pass and no node tree: an alias costs what its
// anchor cost when it was read, so aliases expanding past the budget are refused at the alias that
// crosses it, without walking the expansion.
class Reader : public YAML::EventHandler {
 public:
  // build: make each document's JSON. stop_at_alias (when building): stop at the first alias,
  // and say so with met_alias(), so that the caller checks the text without building first.
  Reader(std::string_view text, std::string_view what, bool build, bool stop_at_alias = false)
      : text_(text), what_(what), build_(build), stop_at_alias_(stop_at_alias),
        budget_(4 * text.size() + (size_t{1} << 20)), left_(budget_) {}

  // Reads the whole stream: the first problem, yaml-cpp's own syntax errors included.
  Status Run() {
    std::istringstream in{std::string(text_)};
    try {
      YAML::Parser parser(in);
      while (parser.HandleNextDocument(*this)) {
      }
    } catch (const Stop&) {
      return error_;
    } catch (const AliasMet&) {
      met_alias_ = true;
      return Status::Ok();
    } catch (const YAML::DeepRecursion& e) {
      return Invalid(what_, e.mark, "nests about 500 levels deep, past yaml-cpp's limit");
    } catch (const YAML::Exception& e) {
      return Invalid(what_, e.mark, PrintableBytes(e.msg));
    }
    return Status::Ok();
  }

  // The documents read (when building), empty ones left out.
  std::vector<json>& documents() { return docs_; }
  // Whether Run stopped at an alias (stop_at_alias); documents() is then incomplete.
  bool met_alias() const { return met_alias_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 makes a document of a token it cannot place (a "," outside a flow collection)
    // without consuming it, and again, forever, allocating as it goes: a document that starts
    // where the previous one did is that token.
    if (started_ && mark.pos == last_start_) {
      const size_t at = static_cast<size_t>(std::max(mark.pos, 0));
      const std::string token = at < text_.size() ? PrintableBytes(text_.substr(at, 1)) : std::string();
      Fail(mark, "unexpected \"" + token + "\" (a \",\" belongs inside a [ ] or { } collection)");
    }
    started_ = true;
    last_start_ = mark.pos;
    anchors_.clear();  // anchors are per document
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Charge(mark, 1);
    Add(mark, anchor, Node{json(nullptr), 1, 0, std::nullopt});
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (stop_at_alias_) throw AliasMet{};
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) Fail(mark, "alias to an unknown anchor");
    const Node& a = it->second;
    if (a.height > 0 && Depth() + a.height > kMaxJsonDepth) TooDeep(mark);
    Charge(mark, a.cost);
    Add(mark, 0, a);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    size_t bad = 0;
    if (!IsValidUtf8(value, &bad)) {
      Fail(mark, "invalid UTF-8 (byte " + PrintableBytes(std::string_view(value).substr(bad, 1)) + " at offset " +
                     std::to_string(bad) + " of a scalar); YAML must be UTF-8");
    }
    Charge(mark, 1 + value.size());
    json v;
    if (build_) {
      // yaml-cpp tags plain scalars "?" and quoted or literal ones "!".
      const bool quoted = tag == "!" || tag == "!!str" || tag == "tag:yaml.org,2002:str";
      v = quoted ? json(value) : PlainScalar(value);
    }
    Add(mark, anchor, Node{std::move(v), 1 + value.size(), 0, value});
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, anchor, /*map=*/false);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, anchor, /*map=*/true);
  }
  void OnMapEnd() override { Close(); }

 private:
  struct Stop {};
  struct AliasMet {};
  // A node read: its JSON (when building), its cost with every alias in it expanded, how many
  // containers deep it goes, and its text when it is a scalar (a mapping key must be one).
  struct Node {
    json value;
    size_t cost;
    int height;
    std::optional<std::string> scalar;
  };
  // A collection being read.
  struct Frame {
    YAML::Mark mark;
    YAML::anchor_t anchor = 0;
    bool map = false;
    json value;
    size_t cost = 1;
    int height = 1;
    std::optional<std::string> key;  // a mapping's key, waiting for its value
  };

  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& why) {
    error_ = Invalid(what_, mark, why);
    throw Stop{};
  }
  [[noreturn]] void TooDeep(const YAML::Mark& mark) {
    Fail(mark, "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  int Depth() const { return static_cast<int>(stack_.size()); }

  // Every node read counts against the budget, the nodes of every alias expansion included.
  void Charge(const YAML::Mark& mark, size_t cost) {
    if (cost > left_) {
      Fail(mark, "aliases expand the document past " + std::to_string(budget_) +
                     " nodes and scalar bytes (4 times its size plus 1 MiB); write the repeated parts out "
                     "instead of aliasing them");
    }
    left_ -= cost;
  }

  void Open(const YAML::Mark& mark, YAML::anchor_t anchor, bool map) {
    if (Depth() >= kMaxJsonDepth) TooDeep(mark);
    Charge(mark, 1);
    Frame f;
    f.mark = mark;
    f.anchor = anchor;
    f.map = map;
    if (build_) f.value = map ? json::object() : json::array();
    stack_.push_back(std::move(f));
  }
  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    Add(f.mark, f.anchor, Node{std::move(f.value), f.cost, f.height, std::nullopt});
  }

  // Places a node read (and charged) in its collection, or as a document; remembers it under its
  // anchor.
  void Add(const YAML::Mark& mark, YAML::anchor_t anchor, Node n) {
    if (anchor != 0) anchors_[anchor] = n;
    if (stack_.empty()) {
      if (build_ && !n.value.is_null()) docs_.push_back(std::move(n.value));
      return;
    }
    Frame& parent = stack_.back();
    parent.cost += n.cost;
    parent.height = std::max(parent.height, n.height + 1);
    if (!parent.map) {
      if (build_) parent.value.push_back(std::move(n.value));
      return;
    }
    if (!parent.key) {
      // The readers of node trees (LoadYamlDocuments) judge keys themselves.
      if (!n.scalar) {
        if (build_) Fail(mark, "mapping keys must be scalars");
        n.scalar.emplace();
      }
      if (build_ && parent.value.contains(*n.scalar)) Fail(mark, "duplicate key \"" + *n.scalar + "\"");
      parent.key = std::move(n.scalar);
      return;
    }
    if (build_) parent.value[*parent.key] = std::move(n.value);
    parent.key.reset();
  }

  const std::string_view text_;
  const std::string_view what_;
  const bool build_;
  const bool stop_at_alias_;
  const size_t budget_;
  size_t left_;
  Status error_ = Status::Ok();
  bool met_alias_ = false;
  bool started_ = false;
  int last_start_ = -1;
  std::vector<Frame> stack_;
  std::unordered_map<YAML::anchor_t, Node> anchors_;
  std::vector<json> docs_;
};

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
  Reader reader(text, what, /*build=*/true, /*stop_at_alias=*/true);
  KDR_RETURN_IF_ERROR(reader.Run());
  if (!reader.met_alias()) return std::move(reader.documents());
  // Building copies each alias's expansion as it is read, so a text that aliases expand to the
  // budget was refused only after a budget's worth of copies: about a million nodes for
  // fuzz-seeds/yaml/alias-bomb.yaml, 1.5-2.5 s under ASan. With aliases the text is first read
  // without building (every limit is charged the same), then built. A text that is refused either
  // way may name another of its faults than before: a duplicate or non-scalar key (which only
  // building checks) after the first alias is now reported after the limits.
  KDR_RETURN_IF_ERROR(Reader(text, what, /*build=*/false).Run());
  Reader whole(text, what, /*build=*/true);
  KDR_RETURN_IF_ERROR(whole.Run());
  return std::move(whole.documents());
}

Result<std::vector<YAML::Node>> LoadYamlDocuments(std::string_view text, std::string_view what) {
  // Checked first, by the same reader, so yaml-cpp's own load only ever sees what ends and fits.
  KDR_RETURN_IF_ERROR(Reader(text, what, /*build=*/false).Run());
  try {
    return YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return Invalid(what, e.mark, PrintableBytes(e.msg));
  }
}

std::string JsonToYaml(const json& value) {
  std::string out;
  if (value.is_object() && value.empty()) return "{}\n";
  if (value.is_array() && value.empty()) return "[]\n";
  Emit(value, 0, 1, &out);
  return out;
}

}  // namespace kdr
