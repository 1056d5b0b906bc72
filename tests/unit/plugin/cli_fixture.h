#pragma once

// Running kubectl-dr in-process, as the plugin's tests do: the command line in, what it printed
// and its exit code out; a fixture with a kubesim cluster and a kubeconfig for it; and one with a
// plan's two sites, each a kubesim cluster, in one kubeconfig.

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/env.h"
#include "base/fs.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "install/manifests.h"
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

// A plan's two sites: the target (context dr-west, this fixture's own cluster, the current
// context) holding the product's CRDs, the DR namespace and the plans; the source (context
// prod-east) reached through the same kubeconfig, as an operator's would be.
class TwoSitesTest : public PluginOnKubesimTest {
 protected:
  std::string context_name() const override { return "dr-west"; }

  void SetUp() override {
    PluginOnKubesimTest::SetUp();
    if (HasFatalFailure()) return;
    auto source = kubesim::Server::Start(source_options_);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    source_ = std::move(source).value();
    const std::string source_kc = dir_.path() + "/source-config";
    ASSERT_TRUE(source_->WriteKubeconfig(source_kc, "prod-east").ok());
    auto target_text = fs_.ReadFile(kubeconfig_);
    auto other_text = fs_.ReadFile(source_kc);
    ASSERT_TRUE(target_text.ok() && other_text.ok());
    auto target = YamlToJson(*target_text, "target kubeconfig");
    auto other = YamlToJson(*other_text, "source kubeconfig");
    ASSERT_TRUE(target.ok() && other.ok());
    for (const char* list : {"clusters", "users", "contexts"}) {
      for (const nlohmann::json& item : (*other)[list]) (*target)[list].push_back(item);
    }
    ASSERT_TRUE(fs_.WriteFile(kubeconfig_, target->dump(), 0600).ok());
    GlobalOptions g;
    g.kubeconfig = source_kc;
    auto client = ClientFromGlobals(g, env());
    ASSERT_TRUE(client.ok()) << client.status().message();
    source_client_ = std::move(client).value();

    auto crds = install::BuildKustomization(install::EmbeddedManifests(), "crds");
    ASSERT_TRUE(crds.ok()) << crds.status().message();
    for (const nlohmann::json& crd : *crds) ASSERT_TRUE(client_->Create(kCrds, "", crd).ok());
    Namespace(*client_, "kubectl-dr-system");
  }

  // Creates obj (apiVersion from gvr) on cluster c.
  void Make(kube::Client& c, const kube::Gvr& gvr, const std::string& ns, nlohmann::json obj) {
    obj["apiVersion"] = gvr.ApiVersion();
    auto r = c.Create(gvr, ns, obj);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  void Namespace(kube::Client& c, const std::string& name, nlohmann::json labels = nlohmann::json::object()) {
    Make(c, kNamespaces, "", {{"kind", "Namespace"}, {"metadata", {{"name", name}, {"labels", labels}}}});
  }

  // A claim on the source (kubesim binds nothing here: no controllers run).
  void Claim(const std::string& ns, const std::string& name, nlohmann::json labels = nlohmann::json::object()) {
    Make(*source_client_, kClaims, ns,
         {{"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", name}, {"labels", labels}}},
          {"spec", {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}});
  }

  // A plan from tests/data (plan/ready-plan.yaml: orders-to-dr; plan/spent-plan.yaml: shop-to-dr)
  // on the target, with the fixture's status.
  void Plan(const std::string& fixture) {
    auto obj = YamlToJson(testutil::ReadData(fixture), fixture);
    ASSERT_TRUE(obj.ok()) << obj.status().message();
    nlohmann::json status = obj->value("status", nlohmann::json());
    obj->erase("status");
    auto made = client_->Create(kPlans, "kubectl-dr-system", *obj);
    ASSERT_TRUE(made.ok()) << made.status().message();
    (*made)["status"] = status;
    ASSERT_TRUE(client_->UpdateStatus(kPlans, "kubectl-dr-system", *made).ok());
  }

  inline static const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
  inline static const kube::Gvr kNamespaces{"", "v1", "namespaces"};
  inline static const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
  inline static const kube::Gvr kPlans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};

  // The source's kubesim (a derived fixture may start controllers there, as server_options_).
  kubesim::Server::Options source_options_;
  std::unique_ptr<kubesim::Server> source_;
  std::unique_ptr<kube::Client> source_client_;
};

}  // namespace kdr::plugin::testing
