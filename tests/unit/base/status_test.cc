#include "base/status.h"

#include <gtest/gtest.h>

namespace kdr {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd value " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  KDR_ASSIGN_OR_RETURN(int h, Half(x));
  KDR_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  KDR_RETURN_IF_ERROR(Half(x).status());
  return Status::Ok();
}

TEST(StatusTest, OkHasNoMessageAndExitsZero) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ExitCode(), 0);
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, ExitCodeIsTwoForInvalidArgumentOneOtherwise) {
  struct Case {
    Status status;
    int want;
  } cases[] = {
      {Status::InvalidArgument("x"), 2}, {Status::NotFound("x"), 1},
      {Status::FailedPrecondition("x"), 1}, {Status::Internal("x"), 1},
      {Status::Unavailable("x"), 1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.status.ToString());
    EXPECT_EQ(c.status.ExitCode(), c.want);
  }
}

TEST(StatusTest, RetryableCodesAreTransientOnes) {
  EXPECT_TRUE(Status::Unavailable("x").IsRetryable());
  EXPECT_TRUE(Status::DeadlineExceeded("x").IsRetryable());
  EXPECT_TRUE(Status::ResourceExhausted("x").IsRetryable());
  EXPECT_FALSE(Status::Aborted("x").IsRetryable());
  EXPECT_FALSE(Status::InvalidArgument("x").IsRetryable());
  EXPECT_FALSE(Status::PermissionDenied("x").IsRetryable());
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCode) {
  Status s = Status::NotFound("pvc \"data\" not found").WithContext("restoring pvc shop/data");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "restoring pvc shop/data: pvc \"data\" not found");
  EXPECT_TRUE(Status::Ok().WithContext("ctx").ok());
}

TEST(ResultTest, AssignOrReturnPropagatesFirstError) {
  auto ok = Quarter(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "odd value 3");
  EXPECT_FALSE(CheckEven(3).ok());
  EXPECT_TRUE(CheckEven(4).ok());
}

TEST(ResultTest, ValueOrReturnsFallbackOnError) {
  EXPECT_EQ(Half(3).value_or(-1), -1);
  EXPECT_EQ(Half(4).value_or(-1), 2);
}

}  // namespace
}  // namespace kdr
