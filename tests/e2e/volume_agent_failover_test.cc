// Failovers whose agent runs as Jobs on the DR site (--agent job, the default) and reads the
// inventory from the failed-over storage itself: the inventory is captured into the primary's
// inventory volume (its directory on this machine), the storage replication carries it to the DR
// site with the workload's data (Longhorn: the failover's backup and the DR volume's activation;
// Alletra: the remote-copy sync and failover), and the agent's pods there mount the inventory
// claim as the failed-over volume's directory (kubesim's node, or kubesim-controllers' beside a
// real pair). What the workload wrote on the primary is on the DR site's volume afterwards.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/fs.h"
#include "base/strings.h"
#include "dr/agent_job.h"
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

  // The recovery, the agent on the DR site, then the failover with the agent as Jobs there. The
  // inventory claim is the shop's, in namespace shop, which the DR site has not before the
  // failover: agent install leaves the agent's service account to the failover, which makes it
  // once it has made the namespace for the claim, and its Jobs run there as it.
  CommandResult FailOverWithTheAgentAsJobs() {
    EXPECT_NE(Kubectl("get namespace shop").exit_code, 0) << "the DR site has no shop yet";
    CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr");
    EXPECT_EQ(recovery.exit_code, 0) << recovery.output;
    WaitForCache("drrecoveries", 1);
    CommandResult install = Dr("agent install --plan shop-to-dr");
    EXPECT_EQ(install.exit_code, 0) << install.output;
    EXPECT_NE(install.output.find("namespace shop is not on the target: the failover makes it for the inventory claim, "
                                  "and the agent's service account shop/" + dr::AgentServiceAccountName("shop-to-dr") +
                                  " before the agent's first Job"),
              std::string::npos)
        << install.output;
    CommandResult failover = Dr("failover shop-failover --yes --timeout 3m");
    EXPECT_EQ(Kubectl("-n shop get serviceaccount " + dr::AgentServiceAccountName("shop-to-dr") +
                      " -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/agent-image}'")
                  .output,
              *dr::AgentImage());
    return failover;
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
    // In the inventory claim's namespace, as the account the failover made there.
    EXPECT_NE(started.find("agent job shop/kubectl-dr-describe-shop-failover: inventory generation " + std::to_string(generation) +
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
    SetUpLonghornShop(*pair_, dir_);
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

// ---- HPE Alletra ------------------------------------------------------------------------------

// alletra-sim's pair of tests/data/e2e/storage: array-a backs the primary, array-b the DR site;
// the inventory's group and the shop's two are remote-copy groups from array-a to array-b.
class AlletraVolumeAgentFailoverE2eTest : public VolumeAgentFailoverE2eTest {
 protected:
  AlletraVolumeAgentFailoverE2eTest() {
    pair_options_.alletra_config = testutil::DataPath("e2e/storage/alletra-pair.yaml");
  }

  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs the HPE CSI rule against alletra-sim and a node that runs the agent's pods, which "
                      "clusters given by KDR_E2E_*_KUBECONFIG do not run";
    }
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_NE(pair_->alletra(), nullptr);
    CommandResult applied = Source("apply -f " + testutil::DataPath("e2e/storage/alletra-shop.yaml"));
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    CommandResult bound = Source("-n shop wait --for=jsonpath={.status.phase}=Bound pvc --all --timeout=60s");
    ASSERT_EQ(bound.exit_code, 0) << bound.output;
    CommandResult planned = Kubectl("apply -f " + testutil::DataPath("e2e/storage/alletra-plan.yaml"));
    ASSERT_EQ(planned.exit_code, 0) << planned.output;
    CommandResult secret = Kubectl(AlletraArraysSecretArgs(*pair_->alletra()));
    ASSERT_EQ(secret.exit_code, 0) << secret.output;
  }
};

TEST_F(AlletraVolumeAgentFailoverE2eTest, TheAgentJobsRestoreFromTheInventoryOnTheFailedOverVolumeWithTheOrdersWritten) {
  const AlletraSimInfo& a = *pair_->alletra();
  // The inventory captured into the primary array's inventory volume, and the database's orders
  // on its volume; the DR array's replicas have neither until remote copy syncs them.
  const std::string primary_inventory = pair_->AlletraVolumeDir(a.source_array, "shop-inv-a");
  CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + primary_inventory);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  const int64_t generation = GenerationIn(primary_inventory);
  ASSERT_GT(generation, 0) << capture.output;
  PosixFileSystem fs;
  ASSERT_TRUE(fs.WriteFile(pair_->AlletraVolumeDir(a.source_array, "shop-db-a") + "/orders", "orders up to 42").ok());
  const std::string dr_inventory = pair_->AlletraVolumeDir(a.target_array, "shop-inv-b");
  ASSERT_EQ(GenerationIn(dr_inventory), 0);
  ASSERT_FALSE(fs.Exists(pair_->AlletraVolumeDir(a.target_array, "shop-db-b") + "/orders"));

  CommandResult failover = FailOverWithTheAgentAsJobs();
  ExpectTheAgentJobsReadTheInventory(failover, generation);
  if (HasFatalFailure()) return;

  // The failover's sync carried both to array-b, now the groups' primary, where the agent read
  // the inventory and the restored shop mounts the orders.
  EXPECT_EQ(GenerationIn(dr_inventory), generation);
  EXPECT_EQ(fs.ReadFile(pair_->AlletraVolumeDir(a.target_array, "shop-db-b") + "/orders").value_or("<missing>"),
            "orders up to 42");
  EXPECT_EQ(Kubectl("-n shop get pvc shop-inventory -o jsonpath={.status.phase}").output, "Bound");
  EXPECT_EQ(Kubectl("get pv shop-db-pv -o jsonpath={.spec.csi.driver}/{.spec.csi.volumeHandle}").output,
            "csi.hpe.com/shop-db-b");
  EXPECT_TRUE(Eventually([&] { return Kubectl("-n shop get deployment shop -o jsonpath={.status.readyReplicas}").output == "1"; },
                         std::chrono::seconds(30)))
      << Kubectl("-n shop get deployment shop -o yaml").output;
}

}  // namespace
}  // namespace kdr::e2e
