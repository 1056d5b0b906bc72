#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/fs.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

TEST(Rfc3339Test, FormatsAndParsesUtc) {
  Clock::WallTime t;
  ASSERT_TRUE(ParseRfc3339("2026-11-21T08:19:00Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-21T08:19:00Z");
  ASSERT_TRUE(ParseRfc3339("2026-11-21T09:19:00.123+01:00", &t));
  EXPECT_EQ(FormatRfc3339(t), "2026-11-21T08:19:00Z");
}

TEST(Rfc3339Test, RejectsMalformedTimes) {
  Clock::WallTime t;
  for (const char* bad : {"", "2026-11-21", "2026-13-01T00:00:00Z", "2026-11-21T08:19:00",
                          "yesterday", "2026-11-21T08:19:00Zjunk", "2026-11-21T-1:19:00Z", "2026-11-21T08:-9:00Z",
                          "2026-11-21T08:19:-1Z", "-001-11-21T08:19:00Z"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseRfc3339(bad, &t));
  }
}

// The clock holds 1677-09-21 to 2262-04-11 (nanoseconds in 64 bits); an exec plugin's token
// "expiring" in 4562 (fuzz finding 8: a signed overflow) is its last instant, and year 1 its first.
TEST(Rfc3339Test, TimesBeyondTheClocksRangeAreItsEnds) {
  Clock::WallTime t;
  ASSERT_TRUE(ParseRfc3339("4562-12-03T15:00:00Z", &t));
  EXPECT_EQ(t, Clock::WallTime::max());
  ASSERT_TRUE(ParseRfc3339("2262-04-12T00:00:00Z", &t));
  EXPECT_EQ(t, Clock::WallTime::max());
  ASSERT_TRUE(ParseRfc3339("0001-01-01T00:00:00Z", &t));
  EXPECT_EQ(t, Clock::WallTime::min());
  ASSERT_TRUE(ParseRfc3339("2262-04-10T00:00:00Z", &t));
  EXPECT_EQ(FormatRfc3339(t), "2262-04-10T00:00:00Z");
}

TEST(FakeClockTest, SleepAdvancesTimeAtOnce) {
  testutil::FakeClock clock;
  auto before = clock.Monotonic();
  EXPECT_TRUE(clock.SleepFor(std::chrono::hours(1)));
  EXPECT_EQ(clock.Monotonic() - before, std::chrono::hours(1));
  EXPECT_EQ(FormatRfc3339(clock.Now()), "2026-01-01T01:00:00Z");
}

TEST(RealClockTest, SleepReturnsFalseWhenStopped) {
  RealClock clock;
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(clock.SleepFor(std::chrono::hours(1), stop.get_token()));
}

TEST(PosixFileSystemTest, WriteReadStatAndErrors) {
  testutil::TempDir dir;
  PosixFileSystem fs;
  std::string path = JoinPath(dir.path(), "sub/dir/file.txt");
  ASSERT_TRUE(fs.MakeDirs(DirName(path)).ok());
  ASSERT_TRUE(fs.WriteFile(path, "hello").ok());
  EXPECT_EQ(*fs.ReadFile(path), "hello");
  auto info = fs.Stat(path);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 5u);
  std::string key = info->change_key;
  ASSERT_TRUE(fs.WriteFile(path, "hello, world").ok());
  EXPECT_NE(fs.Stat(path)->change_key, key);
  EXPECT_EQ(*fs.ListDir(JoinPath(dir.path(), "sub/dir")), std::vector<std::string>{"file.txt"});

  auto missing = fs.ReadFile(JoinPath(dir.path(), "nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);

  auto is_dir = fs.ReadFile(dir.path());
  ASSERT_FALSE(is_dir.ok());
  EXPECT_NE(is_dir.status().message().find("is a directory"), std::string::npos);
}

TEST(MemFileSystemTest, BehavesLikeAFileSystem) {
  testutil::MemFileSystem fs;
  ASSERT_TRUE(fs.WriteFile("/inv/v1/index.json", "{}").ok());
  ASSERT_TRUE(fs.WriteFile("/inv/v1/objects/a.json", "a").ok());
  EXPECT_TRUE(fs.Stat("/inv/v1")->is_dir);
  EXPECT_EQ(*fs.ListDir("/inv/v1"), (std::vector<std::string>{"index.json", "objects"}));
  EXPECT_EQ(fs.ReadFile("/nope").status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(fs.Remove("/inv/v1/index.json").ok());
  EXPECT_FALSE(fs.Exists("/inv/v1/index.json"));
}

}  // namespace
}  // namespace kdr
