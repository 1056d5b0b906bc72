#include "tls/certs.h"

#include <gtest/gtest.h>

namespace kdr::tls {
namespace {

TEST(CertsTest, MakesCaAndLeafWithNamesAndExpiry) {
  auto ca = MakeCa("kubectl-dr test CA");
  ASSERT_TRUE(ca.ok()) << ca.status().message();
  EXPECT_NE(ca->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(ca->key_pem.find("PRIVATE KEY"), std::string::npos);

  CertRequest req;
  req.common_name = "kubectl-dr-webhook.kubectl-dr-system.svc";
  req.dns_names = {"kubectl-dr-webhook.kubectl-dr-system.svc", "localhost"};
  req.ip_addresses = {"127.0.0.1"};
  req.validity = std::chrono::hours(48);
  auto leaf = MakeLeaf(*ca, req);
  ASSERT_TRUE(leaf.ok()) << leaf.status().message();
  EXPECT_EQ(*CommonName(leaf->cert_pem), "kubectl-dr-webhook.kubectl-dr-system.svc");
  long long secs = *SecondsUntilExpiry(leaf->cert_pem);
  EXPECT_GT(secs, 47 * 3600);
  EXPECT_LE(secs, 48 * 3600);
}

TEST(CertsTest, RejectsBadCaAndBadIp) {
  KeyPair bogus{"not a pem", "not a key"};
  CertRequest req;
  req.common_name = "x";
  auto r = MakeLeaf(bogus, req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("certificate"), std::string::npos);

  auto ca = MakeCa("ca");
  ASSERT_TRUE(ca.ok());
  req.ip_addresses = {"999.1.1.1"};
  auto bad_ip = MakeLeaf(*ca, req);
  ASSERT_FALSE(bad_ip.ok());
  EXPECT_EQ(bad_ip.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::tls
