#include "base/json.h"

#include <gtest/gtest.h>
#include <pthread.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;

std::string Nested(int levels, const std::string& inner = "1") {
  return std::string(levels, '[') + inner + std::string(levels, ']');
}

std::string NestedObjects(int levels) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += "{\"a\":";
  return s + "1" + std::string(levels, '}');
}

TEST(ParseJsonTest, ReadsValidJson) {
  auto r = ParseJson(R"({"a": [1, 2.5, "x", null, true, {"b": {}}], "c": 18446744073709551615})",
                     "doc");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)["a"][5], json({{"b", json::object()}}));
  EXPECT_EQ((*r)["c"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(*ParseJson("  7 ", "doc"), json(7));
}

TEST(ParseJsonTest, BadInputIsInvalidArgumentNamingTheSource) {
  struct Case {
    const char* name;
    std::string text;
    std::string want;
  } cases[] = {
      {"syntax", R"({"a": )",
       "doc.json is not valid JSON at line 1, column 7: syntax error while parsing value"},
      {"empty", "", "doc.json is not valid JSON"},
      {"trailing garbage", "{} x", "doc.json is not valid JSON"},
      {"number overflow", testutil::ReadData("fuzz-seeds/json/number-overflow.json"),
       "doc.json is not valid JSON: number overflow parsing '1e99999'"},
      {"bad utf-8", testutil::ReadData("fuzz-seeds/json/bad-utf8.json"),
       "doc.json is not valid JSON at line 1, column 65: syntax error while parsing value - "
       "invalid string: ill-formed UTF-8 byte; last read: '\"\\xff'"},
      {"too deep", Nested(kMaxJsonDepth + 1),
       "doc.json nests deeper than 10000 levels; kube-apiserver refuses objects nested deeper "
       "than 10000"},
      {"too deep in objects", NestedObjects(kMaxJsonDepth + 1), "nests deeper than 10000 levels"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = ParseJson(c.text, "doc.json");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
    // Raw input bytes never reach a message: it is printed, logged and put in JSON answers.
    EXPECT_TRUE(IsValidUtf8(r.status().message())) << r.status().message();
  }
}

TEST(ParseJsonTest, DepthIsCountedInContainersAndStopsTheParseEarly) {
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth), "d").ok());
  EXPECT_TRUE(ParseJson(NestedObjects(kMaxJsonDepth), "d").ok());
  EXPECT_TRUE(ParseJson(Nested(3), "d", 3).ok());
  EXPECT_FALSE(ParseJson(Nested(4), "d", 3).ok());
  EXPECT_TRUE(ParseJson(R"({"a": [1], "b": {"c": 2}})", "d", 2).ok());
  // 200,000 levels are refused after reading 10,001 of them: nothing that deep is ever built.
  auto r = ParseJson(Nested(200000), "d");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nests deeper than 10000 levels"), std::string::npos);
}

TEST(ParseJsonTest, NestsDeeperThanWalksWithoutRecursing) {
  EXPECT_FALSE(NestsDeeperThan(json(1), 0));
  EXPECT_TRUE(NestsDeeperThan(json::array(), 0));
  json v = *ParseJson(R"({"a": [1, {"b": []}], "c": {}})", "d");
  EXPECT_FALSE(NestsDeeperThan(v, 4));
  EXPECT_TRUE(NestsDeeperThan(v, 3));
  // Deeper than any recursion could go on a test thread.
  json deep = 1;
  for (int i = 0; i < 1000000; ++i) deep = json::array({std::move(deep)});
  EXPECT_TRUE(NestsDeeperThan(deep, kMaxJsonDepth));
  EXPECT_FALSE(NestsDeeperThan(deep, 1000000));
}

// The stack budget of base/json.h holds in the build that runs it, sanitized or not: a value at
// kube-apiserver's depth limit, read, copies, compares and dumps on a thread of
// kJsonThreadStackBytes (the webhook's workers). Under ASan a 10,000-level copy and print takes
// 26 MiB, far past the 8 MiB that suffice at -O2: hence kSanitizerStackScale.
TEST(ParseJsonTest, DeepestValueFitsTheJsonThreadStack) {
  struct Work {
    bool ok = false;
    static void* Run(void* arg) {
      auto* w = static_cast<Work*>(arg);
      Result<json> read = ParseJson(Nested(kMaxJsonDepth - 1, "{\"a\": 1}"), "deep");
      if (!read.ok()) return nullptr;
      json copy = *read;
      w->ok = copy == *read && copy.dump().size() == 2 * (kMaxJsonDepth - 1) + 7;
      return nullptr;
    }
  } work;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kJsonThreadStackBytes);
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, &attr, &Work::Run, &work), 0);
  pthread_attr_destroy(&attr);
  pthread_join(t, nullptr);
  EXPECT_TRUE(work.ok);
}

TEST(ParseJsonTest, Utf8Validation) {
  struct Case {
    std::string text;
    bool valid;
    size_t bad_at;
  } cases[] = {
      {"plain", true, 0},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", true, 0},
      {"a\xff", false, 1},
      {"\xc0\xaf", false, 0},          // overlong "/"
      {"\xed\xa0\x80", false, 0},      // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", false, 0},  // past U+10FFFF
      {"ab\xe2\x82", false, 2},        // cut short
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(PrintableBytes(c.text));
    size_t bad = 0;
    EXPECT_EQ(IsValidUtf8(c.text, &bad), c.valid);
    if (!c.valid) {
      EXPECT_EQ(bad, c.bad_at);
    }
  }
  EXPECT_EQ(PrintableBytes("a\xff\n"), "a\\xff\\x0a");
}

}  // namespace
}  // namespace kdr
