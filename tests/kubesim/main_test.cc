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

}  // namespace
}  // namespace kdr::kubesim
