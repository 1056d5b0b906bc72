#pragma once

// Workloads on an in-process kubesim, for the quiesce and verify tests: a cluster (with kubesim's
// controllers making pods and reporting readiness, or without them when a test writes the status
// itself), a client, namespace "shop", and builders for Deployments, StatefulSets, DaemonSets,
// bare pods and KubeVirt VirtualMachines (kubesim runs no KubeVirt: the CRDs are installed, the
// VMs are plain objects).

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/strings.h"
#include "kube/client.h"
#include "kube/rest_config.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::dr::testing {

using nlohmann::json;

inline const kube::Gvr kNamespaces{"", "v1", "namespaces"};
inline const kube::Gvr kPods{"", "v1", "pods"};
inline const kube::Gvr kServiceAccounts{"", "v1", "serviceaccounts"};
inline const kube::Gvr kPvcs{"", "v1", "persistentvolumeclaims"};
inline const kube::Gvr kDeployments{"apps", "v1", "deployments"};
inline const kube::Gvr kStatefulSets{"apps", "v1", "statefulsets"};
inline const kube::Gvr kDaemonSets{"apps", "v1", "daemonsets"};
inline const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
inline const kube::Gvr kVms{"kubevirt.io", "v1", "virtualmachines"};
inline const kube::Gvr kVmis{"kubevirt.io", "v1", "virtualmachineinstances"};

// A FakeClock (sleeps advance time at once) that yields the CPU at each sleep, so kubesim's
// controller threads run while the code under test polls.
class PollClock final : public Clock {
 public:
  WallTime Now() const override { return fake_.Now(); }
  MonoTime Monotonic() const override { return fake_.Monotonic(); }
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override {
    std::this_thread::yield();
    return fake_.SleepFor(d, stop);
  }
  std::chrono::nanoseconds slept() const { return fake_.slept(); }

 private:
  testutil::FakeClock fake_;
};

// A PollClock that records every pause asked of it, in order.
class PauseRecordingClock final : public Clock {
 public:
  WallTime Now() const override { return inner_.Now(); }
  MonoTime Monotonic() const override { return inner_.Monotonic(); }
  bool SleepFor(std::chrono::nanoseconds d, std::stop_token stop = {}) override {
    pauses_.push_back(d);
    return inner_.SleepFor(d, stop);
  }
  const std::vector<std::chrono::nanoseconds>& pauses() const { return pauses_; }

 private:
  PollClock inner_;
  std::vector<std::chrono::nanoseconds> pauses_;
};

// "62.5ms 125ms ..." for a failure message.
inline std::string Pauses(const std::vector<std::chrono::nanoseconds>& pauses) {
  std::string out;
  for (auto p : pauses) out += std::to_string(std::chrono::duration<double, std::milli>(p).count()) + "ms ";
  return out;
}

// True once pred() holds, checking every 10ms for up to 20s of real time (the controllers are
// other threads: this bounds the wait, it never decides an outcome).
inline bool Eventually(const std::function<bool()>& pred) {
  auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

inline json PodTemplate(const std::string& app, json pod_spec = json::object(), json meta = json::object()) {
  meta["labels"]["app"] = app;
  if (!pod_spec.contains("containers")) pod_spec["containers"] = json::array({{{"name", "main"}, {"image", "nginx"}}});
  return {{"metadata", meta}, {"spec", pod_spec}};
}

inline json Deployment(const std::string& name, std::optional<int> replicas, json labels = json::object(),
                       json tmpl = json()) {
  json spec = {{"selector", {{"matchLabels", {{"app", name}}}}},
               {"template", tmpl.is_null() ? PodTemplate(name) : tmpl}};
  if (replicas) spec["replicas"] = *replicas;
  return {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"namespace", "shop"}, {"labels", labels}}}, {"spec", spec}};
}

inline json StatefulSet(const std::string& name, int replicas, json claim_templates = json::array()) {
  json spec = {{"replicas", replicas},
               {"serviceName", name},
               {"selector", {{"matchLabels", {{"app", name}}}}},
               {"template", PodTemplate(name)}};
  if (!claim_templates.empty()) spec["volumeClaimTemplates"] = claim_templates;
  return {{"apiVersion", "apps/v1"}, {"kind", "StatefulSet"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}}, {"spec", spec}};
}

inline json DaemonSet(const std::string& name) {
  return {{"apiVersion", "apps/v1"}, {"kind", "DaemonSet"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}},
          {"spec", {{"selector", {{"matchLabels", {{"app", name}}}}}, {"template", PodTemplate(name)}}}};
}

inline json BarePod(const std::string& name, json owner = json()) {
  json meta = {{"name", name}, {"namespace", "shop"}};
  if (!owner.is_null()) {
    meta["ownerReferences"] = json::array({{{"apiVersion", owner["apiVersion"]}, {"kind", owner["kind"]},
                                            {"name", owner["metadata"]["name"]}, {"uid", owner["metadata"]["uid"]},
                                            {"controller", true}}});
  }
  return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", meta},
          {"spec", {{"containers", json::array({{{"name", "main"}, {"image", "nginx"}}})}}}};
}

