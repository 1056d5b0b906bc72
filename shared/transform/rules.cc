#include "transform/rules.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <map>
#include <span>
#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/strings.h"
#include "base/yaml.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

using Names = std::span<const std::string_view>;

std::vector<std::string> ToStrings(Names names) { return {names.begin(), names.end()}; }
std::string JoinNames(Names names) { return Join(ToStrings(names), ", "); }

std::string At(const YAML::Mark& mark) {
  return "line " + std::to_string(mark.line + 1) + ", column " + std::to_string(mark.column + 1);
}

// Go's strconv.FormatFloat(v, 'g', -1, 32): sigs.k8s.io/yaml turns a YAML float into a string
// field this way, so "value: 1.0" reaches Velero as "1".
std::string GoFormatFloat32(double v) {
  float f = static_cast<float>(v);
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f == 0) return std::signbit(f) ? "-0" : "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // "-1.2345e+06"
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits = sci.substr(0, e);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  int exp = std::stoi(sci.substr(e + 1));
  std::string out = neg ? "-" : "";
  if (exp < -4 || exp >= 6) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    out += exp < 0 ? "e-" : "e+";
    std::string ex = std::to_string(std::abs(exp));
    if (ex.size() < 2) ex = "0" + ex;
    return out + ex;
  }
  int dp = exp + 1;
  int nd = static_cast<int>(digits.size());
  if (dp <= 0) return out + "0." + std::string(-dp, '0') + digits;
  if (dp >= nd) return out + digits + std::string(dp - nd, '0');
  return out + digits.substr(0, dp) + "." + digits.substr(dp);
}

