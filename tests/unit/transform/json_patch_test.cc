#include "transform/json_patch.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "testutil/testutil.h"

namespace kdr::transform {
namespace {

using nlohmann::json;

json Cases(const std::string& file) {
  return json::parse(testutil::ReadData("patches/" + file));
}

// Every case of tests/data/patches/json_patch_cases.json: the RFC 6902 appendix A examples and
// ours. A case with "want" must apply to exactly that; a case with "error" must fail with that
// code and text and leave the document unchanged.
TEST(JsonPatchTest, AppliesFixtureCases) {
  json cases = Cases("json_patch_cases.json");
  ASSERT_GT(cases.size(), 40u);
  for (const json& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    json doc = c["doc"];
    Status s = ApplyJsonPatch(&doc, c["patch"]);
    if (c.contains("want")) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(doc, c["want"]) << doc.dump();
    } else {
      ASSERT_FALSE(s.ok());
      EXPECT_EQ(StatusCodeName(s.code()), c["code"].get<std::string>()) << s.ToString();
      EXPECT_NE(s.message().find(c["error"].get<std::string>()), std::string::npos)
          << s.message();
      EXPECT_EQ(doc, c["doc"]) << "a failed patch changed the document";
    }
  }
}

TEST(JsonPatchTest, CompileRejectsMalformedOperations) {
  struct Case {
    const char* name;
    const char* ops;
    const char* want;
  } cases[] = {
      {"not an array", R"({"op": "add"})", "must be an array of operations, not an object"},
      {"operation not an object", R"(["add"])", "operation 0: must be an object"},
      {"missing op", R"([{"path": "/a"}])", "operation 0: missing op"},
      {"op not a string", R"([{"op": 1, "path": "/a"}])", "operation 0: op must be a string"},
      {"unknown op", R"([{"op": "add", "path": "/a", "value": 1}, {"op": "rename", "path": "/a"}])",
       "operation 1: unknown op \"rename\""},
      {"typo op suggests", R"([{"op": "replac", "path": "/a", "value": 1}])",
       "did you mean \"replace\"?"},
      {"missing path", R"([{"op": "remove"}])", "operation 0 (remove): missing path"},
      {"path not a string", R"([{"op": "remove", "path": 3}])", "path must be a string"},
      {"path without slash", R"([{"op": "remove", "path": "a/b"}])",
       "operation 0 (remove a/b): path: json pointer \"a/b\" must be empty or start with \"/\""},
      {"bad escape", R"([{"op": "remove", "path": "/a~2"}])", "bad escape"},
      {"trailing tilde", R"([{"op": "remove", "path": "/a~"}])", "bad escape"},
      {"add without value", R"([{"op": "add", "path": "/a"}])", "operation 0 (add /a): missing value"},
      {"replace without value", R"([{"op": "replace", "path": "/a"}])", "missing value"},
      {"test without value", R"([{"op": "test", "path": "/a"}])", "missing value"},
      {"move without from", R"([{"op": "move", "path": "/a"}])", "operation 0 (move /a): missing from"},
      {"copy without from", R"([{"op": "copy", "path": "/a"}])", "missing from"},
      {"from not a string", R"([{"op": "copy", "path": "/a", "from": 1}])", "from must be a string"},
      {"bad from pointer", R"([{"op": "copy", "path": "/a", "from": "b"}])", "from: json pointer"},
      {"move into own child", R"([{"op": "move", "from": "/a", "path": "/a/b"}])",
       "from \"/a\" is a proper prefix of path"},
      {"move from the root", R"([{"op": "move", "from": "", "path": "/a"}])", "proper prefix"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto patch = JsonPatch::Compile(json::parse(c.ops));
    ASSERT_FALSE(patch.ok());
    EXPECT_EQ(patch.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(patch.status().message().find(c.want), std::string::npos)
        << patch.status().message();
  }
}

TEST(JsonPatchTest, CompileKeepsParsedOperations) {
  auto patch = JsonPatch::Compile(json::parse(R"([
      {"op": "add", "path": "/a~1b/-", "value": {"x": [1]}},
      {"op": "move", "from": "/c", "path": "/d"},
      {"op": "test", "path": "/e", "value": null}])"));
  ASSERT_TRUE(patch.ok()) << patch.status().ToString();
  const auto& ops = patch->operations();
  ASSERT_EQ(ops.size(), 3u);
  EXPECT_EQ(ops[0].op, JsonPatchOp::kAdd);
  EXPECT_EQ(ops[0].path, "/a~1b/-");
  EXPECT_EQ(ops[0].path_tokens, (std::vector<std::string>{"a/b", "-"}));
  EXPECT_EQ(ops[0].value_json, R"({"x":[1]})");
  ASSERT_NE(ops[0].value, nullptr);
  EXPECT_EQ(*ops[0].value, json::parse(R"({"x":[1]})"));
  EXPECT_EQ(ops[1].op, JsonPatchOp::kMove);
  EXPECT_EQ(ops[1].from_tokens, std::vector<std::string>{"c"});
  EXPECT_EQ(ops[1].value, nullptr);
  ASSERT_NE(ops[2].value, nullptr);
  EXPECT_TRUE(ops[2].value->is_null());
  EXPECT_EQ(ops[2].value_json, "null");
}

TEST(JsonPatchTest, CompiledPatchAppliesToManyDocuments) {
  auto patch = JsonPatch::Compile(json::parse(
      R"([{"op": "replace", "path": "/spec/storageClassName", "value": "fast"}])"));
  ASSERT_TRUE(patch.ok());
  for (int i = 0; i < 3; ++i) {
    json doc = {{"spec", {{"storageClassName", "slow"}, {"i", i}}}};
    ASSERT_TRUE(patch->Apply(&doc).ok());
    EXPECT_EQ(doc["spec"]["storageClassName"], "fast");
    EXPECT_EQ(doc["spec"]["i"], i);
  }
  json missing = {{"spec", json::object()}};
  EXPECT_EQ(patch->Apply(&missing).code(), StatusCode::kInvalidArgument);
}

TEST(JsonPatchTest, CompiledPatchIsSafeToShareAcrossThreads) {
  auto patch = JsonPatch::Compile(json::parse(
      R"([{"op": "add", "path": "/a/-", "value": {"deep": [1, 2, 3]}},
          {"op": "copy", "from": "/a/0", "path": "/b"}])"));
  ASSERT_TRUE(patch.ok());
  std::vector<std::jthread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        json doc = {{"a", json::array()}};
        if (patch->Apply(&doc).ok() && doc["b"]["deep"].size() == 3) ++ok[t];
      }
    });
  }
  threads.clear();
  for (int n : ok) EXPECT_EQ(n, 200);
}

