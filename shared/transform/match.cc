#include "transform/match.h"

#include <re2/re2.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "transform/json_patch.h"

namespace kdr::transform {
namespace {

using nlohmann::json;
using Item = Glob::Item;

// Alternatives expand to a cartesian product; a pattern that explodes is refused rather than
// matched slowly on every object.
constexpr size_t kMaxAlternatives = 256;

class GlobParser {
 public:
  explicit GlobParser(std::string_view p) : p_(p) {}

  // Parses a sequence up to end of input, or (nested) up to ',' or '}'.
  Result<std::vector<std::vector<Item>>> Sequence(bool nested) {
    std::vector<std::vector<Item>> out = {{}};
    while (i_ < p_.size()) {
      char c = p_[i_];
      if (nested && (c == ',' || c == '}')) break;
      if (c == '{') {
        ++i_;
        std::vector<std::vector<Item>> alts;
        while (true) {
          KDR_ASSIGN_OR_RETURN(auto branch, Sequence(true));
          alts.insert(alts.end(), branch.begin(), branch.end());
          if (i_ >= p_.size()) return Error("unclosed \"{\"");
          if (p_[i_++] == '}') break;
        }
        std::vector<std::vector<Item>> product;
        for (const auto& prefix : out) {
          for (const auto& alt : alts) {
            if (product.size() >= kMaxAlternatives) return Error("too many {,} alternatives");
            auto seq = prefix;
            seq.insert(seq.end(), alt.begin(), alt.end());
            product.push_back(std::move(seq));
          }
        }
        out = std::move(product);
        continue;
      }
      KDR_ASSIGN_OR_RETURN(Item item, One());
      for (auto& seq : out) seq.push_back(item);
    }
    return out;
  }

  bool has_meta() const { return has_meta_; }

 private:
  Status Error(std::string_view why) const {
    return Status::InvalidArgument("bad glob " + Quote(p_) + ": " + std::string(why));
  }

  Result<Item> One() {
    char c = p_[i_++];
    Item item{Item::Type::kLiteral};
    switch (c) {
      case '*':
        has_meta_ = true;
        if (i_ < p_.size() && p_[i_] == '*') {
          ++i_;
          item.type = Item::Type::kSuperStar;
        } else {
          item.type = Item::Type::kStar;
        }
        return item;
      case '?':
        has_meta_ = true;
        item.type = Item::Type::kSingle;
        return item;
      case '\\':
        if (i_ >= p_.size()) return Error("trailing \"\\\"");
        item.literal = p_[i_++];
        has_meta_ = true;  // the pattern text is not the literal any more
        return item;
      case '[': {
        has_meta_ = true;
        item.type = Item::Type::kClass;
        if (i_ < p_.size() && p_[i_] == '!') {
          item.negated = true;
          ++i_;
        }
        while (i_ < p_.size() && p_[i_] != ']') {
          char lo = p_[i_++];
          char hi = lo;
          if (i_ + 1 < p_.size() && p_[i_] == '-' && p_[i_ + 1] != ']') {
            hi = p_[i_ + 1];
            i_ += 2;
            if (hi < lo) return Error("bad range in \"[...]\"");
          }
          item.ranges.emplace_back(lo, hi);
        }
        if (i_ >= p_.size()) return Error("unclosed \"[\"");
        ++i_;  // ']'
        if (item.ranges.empty()) return Error("empty \"[]\"");
        return item;
      }
      case '{':
      case '}':
      case ',':
        // A stray '}' or ',' outside alternatives is a literal in gobwas; keep it so.
        item.literal = c;
        return item;
      default:
        item.literal = c;
        return item;
    }
  }