// Go's strconv.ParseFloat(s, 64) == nil: decimal (no '_'), inf/infinity/nan, or a hex float
// with a 'p' exponent.
bool GoParsesFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  std::string rest = ToLower(s.substr(i));
  if (rest == "inf" || rest == "infinity" || rest == "nan") return true;
  auto digit = [](char c, bool hex) {
    return std::isdigit(static_cast<unsigned char>(c)) ||
           (hex && std::isxdigit(static_cast<unsigned char>(c)));
  };
  bool hex = rest.size() > 2 && rest[0] == '0' && rest[1] == 'x';
  size_t j = hex ? 2 : 0;
  bool any = false, dot = false;
  for (; j < rest.size(); ++j) {
    char c = rest[j];
    if (digit(c, hex)) {
      any = true;
    } else if (c == '_' && hex) {
      continue;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (!any) return false;
  if (j == rest.size()) return !hex;  // hex floats need an exponent
  if (rest[j] != (hex ? 'p' : 'e')) return false;
  ++j;
  if (j < rest.size() && (rest[j] == '+' || rest[j] == '-')) ++j;
  size_t start = j;
  while (j < rest.size() && std::isdigit(static_cast<unsigned char>(rest[j]))) ++j;
  return j > start && j == rest.size();
}

constexpr std::string_view kTopKeys[] = {"version", "resourceModifierRules"};
constexpr std::string_view kRuleKeys[] = {"conditions", "patches", "mergePatches",
                                          "strategicPatches"};
constexpr std::string_view kConditionKeys[] = {"namespaces", "groupResource",
                                               "resourceNameRegex", "labelSelector", "matches"};
constexpr std::string_view kSelectorKeys[] = {"matchLabels", "matchExpressions"};
constexpr std::string_view kExpressionKeys[] = {"key", "operator", "values"};
constexpr std::string_view kPatchKeys[] = {"operation", "from", "path", "value"};
constexpr std::string_view kMatchKeys[] = {"path", "value"};
constexpr std::string_view kPatchDataKeys[] = {"patchData"};
constexpr std::string_view kOperations[] = {"add", "remove", "replace", "move", "copy", "test"};

// Collects problems with their position; the path names the field ("resourceModifierRules[0]").
class Checker {
 public:
  explicit Checker(ModifierDiagnostics* d) : d_(d) {}

  void Problem(const YAML::Node& node, const std::string& path, const std::string& why) {
    d_->problems.push_back(At(node.Mark()) + ": " + path + ": " + why);
  }
  void Problem(const YAML::Mark& mark, const std::string& path, const std::string& why) {
    d_->problems.push_back(At(mark) + ": " + path + ": " + why);
  }
  void Warning(const YAML::Node& node, const std::string& path, const std::string& why) {
    d_->warnings.push_back(At(node.Mark()) + ": " + path + ": " + why);
  }
  size_t count() const { return d_->problems.size(); }

  // The members of a mapping by their canonical names; reports unknown and duplicate keys and a
  // node that is not a mapping. Null (an empty value) is an empty mapping, as in Go.
  std::map<std::string, YAML::Node> Fields(const YAML::Node& node, const std::string& path,
                                           Names allowed) {
    std::map<std::string, YAML::Node> out;
    if (!node.IsDefined() || node.IsNull()) return out;
    if (!node.IsMap()) {
      Problem(node, path, "must be a mapping with keys " + JoinNames(allowed));
      return out;
    }
    for (const auto& kv : node) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      std::string canonical;
      for (std::string_view a : allowed) {
        if (a == key) canonical = a;
      }
      if (canonical.empty()) {
        for (std::string_view a : allowed) {
          if (ToLower(a) == ToLower(key)) canonical = a;
        }
      }
      if (canonical.empty()) {
        Problem(kv.first, path,
                "unknown key " + Quote(key) + DidYouMean(key, ToStrings(allowed)) +
                    " (known keys: " + JoinNames(allowed) + ")");
        continue;
      }
      if (out.count(canonical) != 0) {
        Problem(kv.first, path, "duplicate key " + Quote(key));
        continue;
      }
      out[canonical] = kv.second;
    }
    return out;
  }

  // A string field the way sigs.k8s.io/yaml fills a Go string: numbers and booleans are
  // formatted, null is "". nullopt (and a problem) for a mapping or sequence.
  std::optional<std::string> String(const YAML::Node& node, const std::string& path) {
    if (!node.IsDefined() || node.IsNull()) return std::string();
    if (!node.IsScalar()) {
      Problem(node, path, "must be a string, not a " + std::string(node.IsMap() ? "mapping" : "list") +
                              (path.size() > 6 && EndsWith(path, ".value")
                                   ? " (write JSON objects and arrays as a quoted string)"
                                   : ""));
      return std::nullopt;
    }
    if (node.Tag() != "?") return node.Scalar();  // quoted, block or explicitly tagged
    auto typed = YamlToJson(node.Scalar(), "scalar");
    if (!typed.ok()) return node.Scalar();
    const json& v = *typed;
    if (v.is_null()) return std::string();
    if (v.is_boolean()) return std::string(v.get<bool>() ? "true" : "false");
    if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
    if (v.is_number_float()) return GoFormatFloat32(v.get<double>());
    return node.Scalar();
  }

  // A list field; null is empty.
  std::vector<YAML::Node> List(const YAML::Node& node, const std::string& path) {
    std::vector<YAML::Node> out;
    if (!node.IsDefined() || node.IsNull()) return out;
    if (!node.IsSequence()) {
      Problem(node, path, "must be a list");
      return out;
    }
    for (const auto& item : node) out.push_back(item);
    return out;
  }

 private:
  ModifierDiagnostics* d_;
};

YAML::Node Get(const std::map<std::string, YAML::Node>& fields, const std::string& key) {
  auto it = fields.find(key);
  return it == fields.end() ? YAML::Node() : it->second;
}

bool Present(const YAML::Node& node) { return node.IsDefined() && !node.IsNull(); }

