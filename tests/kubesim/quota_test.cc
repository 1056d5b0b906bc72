// ResourceQuota in kubesim as on the real pair (kube-apiserver and kube-controller-manager 1.37,
// the same quotas and requests in the same order; the messages are the real server's): the
// controller's status.used, compute quotas and their "must specify" refusal, scoped quotas, and
// updates charged as they grow usage.

#include <chrono>
#include <thread>

#include "test_support.h"

namespace kdr::kubesim {
namespace {

using testing::Client;
using json = nlohmann::json;

class QuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Server::Options o;
    ControllerOptions co;
    co.longhorn = false;
    o.controllers = co;
    auto s = Server::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(*s);
    client_ = std::make_unique<Client>(*server_, server_->admin_token());
  }

  std::string Namespace(const std::string& name) {
    EXPECT_EQ(client_->Post("/api/v1/namespaces", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}})
                  .status,
              201);
    return "/api/v1/namespaces/" + name;
  }

  static json Quota(const std::string& name, json hard, json scopes = nullptr, json selector = nullptr) {
    json q = {{"apiVersion", "v1"}, {"kind", "ResourceQuota"}, {"metadata", {{"name", name}}}, {"spec", {{"hard", hard}}}};
    if (!scopes.is_null()) q["spec"]["scopes"] = scopes;
    if (!selector.is_null()) q["spec"]["scopeSelector"] = {{"matchExpressions", selector}};
    return q;
  }

  // A pod of one container named after it, with these resources (null: none) and spec fields.
  static json Pod(const std::string& name, json resources = nullptr, json spec_extra = json::object()) {
    json container = {{"name", name}, {"image", "busybox"}};
    if (!resources.is_null()) container["resources"] = resources;
    json spec = {{"containers", json::array({container})}};
    for (const auto& [k, v] : spec_extra.items()) spec[k] = v;
    return {{"apiVersion", "v1"}, {"kind", "Pod"}, {"metadata", {{"name", name}}}, {"spec", spec}};
  }

  // status.used of ns/quota once it equals `want` (the controller writes it a moment after the
  // change), else what it is after 20 s.
  json WaitUsed(const std::string& ns, const std::string& quota, const json& want) {
    json used;
    for (int i = 0; i < 400; ++i) {
      auto r = client_->Get(ns + "/resourcequotas/" + quota);
      used = r.body.value("status", json::object()).value("used", json());
      if (used == want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return used;
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(QuotaTest, ControllerWritesHardAndUsedAndFollowsCreatesAndDeletes) {
  const std::string ns = Namespace("qc");
  json hard = {{"count/configmaps", "6"}, {"count/jobs.batch", "3"}, {"services", "2"},
               {"services.nodeports", "1"}, {"pods", "4"}, {"count/widgets.example.dev", "2"}};
  ASSERT_EQ(client_->Post(ns + "/resourcequotas", Quota("q", hard)).status, 201);
  // kube-root-ca.crt counts; a count/ of a resource nobody serves is left out of used.
  EXPECT_EQ(WaitUsed(ns, "q", {{"count/configmaps", "1"}, {"count/jobs.batch", "0"}, {"services", "0"},
                               {"services.nodeports", "0"}, {"pods", "0"}}),
            json({{"count/configmaps", "1"}, {"count/jobs.batch", "0"}, {"services", "0"}, {"services.nodeports", "0"},
                  {"pods", "0"}}));
  EXPECT_EQ(client_->Get(ns + "/resourcequotas/q").body["status"]["hard"], hard);
  json np = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "web"}}},
             {"spec", {{"type", "NodePort"}, {"ports", json::array({{{"port", 80}}})}}}};
  ASSERT_EQ(client_->Post(ns + "/services", np).status, 201);
  ASSERT_EQ(client_->Post(ns + "/configmaps", {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "a"}}}})
                .status,
            201);
  json want = {{"count/configmaps", "2"}, {"count/jobs.batch", "0"}, {"services", "1"}, {"services.nodeports", "1"},
               {"pods", "0"}};
  EXPECT_EQ(WaitUsed(ns, "q", want), want);
  ASSERT_EQ(client_->Delete(ns + "/configmaps/a").status, 200);
  want["count/configmaps"] = "1";
  EXPECT_EQ(WaitUsed(ns, "q", want), want);
}

