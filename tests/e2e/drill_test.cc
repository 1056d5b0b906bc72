// A drill and its cleanup as an operator runs them, with real kubectl and the real webhook on the
// DR site: the shop restored into shop-drtest from the replicated inventory (driver none: claims
// unbound), then `kubectl dr drill cleanup` removes exactly what the drill made. On kubesim's
// Longhorn simulation the drill runs on drill copies of the standby volumes, and the cleanup removes
// those copies too, leaving the standby volumes as they were.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/longhorn_shop.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

class DrillE2eTest : public WebhookE2eTest {
 protected:
  void SetUp() override {
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    inventory_ = dir_.path() + "/inventory";
    CommandResult shop = pair_->Kubectl(pair_->source(), "apply -f " + testutil::DataPath("e2e/failover/shop.yaml"));
    ASSERT_EQ(shop.exit_code, 0) << shop.output;
    CommandResult plan = Kubectl("apply -f " + Data("plan.yaml"));
    ASSERT_EQ(plan.exit_code, 0) << plan.output;
    CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_);
    ASSERT_EQ(capture.exit_code, 0) << capture.output;
  }

  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  // Names of what `kubectl get ARGS -o name` lists on the DR site, one a line.
  std::string Names(const std::string& args) const { return Kubectl("get " + args + " -o name").output; }

  std::string inventory_;
};

TEST_F(DrillE2eTest, CleanupRemovesWhatTheDrillMadeAndNothingElse) {
  // The DR site's own things, which no cleanup may touch.
  ASSERT_EQ(Kubectl("create namespace dr-own").exit_code, 0);
  ASSERT_EQ(Kubectl("-n dr-own create configmap settings --from-literal=a=b").exit_code, 0);
  ASSERT_EQ(Kubectl("-n dr-own label configmap settings dr.kubectl-dr.dev/recovery=another-drill").exit_code, 0);

  ASSERT_EQ(Dr("recovery create shop-drill --plan shop-to-dr --action Test --namespace-mapping shop=shop-drtest")
                .exit_code,
            0);
  CommandResult drill = Dr("drill shop-drill --agent local --inventory-path " + inventory_ + " --yes --no-wait");
  EXPECT_NE(drill.output.find("recovery shop-drill (Test of plan shop-to-dr)"), std::string::npos) << drill.output;
  ASSERT_EQ(Kubectl("-n shop-drtest get configmap web-config -o jsonpath={.data.greeting}").output,
            "hello from the primary")
      << drill.output;
  ASSERT_NE(Names("-n shop-drtest deployments"), "");

  // Not confirmed, without a terminal to ask: refused, naming --yes, nothing removed.
  CommandResult unconfirmed = Dr("drill cleanup shop-drill </dev/null");
  EXPECT_EQ(unconfirmed.exit_code, 1) << unconfirmed.output;
  EXPECT_NE(unconfirmed.output.find("stdin is not a terminal to ask: add --yes"), std::string::npos)
      << unconfirmed.output;
  EXPECT_EQ(Kubectl("get namespace shop-drtest -o name").output, "namespace/shop-drtest\n");

  // --dry-run lists what would go and changes nothing.
  CommandResult dry = Dr("drill cleanup shop-drill --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("Deployment"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("would remove"), std::string::npos) << dry.output;
  EXPECT_EQ(Kubectl("get namespace shop-drtest -o name").output, "namespace/shop-drtest\n");

  CommandResult cleanup = Dr("drill cleanup shop-drill --yes -o json");
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.output;
  const size_t brace = cleanup.output.find('{');
  ASSERT_NE(brace, std::string::npos) << cleanup.output;
  json report = json::parse(cleanup.output.substr(brace), nullptr, false);
  ASSERT_TRUE(report.is_object()) << cleanup.output;
  std::vector<std::string> removed;
  for (const json& o : report["removed"]) {
    removed.push_back(o.value("kind", "") + " " + o.value("namespace", "") + "/" + o.value("name", ""));
  }
  const std::string all = Join(removed, ",");
  for (const char* want : {"Deployment shop-drtest/web", "ConfigMap shop-drtest/web-config", "Service shop-drtest/web",
                           "Ingress shop-drtest/web", "Namespace /shop-drtest"}) {
    EXPECT_NE(all.find(want), std::string::npos) << want << " not in " << all;
  }

  // The drill's namespace, objects and volumes are gone; the DR site's own are there; the plan is
  // still usable and the source untouched.
  EXPECT_EQ(Kubectl("get namespace shop-drtest").exit_code, 1);
  EXPECT_EQ(Names("persistentvolumes -l dr.kubectl-dr.dev/recovery=shop-drill"), "");
  EXPECT_EQ(Names("-n dr-own configmaps -l dr.kubectl-dr.dev/recovery=another-drill"), "configmap/settings\n");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}").output, "");
  EXPECT_EQ(pair_->Kubectl(pair_->source(), "-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");

  // Run again: nothing left, and it says so.
  CommandResult again = Dr("drill cleanup shop-drill --yes");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("removed 0 object(s); nothing was left to remove"), std::string::npos) << again.output;

  // The same drill can run again into a clean site.
  ASSERT_EQ(Dr("recovery create shop-drill-2 --plan shop-to-dr --action Test --namespace-mapping shop=shop-drtest")
                .exit_code,
            0);
  CommandResult second = Dr("drill shop-drill-2 --agent local --inventory-path " + inventory_ + " --yes --no-wait");
  EXPECT_EQ(Kubectl("-n shop-drtest get configmap web-config -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/recovery}'")
                .output,
            "shop-drill-2")
      << second.output;
}