std::optional<LabelSelector> CompileSelector(Checker& c, const YAML::Node& node,
                                             const std::string& path) {
  auto fields = c.Fields(node, path, kSelectorKeys);
  std::vector<LabelRequirement> reqs;
  bool ok = true;
  YAML::Node labels = Get(fields, "matchLabels");
  if (Present(labels)) {
    if (!labels.IsMap()) {
      c.Problem(labels, path + ".matchLabels", "must be a mapping of label keys to values");
      ok = false;
    } else {
      for (const auto& kv : labels) {
        auto key = c.String(kv.first, path + ".matchLabels");
        auto value = c.String(kv.second, path + ".matchLabels." + kv.first.Scalar());
        if (!key || !value) {
          ok = false;
          continue;
        }
        reqs.push_back({*key, LabelOperator::kIn, {*value}});
      }
    }
  }
  auto exprs = c.List(Get(fields, "matchExpressions"), path + ".matchExpressions");
  for (size_t i = 0; i < exprs.size(); ++i) {
    std::string p = path + ".matchExpressions[" + std::to_string(i) + "]";
    auto f = c.Fields(exprs[i], p, kExpressionKeys);
    auto key = c.String(Get(f, "key"), p + ".key");
    auto op_name = c.String(Get(f, "operator"), p + ".operator");
    if (!key || !op_name) {
      ok = false;
      continue;
    }
    auto op = LabelSelector::ParseOperator(*op_name);
    if (!op) {
      c.Problem(Present(Get(f, "operator")) ? Get(f, "operator") : exprs[i], p + ".operator",
                Quote(*op_name) + " is not a valid label selector operator" +
                    DidYouMean(*op_name, {"In", "NotIn", "Exists", "DoesNotExist"}) +
                    " (one of In, NotIn, Exists, DoesNotExist)");
      ok = false;
      continue;
    }
    LabelRequirement r{*key, *op, {}};
    for (const auto& v : c.List(Get(f, "values"), p + ".values")) {
      if (auto s = c.String(v, p + ".values")) r.values.push_back(*s);
    }
    reqs.push_back(std::move(r));
  }
  if (!ok) return std::nullopt;
  auto selector = LabelSelector::Compile(std::move(reqs));
  if (!selector.ok()) {
    c.Problem(node, path, selector.status().message());
    return std::nullopt;
  }
  return std::move(selector).value();
}

void CompileConditions(Checker& c, const YAML::Node& node, const YAML::Node& rule_node,
                       const std::string& path, RuleConditions* out) {
  auto fields = c.Fields(node, path, kConditionKeys);
  const YAML::Node& where = Present(node) ? node : rule_node;

  YAML::Node gr_node = Get(fields, "groupResource");
  auto gr = c.String(gr_node, path + ".groupResource");
  if (gr && gr->empty()) {
    c.Problem(Present(gr_node) ? gr_node : where, path + ".groupResource",
              "required: the resource.group the rule applies to (e.g. deployments.apps, "
              "persistentvolumeclaims, *.apps)");
  } else if (gr) {
    auto glob = Glob::Compile(*gr, '.');
    if (!glob.ok()) {
      c.Problem(gr_node, path + ".groupResource", glob.status().message());
    } else {
      out->group_resource = std::move(glob).value();
    }
  }

  YAML::Node ns_node = Get(fields, "namespaces");
  auto namespaces = c.List(ns_node, path + ".namespaces");
  out->all_namespaces = namespaces.empty();
  for (const auto& n : namespaces) {
    auto s = c.String(n, path + ".namespaces");
    if (!s) continue;
    if (*s == "*") out->all_namespaces = true;
    auto glob = Glob::Compile(*s, std::nullopt);
    if (!glob.ok()) {
      c.Problem(n, path + ".namespaces", glob.status().message());
      continue;
    }
    out->namespaces.push_back(std::move(glob).value());
  }

  YAML::Node re_node = Get(fields, "resourceNameRegex");
  auto re = c.String(re_node, path + ".resourceNameRegex");
  if (re && !re->empty()) {
    auto compiled = CompileNameRegex(*re);
    if (!compiled.ok()) {
      c.Problem(re_node, path + ".resourceNameRegex", compiled.status().message());
    } else {
      out->name_regex = std::move(compiled).value();
    }
  }

  YAML::Node sel_node = Get(fields, "labelSelector");
  if (Present(sel_node)) out->label_selector = CompileSelector(c, sel_node, path + ".labelSelector");

  auto matches = c.List(Get(fields, "matches"), path + ".matches");
  for (size_t i = 0; i < matches.size(); ++i) {
    std::string p = path + ".matches[" + std::to_string(i) + "]";
    auto f = c.Fields(matches[i], p, kMatchKeys);
    auto mpath = c.String(Get(f, "path"), p + ".path");
    auto value = c.String(Get(f, "value"), p + ".value");
    if (!mpath || !value) continue;
    if (mpath->empty()) {
      c.Problem(matches[i], p + ".path", "required: a JSON pointer such as /spec/replicas");
      continue;
    }
    auto tokens = ParseJsonPointer(*mpath);
    if (!tokens.ok()) {
      c.Problem(Get(f, "path"), p + ".path", tokens.status().message());
      continue;
    }
    auto typed = VeleroValue(*value);
    if (!typed.ok()) {
      c.Problem(Get(f, "value"), p + ".value", typed.status().message());
      continue;
    }
    out->matches.push_back(MatchTest{*mpath, std::move(tokens).value(),
                                     std::make_shared<const json>(std::move(typed).value())});
  }
}