TEST_F(QuotaTest, ComputeQuotaRefusesPodsThatDoNotSayAndChargesTheirRequestsAndLimits) {
  const std::string ns = Namespace("qt");
  json hard = {{"requests.cpu", "1"}, {"requests.memory", "1Gi"}, {"limits.cpu", "2"}, {"limits.memory", "2Gi"},
               {"pods", "3"}, {"cpu", "1"}};
  ASSERT_EQ(client_->Post(ns + "/resourcequotas", Quota("compute", hard)).status, 201);
  json big = {{"requests", {{"cpu", "800m"}, {"memory", "100Mi"}}}, {"limits", {{"cpu", "1"}, {"memory", "200Mi"}}}};
  json big2 = {{"requests", {{"cpu", "300m"}, {"memory", "100Mi"}}}, {"limits", {{"cpu", "1"}, {"memory", "200Mi"}}}};
  struct Case {
    json pod;
    int code;
    std::string message;
  } cases[] = {
      {Pod("nores"), 403,
       "pods \"nores\" is forbidden: failed quota: compute: must specify cpu for: nores; limits.cpu for: nores; "
       "limits.memory for: nores; requests.cpu for: nores; requests.memory for: nores"},
      {Pod("big", big), 201, ""},
      {Pod("big2", big2), 403,
       "pods \"big2\" is forbidden: exceeded quota: compute, requested: cpu=300m,requests.cpu=300m, used: "
       "cpu=800m,requests.cpu=800m, limited: cpu=1,requests.cpu=1"},
      {Pod("partial", json{{"requests", {{"cpu", "100m"}}}}), 403,
       "pods \"partial\" is forbidden: failed quota: compute: must specify limits.cpu for: partial; limits.memory "
       "for: partial; requests.memory for: partial"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pod["metadata"]["name"].get<std::string>());
    auto r = client_->Post(ns + "/pods", c.pod);
    EXPECT_EQ(r.status, c.code) << r.raw;
    if (c.code == 403) {
      EXPECT_EQ(r.body["message"], c.message);
    }
  }
  json want = {{"cpu", "800m"}, {"limits.cpu", "1"}, {"limits.memory", "200Mi"}, {"pods", "1"},
               {"requests.cpu", "800m"}, {"requests.memory", "100Mi"}};
  EXPECT_EQ(WaitUsed(ns, "compute", want), want);
}

TEST_F(QuotaTest, ScopedQuotasCountOnlyThePodsTheirScopesSelect) {
  const std::string ns = Namespace("qs");
  ASSERT_EQ(client_->Post("/apis/scheduling.k8s.io/v1/priorityclasses",
                          {{"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"},
                           {"metadata", {{"name", "ledger-critical"}}}, {"value", 100000}})
                .status,
            201);
  ASSERT_EQ(client_->Post(ns + "/resourcequotas", Quota("be", {{"pods", "1"}}, {"BestEffort"})).status, 201);
  ASSERT_EQ(client_->Post(ns + "/resourcequotas", Quota("term", {{"pods", "1"}}, {"Terminating"})).status, 201);
  ASSERT_EQ(client_->Post(ns + "/resourcequotas",
                          Quota("pc", {{"pods", "1"}}, nullptr,
                                json::array({{{"operator", "In"}, {"scopeName", "PriorityClass"},
                                              {"values", {"ledger-critical"}}}})))
                .status,
            201);
  json cpu = {{"requests", {{"cpu", "1m"}}}};
  struct Case {
    json pod;
    int code;
    std::string message;
  } cases[] = {
      {Pod("be1"), 201, ""},
      {Pod("be2"), 403, "pods \"be2\" is forbidden: exceeded quota: be, requested: pods=1, used: pods=1, limited: pods=1"},
      {Pod("t1", cpu, {{"activeDeadlineSeconds", 10}}), 201, ""},
      {Pod("t2", cpu, {{"activeDeadlineSeconds", 10}}), 403,
       "pods \"t2\" is forbidden: exceeded quota: term, requested: pods=1, used: pods=1, limited: pods=1"},
      {Pod("p1", cpu, {{"priorityClassName", "ledger-critical"}}), 201, ""},
      {Pod("p2", cpu, {{"priorityClassName", "ledger-critical"}}), 403,
       "pods \"p2\" is forbidden: exceeded quota: pc, requested: pods=1, used: pods=1, limited: pods=1"},
      // Selected by none of them.
      {Pod("plain", cpu), 201, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pod["metadata"]["name"].get<std::string>());
    auto r = client_->Post(ns + "/pods", c.pod);
    EXPECT_EQ(r.status, c.code) << r.raw;
    if (c.code == 403) {
      EXPECT_EQ(r.body["message"], c.message);
    }
  }
  for (const char* q : {"be", "term", "pc"}) {
    EXPECT_EQ(WaitUsed(ns, q, {{"pods", "1"}}), json({{"pods", "1"}})) << q;
  }
}

TEST_F(QuotaTest, AnUpdateIsChargedWhatItAdds) {
  const std::string ns = Namespace("qu");
  ASSERT_EQ(client_->Post(ns + "/resourcequotas", Quota("np", {{"services.nodeports", "0"}})).status, 201);
  json svc = {{"apiVersion", "v1"}, {"kind", "Service"}, {"metadata", {{"name", "s1"}}},
              {"spec", {{"ports", json::array({{{"port", 80}}})}}}};
  ASSERT_EQ(client_->Post(ns + "/services", svc).status, 201);
  auto r = client_->Patch(ns + "/services/s1", json{{"spec", {{"type", "NodePort"}}}}.dump(), "application/merge-patch+json");
  EXPECT_EQ(r.status, 403) << r.raw;
  EXPECT_EQ(r.body["message"],
            "services \"s1\" is forbidden: exceeded quota: np, requested: services.nodeports=1, used: "
            "services.nodeports=0, limited: services.nodeports=0");
  // An update that adds nothing passes.
  EXPECT_EQ(client_->Patch(ns + "/services/s1", json{{"metadata", {{"labels", {{"a", "b"}}}}}}.dump(),
                           "application/merge-patch+json")
                .status,
            200);
}

}  // namespace
}  // namespace kdr::kubesim