// Every kind of change made before the failing operation is rolled back, in order: member
// added, member replaced, member removed, element inserted, element removed, element replaced,
// the root replaced, a move across arrays.
TEST(JsonPatchTest, FailedPatchLeavesDocumentUnchanged) {
  const json original = json::parse(R"({
      "a": {"x": 1, "y": [1, 2, 3]}, "b": [{"n": "p"}, {"n": "q"}], "c": "s"})");
  const char* patches[] = {
      R"([{"op": "add", "path": "/a/z", "value": 1}, {"op": "add", "path": "/a/x", "value": 2},
          {"op": "remove", "path": "/c"}, {"op": "add", "path": "/a/y/0", "value": 0},
          {"op": "remove", "path": "/a/y/3"}, {"op": "replace", "path": "/b/1", "value": {}},
          {"op": "move", "from": "/b/0", "path": "/a/y/1"},
          {"op": "copy", "from": "/a", "path": "/b/-"},
          {"op": "remove", "path": "/nope"}])",
      R"([{"op": "replace", "path": "", "value": [1]}, {"op": "add", "path": "/-", "value": 2},
          {"op": "test", "path": "/0", "value": 2}])",
      R"([{"op": "remove", "path": "/a/y/0"}, {"op": "remove", "path": "/a/y/0"},
          {"op": "remove", "path": "/a/y/0"}, {"op": "remove", "path": "/a/y/0"}])",
      R"([{"op": "move", "from": "/a/x", "path": "/b/0/x"}, {"op": "move", "from": "/b", "path": "/c"},
          {"op": "test", "path": "/c/0/x", "value": 2}])",
  };
  for (const char* p : patches) {
    SCOPED_TRACE(p);
    json doc = original;
    Status s = ApplyJsonPatch(&doc, json::parse(p));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(doc, original) << doc.dump();
    EXPECT_EQ(doc.dump(), original.dump()) << "member order or array order changed";
  }
}

