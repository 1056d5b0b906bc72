#pragma once

// The conditions of a Velero resource-modifier rule, compiled once and judged against many
// objects: groupResource and namespace globs, the resourceNameRegex, the labelSelector and the
// `matches` path/value tests. Semantics follow Velero (internal/resourcemodifiers):
//   - groupResource is a gobwas glob with '.' as the separator, matched against the whole
//     "resource.group" string ("deployments.apps"; core resources have no group: "pods"). So "*"
//     matches core resources only, "*.apps" matches "deployments.apps", "**" matches everything
//     and "deployments" does not match "deployments.apps".
//   - namespaces entries are globs without separators ("shop-*"); an empty list or "*" admits
//     every namespace; a cluster-scoped object (no metadata.namespace) is never filtered by them.
//   - resourceNameRegex is an unanchored RE2 search in metadata.name (Go's regexp.MatchString).
//   - labelSelector is a metav1.LabelSelector (matchLabels, matchExpressions with In, NotIn,
//     Exists, DoesNotExist); an empty selector matches everything.
//   - matches are JSON-patch `test`s: exact JSON equality at a JSON pointer. A missing path is no
//     match, with evanphx/json-patch's quirk kept: when the parent exists and the member does
//     not, an expected null matches.
// Everything here is immutable once compiled and safe to share between threads.

#include <nlohmann/json_fwd.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace re2 {
class RE2;
}

namespace kdr::transform {

// A gobwas/glob pattern: '*' (any run of non-separator characters), '**' (any run), '?' (one
// non-separator character), '[abc]' '[a-z]' '[!a-z]' (classes), '{a,b*}' (alternatives) and '\'
// escapes; the whole string must match.
class Glob {
 public:
  // separator: '.' for groupResource, nullopt for namespaces. InvalidArgument for an unclosed
  // '[' or '{', an empty class, a trailing '\' or a pattern with too many alternatives.
  static Result<Glob> Compile(std::string_view pattern, std::optional<char> separator);

  bool Match(std::string_view s) const;
  const std::string& pattern() const { return pattern_; }

  // One item of a compiled pattern; public so the matcher in the .cc can walk it.
  struct Item {
    enum class Type { kLiteral, kStar, kSuperStar, kSingle, kClass } type;
    char literal = 0;
    bool negated = false;
    std::vector<std::pair<char, char>> ranges;  // kClass: inclusive ranges
  };

 private:
  std::string pattern_;
  std::optional<char> separator_;
  // The pattern with its {a,b} alternatives expanded: the glob matches when any sequence does.
  std::vector<std::vector<Item>> alternatives_;
  std::optional<std::string> literal_;  // set when the pattern has no metacharacters
};

// One requirement of a label selector.
enum class LabelOperator { kIn, kNotIn, kExists, kDoesNotExist };

struct LabelRequirement {
  std::string key;
  LabelOperator op = LabelOperator::kIn;
  std::vector<std::string> values;  // sorted, unique
};

// A compiled metav1.LabelSelector.
class LabelSelector {
 public:
  // matchLabels become In requirements with one value. Validation as metav1.LabelSelectorAsSelector
  // does it: keys are qualified names ([prefix/]name), values valid label values, In/NotIn need
  // values, Exists/DoesNotExist take none. InvalidArgument naming the key and the reason.
  static Result<LabelSelector> Compile(std::vector<LabelRequirement> requirements);

  // "In" for a Kubernetes operator name, nullopt for an unknown one.
  static std::optional<LabelOperator> ParseOperator(std::string_view name);

  // labels: the object's metadata.labels (an object of strings), or nullptr when it has none.
  bool Matches(const nlohmann::json* labels) const;

  const std::vector<LabelRequirement>& requirements() const { return requirements_; }

 private:
  std::vector<LabelRequirement> requirements_;
};

// One `matches` entry: the value at `path` must equal `value`.
struct MatchTest {
  std::string path;  // as written, for messages
  std::vector<std::string> tokens;
  std::shared_ptr<const nlohmann::json> value;
};

// All conditions of one rule.
struct RuleConditions {
  Glob group_resource;
  std::vector<Glob> namespaces;  // empty, or containing "*": every namespace
  bool all_namespaces = true;
  std::shared_ptr<const re2::RE2> name_regex;  // null: any name
  std::optional<LabelSelector> label_selector;
  std::vector<MatchTest> matches;

  // True when the object (a Kubernetes object as JSON) of this groupResource satisfies every
  // condition. Never fails: missing fields simply do not match.
  bool Matches(const nlohmann::json& object, std::string_view group_resource) const;
};

// RE2 options matching Go's regexp (UTF-8, Perl classes, no logging). InvalidArgument quoting
// the pattern and RE2's reason when it does not compile.
Result<std::shared_ptr<const re2::RE2>> CompileNameRegex(std::string_view pattern);

// Velero's `matches` test: see the file comment.
bool MatchesTest(const nlohmann::json& object, const MatchTest& test);

}  // namespace kdr::transform
