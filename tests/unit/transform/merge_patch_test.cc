#include "transform/merge_patch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

// The RFC 7386 appendix A table and Kubernetes-shaped cases from
// tests/data/patches/merge_patch_cases.json.
TEST(MergePatchTest, AppliesFixtureCases) {
  json cases = json::parse(testutil::ReadData("patches/merge_patch_cases.json"));
  ASSERT_GE(cases.size(), 15u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    json doc = c["doc"];
    ApplyMergePatch(&doc, c["patch"]);
    EXPECT_EQ(doc, c["want"]) << doc.dump();
  }
}

TEST(CreateMergePatchTest, ProducesMinimalPatch) {
  struct Case {
    const char* name;
    const char* from;
    const char* to;
    const char* want;
  } cases[] = {
      {"equal objects", R"({"a": {"b": [1]}})", R"({"a": {"b": [1]}})", "{}"},
      {"changed scalar", R"({"a": 1, "b": 2})", R"({"a": 1, "b": 3})", R"({"b": 3})"},
      {"deleted member is null", R"({"a": 1, "b": 2})", R"({"a": 1})", R"({"b": null})"},
      {"added member", R"({"a": 1})", R"({"a": 1, "c": {"d": true}})", R"({"c": {"d": true}})"},
      {"nested change only", R"({"m": {"l": {"x": "1", "y": "2"}, "n": "w"}})",
       R"({"m": {"l": {"x": "1", "y": "3"}, "n": "w"}})", R"({"m": {"l": {"y": "3"}}})"},
      {"arrays replaced wholesale", R"({"a": [1, 2, 3]})", R"({"a": [1, 2, 4]})",
       R"({"a": [1, 2, 4]})"},
      {"type change", R"({"a": {"b": 1}})", R"({"a": "s"})", R"({"a": "s"})"},
      {"scalar to object", R"({"a": 1})", R"({"a": {"b": 1}})", R"({"a": {"b": 1}})"},
      {"integer and float equal", R"({"a": 1})", R"({"a": 1.0})", "{}"},
      {"non-object target", R"({"a": 1})", R"([1])", "[1]"},
      {"non-object source", R"([1])", R"({"a": 1})", R"({"a": 1})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json from = json::parse(c.from);
    json to = json::parse(c.to);
    json patch = CreateMergePatch(from, to);
    EXPECT_EQ(patch, json::parse(c.want)) << patch.dump();
    ApplyMergePatch(&from, patch);
    EXPECT_EQ(from, to) << "applying the created patch must give the target";
  }
}

// Round trip over the fixture documents: for every pair of (null-free) documents, the created
// patch turns one into the other.
TEST(CreateMergePatchTest, RoundTripsFixtureDocuments) {
  json cases = json::parse(testutil::ReadData("patches/merge_patch_cases.json"));
  std::vector<json> docs;
  for (const json& c : cases) {
    for (const char* k : {"doc", "want"}) {
      if (c[k].dump().find("null") == std::string::npos) docs.push_back(c[k]);
    }
  }
  for (const json& a : docs) {
    for (const json& b : docs) {
      json doc = a;
      ApplyMergePatch(&doc, CreateMergePatch(a, b));
      EXPECT_EQ(doc, b) << a.dump() << " -> " << b.dump();
    }
  }
}

}  // namespace
}  // namespace kdr::transform
