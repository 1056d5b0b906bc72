// Secrets as kube-apiserver decodes them: stringData is merged into data (stringData winning) and
// is never stored or returned, on create, update and patch alike.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "server.h"
#include "test_support.h"

namespace kdr::kubesim {
namespace {

using json = nlohmann::json;

TEST(SecretTest, StringDataIsMergedIntoDataAndNeverReturned) {
  auto started = Server::Start({});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<Server> server = std::move(started).value();
  testing::Client c(*server, server->admin_token());
  const std::string path = "/api/v1/namespaces/default/secrets";
  json secret = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "db"}}},
                 {"data", {{"user", Base64Encode("old")}, {"keep", Base64Encode("kept")}}},
                 {"stringData", {{"user", "shop"}, {"password", "s3cret"}}}};
  auto created = c.Post(path, secret);
  ASSERT_EQ(created.status, 201) << created.raw;
  EXPECT_FALSE(created.body.contains("stringData")) << created.raw;
  EXPECT_EQ(created.body["data"],
            json({{"user", Base64Encode("shop")}, {"keep", Base64Encode("kept")},
                  {"password", Base64Encode("s3cret")}}));
  auto got = c.Get(path + "/db");
  EXPECT_FALSE(got.body.contains("stringData"));
  EXPECT_EQ(got.body["data"]["password"], Base64Encode("s3cret"));

  auto patched = c.Patch(path + "/db", R"({"stringData": {"password": "n3w"}})",
                         "application/merge-patch+json");
  ASSERT_EQ(patched.status, 200) << patched.raw;
  EXPECT_FALSE(patched.body.contains("stringData"));
  EXPECT_EQ(patched.body["data"]["password"], Base64Encode("n3w"));
  EXPECT_EQ(patched.body["data"]["keep"], Base64Encode("kept"));

  // Only stringData: data is made.
  auto only = c.Post(path, {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", "only"}}},
                            {"stringData", {{"token", "t0ken"}}}});
  ASSERT_EQ(only.status, 201) << only.raw;
  EXPECT_EQ(only.body["data"], json({{"token", Base64Encode("t0ken")}}));
  EXPECT_FALSE(only.body.contains("stringData"));
}

}  // namespace
}  // namespace kdr::kubesim