void CompileJsonPatches(Checker& c, const std::vector<YAML::Node>& items, const YAML::Node& list,
                        const std::string& path, ModifierRule* rule) {
  json ops = json::array();
  size_t before = c.count();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    auto f = c.Fields(items[i], p, kPatchKeys);
    auto op = c.String(Get(f, "operation"), p + ".operation");
    auto ppath = c.String(Get(f, "path"), p + ".path");
    auto from = c.String(Get(f, "from"), p + ".from");
    auto value = c.String(Get(f, "value"), p + ".value");
    if (!op || !ppath || !from || !value) continue;
    const YAML::Node& where = items[i];
    if (op->empty()) {
      c.Problem(where, p + ".operation", "required: one of " + JoinNames(kOperations));
      continue;
    }
    if (std::find(std::begin(kOperations), std::end(kOperations), *op) == std::end(kOperations)) {
      // Velero's validation lowercases, but evanphx/json-patch then rejects anything but the
      // lowercase name on every object; refuse it here, once.
      c.Problem(Get(f, "operation"), p + ".operation",
                "unknown operation " + Quote(*op) + DidYouMean(ToLower(*op), ToStrings(kOperations)) +
                    " (one of " + JoinNames(kOperations) + ")");
      continue;
    }
    if (ppath->empty()) {
      c.Problem(where, p + ".path", "required: a JSON pointer such as /spec/replicas");
      continue;
    }
    json o = {{"op", *op}, {"path", *ppath}};
    if (*op == "move" || *op == "copy") {
      if (!Present(Get(f, "from"))) {
        c.Problem(where, p + ".from", "required for " + *op + ": the JSON pointer to " + *op +
                                          " from");
        continue;
      }
      o["from"] = *from;
    }
    if (*op == "add" || *op == "replace" || *op == "test") {
      auto typed = VeleroValue(*value);
      if (!typed.ok()) {
        c.Problem(Present(Get(f, "value")) ? Get(f, "value") : where, p + ".value",
                  typed.status().message());
        continue;
      }
      o["value"] = std::move(typed).value();
    }
    ops.push_back(std::move(o));
  }
  if (c.count() != before) return;
  // Velero applies patches with evanphx/json-patch/v5; its `test` of a missing path decides
  // whether a rule is skipped or the object fails (JsonPatchDialect::kEvanphx).
  auto compiled = JsonPatch::Compile(ops, JsonPatchDialect::kEvanphx);
  if (!compiled.ok()) {
    // Operation indexes in the message are the positions in this list.
    c.Problem(list, path, compiled.status().message());
    return;
  }
  rule->patches = std::move(compiled).value();
}

