#include "base/log.h"

#include <gtest/gtest.h>

#include <sstream>

#include "testutil/testutil.h"

namespace kdr {
namespace {

TEST(LoggerTest, NeverPrintsSensitiveFields) {
  struct Case {
    std::string key;
    std::string value;
  } cases[] = {
      {"token", "abc123"},           {"client-key", "q9z8x7"},  {"password", "hunter2"},
      {"Authorization", "Bearer x"}, {"secretData", "zz9911"},  {"tls.key", "pem4455"},
      {"client-key-data", "LS0tQ1"}, {"bearerToken", "tok7788"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.key);
    std::ostringstream out;
    Logger logger(std::make_unique<TextLogSink>(&out, nullptr));
    logger.Info("calling server", {{c.key, c.value}});
    EXPECT_EQ(out.str().find(c.value), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("<redacted>"), std::string::npos);
  }
}

TEST(LoggerTest, ScrubsSecretsFromMessages) {
  struct Case {
    std::string message;
    std::string secret;
  } cases[] = {
      {"GET /api Authorization: Bearer eyJhbGciOi.x.y", "eyJhbGciOi"},
      {"exec plugin said token=s3cr3t for user", "s3cr3t"},
      {"{\"password\":\"hunter2\"}", "hunter2"},
      {"key is -----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY----- ok", "MHcC"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    std::ostringstream out;
    Logger logger(std::make_unique<JsonLogSink>(&out, nullptr));
    logger.Warning(c.message);
    EXPECT_EQ(out.str().find(c.secret), std::string::npos) << out.str();
  }
}

TEST(LoggerTest, KeepsOrdinaryFields) {
  std::ostringstream out;
  Logger logger(std::make_unique<TextLogSink>(&out, nullptr));
  logger.Info("restored", {{"object", "shop/web"}, {"certificate-authority", "/etc/ca.crt"}});
  EXPECT_EQ(out.str(), "restored object=shop/web certificate-authority=/etc/ca.crt\n");
}

TEST(LoggerTest, JsonSinkWritesOneObjectPerLine) {
  std::ostringstream out;
  testutil::FakeClock clock;
  Logger logger(std::make_unique<JsonLogSink>(&out, &clock));
  logger.Info("decision \"x\"", {{"uid", "u-1"}, {"allowed", "false"}});
  EXPECT_EQ(out.str(),
            "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"level\":\"info\",\"msg\":\"decision "
            "\\\"x\\\"\",\"uid\":\"u-1\",\"allowed\":\"false\"}\n");
}

TEST(LoggerTest, VerbosityFiltersDebug) {
  std::ostringstream out;
  Logger logger(std::make_unique<TextLogSink>(&out, nullptr), LogLevel::kInfo);
  logger.Debug("hidden");
  EXPECT_EQ(out.str(), "");
  logger.set_verbosity(VerbosityFromFlag(4));
  logger.Debug("shown");
  EXPECT_EQ(out.str(), "shown\n");
}

}  // namespace
}  // namespace kdr
