// The limits every YAML reader shares (base/yaml.h): aliases, nesting, UTF-8.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/yaml.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;

TEST(YamlLimitsTest, HostileDocumentsAreRefusedByEveryReader) {
  struct Case {
    const char* name;
    std::string text;
    std::string want;
  } cases[] = {
      {"alias bomb", testutil::ReadData("fuzz-seeds/yaml/alias-bomb.yaml"),
       "bomb.yaml: invalid YAML at line 12, column 27: aliases expand the document past 1051400 "
       "nodes and scalar bytes (4 times its size plus 1 MiB); write the repeated parts out "
       "instead of aliasing them"},
      {"bad utf-8", testutil::ReadData("fuzz-seeds/yaml/bad-utf8.yaml"),
       "bomb.yaml: invalid YAML at line 3, column 18: invalid UTF-8 (byte \\xff at offset 0 of a "
       "scalar); YAML must be UTF-8"},
      {"bad utf-8 in a key", "a: 1\n\xc3: 2\n", "invalid YAML at line 2, column 1: invalid UTF-8"},
      {"too deep for yaml-cpp", testutil::ReadData("fuzz-seeds/yaml/deep-flow.yaml"),
       "nests about 500 levels deep, past yaml-cpp's limit"},
      // yaml-cpp 0.7 makes endless empty documents of a "," it cannot place (a quoted scalar or a
      // flow collection followed by one), allocating for each: the process stalled for minutes.
      {"comma after a quoted scalar", " \"v1alpha1\",\n \"kind\": \"DRRecovery\"\n",
       "bomb.yaml: invalid YAML at line 1, column 12: unexpected \",\""},
      {"comma after a flow mapping", "{a: 1},", "invalid YAML at line 1, column 7: unexpected \",\""},
      {"comma after a flow sequence", "[a], [b]", "invalid YAML at line 1, column 4: unexpected \",\""},
      {"a lone comma", ",", "invalid YAML at line 1, column 1: unexpected \",\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto docs = YamlDocumentsToJson(c.text, "bomb.yaml");
    ASSERT_FALSE(docs.ok());
    EXPECT_EQ(docs.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(docs.status().message().find(c.want), std::string::npos) << docs.status().message();
    auto one = YamlToJson(c.text, "bomb.yaml");
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.status().message(), docs.status().message());
    auto nodes = LoadYamlDocuments(c.text, "bomb.yaml");
    ASSERT_FALSE(nodes.ok());
    EXPECT_EQ(nodes.status().message(), docs.status().message());
  }
}

TEST(YamlLimitsTest, ModestAliasesStillExpand) {
  auto r = YamlToJson("base: &b {cpu: 1, tags: [a, b]}\nx: *b\ny: [*b, *b]\n", "f");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["y"][1], json({{"cpu", 1}, {"tags", {"a", "b"}}}));
  // Well past the text's size, within the 1 MiB every document may expand by.
  std::string text = "a: &a [" + std::string(1000, 'x') + "]\nb: [";
  for (int i = 0; i < 500; ++i) text += "*a, ";
  text += "*a]\n";
  EXPECT_TRUE(YamlToJson(text, "f").ok());
}

// A text with aliases is read twice, checked and then built: what the build alone refuses is
// still refused after an alias, and documents before and after the first alias are all kept.
TEST(YamlLimitsTest, TextsWithAliasesAreBuiltWhole) {
  auto dup = YamlToJson("a: &a 1\nb: *a\nb: 2\n", "f");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("duplicate key \"b\""), std::string::npos)
      << dup.status().message();
  auto key = YamlToJson("a: &a [1]\n? *a\n: 2\n", "f");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find("mapping keys must be scalars"), std::string::npos)
      << key.status().message();
  auto docs = YamlDocumentsToJson("x: 1\n---\na: &a [1, 2]\nb: *a\n---\nc: 3\n", "f");
  ASSERT_TRUE(docs.ok()) << docs.status().message();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0], json({{"x", 1}}));
  EXPECT_EQ((*docs)[1], json({{"a", {1, 2}}, {"b", {1, 2}}}));
  EXPECT_EQ((*docs)[2], json({{"c", 3}}));
}

TEST(YamlLimitsTest, DocumentsWithoutAliasesNeverReachTheBudget) {
  // The densest YAML there is, two nodes and scalar bytes per two bytes of text, well over the
  // 1 MiB every document may add.
  std::string flow = "[";
  for (int i = 0; i < 600000; ++i) flow += "a,";
  flow += "a]";
  auto r = YamlToJson(flow, "f");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->size(), 600001u);
}

TEST(YamlLimitsTest, NestingYamlCppAcceptsConvertsAndPrints) {
  const std::string text = std::string(400, '[') + "1" + std::string(400, ']');
  auto r = YamlToJson(text, "f");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(NestsDeeperThan(*r, 400));
  EXPECT_TRUE(NestsDeeperThan(*r, 399));
  EXPECT_FALSE(JsonToYaml(*r).empty());
}

TEST(YamlLimitsTest, DeepValuesPrintInFlowStylePastABlockDepth) {
  // Objects in lists in objects, 150 levels: block style to level 64, flow below, reads back.
  json v = "leaf: with colon";
  for (int i = 0; i < 50; ++i) v = json{{"k", json::array({json{{"a", 1}, {"b", v}}})}};
  std::string text = JsonToYaml(v);
  EXPECT_EQ(text.substr(0, 33), "k:\n- a: 1\n  b:\n    k:\n    - a: 1\n");
  EXPECT_NE(text.find("{\"a\":1,\"b\":{\"k\":[{"), std::string::npos);
  auto back = YamlToJson(text, "printed");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, v);
  // The deepest object accepted prints in linear size (block style all the way: ~100 MB).
  json deep = 1;
  for (int i = 0; i < kMaxJsonDepth - 1; ++i) deep = json::array({std::move(deep)});
  EXPECT_LT(JsonToYaml(json{{"x", deep}}).size(), 30000u);
}

TEST(YamlLimitsTest, OutOfRangeFloatsAreStringsAsInGoYaml) {
  auto r = YamlToJson("apiVersion: 1e99999\nsmall: 1e-99999\n", "f");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["apiVersion"], "1e99999");
  EXPECT_EQ((*r)["small"], 0.0);
}

}  // namespace
}  // namespace kdr