void CompilePatchData(Checker& c, const std::vector<YAML::Node>& items, const std::string& path,
                      ModifierRule* rule) {
  for (size_t i = 0; i < items.size(); ++i) {
    std::string p = path + "[" + std::to_string(i) + "]";
    auto f = c.Fields(items[i], p, kPatchDataKeys);
    YAML::Node data_node = Get(f, "patchData");
    if (Present(data_node) && !data_node.IsScalar()) {
      c.Problem(data_node, p + ".patchData",
                "must be a string holding YAML or JSON (write \"patchData: |\" and indent the "
                "patch under it)");
      continue;
    }
    auto text = c.String(data_node, p + ".patchData");
    if (!text) continue;
    if (TrimSpace(*text).empty()) {
      c.Problem(Present(data_node) ? data_node : items[i], p + ".patchData",
                "required: the patch as YAML or JSON");
      continue;
    }
    auto parsed = YamlToJson(*text, "patchData");
    if (!parsed.ok()) {
      c.Problem(data_node, p + ".patchData", parsed.status().message());
      continue;
    }
    if (!parsed->is_object()) {
      c.Problem(data_node, p + ".patchData",
                "must be a YAML or JSON object (a patch of the object's fields)");
      continue;
    }
    rule->patch_data.push_back(std::make_shared<const json>(std::move(parsed).value()));
  }
}

void CompileRule(Checker& c, const YAML::Node& node, size_t index, ModifierRule* rule) {
  std::string path = "resourceModifierRules[" + std::to_string(index) + "]";
  rule->index = index;
  rule->line = node.Mark().line + 1;
  auto fields = c.Fields(node, path, kRuleKeys);
  if (Present(node) && !node.IsMap()) return;
  CompileConditions(c, Get(fields, "conditions"), node, path + ".conditions", &rule->conditions);

  struct Action {
    ActionKind kind;
    std::string key;
    std::vector<YAML::Node> items;
    YAML::Node node;
  };
  std::vector<Action> present;
  for (auto [kind, key] : {std::pair{ActionKind::kJsonPatch, std::string("patches")},
                           std::pair{ActionKind::kMergePatch, std::string("mergePatches")},
                           std::pair{ActionKind::kStrategicPatch, std::string("strategicPatches")}}) {
    YAML::Node n = Get(fields, key);
    auto items = c.List(n, path + "." + key);
    if (!items.empty()) present.push_back({kind, key, std::move(items), n});
  }
  if (present.size() > 1) {
    std::vector<std::string> keys;
    for (const auto& a : present) keys.push_back(a.key);
    c.Problem(present[1].node.Mark(), path,
              "only one of patches, mergePatches, strategicPatches can be specified in a rule; "
              "this one has " + Join(keys, " and ") + " (split it into one rule per action list)");
    return;
  }
  if (present.empty()) {
    c.Warning(node, path,
              "no patches, mergePatches or strategicPatches: every object the rule matches fails "
              "to transform");
    return;
  }
  const Action& a = present[0];
  rule->action = a.kind;
  if (a.kind == ActionKind::kJsonPatch) {
    CompileJsonPatches(c, a.items, a.node, path + "." + a.key, rule);
  } else {
    CompilePatchData(c, a.items, path + "." + a.key, rule);
  }
}

}  // namespace

std::string_view ActionKindName(ActionKind kind) {
  switch (kind) {
    case ActionKind::kNone: return "no action";
    case ActionKind::kJsonPatch: return "patches";
    case ActionKind::kMergePatch: return "mergePatches";
    case ActionKind::kStrategicPatch: return "strategicPatches";
  }
  return "?";
}

