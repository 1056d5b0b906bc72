// kubectl dr recovery create|get|describe|delete, in-process against a kubesim API server serving the
// product's CRDs (the target cluster, context dr-west).

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli_fixture.h"
#include "install/manifests.h"
#include "kube/client.h"
#include "kubesim/store.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using plugin::testing::CliRun;

const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kube::Gvr kPlans{"dr.kubectl-dr.dev", "v1alpha1", "drplans"};
const kube::Gvr kRecoveries{"dr.kubectl-dr.dev", "v1alpha1", "drrecoveries"};

class RecoveryCliTest : public plugin::testing::PluginOnKubesimTest {
 protected:
  RecoveryCliTest() { server_options_.clock = &clock_; }
  std::string context_name() const override { return "dr-west"; }

  void SetUp() override {
    PluginOnKubesimTest::SetUp();
    if (HasFatalFailure()) return;
    auto crds = install::BuildKustomization(install::EmbeddedManifests(), "crds");
    ASSERT_TRUE(crds.ok()) << crds.status().message();
    for (const json& crd : *crds) ASSERT_TRUE(client_->Create(kCrds, "", crd).ok());
    ASSERT_TRUE(client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                  {"metadata", {{"name", "kubectl-dr-system"}}}}).ok());
    Create(kPlans, "recovery/plan.yaml");
    Create(kPlans, "recovery/spent-plan.yaml");
  }

  // Creates the fixture's object, then its status through the status subresource.
  void Create(const kube::Gvr& gvr, const std::string& fixture) {
    auto obj = YamlToJson(testutil::ReadData(fixture), fixture);
    ASSERT_TRUE(obj.ok()) << obj.status().message();
    json status = obj->value("status", json());
    obj->erase("status");
    auto made = client_->Create(gvr, "kubectl-dr-system", *obj);
    ASSERT_TRUE(made.ok()) << fixture << ": " << made.status().message();
    if (!status.is_null()) {
      (*made)["status"] = status;
      ASSERT_TRUE(client_->UpdateStatus(gvr, "kubectl-dr-system", *made).ok());
    }
  }

  bool Exists(const kube::Gvr& gvr, const std::string& name) {
    return client_->Get(gvr, "kubectl-dr-system", name).ok();
  }

  size_t Count(const kube::Gvr& gvr) {
    auto list = client_->List(gvr, "kubectl-dr-system");
    EXPECT_TRUE(list.ok()) << list.status().message();
    return list.ok() ? (*list)["items"].size() : 0;
  }
};

TEST_F(RecoveryCliTest, CreateStoresTheModifiersBesideTheRecoveryAndSaysWhatIsNext) {
  CliRun r = Run({"recovery", "create", "shop-failover", "--plan", "shop-to-dr", "--namespaces", "shop",
                  "--resource-modifiers", testutil::DataPath("e2e/webhook/modifiers.yaml"), "--vm-power-on=true"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "drrecovery.dr.kubectl-dr.dev/shop-failover created\n");
  EXPECT_EQ(r.err,
            "recovery \"shop-failover\": Failover of plan \"shop-to-dr\" (prod-east -> dr-west), namespaces shop\n"
            "resource modifiers: 1 rule in configmap kubectl-dr-system/shop-failover-modifiers\n"
            "next: kubectl dr failover shop-failover\n");
  auto rec = client_->Get(kRecoveries, "kubectl-dr-system", "shop-failover");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ((*rec)["spec"]["planRef"]["name"], "shop-to-dr");
  EXPECT_EQ((*rec)["spec"]["action"], "Failover");
  EXPECT_EQ((*rec)["spec"]["namespaces"], json::array({"shop"}));
  EXPECT_EQ((*rec)["spec"]["transforms"]["resourceModifiers"]["configMapRef"]["name"], "shop-failover-modifiers");
  EXPECT_EQ((*rec)["spec"]["transforms"]["vm"]["powerOn"], true);
  auto cm = client_->Get(kConfigMaps, "kubectl-dr-system", "shop-failover-modifiers");
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["data"]["modifiers.yaml"], testutil::ReadData("e2e/webhook/modifiers.yaml"));
  EXPECT_FALSE((*cm)["metadata"]["labels"].contains("dr.kubectl-dr.dev/recovery"))
      << "that label would make the webhook treat the ConfigMap as a restored object";
}

