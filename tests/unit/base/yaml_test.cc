#include "base/yaml.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace kdr {
namespace {

using nlohmann::json;

TEST(YamlToJsonTest, TypesPlainScalarsLikeKubernetes) {
  struct Case {
    std::string yaml;
    json want;
  } cases[] = {
      {"a: 1", {{"a", 1}}},
      {"a: -0x1F", {{"a", -31}}},
      {"a: 0o17", {{"a", 15}}},
      {"a: 1.5", {{"a", 1.5}}},
      {"a: 1e3", {{"a", 1000.0}}},
      {"a: true", {{"a", true}}},
      {"a: yes", {{"a", true}}},
      {"a: Off", {{"a", false}}},
      {"a: ~", {{"a", nullptr}}},
      {"a:", {{"a", nullptr}}},
      {"a: \"1\"", {{"a", "1"}}},
      {"a: 'true'", {{"a", "true"}}},
      {"a: v1.2.3", {{"a", "v1.2.3"}}},
      {"a: [1, x, {b: null}]", {{"a", json::array({1, "x", {{"b", nullptr}}})}}},
      {"a: |\n  line1\n  line2\n", {{"a", "line1\nline2\n"}}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.yaml);
    auto r = YamlToJson(c.yaml, "test");
    ASSERT_TRUE(r.ok()) << r.status().message();
    EXPECT_EQ(*r, c.want);
  }
}

TEST(YamlToJsonTest, SyntaxErrorNamesSourceLineAndColumn) {
  auto r = YamlToJson("a: 1\nb: [1, 2\nc: 3\n", "modifiers rules.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("modifiers rules.yaml"), std::string::npos);
  EXPECT_NE(r.status().message().find("line "), std::string::npos) << r.status().message();
}

TEST(YamlToJsonTest, DuplicateKeyIsAnError) {
  auto r = YamlToJson("a: 1\na: 2\n", "f.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("duplicate key \"a\""), std::string::npos);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos);
}

TEST(YamlToJsonTest, MultipleDocumentsNeedTheStreamReader) {
  EXPECT_FALSE(YamlToJson("a: 1\n---\nb: 2\n", "f").ok());
  auto docs = YamlDocumentsToJson("a: 1\n---\n---\nb: 2\n", "f");
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[1], (json{{"b", 2}}));
}

TEST(JsonToYamlTest, RoundTripsTrickyValues) {
  json v = {{"apiVersion", "v1"},
            {"kind", "ConfigMap"},
            {"data",
             {{"on", "yes"},
              {"num", "0123"},
              {"empty", ""},
              {"colon", "a: b"},
              {"multi", "x\ny\n"},
              {"dash", "-x"},
              {"null", nullptr}}},
            {"items", json::array({json::object({{"name", "a"}, {"ports", json::array({80, 443})}}),
                                   json::array({1, 2}), "s", json::object()})},
            {"f", 1.5},
            {"t", true}};
  std::string yaml = JsonToYaml(v);
  auto back = YamlToJson(yaml, "emitted");
  ASSERT_TRUE(back.ok()) << back.status().message() << "\n" << yaml;
  EXPECT_EQ(*back, v) << yaml;
}

TEST(JsonToYamlTest, PrintsLikeKubectl) {
  json v = {{"metadata", {{"name", "web"}, {"labels", {{"app", "web"}}}}},
            {"spec", {{"ports", json::array({json::object({{"port", 80}})})}}}};
  EXPECT_EQ(JsonToYaml(v),
            "metadata:\n  labels:\n    app: web\n  name: web\nspec:\n  ports:\n  - port: 80\n");
}

}  // namespace
}  // namespace kdr
