#include "selector.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

// Splits on commas that are not inside parentheses.
std::vector<std::string> SplitTopLevel(std::string_view text) {
  std::vector<std::string> out;
  int depth = 0;
  std::string cur;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      out.push_back(cur);
      cur.clear();
      continue;
    }
    cur.push_back(c);
  }
  out.push_back(cur);
  return out;
}

bool ValidLabelKey(std::string_view key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == '/')) {
      return false;
    }
  }
  return true;
}

std::string FieldValue(const json& obj, const std::string& path) {
  const json* cur = &obj;
  for (const auto& part : Split(path, '.')) {
    if (!cur->is_object()) return "";
    auto it = cur->find(part);
    if (it == cur->end()) return "";
    cur = &*it;
  }
  if (cur->is_string()) return cur->get<std::string>();
  if (cur->is_boolean()) return cur->get<bool>() ? "true" : "false";
  if (cur->is_number()) return cur->dump();
  return "";
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  std::string_view trimmed = TrimSpace(text);
  if (trimmed.empty()) return sel;
  for (const std::string& raw : SplitTopLevel(trimmed)) {
    std::string part(TrimSpace(raw));
    auto bad = [&](const std::string& why) {
      return Status::InvalidArgument("unable to parse requirement: " + why);
    };
    if (part.empty()) return bad("found '', expected: identifier");
    Requirement r;
    size_t pos;
    if (part[0] == '!') {
      r.key = std::string(TrimSpace(part.substr(1)));
      r.op = Op::kDoesNotExist;
    } else if ((pos = part.find("!=")) != std::string::npos) {
      r.key = std::string(TrimSpace(part.substr(0, pos)));
      r.op = Op::kNotEquals;
      r.values = {std::string(TrimSpace(part.substr(pos + 2)))};
    } else if ((pos = part.find("==")) != std::string::npos) {
      r.key = std::string(TrimSpace(part.substr(0, pos)));
      r.op = Op::kEquals;
      r.values = {std::string(TrimSpace(part.substr(pos + 2)))};
    } else if ((pos = part.find('=')) != std::string::npos) {
      r.key = std::string(TrimSpace(part.substr(0, pos)));
      r.op = Op::kEquals;
      r.values = {std::string(TrimSpace(part.substr(pos + 1)))};
    } else if ((pos = part.find(" notin ")) != std::string::npos ||
               (pos = part.find(" in ")) != std::string::npos) {
      bool notin = part.compare(pos, 7, " notin ") == 0;
      r.key = std::string(TrimSpace(part.substr(0, pos)));
      r.op = notin ? Op::kNotIn : Op::kIn;
      std::string_view rest = TrimSpace(std::string_view(part).substr(pos + (notin ? 7 : 4)));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') {
        return bad("found '" + std::string(rest) + "', expected: '('");
      }
      for (const auto& v : Split(rest.substr(1, rest.size() - 2), ',')) {
        r.values.emplace_back(TrimSpace(v));
      }
    } else {
      r.key = part;
      r.op = Op::kExists;
    }
    if (!ValidLabelKey(r.key)) {
      return bad("found '" + r.key + "', expected: identifier");
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const json& labels) const {
  for (const auto& r : reqs_) {
    const json* v = nullptr;
    if (labels.is_object()) {
      auto it = labels.find(r.key);
      if (it != labels.end() && it->is_string()) v = &*it;
    }
    auto in = [&]() {
      for (const auto& want : r.values) {
        if (v->get_ref<const std::string&>() == want) return true;
      }
      return false;
    };
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!v || !in()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (v && in()) return false;
        break;
      case Op::kExists:
        if (!v) return false;
        break;
      case Op::kDoesNotExist:
        if (v) return false;
        break;
    }
  }
  return true;
}

Result<FieldSelector> FieldSelector::Parse(std::string_view text,
                                           const std::vector<std::string>& allowed) {
  FieldSelector sel;
  std::string_view trimmed = TrimSpace(text);
  if (trimmed.empty()) return sel;
  for (const std::string& raw : Split(trimmed, ',')) {
    std::string part(TrimSpace(raw));
    Requirement r;
    size_t pos;
    if ((pos = part.find("!=")) != std::string::npos) {
      r.negate = true;
      r.field = part.substr(0, pos);
      r.value = part.substr(pos + 2);
    } else if ((pos = part.find("==")) != std::string::npos) {
      r.negate = false;
      r.field = part.substr(0, pos);
      r.value = part.substr(pos + 2);
    } else if ((pos = part.find('=')) != std::string::npos) {
      r.negate = false;
      r.field = part.substr(0, pos);
      r.value = part.substr(pos + 1);
    } else {
      return Status::InvalidArgument("invalid selector: '" + std::string(trimmed) +
                                     "'; can't understand '" + part + "'");
    }
    r.field = std::string(TrimSpace(r.field));
    r.value = std::string(TrimSpace(r.value));
    bool ok = r.field == "metadata.name" || r.field == "metadata.namespace";
    for (const auto& a : allowed) ok = ok || a == r.field;
    if (!ok) return Status::InvalidArgument("field label not supported: " + r.field);
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const json& object) const {
  for (const auto& r : reqs_) {
    bool eq = FieldValue(object, r.field) == r.value;
    if (eq == r.negate) return false;
  }
  return true;
}

std::string FieldSelector::RequiredValue(std::string_view field) const {
  for (const auto& r : reqs_) {
    if (r.field == field && !r.negate) return r.value;
  }
  return "";
}

std::string LabelSelectorObjectToString(const json& selector) {
  std::vector<std::string> parts;
  if (!selector.is_object()) return "";
  if (auto it = selector.find("matchLabels"); it != selector.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      parts.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
    }
  }
  if (auto it = selector.find("matchExpressions"); it != selector.end() && it->is_array()) {
    for (const auto& e : *it) {
      std::string key = e.value("key", "");
      std::string op = e.value("operator", "");
      std::vector<std::string> values;
      for (const auto& v : e.value("values", json::array())) {
        if (v.is_string()) values.push_back(v.get<std::string>());
      }
      if (op == "In") parts.push_back(key + " in (" + Join(values, ",") + ")");
      if (op == "NotIn") parts.push_back(key + " notin (" + Join(values, ",") + ")");
      if (op == "Exists") parts.push_back(key);
      if (op == "DoesNotExist") parts.push_back("!" + key);
    }
  }
  return Join(parts, ",");
}

}  // namespace kdr::kubesim
