// The webhook's caches fed by list+watch from a real (kubesim) API server that goes away and comes
// back: readiness follows the watches, and a decision taken meanwhile says it came from a cache
// out of sync; the guard's wording, table-driven, on a cache set by hand.

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "admission/cache.h"
#include "admission/policy.h"
#include "admission/populator.h"
#include "admission/review.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "dr/types.h"
#include "install/manifests.h"
#include "kube/client.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

constexpr char kDrNamespace[] = "kubectl-dr-system";

bool Eventually(const std::function<bool()>& done, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

Response Decide(const Policy& policy, const std::string& fixture) {
  Request req;
  Status st = DecodeReview(testutil::ReadData("admission/" + fixture), &req);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return policy.Handle(req);
}

TEST(CacheFreshnessTest, SyncedOnlyWhenEveryKindIsListedAndNoneIsStale) {
  StateCache cache;
  EXPECT_FALSE(cache.Synced());
  EXPECT_EQ(cache.UnsyncedKinds().size(), std::size(kAllCacheKinds));
  for (CacheKind k : kAllCacheKinds) cache.MarkSynced(k);
  EXPECT_TRUE(cache.Synced());
  EXPECT_TRUE(cache.UnsyncedKinds().empty());
  EXPECT_EQ(UnsyncedCacheNote(cache), "");

  cache.MarkStale(CacheKind::kPvcs, "2026-12-03T07:00:00Z", "unavailable: connection refused");
  cache.MarkStale(CacheKind::kPvcs, "2026-12-03T07:00:05Z", "unavailable: connection reset");
  EXPECT_FALSE(cache.Synced());
  auto unsynced = cache.UnsyncedKinds();
  ASSERT_EQ(unsynced.size(), 1u);
  EXPECT_EQ(unsynced[0].kind, CacheKind::kPvcs);
  EXPECT_TRUE(unsynced[0].listed);
  EXPECT_EQ(unsynced[0].since, "2026-12-03T07:00:00Z");  // the first failure
  EXPECT_EQ(unsynced[0].why, "unavailable: connection reset");  // the latest
  EXPECT_EQ(UnsyncedCacheNote(cache),
            "decided from the webhook's cache while it is out of sync with the API server "
            "(persistentvolumeclaims: watch failing since 2026-12-03T07:00:00Z: unavailable: "
            "connection reset): the cluster may have changed since; retry once the webhook is "
            "ready (/readyz)");
  cache.MarkSynced(CacheKind::kPvcs);  // the relist
  EXPECT_TRUE(cache.Synced());
}

TEST(CacheFreshnessTest, GuardSaysSoOnEveryDecisionFromACacheOutOfSync) {
  StateCache cache;
  cache.UpsertPvc({"shop", "shop-inventory", {{std::string(dr::kFailedOverLabel), "p"}}, {}, ""});
  std::unique_ptr<Policy> fenced = NewFencedPvcPolicy(&cache, kDrNamespace);
  std::unique_ptr<Policy> guarded = NewCacheFreshnessGuard(fenced.get(), &cache);
  struct Case {
    const char* name;
    std::function<void()> state;
    const char* fixture;
    bool want_allowed;
    const char* want_note;  // in the message (refused) or a warning (allowed); "" for none
  } cases[] = {
      {"not listed yet, refused", [] {}, "pod-create.json", false,
       "(drplans: not listed yet; drrecoveries: not listed yet; persistentvolumeclaims: not "
       "listed yet;"},
      {"in sync, refused", [&] { for (CacheKind k : kAllCacheKinds) cache.MarkSynced(k); },
       "pod-create.json", false, ""},
      {"in sync, allowed", [] {}, "unknown-kind.json", true, ""},
      {"watch broken, refused",
       [&] { cache.MarkStale(CacheKind::kPvcs, "2026-12-03T07:00:00Z", "unavailable: eof"); },
       "pod-create.json", false,
       "out of sync with the API server (persistentvolumeclaims: watch failing since "
       "2026-12-03T07:00:00Z: unavailable: eof)"},
      {"watch broken, allowed", [] {}, "unknown-kind.json", true,
       "(persistentvolumeclaims: watch failing since 2026-12-03T07:00:00Z: unavailable: eof)"},
      {"relisted", [&] { cache.MarkSynced(CacheKind::kPvcs); }, "pod-create.json", false, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    c.state();
    Response plain = Decide(*fenced, c.fixture);
    Response r = Decide(*guarded, c.fixture);
    EXPECT_EQ(r.allowed, c.want_allowed);
    EXPECT_EQ(r.allowed, plain.allowed);
    EXPECT_EQ(r.code, plain.code);
    std::string said = r.message;
    for (const auto& w : r.warnings) said += "\n" + w;
    if (std::string_view(c.want_note).empty()) {
      EXPECT_EQ(r.message, plain.message);
      EXPECT_EQ(r.warnings, plain.warnings);
    } else {
      EXPECT_NE(said.find(c.want_note), std::string::npos) << said;
      EXPECT_NE(said.find("retry once the webhook is ready"), std::string::npos) << said;
      if (!r.allowed) {
        EXPECT_EQ(r.message.rfind(plain.message, 0), 0u) << r.message;
      }
    }
  }
}

// The populator against kubesim, which is stopped and started again on the same port and data.
TEST(CacheFreshnessTest, ReadinessFollowsTheWatchesThroughAnApiServerOutage) {
  testutil::TempDir dir;
  kubesim::Server::Options o;
  o.data_dir = dir.path() + "/kubesim";
  auto started = kubesim::Server::Start(o);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::unique_ptr<kubesim::Server> apiserver = std::move(started).value();

  RealClock clock;
  PosixFileSystem fs;
  std::ostringstream log;
  Logger logger(std::make_unique<JsonLogSink>(&log, nullptr));
  Env env{&clock, &fs, &logger};
  kube::RestConfig config;
  config.server = apiserver->url();
  config.ca_pem = apiserver->ca_pem();
  config.bearer_token = apiserver->admin_token();
  auto made = kube::Client::Create(config, env);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  std::unique_ptr<kube::Client> client = std::move(made).value();
  const kube::Gvr crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
  auto manifests = install::BuildKustomization(install::EmbeddedManifests(), "crds");
  ASSERT_TRUE(manifests.ok()) << manifests.status().message();
  for (const json& crd : *manifests) ASSERT_TRUE(client->Create(crds, "", crd).ok());
  const kube::Gvr namespaces{"", "v1", "namespaces"};
  for (const char* ns : {kDrNamespace, "shop"}) {
    ASSERT_TRUE(client->Create(namespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                {"metadata", {{"name", ns}}}}).ok());
  }
  ASSERT_TRUE(client->Create({"", "v1", "persistentvolumeclaims"}, "shop",
                             {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"},
                              {"metadata", {{"name", "shop-inventory"},
                                            {"labels", {{std::string(dr::kFailedOverLabel), "p"}}}}},
                              {"spec", {{"accessModes", {"ReadWriteOnce"}},
                                        {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}})
                  .ok());

  StateCache cache;
  std::unique_ptr<Policy> fenced = NewFencedPvcPolicy(&cache, kDrNamespace);
  std::unique_ptr<Policy> guarded = NewCacheFreshnessGuard(fenced.get(), &cache);
  CachePopulator populator(client.get(), &cache, kDrNamespace, &logger);
  populator.Start();
  ASSERT_TRUE(Eventually([&] { return cache.Synced(); }, std::chrono::seconds(20))) << log.str();
  Response r = Decide(*guarded, "pod-create.json");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.message.find("out of sync"), std::string::npos) << r.message;

  // The API server goes away: every watch breaks, readiness goes with it, and the same denial
  // now says where it comes from.
  const int port = apiserver->port();
  apiserver->Stop();
  apiserver.reset();
  ASSERT_TRUE(Eventually([&] { return !cache.Synced(); }, std::chrono::seconds(20)));
  ASSERT_TRUE(Eventually([&] { return cache.UnsyncedKinds().size() == std::size(kAllCacheKinds); },
                         std::chrono::seconds(20)));
  for (const auto& k : cache.UnsyncedKinds()) {
    SCOPED_TRACE(std::string(CacheKindName(k.kind)));
    EXPECT_TRUE(k.listed);
    EXPECT_FALSE(k.since.empty());
    EXPECT_FALSE(k.why.empty());
  }
  r = Decide(*guarded, "pod-create.json");
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("fenced"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("out of sync with the API server (drplans: watch failing since "),
            std::string::npos) << r.message;
  EXPECT_NE(r.message.find("persistentvolumeclaims: watch failing since"), std::string::npos);

  // Back on the same address with the same data: the relists make it ready again.
  o.listen = "127.0.0.1:" + std::to_string(port);
  started = kubesim::Server::Start(o);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  apiserver = std::move(started).value();
  ASSERT_TRUE(Eventually([&] { return cache.Synced(); }, std::chrono::seconds(60))) << log.str();
  r = Decide(*guarded, "pod-create.json");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.message.find("out of sync"), std::string::npos) << r.message;
  populator.Stop();
}

}  // namespace
}  // namespace kdr::admission
