// The kubesim binary: ready line, kubeconfig, serving real kubectl, clean exit on SIGTERM.

#include <signal.h>

#include "test_support.h"

namespace kdr::kubesim {
namespace {

TEST(KubesimBinaryTest, ServesUntilSigterm) {
  testutil::TempDir dir;
  const std::string kc = dir.path() + "/kc";
  testing::Process p("exec " + testutil::BinaryDir() + "/tests/kubesim --listen 127.0.0.1:0 --kubeconfig-out " + kc +
                     " --context-name source --data-dir " + dir.path() + "/data");
  ASSERT_TRUE(p.ReadUntil("kubesim ready at https://127.0.0.1:")) << p.output();
  auto r = testing::Run("HOME=" + dir.path() + " kubectl --kubeconfig " + kc + " config current-context && HOME=" +
                        dir.path() + " kubectl --kubeconfig " + kc + " create namespace shop");
  EXPECT_EQ(r.output, "source\nnamespace/shop created\n");
  ASSERT_GT(p.pid(), 0);
  kill(p.pid(), SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

TEST(KubesimBinaryTest, RejectsBadServiceEndpoint) {
  auto r = testing::Run(testutil::BinaryDir() + "/tests/kubesim --service-endpoint nonsense");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--service-endpoint"), std::string::npos) << r.output;
}

TEST(KubesimBinaryTest, ServesWithAGivenCa) {
  testutil::TempDir dir;
  auto ca = tls::MakeCa("given-ca");
  ASSERT_TRUE(ca.ok());
  std::string cert = dir.Write("ca.crt", ca->cert_pem);
  std::string key = dir.Write("ca.key", ca->key_pem, 0600);
  const std::string kc = dir.path() + "/kc";
  testing::Process p("exec " + testutil::BinaryDir() + "/tests/kubesim --listen 127.0.0.1:0 --kubeconfig-out " + kc +
                     " --ca-cert " + cert + " --ca-key " + key);
  ASSERT_TRUE(p.ReadUntil("kubesim ready at https://127.0.0.1:")) << p.output();
  // kubectl verifies the server against the given CA alone.
  std::string url = p.output().substr(p.output().find("https://"));
  url = url.substr(0, url.find('\n'));
  auto r = testing::Run("kubectl --server " + url + " --certificate-authority " + cert + " --kubeconfig " + kc +
                        " get --raw /version");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("gitVersion"), std::string::npos) << r.output;
  kill(p.pid(), SIGTERM);
  EXPECT_EQ(p.Wait(), 0);
}

TEST(KubesimBinaryTest, RejectsAHalfGivenOrUnreadableCa) {
  testutil::TempDir dir;
  struct Case {
    std::string args;
    std::string want;
  } cases[] = {
      {"--ca-cert " + dir.path() + "/ca.crt", "--ca-cert and --ca-key go together"},
      {"--ca-cert " + dir.path() + "/missing.crt --ca-key " + dir.path() + "/missing.key", "missing.crt"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.args);
    auto r = testing::Run(testutil::BinaryDir() + "/tests/kubesim " + c.args);
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.output.find(c.want), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace kdr::kubesim
