#pragma once

// Helpers for the admission tests: fixtures as JSON, requests decoded the way the server does.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "admission/policy.h"
#include "admission/review.h"
#include "testutil/testutil.h"

namespace kdr::admission::testing {

inline nlohmann::json Fixture(const std::string& name) {
  return nlohmann::json::parse(testutil::ReadData("admission/" + name));
}

inline Request Decode(const nlohmann::json& review) {
  Request req;
  Status st = DecodeReview(review.dump(), &req);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return req;
}

inline Response Decide(const Policy& policy, const nlohmann::json& review) {
  return policy.Handle(Decode(review));
}

}  // namespace kdr::admission::testing
