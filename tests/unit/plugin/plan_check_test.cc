// kubectl dr plan check, in-process against two kubesim clusters with kubectl-dr installed on
// both (`kubectl dr install --webhook-url`, the webhook serving in this process): the target
// (context dr-west) holds the plans, the source (context prod-east) the workloads; the inventory
// is captured into a temp directory as `--agent local` reads it.

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/strings.h"
#include "cli_fixture.h"
#include "kube/client.h"
#include "testutil/testutil.h"
#include "webhook_fixture.h"

namespace kdr {
namespace {

using nlohmann::json;
using plugin::testing::CliRun;

const kube::Gvr kConfigMaps{"", "v1", "configmaps"};
constexpr char kFenced[] = "dr.kubectl-dr.dev/fenced";
constexpr char kFailedOver[] = "dr.kubectl-dr.dev/failed-over";

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

struct Row {
  std::string result;
  std::string details;
};

// The CHECK RESULT DETAILS table of the report, by check name (cells are two spaces apart).
std::map<std::string, Row> Rows(const std::string& out) {
  std::map<std::string, Row> rows;
  bool in_table = false;
  for (const std::string& line : Split(out, '\n')) {
    if (StartsWith(line, "CHECK ")) {
      in_table = true;
      continue;
    }
    if (!in_table) continue;
    if (line.empty() || line[0] == ' ' || EndsWith(line, ":")) break;
    std::vector<std::string> cells;
    size_t at = 0;
    while (at < line.size() && cells.size() < 2) {
      size_t gap = line.find("  ", at);
      cells.push_back(line.substr(at, gap - at));
      at = line.find_first_not_of(' ', gap);
    }
    rows[cells[0]] = {cells.size() > 1 ? cells[1] : "", at == std::string::npos ? "" : line.substr(at)};
  }
  return rows;
}

class PlanCheckTest : public plugin::testing::TwoSitesTest {
 protected:
  void SetUp() override {
    TwoSitesTest::SetUp();
    if (HasFatalFailure()) return;
    Plan("plan/ready-plan.yaml");  // orders-to-dr: namespace orders, driver none
    Plan("plan/spent-plan.yaml");  // shop-to-dr, spent by shop-failover
    certs_ = dir_.path() + "/certs";
    Status started = webhook_.Start(certs_);
    ASSERT_TRUE(started.ok()) << started.message();
    for (const char* context : {"dr-west", "prod-east"}) {
      CliRun r = Run({"--context", context, "install", "--webhook-url", webhook_.url(), "--cert-dir", certs_});
      ASSERT_EQ(r.code, 0) << context << ": " << r.err;
    }
    // The workloads and the plan's inventory claim on the source (install made its namespace);
    // the inventory as replicated goes to a directory.
    Claim("kubectl-dr-system", "orders-inventory");
    Namespace(*source_client_, "orders");
    Make(*source_client_, kConfigMaps, "orders",
         {{"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}}}, {"data", {{"a", "1"}}}});
    inventory_ = dir_.path() + "/inventory";
  }

  void Capture() {
    CliRun c = Run({"inventory", "capture", "--plan", "orders-to-dr", "--agent", "local", "--inventory-path",
                    inventory_});
    ASSERT_EQ(c.code, 0) << c.err;
  }

  CliRun Check(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"plan", "check", "orders-to-dr", "--inventory-path", inventory_};
    args.insert(args.end(), extra.begin(), extra.end());
    return Run(args);
  }

  plugin::testing::InProcessWebhook webhook_;
  std::string certs_;
  std::string inventory_;
};

TEST_F(PlanCheckTest, ReadyPlanPassesEveryCheckAndExitsZero) {
  Capture();
  clock_.Advance(std::chrono::minutes(5));
  CliRun r = Check();
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(StartsWith(r.out, "plan orders-to-dr (prod-east -> dr-west): ready for a failover\n")) << r.out;
  std::map<std::string, Row> rows = Rows(r.out);
  for (const char* check : {"plan", "source cluster", "webhook on target", "webhook on source", "inventory",
                            "conflicts on target", "fencing on source"}) {
    ASSERT_TRUE(rows.count(check)) << check << " missing in:\n" << r.out;
    EXPECT_EQ(rows[check].result, "ok") << check << ": " << rows[check].details;
  }
  EXPECT_EQ(rows["webhook on target"].details,
            "installed, and the API server reaches it (dry-run admission answered)");
  EXPECT_EQ(rows["inventory"].details, "generation 1 captured 2026-01-01T00:00:00Z (RPO 300s), 2 objects");
  EXPECT_FALSE(Contains(r.out, "To do:")) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(PlanCheckTest, JsonReportCarriesTheVerdictRpoAndEveryCheck) {
  Capture();
  CliRun r = Check({"-o", "json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  auto report = json::parse(r.out);
  EXPECT_EQ(report["plan"], "orders-to-dr");
  EXPECT_EQ(report["ready"], true);
  EXPECT_EQ(report["rpo"]["inventoryGeneration"], 1);
  EXPECT_EQ(report["rpo"]["inventoryCapturedAt"], "2026-01-01T00:00:00Z");
  EXPECT_EQ(report["rpo"]["ageSeconds"], 0);
  EXPECT_GE(report["checks"].size(), 7u);
  for (const json& c : report["checks"]) EXPECT_EQ(c["result"], "ok") << c.dump();
  EXPECT_TRUE(report["conflicts"].empty());
}

TEST_F(PlanCheckTest, SpentPlanFailsNamingTheRecoveryAndTheClone) {
  CliRun r = Run({"plan", "check", "shop-to-dr"});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(StartsWith(r.out, "plan shop-to-dr (prod-east -> dr-west): NOT READY (")) << r.out;
  std::map<std::string, Row> rows = Rows(r.out);
  EXPECT_EQ(rows["plan"].result, "failed");
  EXPECT_EQ(rows["plan"].details, "spent by \"shop-failover\" at 2026-11-21T08:19:00Z");
  EXPECT_TRUE(Contains(r.out, "  plan: kubectl dr plan clone shop-to-dr --name NEW --inventory-pvc NEW-PVC\n"))
      << r.out;
  EXPECT_TRUE(Contains(r.err, "error: plan \"shop-to-dr\" is not ready for a failover: ")) << r.err;
}

TEST_F(PlanCheckTest, MissingWebhookOnTheTargetFailsWithTheInstallCommand) {
  Capture();
  ASSERT_EQ(Run({"--context", "dr-west", "uninstall"}).code, 0);
  CliRun r = Check();
  EXPECT_EQ(r.code, 1);
  std::map<std::string, Row> rows = Rows(r.out);
  EXPECT_EQ(rows["webhook on target"].result, "failed");
  EXPECT_TRUE(Contains(rows["webhook on target"].details, "the kubectl-dr webhook is not installed on the target"))
      << rows["webhook on target"].details;
  EXPECT_EQ(rows["webhook on source"].result, "ok");
  EXPECT_TRUE(Contains(r.out, "  webhook on target: kubectl dr install --context dr-west\n")) << r.out;
}

TEST_F(PlanCheckTest, InstalledWebhookThatDoesNotAnswerFailsOnBothSites) {
  Capture();
  webhook_.Stop();
  CliRun r = Check();
  EXPECT_EQ(r.code, 1);
  std::map<std::string, Row> rows = Rows(r.out);
  for (const char* check : {"webhook on target", "webhook on source"}) {
    EXPECT_EQ(rows[check].result, "failed") << check;
    EXPECT_TRUE(Contains(rows[check].details, "cannot call the kubectl-dr webhook")) << rows[check].details;
    EXPECT_TRUE(Contains(rows[check].details, "failed calling webhook")) << rows[check].details;
  }
}

TEST_F(PlanCheckTest, StaleInventoryFailsUnlessWithinMaxRpo) {
  Capture();
  clock_.Advance(std::chrono::hours(2));
  CliRun stale = Check();
  EXPECT_EQ(stale.code, 1);
  std::map<std::string, Row> rows = Rows(stale.out);
  EXPECT_EQ(rows["inventory"].result, "failed");
  EXPECT_EQ(rows["inventory"].details,
            "generation 1 captured 2026-01-01T00:00:00Z (RPO 7200s), 2 objects: older than --max-rpo 3600s");
  EXPECT_TRUE(Contains(stale.out, "kubectl dr inventory capture --plan orders-to-dr")) << stale.out;

  CliRun relaxed = Check({"--max-rpo", "3h"});
  EXPECT_EQ(relaxed.code, 0) << relaxed.out;
}

TEST_F(PlanCheckTest, MissingInventorySaysWhatCouldNotBeChecked) {
  CliRun none = Run({"plan", "check", "orders-to-dr"});
  EXPECT_EQ(none.code, 1);
  std::map<std::string, Row> rows = Rows(none.out);
  for (const char* check : {"inventory", "storage", "conflicts on target"}) {
    EXPECT_EQ(rows[check].result, "unchecked") << check;
    EXPECT_TRUE(StartsWith(rows[check].details, "no --inventory-path: the replicated inventory holds "))
        << rows[check].details;
  }
  EXPECT_TRUE(Contains(none.out, "  inventory: give --inventory-path DIR\n")) << none.out;

  CliRun empty = Check();  // nothing captured into the directory
  EXPECT_EQ(empty.code, 1);
  rows = Rows(empty.out);
  EXPECT_EQ(rows["inventory"].result, "failed");
  EXPECT_TRUE(StartsWith(rows["inventory"].details, inventory_ + ": ")) << rows["inventory"].details;
  EXPECT_EQ(rows["storage"].result, "unchecked");
}

TEST_F(PlanCheckTest, ConflictsOnTheTargetAreListed) {
  Capture();
  Namespace(*client_, "orders");
  Make(*client_, kConfigMaps, "orders", {{"kind", "ConfigMap"}, {"metadata", {{"name", "settings"}}}});
  CliRun r = Check();
  EXPECT_EQ(r.code, 1);
  std::map<std::string, Row> rows = Rows(r.out);
  EXPECT_EQ(rows["conflicts on target"].result, "failed");
  EXPECT_EQ(rows["conflicts on target"].details, "2 object(s) exist on the target and were not restored by a recovery");
  EXPECT_TRUE(Contains(r.out, "Conflicts on the target:\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "configmap") || Contains(r.out, "ConfigMap")) << r.out;
  EXPECT_TRUE(Contains(r.out, "exists on the target and was not created by a recovery")) << r.out;
  EXPECT_FALSE(Contains(r.out, "PlanCheck")) << r.out;

  auto report = json::parse(Check({"-o", "json"}).out);
  EXPECT_EQ(report["conflicts"].size(), 2u);
  EXPECT_EQ(report["ready"], false);
}

TEST_F(PlanCheckTest, FailedOverClaimInAnUnfencedNamespaceIsReportedWithTheFence) {
  Capture();
  Claim("orders", "data", {{kFailedOver, "orders-to-dr"}});
  Namespace(*source_client_, "billing", {{kFenced, "true"}});
  Claim("billing", "ledger", {{kFailedOver, "orders-to-dr"}});  // fenced: fine
  CliRun r = Check();
  EXPECT_EQ(r.code, 1);
  std::map<std::string, Row> rows = Rows(r.out);
  EXPECT_EQ(rows["fencing on source"].result, "failed");
  EXPECT_TRUE(Contains(rows["fencing on source"].details, ": orders/data")) << rows["fencing on source"].details;
  EXPECT_FALSE(Contains(rows["fencing on source"].details, "ledger")) << rows["fencing on source"].details;
  EXPECT_TRUE(Contains(r.out, "  fencing on source: kubectl dr fence --plan orders-to-dr\n")) << r.out;

  auto report = json::parse(Check({"-o", "json"}).out);
  ASSERT_EQ(report["unfencedClaims"].size(), 1u);
  EXPECT_EQ(report["unfencedClaims"][0], json({{"namespace", "orders"}, {"name", "data"}}));
}

TEST_F(PlanCheckTest, UnreachableSourceIsSaidAndLeavesTheTargetChecked) {
  Capture();
  source_client_.reset();  // its idle keep-alive connections would hold the server's stop
  source_->Stop();
  CliRun r = Check();
  EXPECT_EQ(r.code, 1);
  std::map<std::string, Row> rows = Rows(r.out);
  EXPECT_EQ(rows["source cluster"].result, "unchecked");
  EXPECT_TRUE(Contains(rows["source cluster"].details, "context \"prod-east\" does not answer"))
      << rows["source cluster"].details;
  EXPECT_TRUE(Contains(rows["source cluster"].details, "a failover does not need it"));
  EXPECT_EQ(rows["webhook on source"].result, "warning");
  EXPECT_EQ(rows["webhook on source"].details, "not checked: the source does not answer");
  EXPECT_EQ(rows["fencing on source"].result, "unchecked");
  for (const char* check : {"plan", "webhook on target", "inventory", "conflicts on target"}) {
    EXPECT_EQ(rows[check].result, "ok") << check << ": " << rows[check].details;
  }
}

TEST_F(PlanCheckTest, BadInputIsRefusedWithTheReason) {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string want;
  } cases[] = {
      {{"plan", "check", "orders-to-d"}, 1, "drplan \"orders-to-d\" not found in namespace kubectl-dr-system"},
      {{"plan", "check", "orders-to-d"}, 1, "did you mean \"orders-to-dr\"?"},
      {{"plan", "check", "Orders"}, 2, "NAME (the plan)"},
      {{"plan", "check", "orders-to-dr", "--max-rpo", "soon"}, 2, "soon"},
      {{"plan", "check", "orders-to-dr", "-o", "wide"}, 2, "plan check"},
      {{"plan", "check", "orders-to-dr", "--recovery", "nope"}, 1, "drrecovery \"nope\" not found"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(Join(c.args, " "));
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, c.code) << r.err;
    EXPECT_TRUE(Contains(r.err, c.want)) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace kdr
