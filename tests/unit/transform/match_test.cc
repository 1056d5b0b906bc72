#include "transform/match.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "transform/json_patch.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

TEST(GlobTest, GroupResourceUsesDotAsSeparatorLikeVelero) {
  struct Case {
    const char* pattern;
    const char* subject;
    bool want;
  } cases[] = {
      {"persistentvolumeclaims", "persistentvolumeclaims", true},
      {"deployments", "deployments.apps", false},  // no implicit group
      {"deployments.apps", "deployments.apps", true},
      {"*", "pods", true},                         // core resources only
      {"*", "deployments.apps", false},
      {"*.apps", "deployments.apps", true},
      {"*.apps", "pods", false},
      {"*.networking.k8s.io", "ingresses.networking.k8s.io", true},
      {"*.k8s.io", "ingresses.networking.k8s.io", false},
      {"**", "ingresses.networking.k8s.io", true},
      {"**.k8s.io", "ingresses.networking.k8s.io", true},
      {"deploy*.apps", "deployments.apps", true},
      {"?ods", "pods", true},
      {"?ods", "ppods", false},
      {"{deployments,statefulsets}.apps", "statefulsets.apps", true},
      {"{deployments,statefulsets}.apps", "daemonsets.apps", false},
      {"[ps]ods", "pods", true},
      {"[!p]ods", "pods", false},
      {"[a-c]ronjobs.batch", "cronjobs.batch", true},
      {"virtualmachines.kubevirt.io", "virtualmachines.kubevirt.io", true},
      {"Deployments.apps", "deployments.apps", false},  // case-sensitive
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.pattern) + " ~ " + c.subject);
    auto g = Glob::Compile(c.pattern, '.');
    ASSERT_TRUE(g.ok()) << g.status().message();
    EXPECT_EQ(g->Match(c.subject), c.want);
  }
}

TEST(GlobTest, NamespaceGlobHasNoSeparator) {
  auto g = Glob::Compile("team-*", std::nullopt);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->Match("team-a.b"));
  EXPECT_TRUE(g->Match("team-"));
  EXPECT_FALSE(g->Match("xteam-a"));
}

TEST(GlobTest, RejectsMalformedPatterns) {
  for (const char* p : {"[abc", "{a,b", "pods\\", "[]"}) {
    SCOPED_TRACE(p);
    auto g = Glob::Compile(p, '.');
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(g.status().message().find("bad glob"), std::string::npos) << g.status().message();
  }
}

TEST(LabelSelectorTest, OperatorsMatchLikeKubernetes) {
  auto sel = LabelSelector::Compile({{"app", LabelOperator::kIn, {"web", "api"}},
                                     {"tier", LabelOperator::kNotIn, {"cache"}},
                                     {"team", LabelOperator::kExists, {}},
                                     {"legacy", LabelOperator::kDoesNotExist, {}}});
  ASSERT_TRUE(sel.ok()) << sel.status().message();
  struct Case {
    const char* name;
    json labels;
    bool want;
  } cases[] = {
      {"all hold", {{"app", "web"}, {"team", "a"}}, true},
      {"in fails", {{"app", "db"}, {"team", "a"}}, false},
      {"notin holds when absent", {{"app", "api"}, {"team", "a"}}, true},
      {"notin fails", {{"app", "api"}, {"team", "a"}, {"tier", "cache"}}, false},
      {"exists fails", {{"app", "web"}}, false},
      {"doesnotexist fails", {{"app", "web"}, {"team", "a"}, {"legacy", ""}}, false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(sel->Matches(&c.labels), c.want);
  }
  EXPECT_FALSE(sel->Matches(nullptr));
}

TEST(LabelSelectorTest, EmptySelectorMatchesEverything) {
  auto sel = LabelSelector::Compile({});
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches(nullptr));
}

