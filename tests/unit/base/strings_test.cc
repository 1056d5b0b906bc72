#include "base/strings.h"

#include <gtest/gtest.h>

namespace kdr {
namespace {

TEST(Base64Test, RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 64; ++i) {
    data.push_back(static_cast<char>(i * 37));
    auto decoded = Base64Decode(Base64Encode(data), "data");
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(*decoded, data);
  }
}

TEST(Base64Test, DecodesKnownVectorsAndIgnoresWhitespace) {
  EXPECT_EQ(*Base64Decode("aGVsbG8=", "x"), "hello");
  EXPECT_EQ(*Base64Decode("aGVs\nbG8=\n", "x"), "hello");
  EXPECT_EQ(*Base64Decode("aGVsbG8", "x"), "hello");
}

TEST(Base64Test, BadCharacterNamesWhatAndOffset) {
  auto r = Base64Decode("aGV!bG8=", "certificate-authority-data of cluster \"prod\"");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("certificate-authority-data of cluster \"prod\""),
            std::string::npos);
  EXPECT_NE(r.status().message().find("offset 3"), std::string::npos);
}

TEST(Base64Test, TruncatedInputIsRejected) {
  auto r = Base64Decode("a", "token");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos);
}

TEST(NearestMatchTest, SuggestsCloseNamesOnly) {
  std::vector<std::string> contexts = {"prod-east", "dr-west", "staging"};
  EXPECT_EQ(NearestMatch("prod-eats", contexts).value_or(""), "prod-east");
  EXPECT_EQ(NearestMatch("dr-wes", contexts).value_or(""), "dr-west");
  EXPECT_FALSE(NearestMatch("completely-different", contexts).has_value());
  EXPECT_EQ(DidYouMean("stagin", contexts), "; did you mean \"staging\"?");
  EXPECT_EQ(DidYouMean("zzz", {}), "");
}

TEST(StringsTest, SplitKeepsEmptyParts) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string>{""}));
  EXPECT_EQ(Join({"a", "b"}, ":"), "a:b");
}

TEST(StringsTest, UrlEncodeEscapesReservedCharacters) {
  EXPECT_EQ(UrlEncode("app=web,tier in (a)"), "app%3Dweb%2Ctier%20in%20%28a%29");
}

}  // namespace
}  // namespace kdr
