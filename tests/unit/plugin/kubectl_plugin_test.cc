// The plugin as users meet it: real kubectl finds kubectl-dr on PATH and runs it.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "testutil/testutil.h"

namespace kdr {
namespace {

struct ShellResult {
  int exit_code;
  std::string output;
};

ShellResult Shell(const std::string& command) {
  std::string full = command + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  ShellResult r{-1, ""};
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

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
  ShellResult r = Shell(env_ + "kubectl dr version --client");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Client Version: v"), std::string::npos) << r.output;
}

TEST_F(KubectlPluginTest, KubectlListsPlugin) {
  ShellResult r = Shell(env_ + "kubectl plugin list");
  EXPECT_NE(r.output.find(testutil::BinaryDir() + "/kubectl-dr"), std::string::npos) << r.output;
}

TEST_F(KubectlPluginTest, HelpReadsLikeKubectl) {
  ShellResult r = Shell(env_ + "kubectl dr --help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Usage: kubectl dr"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--kubeconfig"), std::string::npos);
  EXPECT_NE(r.output.find("--request-timeout"), std::string::npos);
  EXPECT_NE(r.output.find("version"), std::string::npos);
}

TEST_F(KubectlPluginTest, UnknownCommandExitsTwoWithUsageHint) {
  ShellResult r = Shell(env_ + "kubectl dr frobnicate");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("kubectl dr --help"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kdr