TEST(LabelSelectorTest, RejectsBadRequirements) {
  struct Case {
    const char* name;
    LabelRequirement req;
    const char* want;
  } cases[] = {
      {"in without values", {"app", LabelOperator::kIn, {}}, "needs at least one value"},
      {"exists with values", {"app", LabelOperator::kExists, {"x"}}, "takes no values"},
      {"bad key", {"-app", LabelOperator::kExists, {}}, "invalid label key"},
      {"bad prefix", {"Example.COM/app", LabelOperator::kExists, {}}, "prefix"},
      {"bad value", {"app", LabelOperator::kIn, {"a b"}}, "invalid label value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto sel = LabelSelector::Compile({c.req});
    ASSERT_FALSE(sel.ok());
    EXPECT_EQ(sel.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(sel.status().message().find(c.want), std::string::npos) << sel.status().message();
  }
}

TEST(NameRegexTest, IsAnUnanchoredSearch) {
  auto re = CompileNameRegex("sql");
  ASSERT_TRUE(re.ok());
  RuleConditions c;
  c.group_resource = *Glob::Compile("**", '.');
  c.name_regex = *re;
  EXPECT_TRUE(c.Matches(json{{"metadata", {{"name", "mysql-0"}}}}, "pods"));
  EXPECT_FALSE(c.Matches(json{{"metadata", {{"name", "redis"}}}}, "pods"));
  c.name_regex = *CompileNameRegex("^mysql.*$");
  EXPECT_TRUE(c.Matches(json{{"metadata", {{"name", "mysql-0"}}}}, "pods"));
  EXPECT_FALSE(c.Matches(json{{"metadata", {{"name", "my-mysql"}}}}, "pods"));
}

TEST(NameRegexTest, RejectsInvalidRegex) {
  auto re = CompileNameRegex("(unclosed");
  ASSERT_FALSE(re.ok());
  EXPECT_EQ(re.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(re.status().message().find("invalid regular expression \"(unclosed\""),
            std::string::npos)
      << re.status().message();
}

MatchTest Check(const char* path, json value) {
  return MatchTest{path, *ParseJsonPointer(path), std::make_shared<const json>(std::move(value))};
}

TEST(MatchesTest, IsExactJsonEquality) {
  json obj = json::parse(R"({"spec": {"replicas": 3, "class": "nginx", "ports": [{"port": 80}],
                             "labels": {"a": "b"}}})");
  struct Case {
    const char* path;
    json value;
    bool want;
  } cases[] = {
      {"/spec/replicas", 3, true},
      {"/spec/replicas", 3.0, true},     // numbers compare by value
      {"/spec/replicas", "3", false},    // a string is not a number
      {"/spec/class", "nginx", true},
      {"/spec/class", "ngin", false},    // not a regex, not a prefix
      {"/spec/class", ".*", false},
      {"/spec/ports/0/port", 80, true},
      {"/spec/ports", json::parse(R"([{"port": 80}])"), true},
      {"/spec/labels", json::parse(R"({"a": "b"})"), true},
      {"/spec/missing", "x", false},     // missing path: no match, not an error
      {"/nope/deeper", nullptr, false},  // missing parent: no match even for null
      {"/spec/ports/5/port", 80, false}, // index out of range
      {"/spec/missing", nullptr, true},  // evanphx quirk: null matches a missing member
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.path) + " == " + c.value.dump());
    EXPECT_EQ(MatchesTest(obj, Check(c.path, c.value)), c.want);
  }
}

TEST(RuleConditionsTest, NamespacesAreGlobsAndSkipClusterScopedObjects) {
  RuleConditions c;
  c.group_resource = *Glob::Compile("**", '.');
  c.namespaces = {*Glob::Compile("shop", std::nullopt), *Glob::Compile("team-*", std::nullopt)};
  c.all_namespaces = false;
  auto in = [](const char* ns) { return json{{"metadata", {{"name", "x"}, {"namespace", ns}}}}; };
  EXPECT_TRUE(c.Matches(in("shop"), "pods"));
  EXPECT_TRUE(c.Matches(in("team-blue"), "pods"));
  EXPECT_FALSE(c.Matches(in("payments"), "pods"));
  // Cluster-scoped (no namespace): the namespaces condition does not apply.
  EXPECT_TRUE(c.Matches(json{{"metadata", {{"name", "pv-1"}}}}, "persistentvolumes"));
}

}  // namespace
}  // namespace kdr::transform