  std::string_view p_;
  size_t i_ = 0;
  bool has_meta_ = false;
};

bool MatchItems(const std::vector<Item>& items, size_t i, std::string_view s, size_t pos,
                std::optional<char> sep) {
  while (i < items.size()) {
    const Item& it = items[i];
    switch (it.type) {
      case Item::Type::kLiteral:
        if (pos >= s.size() || s[pos] != it.literal) return false;
        ++pos;
        ++i;
        break;
      case Item::Type::kSingle:
        if (pos >= s.size() || (sep && s[pos] == *sep)) return false;
        ++pos;
        ++i;
        break;
      case Item::Type::kClass: {
        if (pos >= s.size()) return false;
        bool in = false;
        for (auto [lo, hi] : it.ranges) {
          if (s[pos] >= lo && s[pos] <= hi) in = true;
        }
        if (in == it.negated) return false;
        ++pos;
        ++i;
        break;
      }
      case Item::Type::kStar:
      case Item::Type::kSuperStar: {
        bool super = it.type == Item::Type::kSuperStar || !sep;
        // Try every length, shortest first; a '*' stops at the separator.
        for (size_t end = pos;; ++end) {
          if (MatchItems(items, i + 1, s, end, sep)) return true;
          if (end >= s.size()) return false;
          if (!super && s[end] == *sep) return false;
        }
      }
    }
  }
  return pos == s.size();
}

// Label keys and values, as k8s.io/apimachinery/pkg/util/validation checks them.
bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
}

bool IsLabelValue(std::string_view v) {
  if (v.empty()) return true;
  if (v.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(v.front())) ||
      !std::isalnum(static_cast<unsigned char>(v.back()))) {
    return false;
  }
  return std::all_of(v.begin(), v.end(), IsNameChar);
}

bool IsDnsSubdomain(std::string_view v) {
  if (v.empty() || v.size() > 253) return false;
  for (const std::string& label : Split(v, '.')) {
    if (label.empty() || label.size() > 63) return false;
    auto ok = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    };
    if (!std::all_of(label.begin(), label.end(), ok) || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
  }
  return true;
}

std::optional<std::string> WhyBadLabelKey(std::string_view key) {
  std::string_view name = key;
  size_t slash = key.find('/');
  if (slash != std::string_view::npos) {
    std::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!IsDnsSubdomain(prefix)) {
      return "prefix part must be a lowercase DNS subdomain (e.g. example.com)";
    }
  }
  if (name.empty()) return "name part must be non-empty";
  if (!IsLabelValue(name)) {
    return "name part must be at most 63 characters: alphanumerics, '-', '_' or '.', starting "
           "and ending with an alphanumeric";
  }
  return std::nullopt;
}

std::string_view OperatorName(LabelOperator op) {
  switch (op) {
    case LabelOperator::kIn: return "In";
    case LabelOperator::kNotIn: return "NotIn";
    case LabelOperator::kExists: return "Exists";
    case LabelOperator::kDoesNotExist: return "DoesNotExist";
  }
  return "?";
}

const std::string* StringMember(const json& object, std::string_view a, std::string_view b) {
  auto it = object.find(a);
  if (it == object.end() || !it->is_object()) return nullptr;
  auto jt = it->find(b);
  if (jt == it->end() || !jt->is_string()) return nullptr;
  return &jt->get_ref<const std::string&>();
}

}  // namespace

Result<Glob> Glob::Compile(std::string_view pattern, std::optional<char> separator) {
  GlobParser parser(pattern);
  KDR_ASSIGN_OR_RETURN(auto alternatives, parser.Sequence(false));
  Glob g;
  g.pattern_ = std::string(pattern);
  g.separator_ = separator;
  if (!parser.has_meta() && alternatives.size() == 1) {
    g.literal_ = std::string();
    for (const Item& it : alternatives[0]) g.literal_->push_back(it.literal);
  }
  g.alternatives_ = std::move(alternatives);
  return g;
}

bool Glob::Match(std::string_view s) const {
  if (literal_) return s == *literal_;
  for (const auto& items : alternatives_) {
    if (MatchItems(items, 0, s, 0, separator_)) return true;
  }
  return false;
}

std::optional<LabelOperator> LabelSelector::ParseOperator(std::string_view name) {
  if (name == "In") return LabelOperator::kIn;
  if (name == "NotIn") return LabelOperator::kNotIn;
  if (name == "Exists") return LabelOperator::kExists;
  if (name == "DoesNotExist") return LabelOperator::kDoesNotExist;
  return std::nullopt;
}