TEST_F(DrillE2eTest, CleanupRefusesARecoveryThatIsNotADrill) {
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  CommandResult refused = Dr("drill cleanup shop-failover --yes");
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find("recovery \"shop-failover\" is a Failover, not a drill"), std::string::npos)
      << refused.output;
  CommandResult missing = Dr("drill cleanup no-such-drill --yes");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("drrecovery \"no-such-drill\" not found"), std::string::npos) << missing.output;
}

// The Longhorn shop (longhorn_shop.h), its DR site following the primary's backups with standby
// volumes.
class LonghornDrillE2eTest : public DrillE2eTest {
 protected:
  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs the Longhorn simulation (Longhorn's controller and a backup store shared by the two "
                      "sites), which clusters given by KDR_E2E_*_KUBECONFIG do not run";
    }
    // Not DrillE2eTest::SetUp, whose shop and plan are the none driver's.
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    inventory_ = dir_.path() + "/inventory";
    SetUpLonghornShop(*pair_, dir_);
    if (HasFatalFailure()) return;
    CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_);
    ASSERT_EQ(capture.exit_code, 0) << capture.output;
  }

  std::string Volumes() const { return Names("-n longhorn-system volumes.longhorn.io"); }
};

TEST_F(LonghornDrillE2eTest, CleanupRemovesTheDrillCopiesAndLeavesTheStandbyVolumes) {
  ASSERT_EQ(Dr("recovery create shop-drill --plan shop-to-dr --action Test --namespace-mapping shop=shop-drtest")
                .exit_code,
            0);
  // Waited for: the restored database runs in shop-drtest on its claim (bounded: a claim that
  // never binds fails the drill, not the suite).
  CommandResult drill = Dr("drill shop-drill --agent local --inventory-path " + inventory_ + " --yes --timeout 2m");
  ASSERT_EQ(drill.exit_code, 0) << drill.output;
  EXPECT_NE(drill.output.find("recovery shop-drill (Test of plan shop-to-dr): Succeeded"), std::string::npos)
      << drill.output;
  EXPECT_NE(drill.output.find("PrepareDrill: Succeeded"), std::string::npos) << drill.output;
  EXPECT_EQ(Kubectl("-n shop-drtest get deployment db -o jsonpath={.status.readyReplicas}").output, "1");
  // The drill's claim is bound to the PV of the drill copy (named after it, not the PV the real
  // failover needs), which is reserved for the claim in the drill's namespace.
  EXPECT_EQ(Kubectl("-n shop-drtest get pvc orders -o jsonpath={.status.phase}/{.spec.volumeName}").output,
            "Bound/shop-orders-vol-drill");
  EXPECT_EQ(Kubectl("get pv shop-orders-vol-drill -o jsonpath={.spec.csi.volumeHandle}/{.spec.claimRef.namespace}")
                .output,
            "shop-orders-vol-drill/shop-drtest");
  EXPECT_EQ(Kubectl("get pv shop-orders-pv").exit_code, 1) << "the real failover's PV name is left free";
  // The live DR volume is still a standby volume following the primary.
  EXPECT_EQ(Kubectl("-n longhorn-system get volumes.longhorn.io shop-orders-vol -o jsonpath={.spec.standby}").output,
            "true");
  // A copy of the workloads' volume only: the drill reads the inventory in place.
  EXPECT_EQ(Volumes(),
            "volume.longhorn.io/shop-inventory-vol\nvolume.longhorn.io/shop-orders-vol\n"
            "volume.longhorn.io/shop-orders-vol-drill\n");
  EXPECT_EQ(Names("persistentvolumes -l dr.kubectl-dr.dev/recovery=shop-drill"),
            "persistentvolume/shop-orders-vol-drill\n")
      << drill.output;

  // The copies are named through the inventory's volume map: without it, refused before anything goes.
  CommandResult blind = Dr("drill cleanup shop-drill --yes");
  EXPECT_EQ(blind.exit_code, 1) << blind.output;
  EXPECT_NE(blind.output.find("add --inventory-path DIR"), std::string::npos) << blind.output;
  EXPECT_EQ(Kubectl("get namespace shop-drtest -o name").output, "namespace/shop-drtest\n");

  CommandResult cleanup = Dr("drill cleanup shop-drill --inventory-path " + inventory_ + " --yes");
  ASSERT_EQ(cleanup.exit_code, 0) << cleanup.output;
  EXPECT_NE(cleanup.output.find("and the drill copies of 1 volume(s) (shop/orders)"),
            std::string::npos)
      << cleanup.output;
  EXPECT_EQ(Volumes(), "volume.longhorn.io/shop-inventory-vol\nvolume.longhorn.io/shop-orders-vol\n");
  EXPECT_EQ(Kubectl("-n longhorn-system get volumes.longhorn.io -o jsonpath={.items[*].spec.standby}").output,
            "true true");
  EXPECT_EQ(Kubectl("get namespace shop-drtest").exit_code, 1);
  EXPECT_EQ(Names("persistentvolumes -l dr.kubectl-dr.dev/recovery=shop-drill"), "");
}

}  // namespace
}  // namespace kdr::e2e
