#include "transform/rules.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

TEST(ResourceModifiersTest, ParsesAndCompilesTheDrSiteFile) {
  auto m = ResourceModifiers::Parse(testutil::ReadData("transforms/dr-site.yaml"), "dr-site.yaml");
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->rules().size(), 4u);
  const auto& r0 = m->rules()[0];
  EXPECT_EQ(r0.index, 0u);
  EXPECT_EQ(r0.line, 5);
  EXPECT_EQ(r0.action, ActionKind::kJsonPatch);
  EXPECT_FALSE(r0.conditions.all_namespaces);
  EXPECT_EQ(r0.conditions.namespaces.size(), 2u);
  ASSERT_EQ(r0.conditions.matches.size(), 1u);
  EXPECT_EQ(*r0.conditions.matches[0].value, json("fast-ssd"));
  const auto& r1 = m->rules()[1];
  EXPECT_EQ(r1.action, ActionKind::kMergePatch);
  ASSERT_EQ(r1.patch_data.size(), 1u);
  EXPECT_TRUE((*r1.patch_data[0])["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"]
                  .is_null());
  const auto& r2 = m->rules()[2];
  ASSERT_TRUE(r2.conditions.label_selector.has_value());
  EXPECT_EQ(r2.conditions.label_selector->requirements().size(), 2u);
  ASSERT_EQ(r2.patches.operations().size(), 2u);
  // Velero types "1" as a number; an escaped "\"true\"" stays a string.
  EXPECT_EQ(*r2.patches.operations()[0].value, json(1));
  EXPECT_EQ(*r2.patches.operations()[1].value, json("true"));
  EXPECT_TRUE(m->warnings().empty());
}

TEST(ResourceModifiersTest, AcceptsJsonFilesAndCaseInsensitiveVersion) {
  auto m = ResourceModifiers::Parse(
      R"({"version": "V1", "resourceModifierRules": [{"conditions": {"groupResource": "pods"},
          "patches": [{"operation": "remove", "path": "/spec/nodeName"}]}]})",
      "m.json");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->rules().size(), 1u);
}

TEST(ResourceModifiersTest, MatchesKeysCaseInsensitivelyLikeGo) {
  auto m = ResourceModifiers::Parse(
      "version: v1\nresourceModifierRules:\n- Conditions:\n    GroupResource: pods\n"
      "  Patches:\n  - operation: remove\n    path: /spec/nodeName\n",
      "m.yaml");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->rules()[0].action, ActionKind::kJsonPatch);
}

TEST(ResourceModifiersTest, PatchDataAcceptsYamlAndJson) {
  auto m = ResourceModifiers::Parse(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: pods}
  strategicPatches:
  - patchData: |
      {"spec": {"containers": [{"name": "app", "image": "dr.example.com/app:1"}]}}
  - patchData: |
      spec:
        nodeSelector:
          zone: dr
)",
                                    "m.yaml");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto& r = m->rules()[0];
  EXPECT_EQ(r.action, ActionKind::kStrategicPatch);
  ASSERT_EQ(r.patch_data.size(), 2u);
  EXPECT_EQ((*r.patch_data[0])["spec"]["containers"][0]["image"], "dr.example.com/app:1");
  EXPECT_EQ((*r.patch_data[1])["spec"]["nodeSelector"]["zone"], "dr");
}

TEST(ResourceModifiersTest, RuleWithoutActionsLoadsWithAWarning) {
  auto m = ResourceModifiers::Parse(
      "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n", "m.yaml");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->rules()[0].action, ActionKind::kNone);
  ASSERT_EQ(m->warnings().size(), 1u);
  EXPECT_NE(m->warnings()[0].find("no patches, mergePatches or strategicPatches"),
            std::string::npos);
}

