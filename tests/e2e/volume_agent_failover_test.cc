// Failovers whose agent runs as Jobs on the DR site (--agent job, the default) and reads the
// inventory from the failed-over storage itself: the inventory is captured into the primary's
// inventory volume (its directory on this machine), the storage replication carries it to the DR
// site with the workload's data (Longhorn: the failover's backup and the DR volume's activation),
// and the agent's pods there mount the inventory
// claim as the failed-over volume's directory (kubesim's node, or kubesim-controllers' beside a
// real pair). What the workload wrote on the primary is on the DR site's volume afterwards.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/fs.h"
#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/longhorn_shop.h"
#include "e2e/webhook_fixture.h"
#include "inventory/format.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

class VolumeAgentFailoverE2eTest : public WebhookE2eTest {
 protected:
  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  CommandResult Source(const std::string& args) const { return pair_->Kubectl(pair_->source(), args); }

  // The recovery, the agent on the DR site, then the failover with the agent as Jobs there.
  CommandResult FailOverWithTheAgentAsJobs() {
    CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr");
    EXPECT_EQ(recovery.exit_code, 0) << recovery.output;
    WaitForCache("drrecoveries", 1);
    CommandResult install = Dr("agent install --plan shop-to-dr");
    EXPECT_EQ(install.exit_code, 0) << install.output;
    return Dr("failover shop-failover --yes --timeout 3m");
  }

  json Recovery() const {
    CommandResult r = Kubectl("-n kubectl-dr-system get drr shop-failover -o json");
    json rec = json::parse(r.output, nullptr, false);
    EXPECT_TRUE(rec.is_object()) << r.output;
    return rec.is_object() ? rec : json::object();
  }
  static std::string StepMessage(const json& rec, const std::string& name) {
    for (const json& st : rec.value("/status/steps"_json_pointer, json::array())) {
      if (st.value("name", "") == name) return st.value("state", "") + ": " + st.value("message", "");
    }
    return "";
  }

  // The failover succeeded, and its first agent Job read the inventory captured on the primary:
  // generation `generation`, from the failed-over volume.
  void ExpectTheAgentJobsReadTheInventory(const CommandResult& failover, int64_t generation) {
    ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log()
                                     << Kubectl("get jobs,pods -A -l app.kubernetes.io/name=kubectl-dr -o yaml").output;
    EXPECT_NE(failover.output.find("recovery shop-failover (Failover of plan shop-to-dr): Succeeded"), std::string::npos)
        << failover.output;
    json rec = Recovery();
    EXPECT_EQ(rec.value("/status/phase"_json_pointer, ""), "Succeeded") << rec.dump(2);
    const std::string started = StepMessage(rec, "StartAgent");
    EXPECT_TRUE(StartsWith(started, "Succeeded: ")) << rec.dump(2);
    EXPECT_NE(started.find("agent job "), std::string::npos) << started;
    EXPECT_NE(started.find("kubectl-dr-describe-shop-failover: inventory generation " + std::to_string(generation) +
                           " captured"),
              std::string::npos)
        << started;
    EXPECT_EQ(rec.value("/status/inventory/generation"_json_pointer, int64_t{0}), generation) << rec.dump(2);
    EXPECT_EQ(rec.value("/status/restored/failed"_json_pointer, -1), 0) << rec.dump(2);
    EXPECT_GT(rec.value("/status/restored/created"_json_pointer, 0), 0) << rec.dump(2);
  }

  // The inventory generation in a volume's directory (0 when there is none).
  static int64_t GenerationIn(const std::string& dir) {
    PosixFileSystem fs;
    auto inv = inventory::Inventory::Open(fs, dir);
    return inv.ok() ? inv->generation() : 0;
  }
};

// ---- Longhorn ---------------------------------------------------------------------------------

class LonghornVolumeAgentFailoverE2eTest : public VolumeAgentFailoverE2eTest {
 protected:
  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs the Longhorn simulation and a node that runs the agent's pods, which clusters given by "
                      "KDR_E2E_*_KUBECONFIG do not run";
    }
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    SetUpLonghornShop(*pair_, dir_, "kubectl-dr-system");
  }
};

TEST_F(LonghornVolumeAgentFailoverE2eTest, TheAgentJobsRestoreFromTheInventoryOnTheActivatedVolumeWithTheOrdersWritten) {
  // The inventory captured into the primary's inventory volume, after the DR volumes were made
  // from the first backups: only the failover's own backup carries it, and the latest orders.
  const std::string primary_inventory = pair_->LonghornVolumeDir(pair_->source(), "shop-inventory-vol");
  CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + primary_inventory);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  const int64_t generation = GenerationIn(primary_inventory);
  ASSERT_GT(generation, 0) << capture.output;
  WriteLonghornFile(*pair_, pair_->source(), "shop-orders-vol", "orders", "orders up to 42");
  const std::string dr_inventory = pair_->LonghornVolumeDir(target(), "shop-inventory-vol");
  ASSERT_EQ(GenerationIn(dr_inventory), 0) << "the DR volume was made before the capture";

  CommandResult failover = FailOverWithTheAgentAsJobs();
  ExpectTheAgentJobsReadTheInventory(failover, generation);
  if (HasFatalFailure()) return;

  // The activated DR volumes hold what the primary wrote last: the inventory the agent read and
  // the orders, which the restored database mounts.
  EXPECT_EQ(GenerationIn(dr_inventory), generation);
  EXPECT_EQ(LonghornFile(*pair_, target(), "shop-orders-vol", "orders"), "orders up to 42");
  EXPECT_EQ(Kubectl("-n longhorn-system get volumes.longhorn.io shop-orders-vol -o "
                    "jsonpath={.spec.standby}/{.status.isStandby}")
                .output,
            "false/false");
  EXPECT_EQ(Kubectl("-n shop get pvc orders -o jsonpath={.status.phase}/{.spec.volumeName}").output,
            "Bound/shop-orders-pv");
  EXPECT_TRUE(Eventually([&] { return Kubectl("-n shop get deployment db -o jsonpath={.status.readyReplicas}").output == "1"; },
                         std::chrono::seconds(30)))
      << Kubectl("-n shop get deployment db -o yaml").output;
}

}  // namespace
}  // namespace kdr::e2e