TEST_F(RecoveryCliTest, ADrillMapsEveryNamespaceAwayFromTheLiveOnes) {
  CliRun r = Run({"recovery", "create", "shop-drill", "--plan", "shop-to-dr", "--action", "Test",
                  "--namespace-mapping", "shop=shop-dr1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("namespaces shop, payments restored as payments -> payments-drtest, shop -> shop-dr1"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("next: kubectl dr drill shop-drill"), std::string::npos);
  auto rec = client_->Get(kRecoveries, "kubectl-dr-system", "shop-drill");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ((*rec)["spec"]["namespaceMapping"], json({{"shop", "shop-dr1"}, {"payments", "payments-drtest"}}));
}

TEST_F(RecoveryCliTest, DryRunCreatesNothingAndPrintsTheObject) {
  CliRun r = Run({"-o", "yaml", "recovery", "create", "shop-failover", "--plan", "shop-to-dr", "--dry-run",
                  "--resource-modifiers", testutil::DataPath("e2e/webhook/modifiers.yaml")});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kind: DRRecovery"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("nothing was created (--dry-run)"), std::string::npos);
  EXPECT_EQ(Count(kRecoveries), 0u);
  EXPECT_FALSE(Exists(kConfigMaps, "shop-failover-modifiers"));
}

TEST_F(RecoveryCliTest, BadRequestsAreRefusedBeforeAnyWrite) {
  ASSERT_TRUE(client_->Create(kNamespaces, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                {"metadata", {{"name", "shop-taken"}}}}).ok());
  const std::string good = testutil::DataPath("e2e/webhook/modifiers.yaml");
  const std::string bad = testutil::DataPath("recovery/invalid-modifiers.yaml");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    int want_code;
    const char* want;
  } cases[] = {
      {"invalid modifier file", {"--resource-modifiers", bad}, 2,
       "invalid-modifiers.yaml is invalid: line 5, column 25: resourceModifierRules[0].patches[0].operation: "
       "unknown operation \"explode\""},
      {"missing modifier file", {"--resource-modifiers", "/no/such/file.yaml"}, 1, "cannot read modifier file"},
      {"unknown action", {"--action", "Migrate"}, 2, "--action \"Migrate\" is not one of Failover, Failback, Test"},
      {"action in the wrong case", {"--action", "failover"}, 2, "--action \"failover\": write it \"Failover\""},
      {"a namespace the plan does not protect", {"--namespaces", "shop,paymnts"}, 2,
       "--namespaces: \"paymnts\" is not protected by plan \"shop-to-dr\" (it protects shop, payments); did you "
       "mean \"payments\"?"},
      {"an empty namespace item", {"--namespaces", "shop,,payments"}, 2, "has an empty item"},
      {"mapping on a failover", {"--namespace-mapping", "shop=x"}, 2, "--namespace-mapping is for drills"},
      {"mapping not a pair", {"--action", "Test", "--namespace-mapping", "shop"}, 2, "is not SOURCE=TARGET"},
      {"mapping onto a protected namespace", {"--action", "Test", "--namespace-mapping", "shop=payments"}, 2,
       "onto \"payments\", which plan \"shop-to-dr\" protects"},
      {"mapping onto itself", {"--action", "Test", "--namespace-mapping", "shop=shop"}, 2, "onto itself"},
      {"mapping onto an existing namespace", {"--action", "Test", "--namespace-mapping", "shop=shop-taken"}, 1,
       "namespace \"shop-taken\" already exists on the target"},
      {"two onto one", {"--action", "Test", "--namespace-mapping", "shop=x,payments=x"}, 2,
       "maps two namespaces onto \"x\""},
      {"bad vm flag", {"--vm-power-on=yes"}, 2, "--vm-power-on=yes: use true or false"},
      {"unknown plan", {"--plan", "shop-to-d"}, 1, "did you mean \"shop-to-dr\"?"},
      {"spent plan", {"--plan", "old-to-dr"}, 1,
       "plan \"old-to-dr\" was spent by \"old-failover\"; clone it: kubectl dr plan clone old-to-dr"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = {"recovery", "create", "r1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    if (std::find(c.args.begin(), c.args.end(), "--plan") == c.args.end()) {
      args.insert(args.end(), {"--plan", "shop-to-dr"});
    }
    CliRun r = Run(args);
    EXPECT_EQ(r.code, c.want_code) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(Count(kRecoveries), 0u);
  EXPECT_FALSE(Exists(kConfigMaps, "r1-modifiers"));
}

TEST_F(RecoveryCliTest, ANameInUseIsRefusedAndNothingIsLeftBehind) {
  ASSERT_EQ(Run({"recovery", "create", "shop-failover", "--plan", "shop-to-dr"}).code, 0);
  CliRun again = Run({"recovery", "create", "shop-failover", "--plan", "shop-to-dr", "--resource-modifiers",
                      testutil::DataPath("e2e/webhook/modifiers.yaml")});
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("drrecovery \"shop-failover\" already exists in namespace kubectl-dr-system; choose "
                           "another NAME"),
            std::string::npos) << again.err;
  EXPECT_FALSE(Exists(kConfigMaps, "shop-failover-modifiers"));
}

TEST_F(RecoveryCliTest, GetListsPhaseStepAndCounts) {
  Create(kRecoveries, "recovery/running.yaml");
  ASSERT_EQ(Run({"recovery", "create", "shop-drill", "--plan", "shop-to-dr", "--action", "Test"}).code, 0);
  clock_.Advance(2h);
  CliRun r = Run({"recovery", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME           PLAN        ACTION    PHASE    STEP                  RESTORED  AGE\n"
            "shop-drill     shop-to-dr  Test      Pending  <none>                <none>    120m\n"
            "shop-failover  shop-to-dr  Failover  Running  SyncInventory (3/11)  0/0/0     120m\n");
  CliRun names = Run({"-o", "name", "recovery", "ls"});
  EXPECT_EQ(names.out, "shop-drill\nshop-failover\n");
  CliRun missing = Run({"recovery", "get", "shop-failovr"});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("did you mean \"shop-failover\"?"), std::string::npos) << missing.err;
}

TEST_F(RecoveryCliTest, DescribeShowsTheJournal) {
  Create(kRecoveries, "recovery/running.yaml");
  CliRun r = Run({"recovery", "describe", "shop-failover"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Plan:        shop-to-dr\nAction:      Failover\nNamespaces:  shop\n"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Phase:       Running\n"), std::string::npos);
  EXPECT_NE(r.out.find("  SyncInventory  Running    2         2026-01-01T00:00:05Z"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  QuiesceSource  Skipped    1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("source unreachable: quiesce skipped"), std::string::npos);
}

TEST_F(RecoveryCliTest, DeleteRemovesItsConfigMapButRefusesARunningRecoveryWithoutForce) {
  ASSERT_EQ(Run({"recovery", "create", "shop-drill", "--plan", "shop-to-dr", "--action", "Test",
                 "--resource-modifiers", testutil::DataPath("e2e/webhook/modifiers.yaml")}).code, 0);
  CliRun del = Run({"recovery", "delete", "shop-drill"});
  ASSERT_EQ(del.code, 0) << del.err;
  EXPECT_EQ(del.out, "drrecovery.dr.kubectl-dr.dev \"shop-drill\" deleted\nconfigmap \"shop-drill-modifiers\" deleted\n");
  EXPECT_FALSE(Exists(kConfigMaps, "shop-drill-modifiers"));

  Create(kRecoveries, "recovery/running.yaml");
  CliRun running = Run({"recovery", "delete", "shop-failover"});
  EXPECT_EQ(running.code, 1);
  EXPECT_NE(running.err.find("recovery \"shop-failover\" is running (step SyncInventory (3/11))"), std::string::npos)
      << running.err;
  EXPECT_EQ(Count(kRecoveries), 1u);
  CliRun forced = Run({"recovery", "delete", "shop-failover", "--force"});
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_EQ(Count(kRecoveries), 0u);
}


// Counts the requests kubesim has answered ("GET /apis/..."), so that a test can wait until the
// command under test has listed what it watches: anything written after that reaches its watch.
class RequestLog final : public LogSink {
 public:
  void Write(LogLevel, std::string_view message, const LogFields& fields) override {
    if (message != "request") return;
    std::string method, path;
    for (const auto& [k, v] : fields) {
      if (k == "method") method = v;
      if (k == "path") path = v;
    }
    std::lock_guard<std::mutex> lock(mu_);
    ++counts_[method + " " + path];
    cv_.notify_all();
  }
  void WaitFor(const std::string& request, int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return counts_[request] >= n; });
  }
  int Count(const std::string& request) {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[request];
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int> counts_;
};

constexpr char kRecoveryCollection[] = "GET /apis/dr.kubectl-dr.dev/v1alpha1/namespaces/kubectl-dr-system/drrecoveries";

class StatusCliTest : public RecoveryCliTest {
 protected:
  StatusCliTest() {
    auto sink = std::make_unique<RequestLog>();
    requests_ = sink.get();
    logger_ = std::make_unique<Logger>(std::move(sink), LogLevel::kDebug);
    server_options_.logger = logger_.get();
  }

  // Rewrites the recovery's status with `change`.
  void SetStatus(const std::function<void(json&)>& change) {
    auto obj = client_->Get(kRecoveries, "kubectl-dr-system", "shop-failover");
    ASSERT_TRUE(obj.ok()) << obj.status().message();
    change((*obj)["status"]);
    auto r = client_->UpdateStatus(kRecoveries, "kubectl-dr-system", *obj);
    ASSERT_TRUE(r.ok()) << r.status().message();
  }

  // The step SyncInventory done, then the whole recovery.
  void Finish() {
    SetStatus([](json& s) {
      s["steps"][2] = {{"name", "SyncInventory"}, {"state", "Succeeded"}, {"attempts", 2},
                       {"startedAt", "2026-01-01T00:00:05Z"}, {"finishedAt", "2026-01-01T00:00:09Z"},
                       {"message", "synced"}};
    });
    SetStatus([](json& s) {
      s["phase"] = "Succeeded";
      s["finishedAt"] = "2026-01-01T00:01:00Z";
      s["message"] = "done";
      s["restored"] = {{"created", 12}, {"skipped", 1}, {"failed", 0}};
    });
  }

  RequestLog* requests_ = nullptr;
  std::unique_ptr<Logger> logger_;
};

TEST_F(StatusCliTest, ShowsThePhaseEachStepWithElapsedTimeAndTheCounts) {
  Create(kRecoveries, "recovery/running.yaml");
  clock_.Advance(1min);
  CliRun r = Run({"status", "shop-failover"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "recovery shop-failover (Failover of plan shop-to-dr): Running, at SyncInventory (3/11)\n"
            "started 2026-01-01T00:00:00Z\n"
            "restored: 0 created, 0 skipped, 0 failed\n"
            "STEP           STATE      ATTEMPTS  ELAPSED  MESSAGE\n"
            "Preflight      Succeeded  1         1s       <none>\n"
            "QuiesceSource  Skipped    1         <none>   source unreachable: quiesce skipped\n"
            "SyncInventory  Running    2         55s      <none>\n");
}

TEST_F(StatusCliTest, JsonCarriesTheJournalAndCounts) {
  Create(kRecoveries, "recovery/running.yaml");
  clock_.Advance(1min);
  CliRun r = Run({"status", "shop-failover", "-o", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["phase"], "Running");
  EXPECT_EQ(s["step"], "SyncInventory (3/11)");
  ASSERT_EQ(s["steps"].size(), 3u);
  EXPECT_EQ(s["steps"][2]["elapsed"], "55s");
  EXPECT_EQ(s["steps"][2]["attempts"], 2);
  EXPECT_EQ(s["restored"], json({{"created", 0}, {"skipped", 0}, {"failed", 0}}));
}

TEST_F(StatusCliTest, RefusesBadInputAndOffersTheNearestRecovery) {
  Create(kRecoveries, "recovery/running.yaml");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string want;
  } cases[] = {
      {{"status", "shop-failovr"}, 1,
       "error: drrecovery \"shop-failovr\" not found in namespace kubectl-dr-system; did you mean \"shop-failover\"?"},
      {{"status", "Shop_Failover"}, 2, "NAME (the recovery)"},
      {{"status", "shop-failover", "-o", "wide"}, 2, "status"},
      {{"status"}, 2, "NAME is required"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args.size() > 1 ? c.args[1] : "no name");
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, c.code) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

TEST_F(StatusCliTest, WatchFollowsChangesUntilTheRecoveryFinishes) {
  Create(kRecoveries, "recovery/running.yaml");
  CliRun r;
  std::thread watcher([&] { r = Run({"status", "shop-failover", "--watch"}); });
  requests_->WaitFor(kRecoveryCollection, 1);  // listed: later writes reach the watch
  Finish();
  watcher.join();
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(StartsWith(r.out, "recovery shop-failover (Failover of plan shop-to-dr): Running, at SyncInventory"))
      << r.out;
  EXPECT_NE(r.out.find("SyncInventory: Succeeded (attempt 2, 4s): synced\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("restored: 12 created, 1 skipped, 0 failed\nrecovery shop-failover: Succeeded (done)\n"),
            std::string::npos)
      << r.out;
}

TEST_F(StatusCliTest, WatchReconnectsWhenTheWatchDrops) {
  Create(kRecoveries, "recovery/running.yaml");
  CliRun r;
  std::thread watcher([&] { r = Run({"status", "shop-failover", "--watch", "-o", "json"}); });
  requests_->WaitFor(kRecoveryCollection, 2);  // the list, then the watch
  server_->store()->CloseWatchers();
  Finish();
  watcher.join();
  ASSERT_EQ(r.code, 0) << r.err;
  // One document per state seen: the first, and the finished one after the reconnection.
  std::vector<json> docs;
  size_t at = 0;
  while (at < r.out.size()) {
    size_t end = r.out.find("\n}\n", at);
    ASSERT_NE(end, std::string::npos) << r.out;
    docs.push_back(json::parse(r.out.substr(at, end + 2 - at)));
    at = end + 3;
  }
  ASSERT_GE(docs.size(), 2u) << r.out;
  EXPECT_GE(requests_->Count(kRecoveryCollection), 3) << "no request after the watch dropped";
  EXPECT_EQ(docs.front()["phase"], "Running");
  EXPECT_EQ(docs.back()["phase"], "Succeeded");
  EXPECT_EQ(docs.back()["restored"]["created"], 12);
}

TEST_F(StatusCliTest, WatchAsYamlSeparatesTheDocuments) {
  Create(kRecoveries, "recovery/running.yaml");
  CliRun r;
  std::thread watcher([&] { r = Run({"status", "shop-failover", "--watch", "-o", "yaml"}); });
  requests_->WaitFor(kRecoveryCollection, 1);
  Finish();
  watcher.join();
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> docs;
  size_t at = 0;
  for (size_t sep; (sep = r.out.find("---\n", at)) != std::string::npos; at = sep + 4) {
    docs.push_back(r.out.substr(at, sep - at));
  }
  docs.push_back(r.out.substr(at));
  ASSERT_EQ(docs.size(), 3u) << r.out;  // Running, SyncInventory done, Succeeded
  auto first = YamlToJson(docs.front(), "first");
  auto last = YamlToJson(docs.back(), "last");
  ASSERT_TRUE(first.ok() && last.ok()) << r.out;
  EXPECT_EQ((*first)["phase"], "Running");
  EXPECT_EQ((*last)["phase"], "Succeeded");
}

TEST_F(StatusCliTest, WatchEndsWithAnErrorWhenTheRecoveryIsDeleted) {
  Create(kRecoveries, "recovery/running.yaml");
  CliRun r;
  std::thread watcher([&] { r = Run({"status", "shop-failover", "--watch"}); });
  requests_->WaitFor(kRecoveryCollection, 1);
  kube::DeleteOptions del;
  ASSERT_TRUE(client_->Delete(kRecoveries, "kubectl-dr-system", "shop-failover", del).ok());
  watcher.join();
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("drrecovery \"shop-failover\" was deleted from namespace kubectl-dr-system while watched"),
            std::string::npos)
      << r.err;
}

TEST_F(StatusCliTest, WatchOfAFinishedRecoveryPrintsItAndReturns) {
  Create(kRecoveries, "recovery/running.yaml");
  Finish();
  CliRun r = Run({"status", "shop-failover", "--watch"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(StartsWith(r.out, "recovery shop-failover (Failover of plan shop-to-dr): Succeeded\n"
                                "started 2026-01-01T00:00:00Z, finished 2026-01-01T00:01:00Z\n"
                                "restored: 12 created, 1 skipped, 0 failed\nmessage: done\n"))
      << r.out;
}

}  // namespace
}  // namespace kdr