Result<LabelSelector> LabelSelector::Compile(std::vector<LabelRequirement> requirements) {
  for (auto& r : requirements) {
    if (auto why = WhyBadLabelKey(r.key)) {
      return Status::InvalidArgument("invalid label key " + Quote(r.key) + ": " + *why);
    }
    std::string op(OperatorName(r.op));
    bool wants_values = r.op == LabelOperator::kIn || r.op == LabelOperator::kNotIn;
    if (wants_values && r.values.empty()) {
      return Status::InvalidArgument("label requirement on " + Quote(r.key) + ": operator " + op +
                                     " needs at least one value");
    }
    if (!wants_values && !r.values.empty()) {
      return Status::InvalidArgument("label requirement on " + Quote(r.key) + ": operator " + op +
                                     " takes no values");
    }
    for (const auto& v : r.values) {
      if (!IsLabelValue(v)) {
        return Status::InvalidArgument(
            "invalid label value " + Quote(v) + " for " + Quote(r.key) +
            ": at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending with "
            "an alphanumeric");
      }
    }
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
  }
  LabelSelector s;
  s.requirements_ = std::move(requirements);
  return s;
}

bool LabelSelector::Matches(const nlohmann::json* labels) const {
  for (const auto& r : requirements_) {
    const std::string* value = nullptr;
    if (labels != nullptr && labels->is_object()) {
      auto it = labels->find(r.key);
      if (it != labels->end() && it->is_string()) value = &it->get_ref<const std::string&>();
    }
    bool in = value != nullptr && std::binary_search(r.values.begin(), r.values.end(), *value);
    switch (r.op) {
      case LabelOperator::kIn:
        if (!in) return false;
        break;
      case LabelOperator::kNotIn:
        if (in) return false;
        break;
      case LabelOperator::kExists:
        if (value == nullptr) return false;
        break;
      case LabelOperator::kDoesNotExist:
        if (value != nullptr) return false;
        break;
    }
  }
  return true;
}

Result<std::shared_ptr<const re2::RE2>> CompileNameRegex(std::string_view pattern) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_encoding(RE2::Options::EncodingUTF8);
  auto re = std::make_shared<const re2::RE2>(re2::StringPiece(pattern.data(), pattern.size()),
                                             options);
  if (!re->ok()) {
    return Status::InvalidArgument("invalid regular expression " + Quote(pattern) + ": " +
                                   re->error());
  }
  return std::shared_ptr<const re2::RE2>(std::move(re));
}

bool MatchesTest(const nlohmann::json& object, const MatchTest& test) {
  if (const json* have = ResolvePointer(object, test.tokens)) return *have == *test.value;
  // evanphx/json-patch: a test of null passes when the parent exists but the member does not.
  if (!test.value->is_null() || test.tokens.empty()) return false;
  std::vector<std::string> parent(test.tokens.begin(), test.tokens.end() - 1);
  const json* p = ResolvePointer(object, parent);
  return p != nullptr && p->is_object();
}

bool RuleConditions::Matches(const nlohmann::json& object, std::string_view gr) const {
  if (!object.is_object()) return false;
  const std::string* ns = StringMember(object, "metadata", "namespace");
  if (ns != nullptr && !ns->empty() && !all_namespaces) {
    bool any = false;
    for (const Glob& g : namespaces) {
      if (g.Match(*ns)) {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  if (!group_resource.Match(gr)) return false;
  if (name_regex) {
    const std::string* name = StringMember(object, "metadata", "name");
    std::string_view n = name != nullptr ? std::string_view(*name) : std::string_view();
    if (!RE2::PartialMatch(re2::StringPiece(n.data(), n.size()), *name_regex)) return false;
  }
  if (label_selector) {
    const json* labels = nullptr;
    auto md = object.find("metadata");
    if (md != object.end() && md->is_object()) {
      auto it = md->find("labels");
      if (it != md->end()) labels = &*it;
    }
    if (!label_selector->Matches(labels)) return false;
  }
  for (const MatchTest& t : matches) {
    if (!MatchesTest(object, t)) return false;
  }
  return true;
}

}  // namespace kdr::transform