// Velero's value typing: addQuotes in internal/resourcemodifiers/json_patch.go, after
// sigs.k8s.io/yaml has turned the YAML scalar into a Go string.
TEST(VeleroValueTest, TypesValuesLikeVelero) {
  struct Case {
    const char* value;
    json want;
  } cases[] = {
      {"", ""},
      {"premium", "premium"},
      {"null", nullptr},
      {"true", true},
      {"false", false},
      {"FALSE", false},  // ToLower == "false", then read as JSON... see the error test for "True"
      {"3", 3},
      {"-1.5", -1.5},
      {"1e3", 1000.0},
      {"\"3\"", "3"},          // escaped: the string "3"
      {"\"true\"", "true"},
      {"\"\"", ""},
      {"{\"a\": [1, 2]}", json::parse(R"({"a": [1, 2]})")},
      {"[\"x\"]", json::array({"x"})},
      {"a:b", "a:b"},
      {"1.2.3", "1.2.3"},
      {"0x10", "0x10"},        // Go's ParseFloat refuses hex without an exponent: a string
      {"v1", "v1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    auto v = VeleroValue(c.value);
    if (std::string(c.value) == "FALSE") {
      // "FALSE" is not JSON: Velero pastes it raw and fails.
      EXPECT_FALSE(v.ok());
      continue;
    }
    ASSERT_TRUE(v.ok()) << v.status().message();
    EXPECT_EQ(*v, c.want);
  }
}

TEST(VeleroValueTest, RejectsValuesVeleroCannotRead) {
  for (const char* value : {"True", "01", "+1", ".5", "NaN", "{not json", "a\\q", "say \"hi\""}) {
    SCOPED_TRACE(value);
    auto v = VeleroValue(value);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(v.status().message().find("does not read as JSON"), std::string::npos)
        << v.status().message();
  }
}

TEST(ResourceModifiersTest, TypesUnquotedYamlScalarsAsGoStrings) {
  // sigs.k8s.io/yaml formats YAML numbers and booleans into the string field before Velero
  // types it: yes -> "true" -> true; 1.0 -> "1" -> 1; ~ -> "" -> "".
  auto m = ResourceModifiers::Parse(R"(version: v1
resourceModifierRules:
- conditions: {groupResource: pods}
  patches:
  - {operation: add, path: /a, value: yes}
  - {operation: add, path: /b, value: 1.0}
  - {operation: add, path: /c, value: ~}
  - {operation: add, path: /d, value: 0x1F}
  - {operation: add, path: /e, value: '0x1F'}
  - {operation: add, path: /f}
)",
                                    "m.yaml");
  ASSERT_TRUE(m.ok()) << m.status().message();
  const auto& ops = m->rules()[0].patches.operations();
  ASSERT_EQ(ops.size(), 6u);
  EXPECT_EQ(*ops[0].value, json(true));
  EXPECT_EQ(*ops[1].value, json(1));
  EXPECT_EQ(*ops[2].value, json(""));
  EXPECT_EQ(*ops[3].value, json(31));
  EXPECT_EQ(*ops[4].value, json("0x1F"));
  EXPECT_EQ(*ops[5].value, json(""));  // no value: Velero sends ""
}

struct BadCase {
  const char* name;
  const char* yaml;
  std::vector<const char*> want;  // substrings of the error message
};

