#include "kubesim/external_controllers.h"

#include <gtest/gtest.h>

#include <string>

#include "base/clock.h"
#include "base/fs.h"
#include "testutil/testutil.h"

namespace kdr::kubesim {
namespace {

std::string Kubeconfig(const std::string& server) {
  return "apiVersion: v1\nkind: Config\ncurrent-context: dr-west\n"
         "clusters: [{name: c, cluster: {server: \"" + server + "\", insecure-skip-tls-verify: true}}]\n"
         "users: [{name: u, user: {token: t}}]\n"
         "contexts: [{name: dr-west, context: {cluster: c, user: u}}]\n";
}

// Every bad flag is refused before anything runs, naming the flag (exit 2 in main).
TEST(ExternalControllersTest, BadFlagsAreRefusedNamingTheFlag) {
  testutil::TempDir dir;
  const std::string remote = dir.Write("remote.yaml", Kubeconfig("https://10.1.2.3:6443"));
  const std::string closed = dir.Write("closed.yaml", Kubeconfig("https://127.0.0.1:1"));
  const std::string not_executable = dir.Write("kubectl-dr", "#!/bin/sh\n");
  struct Case {
    std::string name;
    ExternalFlags flags;
    StatusCode want_code;
    std::string want;
  } cases[] = {
      {"no kubeconfig", {}, StatusCode::kInvalidArgument, "--kubeconfig is required"},
      {"missing kubeconfig", {.kubeconfig = dir.path() + "/nope.yaml"}, StatusCode::kInvalidArgument,
       "does not exist"},
      {"unknown context", {.kubeconfig = remote, .context = "dr-east"}, StatusCode::kInvalidArgument,
       "--context \"dr-east\""},
      {"agent binary not executable", {.kubeconfig = remote, .agent_binary = not_executable},
       StatusCode::kInvalidArgument, "--agent-binary"},
      {"agent binary against a server off loopback",
       {.kubeconfig = remote, .agent_binary = "/bin/true"}, StatusCode::kInvalidArgument, "127.0.0.1"},
      {"node name not a DNS subdomain", {.kubeconfig = remote, .node_name = "Node_1"}, StatusCode::kInvalidArgument,
       "--node-name \"Node_1\""},
      {"array without alletra-sim", {.kubeconfig = remote, .hpe = {.array = "array-b"}},
       StatusCode::kInvalidArgument, "--alletra-sim-url"},
      {"server not answering", {.kubeconfig = closed}, StatusCode::kUnavailable, "cannot reach the API server"},
  };
  RealClock clock;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = ExternalControllers::Start(c.flags, &clock, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.want_code) << r.status().message();
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

}  // namespace
}  // namespace kdr::kubesim
