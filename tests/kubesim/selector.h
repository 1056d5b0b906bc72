#pragma once

// Label and field selectors with kube-apiserver's grammar and errors.
//   labels: "a=b,c==d,e!=f,g in (x,y),h notin (z),i,!j"
//   fields: "metadata.name=x,status.phase!=Running" (only =, ==, !=)

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr::kubesim {

class LabelSelector {
 public:
  // InvalidArgument with kube's message ("unable to parse requirement: ...") when malformed.
  static Result<LabelSelector> Parse(std::string_view text);
  // labels: the metadata.labels object (or null).
  bool Matches(const nlohmann::json& labels) const;
  bool empty() const { return reqs_.empty(); }

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };
  std::vector<Requirement> reqs_;
};

class FieldSelector {
 public:
  // allowed: field labels accepted besides metadata.name and metadata.namespace. BadRequest-style
  // InvalidArgument ("field label not supported: spec.foo") for others.
  static Result<FieldSelector> Parse(std::string_view text, const std::vector<std::string>& allowed);
  // The object's value at each field path ("" when absent; booleans as "true"/"false").
  bool Matches(const nlohmann::json& object) const;
  bool empty() const { return reqs_.empty(); }
  // The value required by metadata.name=X / metadata.namespace=X, if any (for fast paths).
  std::string RequiredValue(std::string_view field) const;

 private:
  struct Requirement {
    std::string field;
    bool negate;
    std::string value;
  };
  std::vector<Requirement> reqs_;
};

// metadata.labels as a LabelSelector object ({matchLabels, matchExpressions}) -> selector text
// ("app=web,tier in (a,b)"), for the scale subresource's status.selector.
std::string LabelSelectorObjectToString(const nlohmann::json& selector);

}  // namespace kdr::kubesim
