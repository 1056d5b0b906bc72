#pragma once

// Running kubectl-dr in-process, as the plugin's tests do: the command line in, what it printed
// and its exit code out; and a fixture with a kubesim cluster and a kubeconfig for it.

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/fs.h"
#include "cli/cli.h"
#include "kube/client.h"
#include "kube_context.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::plugin::testing {

struct CliRun {
  int code;
  std::string out;
  std::string err;
};

// Runs `kubectl-dr ARGS...` with its own streams (stdin_text on stdin) and the given Env.
inline CliRun RunCli(std::vector<std::string> args, const Env& env, const std::string& stdin_text = "") {
  args.insert(args.begin(), "kubectl-dr");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  CommandContext ctx;
  ctx.streams = {&in, &out, &err};
  ctx.env = env;
  int code = RunPlugin(static_cast<int>(argv.size()), argv.data(), &ctx);
  return {code, out.str(), err.str()};
}

// A kubesim cluster, a kubeconfig whose context is context_name() reaching it, and a client.
// Derived fixtures may set server_options_ (e.g. the fake clock for ages) in their constructor.
class PluginOnKubesimTest : public ::testing::Test {
 protected:
  virtual std::string context_name() const { return "sim"; }

  void SetUp() override {
    auto server = kubesim::Server::Start(server_options_);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    kubeconfig_ = dir_.path() + "/config";
    ASSERT_TRUE(server_->WriteKubeconfig(kubeconfig_, context_name()).ok());
    GlobalOptions g;
    g.kubeconfig = kubeconfig_;
    auto client = ClientFromGlobals(g, env());
    ASSERT_TRUE(client.ok()) << client.status().message();
    client_ = std::move(client).value();
  }

  Env env() { return Env{&clock_, &fs_, nullptr}; }

  // kubectl-dr --kubeconfig <this cluster's> ARGS...
  CliRun Run(std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", kubeconfig_});
    return RunCli(std::move(args), env());
  }

  testutil::TempDir dir_;
  testutil::FakeClock clock_;
  PosixFileSystem fs_;
  kubesim::Server::Options server_options_;
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<kube::Client> client_;
  std::string kubeconfig_;
};

}  // namespace kdr::plugin::testing
