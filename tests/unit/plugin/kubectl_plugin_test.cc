// The plugin as users meet it: real kubectl finds kubectl-dr on PATH and runs it.

#include <gtest/gtest.h>
#include <string>

#include "testutil/testutil.h"

namespace kdr {
namespace {

using testutil::CommandResult;
constexpr auto Shell = testutil::RunCommand;

class KubectlPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (Shell("command -v kubectl").exit_code != 0) GTEST_SKIP() << "kubectl is not installed";
    // A kubeconfig fixture keeps kubectl away from the user's clusters.
    env_ = "PATH=" + testutil::BinaryDir() + ":$PATH KUBECONFIG=" +
           testutil::DataPath("kubeconfig/empty.yaml") + " HOME=" + home_.path() + " ";
  }
  testutil::TempDir home_;
  std::string env_;
};

TEST_F(KubectlPluginTest, KubectlRunsPluginVersionClient) {
  CommandResult r = Shell(env_ + "kubectl dr version --client");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Client Version: v"), std::string::npos) << r.output;
}

TEST_F(KubectlPluginTest, KubectlListsPlugin) {
  CommandResult r = Shell(env_ + "kubectl plugin list");
  EXPECT_NE(r.output.find(testutil::BinaryDir() + "/kubectl-dr"), std::string::npos) << r.output;
}

TEST_F(KubectlPluginTest, HelpReadsLikeKubectl) {
  CommandResult r = Shell(env_ + "kubectl dr --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Commands:\n  version"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("    --kubeconfig='':\n\tPath to the kubeconfig file"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("    -n, --namespace='':\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("    --request-timeout=0:\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Usage:\n  kubectl dr [command] [flags]\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Use \"kubectl dr <command> --help\" for more information"), std::string::npos);
}

TEST_F(KubectlPluginTest, CommandHelpIsKubectlShaped) {
  CommandResult r = Shell(env_ + "kubectl dr version --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output,
            "Print the client and server version information for the current context\n"
            "\n"
            "Options:\n"
            "    --client=false:\n"
            "\tIf true, shows client version only (no server required).\n"
            "\n"
            "Usage:\n"
            "  kubectl dr version [flags] [options]\n"
            "\n"
            "Use \"kubectl dr --help\" for a list of global command-line options (applies to all "
            "commands).\n");
}

TEST_F(KubectlPluginTest, UnknownCommandExitsTwoWithUsageHint) {
  CommandResult r = Shell(env_ + "kubectl dr frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("kubectl dr --help"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kdr