Result<json> VeleroValue(std::string_view value) {
  if (value.empty()) return json("");
  std::string raw;
  if (value.front() == '"' && value.back() == '"') {
    // Velero strips one quote at each end and adds them back, so the text is the JSON string.
    std::string_view inner = value.size() >= 2 ? value.substr(1, value.size() - 2) : "";
    raw = "\"" + std::string(inner) + "\"";
  } else if (value == "null") {
    return json(nullptr);
  } else if (ToLower(value) == "true" || ToLower(value) == "false" || value.front() == '{' ||
             value.front() == '[' || GoParsesFloat(value)) {
    raw = std::string(value);
  } else {
    raw = "\"" + std::string(value) + "\"";
  }
  Result<json> parsed = ParseJson(raw, "it");
  if (parsed.ok()) return parsed;
  return Status::InvalidArgument(
      "value " + Quote(value) + " does not read as JSON the way Velero types values (" +
      "it becomes " + raw + "): quote a string that looks like JSON (value: '\"" +
      std::string(value) + "\"'), and write objects and arrays, booleans and numbers as valid "
      "JSON (" + parsed.status().message() + ")");
}

std::optional<ResourceModifiers> ResourceModifiers::Load(std::string_view text,
                                                         ModifierDiagnostics* d) {
  Checker c(d);
  std::vector<YAML::Node> docs;
  // Bounded (base/yaml.h): a file is outside input, and the webhook compiles ConfigMaps.
  Result<std::vector<YAML::Node>> loaded = LoadYamlDocuments(text, "");
  if (!loaded.ok()) {
    d->problems.push_back(loaded.status().message());
    return std::nullopt;
  }
  for (const auto& n : *loaded) {
    if (n.IsDefined() && !n.IsNull()) docs.push_back(n);
  }
  if (docs.empty()) {
    d->problems.push_back("line 1, column 1: empty file: expected version: v1 and "
                          "resourceModifierRules");
    return std::nullopt;
  }
  if (docs.size() > 1) {
    c.Problem(docs[1], "file", "expected one YAML document, found " + std::to_string(docs.size()));
  }
  const YAML::Node& root = docs[0];
  auto fields = c.Fields(root, "file", kTopKeys);
  if (!root.IsMap()) return std::nullopt;

  YAML::Node version_node = Get(fields, "version");
  auto version = c.String(version_node, "version");
  if (version && ToLower(*version) != "v1") {
    c.Problem(Present(version_node) ? version_node : root, "version",
              version->empty() ? "required: version: v1"
                               : "unsupported resource modifier version " + Quote(*version) +
                                     " (only v1 is known)");
  }

  ResourceModifiers out;
  YAML::Node rules_node = Get(fields, "resourceModifierRules");
  auto rules = c.List(rules_node, "resourceModifierRules");
  if (rules.empty() && (!Present(rules_node) || rules_node.IsSequence())) {
    c.Problem(Present(rules_node) ? rules_node : root, "resourceModifierRules",
              "resource modifier rules cannot be empty");
  }
  out.rules_.resize(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) CompileRule(c, rules[i], i, &out.rules_[i]);
  if (!d->problems.empty()) return std::nullopt;
  out.warnings_ = d->warnings;
  return out;
}

Result<ResourceModifiers> ResourceModifiers::Parse(std::string_view text, std::string_view what) {
  ModifierDiagnostics d;
  auto m = Load(text, &d);
  if (m) return std::move(*m);
  std::string msg(what);
  if (d.problems.size() == 1) {
    msg += ": " + d.problems[0];
  } else {
    msg += ": " + std::to_string(d.problems.size()) + " problems:";
    for (const auto& p : d.problems) msg += "\n  " + p;
  }
  return Status::InvalidArgument(msg);
}

}  // namespace kdr::transform