// A `test` whose path does not lead to a value, in both dialects. kEvanphx follows
// evanphx/json-patch v5 Patch.test, which Velero applies: a missing member of an existing object
// is compared as null (ErrTestFailed unless the value is null); a missing parent (findObject:
// ErrMissing) and a bad index of an existing array (partialArray.get: ErrInvalidIndex) are errors,
// not failed tests. kRfc6902 fails the test for every missing path.
TEST(JsonPatchTest, TestOfMissingPathFollowsDialect) {
  const json doc = json::parse(R"({
      "metadata": {"name": "web", "annotations": {"owner": "shop", "gone": null}},
      "spec": {"containers": [{"name": "app"}]}})");
  constexpr StatusCode kOk = StatusCode::kOk;
  constexpr StatusCode kSkip = StatusCode::kFailedPrecondition;
  constexpr StatusCode kError = StatusCode::kInvalidArgument;
  struct Case {
    const char* name;
    const char* path;
    const char* value;
    StatusCode evanphx;
    const char* evanphx_substr;
    StatusCode rfc;
  } cases[] = {
      {"missing leaf of an existing object", "/metadata/annotations/team", R"("payments")", kSkip,
       "value differs (/metadata/annotations has no member \"team\", which reads as null)", kSkip},
      {"missing leaf tested for null", "/metadata/annotations/team", "null", kOk, "", kSkip},
      {"leaf holding null tested for null", "/metadata/annotations/gone", "null", kOk, "", kOk},
      {"leaf holding a value tested for null", "/metadata/annotations/owner", "null", kSkip,
       "value differs (found a string, want null)", kSkip},
      {"missing parent", "/metadata/labels/team", R"("payments")", kError,
       "path not found (/metadata has no member \"labels\")", kSkip},
      {"missing parent tested for null", "/metadata/labels/team", "null", kError,
       "path not found (/metadata has no member \"labels\")", kSkip},
      {"parent is a string", "/metadata/name/first", R"("w")", kError,
       "path not found (/metadata/name is a string, not an object or array)", kSkip},
      {"parent holds null", "/metadata/annotations/gone/x", "null", kError,
       "/metadata/annotations/gone is null, not an object or array", kSkip},
      {"index out of range", "/spec/containers/1", R"({"name": "app"})", kError,
       "path not found (index 1 is out of range: /spec/containers has 1 elements)", kSkip},
      {"index out of range tested for null", "/spec/containers/1", "null", kError,
       "index 1 is out of range", kSkip},
      {"index past a missing element", "/spec/containers/3/name", R"("app")", kError,
       "path not found (index 3 is out of range", kSkip},
      {"end of array", "/spec/containers/-", "null", kError, "names the end of the array", kSkip},
      {"not an index", "/spec/containers/app", R"("app")", kError,
       "\"app\" at /spec/containers is not an array index", kSkip},
      {"index in range, value differs", "/spec/containers/0/name", R"("db")", kSkip,
       "value differs", kSkip},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const json ops = {{{"op", "add"}, {"path", "/spec/dr"}, {"value", true}},
                      {{"op", "test"}, {"path", c.path}, {"value", json::parse(c.value)}}};
    auto evanphx = JsonPatch::Compile(ops, JsonPatchDialect::kEvanphx);
    auto rfc = JsonPatch::Compile(ops);
    ASSERT_TRUE(evanphx.ok() && rfc.ok());
    EXPECT_EQ(evanphx->dialect(), JsonPatchDialect::kEvanphx);
    EXPECT_EQ(rfc->dialect(), JsonPatchDialect::kRfc6902);

    json got = doc;
    size_t failed = 99;
    Status s = evanphx->Apply(&got, &failed);
    EXPECT_EQ(s.code(), c.evanphx) << s.ToString();
    if (s.ok()) {
      EXPECT_EQ(got["spec"]["dr"], true) << "a passed test lets the patch apply";
      EXPECT_EQ(failed, 99u) << "set only on error";
    } else {
      EXPECT_NE(s.message().find(c.evanphx_substr), std::string::npos) << s.message();
      EXPECT_NE(s.message().find(std::string("operation 1 (test ") + c.path + ")"),
                std::string::npos)
          << s.message();
      EXPECT_EQ(failed, 1u);
      EXPECT_EQ(got, doc) << "the add before the test must be undone";
    }

    json strict = doc;
    EXPECT_EQ(rfc->Apply(&strict).code(), c.rfc);
  }
}

TEST(JsonPointerTest, ParsesAndResolves) {
  struct Case {
    const char* pointer;
    std::vector<std::string> tokens;
  } cases[] = {
      {"", {}},
      {"/", {""}},
      {"/a/b~1c/0", {"a", "b/c", "0"}},
      {"/~0~1/~10", {"~/", "/0"}},
      {"//x", {"", "x"}},
      {"/a/", {"a", ""}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pointer);
    auto tokens = ParseJsonPointer(c.pointer);
    ASSERT_TRUE(tokens.ok()) << tokens.status().ToString();
    EXPECT_EQ(*tokens, c.tokens);
  }
  for (const char* bad : {"a", "~0", "/a~", "/a~x", "/~2"}) {
    SCOPED_TRACE(bad);
    auto tokens = ParseJsonPointer(bad);
    ASSERT_FALSE(tokens.ok());
    EXPECT_EQ(tokens.status().code(), StatusCode::kInvalidArgument);
  }

  // RFC 6901 section 5 examples.
  json doc = json::parse(R"({"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3,
      "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8})");
  struct Resolve {
    const char* pointer;
    json want;
  } resolves[] = {
      {"/foo/0", "bar"}, {"/", 0}, {"/a~1b", 1}, {"/c%d", 2}, {"/e^f", 3}, {"/g|h", 4},
      {"/i\\j", 5}, {"/k\"l", 6}, {"/ ", 7}, {"/m~0n", 8}, {"/foo", json::array({"bar", "baz"})},
  };
  for (const Resolve& r : resolves) {
    SCOPED_TRACE(r.pointer);
    const json* v = ResolvePointer(doc, *ParseJsonPointer(r.pointer));
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(*v, r.want);
  }
  EXPECT_EQ(ResolvePointer(doc, *ParseJsonPointer("")), &doc);
  for (const char* missing : {"/foo/2", "/foo/-", "/foo/01", "/foo/+1", "/bar", "/foo/0/x", "/a/b"}) {
    SCOPED_TRACE(missing);
    EXPECT_EQ(ResolvePointer(doc, *ParseJsonPointer(missing)), nullptr);
  }
}

}  // namespace
}  // namespace kdr::transform