TEST(ResourceModifiersTest, RejectsBadInputWithClearMessages) {
  const BadCase cases[] = {
      {"malformed yaml", "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods\n",
       {"invalid YAML", "line 4, column 1"}},
      {"unknown version", "version: v2\nresourceModifierRules:\n- conditions: {groupResource: pods}\n"
                          "  patches: [{operation: remove, path: /x}]\n",
       {"line 1, column 10", "unsupported resource modifier version \"v2\""}},
      {"missing version", "resourceModifierRules:\n- conditions: {groupResource: pods}\n",
       {"version", "required"}},
      {"empty rules", "version: v1\nresourceModifierRules: []\n", {"cannot be empty"}},
      {"empty file", "", {"empty file"}},
      {"unknown operation",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: rename\n    path: /x\n",
       {"line 5, column 16", "patches[0].operation", "unknown operation \"rename\""}},
      {"capitalised operation",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: Replace\n    path: /x\n    value: y\n",
       {"unknown operation \"Replace\"", "did you mean \"replace\""}},
      {"missing path",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: remove\n",
       {"line 5", "patches[0].path", "required"}},
      {"bad pointer",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: remove\n    path: spec/x\n",
       {"patches", "must be empty or start with \"/\""}},
      {"move without from",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: move\n    path: /x\n",
       {"patches[0].from", "required for move"}},
      {"invalid regex",
       "version: v1\nresourceModifierRules:\n- conditions:\n    groupResource: pods\n"
       "    resourceNameRegex: \"(web\"\n  patches: [{operation: remove, path: /x}]\n",
       {"line 5, column 24", "resourceNameRegex", "invalid regular expression \"(web\""}},
      {"two action lists",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n"
       "  patches: [{operation: remove, path: /x}]\n  mergePatches: [{patchData: '{}'}]\n",
       {"resourceModifierRules[0]", "only one of patches, mergePatches, strategicPatches",
        "patches and mergePatches"}},
      {"unknown key with its line",
       "version: v1\nresourceModifierRules:\n- conditions:\n    groupResource: pods\n"
       "    namespace: [shop]\n  patches: [{operation: remove, path: /x}]\n",
       {"line 5, column 5", "unknown key \"namespace\"", "did you mean \"namespaces\""}},
      {"unknown top-level key", "version: v1\nrules: []\nresourceModifierRules: []\n",
       {"line 2, column 1", "unknown key \"rules\""}},
      {"missing groupResource",
       "version: v1\nresourceModifierRules:\n- conditions: {namespaces: [shop]}\n"
       "  patches: [{operation: remove, path: /x}]\n",
       {"groupResource", "required"}},
      {"bad groupResource glob",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: \"[pods\"}\n"
       "  patches: [{operation: remove, path: /x}]\n",
       {"groupResource", "bad glob"}},
      {"bad label operator",
       "version: v1\nresourceModifierRules:\n- conditions:\n    groupResource: pods\n"
       "    labelSelector:\n      matchExpressions:\n      - {key: app, operator: Equals, values: [x]}\n"
       "  patches: [{operation: remove, path: /x}]\n",
       {"matchExpressions[0].operator", "\"Equals\" is not a valid label selector operator"}},
      {"match without path",
       "version: v1\nresourceModifierRules:\n- conditions:\n    groupResource: pods\n"
       "    matches: [{value: x}]\n  patches: [{operation: remove, path: /x}]\n",
       {"matches[0].path", "required"}},
      {"structured value",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: add\n    path: /x\n    value: {a: b}\n",
       {"line 7", "patches[0].value", "must be a string", "quoted string"}},
      {"unreadable value",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n  patches:\n"
       "  - operation: add\n    path: /x\n    value: \"True\"\n",
       {"patches[0].value", "does not read as JSON"}},
      {"patchData not an object",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n"
       "  mergePatches:\n  - patchData: \"[1, 2]\"\n",
       {"mergePatches[0].patchData", "must be a YAML or JSON object"}},
      {"malformed patchData",
       "version: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n"
       "  mergePatches:\n  - patchData: |\n      {\"a\": \n",
       {"mergePatches[0].patchData", "invalid YAML"}},
      {"duplicate key",
       "version: v1\nversion: v1\nresourceModifierRules:\n- conditions: {groupResource: pods}\n",
       {"line 2", "duplicate key \"version\""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto m = ResourceModifiers::Parse(c.yaml, "m.yaml");
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message().rfind("m.yaml: ", 0), 0u) << m.status().message();
    for (const char* w : c.want) {
      EXPECT_NE(m.status().message().find(w), std::string::npos)
          << "want \"" << w << "\" in: " << m.status().message();
    }
  }
}

TEST(ResourceModifiersTest, ListsEveryProblemNotJustTheFirst) {
  ModifierDiagnostics d;
  auto m = ResourceModifiers::Load(testutil::ReadData("transforms/invalid.yaml"), &d);
  EXPECT_FALSE(m.has_value());
  ASSERT_EQ(d.problems.size(), 4u) << testing::PrintToString(d.problems);
  EXPECT_NE(d.problems[0].find("unsupported resource modifier version"), std::string::npos);
  EXPECT_NE(d.problems[1].find("unknown key \"groupKind\""), std::string::npos);
  EXPECT_NE(d.problems[2].find("invalid regular expression"), std::string::npos);
  EXPECT_NE(d.problems[3].find("unknown operation \"rename\""), std::string::npos);
  auto parsed = ResourceModifiers::Parse(testutil::ReadData("transforms/invalid.yaml"), "bad.yaml");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("bad.yaml: 4 problems:\n  line "), std::string::npos)
      << parsed.status().message();
}

}  // namespace
}  // namespace kdr::transform
