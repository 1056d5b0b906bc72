#include "kube/discovery.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>

#include "kube/client.h"
#include "kube/transport_https.h"
#include "testutil/testutil.h"
#include "testutil/tls_server.h"

namespace kdr::kube {
namespace {

using nlohmann::json;
using testutil::Reply;
using testutil::ServerRequest;
using testutil::TlsServer;

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.SetHandler([this](const ServerRequest& req) {
      ++calls_;
      std::string fixture;
      if (req.path == "/api") fixture = "discovery_api.json";
      if (req.path == "/api/v1") fixture = "discovery_api_v1.json";
      if (req.path == "/apis") fixture = "discovery_apis.json";
      if (req.path == "/apis/apps/v1") fixture = "discovery_apps_v1.json";
      if (req.path == "/apis/events.k8s.io/v1") fixture = "discovery_events_v1.json";
      if (req.path == "/apis/dr.kubectl-dr.dev/v1alpha1" && crd_installed_) fixture = "discovery_dr_v1alpha1.json";
      if (req.path == "/apis/metrics.k8s.io/v1beta1") {
        return Reply::KubeStatus(403, "Forbidden", "metrics is down");  // an aggregated API failing
      }
      if (req.path == "/apis" && apis_broken_) return Reply::KubeStatus(403, "Forbidden", "no discovery for you");
      if (fixture.empty()) return Reply::KubeStatus(404, "NotFound", "the server could not find the requested resource");
      return Reply::Json(200, testutil::ReadData("kube/" + fixture));
    });
    RestConfig c;
    c.server = server_.url();
    c.ca_pem = server_.ca().cert_pem;
    c.qps = 0;
    auto t = HttpsTransport::Create(c);
    ASSERT_TRUE(t.ok());
    client_ = std::make_unique<Client>(c, std::move(t).value(), nullptr, env_);
  }

  TlsServer server_;
  testutil::FakeClock clock_;
  Env env_{&clock_, nullptr, nullptr};
  std::unique_ptr<Client> client_;
  std::atomic<int> calls_{0};
  std::atomic<bool> crd_installed_{true};
  std::atomic<bool> apis_broken_{false};
};

TEST_F(DiscoveryTest, MapsKindsToResourcesAndScope) {
  RestMapper& m = client_->mapper();
  auto d = m.ForKind(Gvk{"apps", "v1", "Deployment"});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->gvr, (Gvr{"apps", "v1", "deployments"}));
  EXPECT_TRUE(d->namespaced);
  EXPECT_TRUE(d->HasSubresource("scale"));
  EXPECT_TRUE(d->HasSubresource("status"));
  auto ns = m.ForKind(Gvk{"", "v1", "Namespace"});
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(ns->gvr.resource, "namespaces");
  EXPECT_FALSE(ns->namespaced);
  auto plan = m.ForObject(json{{"apiVersion", "dr.kubectl-dr.dev/v1alpha1"}, {"kind", "DRPlan"}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->gvr.GroupResource(), "drplans.dr.kubectl-dr.dev");
  auto back = m.ForResource(Gvr{"", "v1", "persistentvolumeclaims"});
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->kind, "PersistentVolumeClaim");
}

TEST_F(DiscoveryTest, ResolvesKubectlStyleNames) {
  struct Case {
    const char* name;
    Gvr want;
  };
  const Case cases[] = {
      {"deploy", {"apps", "v1", "deployments"}},
      {"deployments", {"apps", "v1", "deployments"}},
      {"deployment", {"apps", "v1", "deployments"}},
      {"Deployment", {"apps", "v1", "deployments"}},
      {"deployments.apps", {"apps", "v1", "deployments"}},
      {"deployments.v1.apps", {"apps", "v1", "deployments"}},
      {"drp", {"dr.kubectl-dr.dev", "v1alpha1", "drplans"}},
      {"drrecoveries.dr.kubectl-dr.dev", {"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"}},
      {"ns", {"", "v1", "namespaces"}},
      {"pvc", {"", "v1", "persistentvolumeclaims"}},
      {"events", {"", "v1", "events"}},
      {"events.events.k8s.io", {"events.k8s.io", "v1", "events"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = client_->mapper().Resolve(c.name);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->gvr, c.want);
  }
}

TEST_F(DiscoveryTest, UnknownNamesAreNotFoundWithSuggestion) {
  auto r = client_->mapper().Resolve("deploymnets");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("doesn't have a resource type \"deploymnets\""), std::string::npos);
  EXPECT_NE(r.status().message().find("did you mean \"deployments\""), std::string::npos) << r.status().message();
  auto k = client_->mapper().ForKind(Gvk{"apps", "v2", "Deployment"});
  EXPECT_EQ(k.status().code(), StatusCode::kNotFound);
  EXPECT_NE(k.status().message().find("no resource for kind \"Deployment\" in apps/v2"), std::string::npos);
  auto bad = client_->mapper().ForObject(json{{"kind", "Pod"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("no apiVersion"), std::string::npos);
}

TEST_F(DiscoveryTest, CachesAndReloadsOnceOnMiss) {
  crd_installed_ = false;
  RestMapper& m = client_->mapper();
  ASSERT_TRUE(m.ForKind(Gvk{"apps", "v1", "Deployment"}).ok());
  int after_load = calls_;
  ASSERT_TRUE(m.ForKind(Gvk{"", "v1", "Pod"}).ok());
  EXPECT_EQ(calls_, after_load);  // cached

  // A kind the server does not serve costs exactly one reload.
  EXPECT_TRUE(m.ForKind(Gvk{"dr.kubectl-dr.dev", "v1alpha1", "DRPlan"}).status().IsNotFound());
  EXPECT_EQ(calls_, 2 * after_load);

  // Installed meanwhile: found by the reload a miss triggers.
  crd_installed_ = true;
  auto plan = m.ForKind(Gvk{"dr.kubectl-dr.dev", "v1alpha1", "DRPlan"});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_TRUE(plan->namespaced);
}

TEST_F(DiscoveryTest, FailingAggregatedGroupIsLeftOut) {
  auto all = client_->mapper().Resources();
  ASSERT_TRUE(all.ok());
  for (const auto& r : *all) EXPECT_NE(r.gvr.group, "metrics.k8s.io");
  EXPECT_EQ(all->size(), 9u);  // 4 core, 2 apps, 1 events.k8s.io, 2 dr; subresources folded in
}

TEST_F(DiscoveryTest, FailingGroupListIsAnError) {
  apis_broken_ = true;
  auto all = client_->mapper().Resources();
  EXPECT_EQ(all.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(all.status().message().find("no discovery for you"), std::string::npos);
}

}  // namespace
}  // namespace kdr::kube
