// Global flags to a cluster (--request-timeout, --kubeconfig) and `kubectl dr version` against a
// real kubesim, run in-process with string streams.

#include "kube_context.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "base/fs.h"
#include "cli/cli.h"
#include "kube/transport_https.h"
#include "kubesim/server.h"
#include "cli_fixture.h"
#include "testutil/testutil.h"

namespace kdr::plugin {
namespace {

using namespace std::chrono_literals;

TEST(RequestTimeoutTest, ParsesKubectlDurations) {
  struct Case {
    const char* text;
    std::chrono::milliseconds want;
  };
  const Case cases[] = {
      {"0", 0ms},       {"30", 30s},      {"30s", 30s},        {"1m30s", 90s},
      {"500ms", 500ms}, {"1.5h", 5400s},  {"2m", 120s},        {"1h2m3s", 3723s},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto d = ParseRequestTimeout(c.text);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, c.want);
  }
}

TEST(RequestTimeoutTest, RejectsBadValues) {
  for (const char* text : {"abc", "5x", "-1s", "", "1m30", "s", "1..5s", "99999999999"}) {
    SCOPED_TRACE(text);
    auto d = ParseRequestTimeout(text);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(d.status().message().find("--request-timeout"), std::string::npos);
    EXPECT_NE(d.status().message().find("is not a duration"), std::string::npos);
  }
}

using testing::CliRun;

// Tests name the kubeconfig themselves (some point at an unreachable server).
class VersionTest : public testing::PluginOnKubesimTest {
 protected:
  CliRun Run(std::vector<std::string> args) { return testing::RunCli(std::move(args), env()); }
};

TEST_F(VersionTest, PrintsClientAndServerVersion) {
  CliRun r = Run({"--kubeconfig", kubeconfig_, "version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Client Version: v"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Server Version: v1."), std::string::npos) << r.out;
}

TEST_F(VersionTest, JsonCarriesTheVersionBody) {
  CliRun r = Run({"--kubeconfig", kubeconfig_, "-o", "json", "--request-timeout", "30s", "version"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["serverVersion"]["major"], "1");
  EXPECT_TRUE(doc["serverVersion"]["gitVersion"].get<std::string>().rfind("v1.", 0) == 0);
  EXPECT_TRUE(doc["clientVersion"].contains("gitVersion"));
}

TEST_F(VersionTest, YamlCarriesServerVersion) {
  CliRun r = Run({"--kubeconfig", kubeconfig_, "-o", "yaml", "version"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("serverVersion:\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  gitVersion: v1."), std::string::npos) << r.out;
}

TEST_F(VersionTest, ClientFlagSkipsTheServer) {
  CliRun r = Run({"--kubeconfig", dir_.path() + "/missing", "version", "--client"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("Server Version"), std::string::npos);
}

TEST_F(VersionTest, UnreachableServerPrintsClientVersionThenFails) {
  std::string url = server_->url();
  server_->Stop();
  CliRun r = Run({"--kubeconfig", kubeconfig_, "version"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("Client Version: v"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "error: cannot connect to " + url + ": connection refused\n");
}

TEST_F(VersionTest, BadFlagsAreUsageErrors) {
  CliRun timeout = Run({"--kubeconfig", kubeconfig_, "--request-timeout", "soon", "version"});
  EXPECT_EQ(timeout.code, 2);
  EXPECT_NE(timeout.err.find("--request-timeout \"soon\" is not a duration"), std::string::npos) << timeout.err;
  CliRun context = Run({"--kubeconfig", kubeconfig_, "--context", "sin", "version"});
  EXPECT_NE(context.code, 0);
  EXPECT_NE(context.err.find("sin"), std::string::npos) << context.err;
  EXPECT_NE(context.err.find("did you mean \"sim\""), std::string::npos) << context.err;
}

// Without --qps there is no client-side rate limit (the server's API Priority and Fairness
// decides), as SIG API Machinery advises.
TEST_F(VersionTest, WithoutQpsTheClientHasNoClientSideRateLimit) {
  GlobalOptions g;
  g.kubeconfig = kubeconfig_;
  auto config = RestConfigFromGlobals(g, Env{&clock_, &fs_, nullptr});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->qps, 0);
}

TEST_F(VersionTest, ClientFromGlobalsAppliesFlags) {
  GlobalOptions g;
  g.kubeconfig = kubeconfig_;
  g.request_timeout = "1m30s";
  g.qps = 7;
  g.burst = 9;
  Env env{&clock_, &fs_, nullptr};
  auto config = RestConfigFromGlobals(g, env);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->request_timeout, 90s);
  EXPECT_EQ(config->qps, 7);
  EXPECT_EQ(config->burst, 9);
  EXPECT_EQ(config->server, server_->url());
  auto client = ClientFromGlobals(g, env);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE((*client)->ServerVersion().ok());
  g.burst = -1;
  EXPECT_EQ(RestConfigFromGlobals(g, env).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::plugin
