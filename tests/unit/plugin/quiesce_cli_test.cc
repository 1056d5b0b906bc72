// kubectl dr quiesce|unquiesce, in-process against a kubesim cluster whose controllers make the
// pods and take them away.

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cli_fixture.h"
#include "kube/client.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using plugin::testing::CliRun;

const kube::Gvr kDeployments{"apps", "v1", "deployments"};
const kube::Gvr kPods{"", "v1", "pods"};
const kube::Gvr kServiceAccounts{"", "v1", "serviceaccounts"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
constexpr char kReplicas[] = "dr.kubectl-dr.dev/replicas";

// A FakeClock that yields the CPU at each sleep, so kubesim's controllers run while the command
// polls.
class PollClock final : public Clock {
 public:
  WallTime Now() const override { return fake_.Now(); }
  MonoTime Monotonic() const override { return fake_.Monotonic(); }
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override {
    std::this_thread::yield();
    return fake_.SleepFor(d, stop);
  }

 private:
  testutil::FakeClock fake_;
};

// True once pred() holds, checking every 10ms for up to 20s of real time (bounds the wait on the
// controllers' threads, never decides an outcome).
bool Eventually(const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

class QuiesceCliTest : public plugin::testing::PluginOnKubesimTest {
 protected:
  QuiesceCliTest() {
    server_options_.controllers = kubesim::ControllerOptions{};
    server_options_.controllers->longhorn = false;
    server_options_.controllers->resync_interval = std::chrono::milliseconds(200);
  }

  void SetUp() override {
    PluginOnKubesimTest::SetUp();
    if (HasFatalFailure()) return;
    auto ns = client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    ASSERT_TRUE(Eventually([&] { return client_->Get(kServiceAccounts, "shop", "default").ok(); }));
  }

  CliRun RunPolling(std::vector<std::string> args) {
    args.insert(args.begin(), {"--kubeconfig", kubeconfig_});
    return plugin::testing::RunCli(std::move(args), Env{&poll_clock_, &fs_, nullptr});
  }

  void Deployment(const std::string& name, int replicas, json pod_meta = json::object()) {
    pod_meta["labels"]["app"] = name;
    json d = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", name}, {"namespace", "shop"}}},
              {"spec",
               {{"replicas", replicas},
                {"selector", {{"matchLabels", {{"app", name}}}}},
                {"template",
                 {{"metadata", pod_meta},
                  {"spec", {{"containers", json::array({{{"name", "main"}, {"image", "nginx"}}})}}}}}}}};
    auto r = client_->Create(kDeployments, "shop", d);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(Eventually([&] {
      auto o = client_->Get(kDeployments, "shop", name);
      return o.ok() && (*o)["status"].value("readyReplicas", 0) == replicas;
    }));
  }

  json Get(const std::string& name) {
    auto o = client_->Get(kDeployments, "shop", name);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    return o.ok() ? *o : json();
  }
  int Replicas(const std::string& name) { return Get(name)["spec"].value("replicas", -1); }
  std::string Remembered(const std::string& name) {
    return Get(name)["metadata"].value("annotations", json::object()).value(kReplicas, "<none>");
  }
  size_t PodCount() {
    auto pods = client_->List(kPods, "shop");
    EXPECT_TRUE(pods.ok());
    return pods.ok() ? (*pods)["items"].size() : 0;
  }

  PollClock poll_clock_;
};

TEST_F(QuiesceCliTest, QuiescesThenUnquiescesOneLinePerChange) {
  Deployment("web", 2);
  Deployment("api", 1);
  // The pods go within milliseconds of real time; the fake clock's polls are instant.
  CliRun r = RunPolling({"--context", "sim", "quiesce", "--namespaces", "shop", "--timeout", "1h"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "deployment shop/api: 1 -> 0 replicas\n"
            "deployment shop/web: 2 -> 0 replicas\n");
  EXPECT_EQ(r.err, "2 workload(s) stopped in shop on context \"sim\"; their pods are gone\n");
  EXPECT_EQ(PodCount(), 0u);
  EXPECT_EQ(Remembered("web"), "2");

  CliRun again = RunPolling({"quiesce", "--namespaces", "shop,shop"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, "");
  EXPECT_EQ(again.err, "nothing to stop: every workload is already stopped in shop on context \"sim\"; their pods "
                       "are gone\n");

  CliRun back = RunPolling({"unquiesce", "--namespaces", "shop"});
  ASSERT_EQ(back.code, 0) << back.err;
  EXPECT_EQ(back.out,
            "deployment shop/api: 0 -> 1 replicas\n"
            "deployment shop/web: 0 -> 2 replicas\n");
  EXPECT_EQ(back.err, "2 workload(s) brought back in shop on context \"sim\"\n");
  EXPECT_EQ(Replicas("web"), 2);
  EXPECT_EQ(Remembered("web"), "<none>");

  CliRun none = RunPolling({"unquiesce", "--namespaces", "shop"});
  ASSERT_EQ(none.code, 0) << none.err;
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "nothing to bring back: no workload remembers a quiesce in shop on context \"sim\"\n");
}

TEST_F(QuiesceCliTest, DryRunChangesNothing) {
  Deployment("web", 2);
  CliRun r = RunPolling({"quiesce", "--namespaces", "shop", "--dry-run"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deployment shop/web: 2 -> 0 replicas (server dry run)\n");
  EXPECT_EQ(r.err, "1 workload(s) would be quiesced in shop on context \"sim\"; nothing was changed (--dry-run)\n");
  EXPECT_EQ(Replicas("web"), 2);
  EXPECT_EQ(Remembered("web"), "<none>");
}

TEST_F(QuiesceCliTest, PodsThatStayFailTheCommandNamingThem) {
  Deployment("web", 1, {{"finalizers", {"example.com/hold"}}});
  CliRun r = RunPolling({"quiesce", "--namespaces", "shop", "--timeout", "20s"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("error: quiescing shop on context \"sim\": timed out after 20s waiting for the pods of the "
                       "quiesced workloads to go; 1 pod(s) still there: shop/web-"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Replicas("web"), 0);
}

TEST_F(QuiesceCliTest, BadFlagsChangeNothing) {
  Deployment("web", 1);
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    const char* want_substr;
  } cases[] = {
      {"no namespaces", {"quiesce"}, 2, "--namespaces is required"},
      {"unquiesce without namespaces", {"unquiesce", "--dry-run"}, 2, "--namespaces is required"},
      {"an empty item", {"quiesce", "--namespaces", "shop,,web"}, 2, "--namespaces \"shop,,web\" has an empty item"},
      {"an empty list", {"quiesce", "--namespaces", ""}, 2, "--namespaces \"\" has an empty item"},
      {"not a namespace name", {"quiesce", "--namespaces", "Shop"}, 2,
       "--namespaces: \"Shop\" is not a namespace name"},
      {"a bad timeout", {"quiesce", "--namespaces", "shop", "--timeout", "5 minutes"}, 2,
       "--timeout \"5 minutes\" is not a duration"},
      {"a negative timeout", {"quiesce", "--namespaces", "shop", "--timeout", "-1m"}, 2,
       "--timeout \"-1m\" is not a duration"},
      {"unquiesce does not wait", {"unquiesce", "--namespaces", "shop", "--timeout", "1m"}, 2, "--timeout"},
      {"a missing namespace", {"quiesce", "--namespaces", "shop,shopp"}, 1,
       "error: quiescing shop, shopp on context \"sim\": namespace \"shopp\" (did you mean \"shop\"?) does not exist "
       "on https://127.0.0.1:"},
      {"a missing namespace to unquiesce", {"unquiesce", "--namespaces", "orders"}, 1,
       "namespace \"orders\" does not exist"},
      {"an unknown context", {"--context", "nope", "quiesce", "--namespaces", "shop"}, 1, "nope"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = RunPolling(c.args);
    EXPECT_EQ(r.code, c.want_code) << r.out << r.err;
    EXPECT_NE(r.err.find(c.want_substr), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(Replicas("web"), 1);
  EXPECT_EQ(Remembered("web"), "<none>");
}

}  // namespace
}  // namespace kdr