inline json VirtualMachine(const std::string& name, json spec) {
  spec["template"] = {{"spec", {{"domain", {{"devices", json::object()}}}}}};
  return {{"apiVersion", "kubevirt.io/v1"}, {"kind", "VirtualMachine"},
          {"metadata", {{"name", name}, {"namespace", "shop"}}}, {"spec", spec}};
}

inline json Crd(const std::string& kind, const std::string& plural) {
  return {{"apiVersion", "apiextensions.k8s.io/v1"},
          {"kind", "CustomResourceDefinition"},
          {"metadata", {{"name", plural + ".kubevirt.io"}}},
          {"spec",
           {{"group", "kubevirt.io"},
            {"scope", "Namespaced"},
            {"names", {{"kind", kind}, {"plural", plural}, {"singular", ToLower(kind)}, {"listKind", kind + "List"}}},
            {"versions", json::array({{{"name", "v1"}, {"served", true}, {"storage", true},
                                       {"subresources", {{"status", json::object()}}},
                                       {"schema", {{"openAPIV3Schema", {{"type", "object"},
                                                                        {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}};
}

class DrOnKubesimTest : public ::testing::Test {
 protected:
  // With kubesim's controllers (pods, readiness, the default ServiceAccount) unless false.
  explicit DrOnKubesimTest(bool controllers = true) : controllers_(controllers) {}

  void SetUp() override {
    kubesim::Server::Options options;
    if (controllers_) {
      options.controllers = kubesim::ControllerOptions{};
      options.controllers->longhorn = false;
      options.controllers->resync_interval = std::chrono::milliseconds(200);
    }
    auto server = kubesim::Server::Start(options);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    kube::RestConfig c;
    c.server = server_->url();
    c.ca_pem = server_->ca_pem();
    c.bearer_token = server_->admin_token();
    c.qps = 0;
    auto client = kube::Client::Create(c, env());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
    MustCreate(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}});
    if (controllers_) {
      // Pods without a service account name run as `default`, which the namespace controller makes.
      ASSERT_TRUE(Eventually([&] { return client_->Get(kServiceAccounts, "shop", "default").ok(); }));
    }
  }

  Env env() { return Env{&clock_, &fs_, nullptr}; }

  json MustCreate(const kube::Gvr& gvr, const std::string& ns, const json& object) {
    Result<json> r = client_->Create(gvr, ns, object);
    EXPECT_TRUE(r.ok()) << gvr.resource << " " << object.dump() << ": " << r.status().ToString();
    return r.ok() ? *r : json();
  }

  json Get(const kube::Gvr& gvr, const std::string& name, const std::string& ns = "shop") {
    Result<json> r = client_->Get(gvr, ns, name);
    EXPECT_TRUE(r.ok()) << gvr.resource << " " << name << ": " << r.status().ToString();
    return r.ok() ? *r : json();
  }

  // Writes status over whatever is there (tests without controllers).
  void SetStatus(const kube::Gvr& gvr, const std::string& name, const json& status) {
    json o = Get(gvr, name);
    o["status"] = status;
    Result<json> r = client_->UpdateStatus(gvr, "shop", o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }

  int64_t Replicas(const kube::Gvr& gvr, const std::string& name) {
    return Get(gvr, name).value("/spec/replicas"_json_pointer, int64_t{-1});
  }

  std::string AnnotationOf(const kube::Gvr& gvr, const std::string& name, const std::string& key) {
    return Get(gvr, name)["metadata"].value("annotations", json::object()).value(key, "<none>");
  }

  std::string Version(const kube::Gvr& gvr, const std::string& name) {
    return Get(gvr, name)["metadata"].value("resourceVersion", "");
  }

  // The names of the pods of namespace shop whose name starts with prefix.
  std::vector<std::string> Pods(const std::string& prefix = "") {
    std::vector<std::string> out;
    Result<json> list = client_->List(kPods, "shop");
    EXPECT_TRUE(list.ok()) << list.status().ToString();
    if (!list.ok()) return out;
    for (const json& p : (*list)["items"]) {
      std::string name = p["metadata"]["name"];
      if (name.rfind(prefix, 0) == 0) out.push_back(name);
    }
    return out;
  }

  // True once the workload's status reports `ready` ready replicas (numberReady for DaemonSets).
  bool ReadyEventually(const kube::Gvr& gvr, const std::string& name, int64_t ready) {
    const char* field = gvr == kDaemonSets ? "numberReady" : "readyReplicas";
    return Eventually([&] {
      Result<json> o = client_->Get(gvr, "shop", name);
      return o.ok() && (*o)["status"].value(field, int64_t{0}) == ready;
    });
  }

  // Installs the KubeVirt CRDs kubesim lacks and waits until the API serves them.
  void InstallKubeVirt() {
    MustCreate(kCrds, "", Crd("VirtualMachine", "virtualmachines"));
    MustCreate(kCrds, "", Crd("VirtualMachineInstance", "virtualmachineinstances"));
    ASSERT_TRUE(Eventually([&] { return client_->List(kVms, "shop").ok() && client_->List(kVmis, "shop").ok(); }));
  }

  const bool controllers_;
  PollClock clock_;
  testutil::MemFileSystem fs_;
  std::unique_ptr<kubesim::Server> server_;
  std::unique_ptr<kube::Client> client_;
};

}  // namespace kdr::dr::testing
