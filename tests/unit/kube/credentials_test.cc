#include "kube/credentials.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "testutil/testutil.h"

namespace kdr::kube {
namespace {

class CredentialProviderTest : public ::testing::Test {
 protected:
  CredentialProviderTest() { env_ = Env{&clock_, &fs_, nullptr}; }
  testutil::FakeClock clock_;
  testutil::MemFileSystem fs_;
  Env env_;
};

TEST_F(CredentialProviderTest, StaticTokenAndClientCertificate) {
  RestConfig rc;
  rc.bearer_token = "static-token";
  rc.client_cert_pem = "CERT";
  rc.client_key_pem = "KEY";
  auto p = MakeCredentialProvider(rc, env_);
  for (bool force : {false, true}) {
    auto c = p->Get(force);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->bearer_token, "static-token");
    EXPECT_EQ(c->client_cert_pem, "CERT");
    EXPECT_EQ(c->client_key_pem, "KEY");
    EXPECT_FALSE(c->expires.has_value());
  }
}

TEST_F(CredentialProviderTest, NoCredentialsIsAnonymous) {
  auto c = MakeCredentialProvider(RestConfig{}, env_)->Get(false);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->bearer_token.empty());
  EXPECT_TRUE(c->client_cert_pem.empty());
}

TEST_F(CredentialProviderTest, TokenFileIsTrimmedAndRereadWhenItRotates) {
  ASSERT_TRUE(fs_.WriteFile("/sa/token", "token-1\n").ok());
  RestConfig rc;
  rc.token_file = "/sa/token";
  rc.client_cert_pem = "CERT";
  rc.client_key_pem = "KEY";
  auto p = MakeCredentialProvider(rc, env_);
  auto c = p->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "token-1");
  EXPECT_EQ(c->client_cert_pem, "CERT");

  ASSERT_TRUE(fs_.WriteFile("/sa/token", "token-2").ok());  // kubelet rotated it
  c = p->Get(false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->bearer_token, "token-2");
}

TEST_F(CredentialProviderTest, TokenFileStaticTokenIsTheFallbackWhenFileIsGone) {
  RestConfig rc;
  rc.token_file = "/sa/token";
  rc.bearer_token = "fallback";
  auto c = MakeCredentialProvider(rc, env_)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "fallback");
}

TEST_F(CredentialProviderTest, TokenFileErrorsNameTheFileAndUser) {
  RestConfig rc;
  rc.token_file = "/sa/token";
  rc.user_name = "robot";
  rc.source = "/home/me/.kube/config";
  auto p = MakeCredentialProvider(rc, env_);
  auto c = p->Get(false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("/sa/token"), std::string::npos);
  EXPECT_NE(c.status().message().find("does not exist"), std::string::npos);
  EXPECT_NE(c.status().message().find("user \"robot\""), std::string::npos);

  ASSERT_TRUE(fs_.WriteFile("/sa/token", " \n").ok());
  c = p->Get(true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("is empty"), std::string::npos);
}

}  // namespace
}  // namespace kdr::kube
