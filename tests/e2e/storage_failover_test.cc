// Failovers that move real (simulated) storage, as an operator runs them with real kubectl and the
// real webhook: a Longhorn failover on kubesim's Longhorn simulation (the DR site's standby
// volumes activated, with the data of a backup taken at failover time), and an HPE Alletra
// failover against alletra-sim (remote-copy groups failed over; the restored HPE CSI PVs bind on
// the DR site only once their volumes are writable there); and the way back for each: the failback
// plan made with `kubectl dr plan create` on the primary, then `kubectl dr failback`. All need
// the simulators: kubesim's in process, or kubesim-controllers beside each real cluster.

#include <httplib.h>

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "base/fs.h"
#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/longhorn_shop.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

std::string StorageData(const std::string& file) { return testutil::DataPath("e2e/storage/" + file); }

constexpr auto kBindDeadline = std::chrono::seconds(30);

// A plan, a recovery and a failover driven through `kubectl dr` with the agent in the plugin.
class StorageFailoverE2eTest : public WebhookE2eTest {
 protected:
  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  CommandResult Source(const std::string& args) const { return pair_->Kubectl(pair_->source(), args); }
  std::string Target(const std::string& args) const { return Kubectl(args).output; }

  // Captures the inventory on the source, creates the recovery (with the shop's modifiers) and
  // fails over; the failover's output.
  CommandResult CaptureAndFailOver() {
    const std::string inventory = dir_.path() + "/inventory";
    CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory);
    EXPECT_EQ(capture.exit_code, 0) << capture.output;
    CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr --resource-modifiers " +
                                Data("modifiers.yaml"));
    EXPECT_EQ(recovery.exit_code, 0) << recovery.output;
    WaitForCache("drrecoveries", 1);
    WaitForCache("configmaps", 2);
    // Bounded: a volume that never binds fails the run instead of the test's timeout.
    return Dr("failover shop-failover --agent local --inventory-path " + inventory + " --yes --timeout 2m");
  }

  void ExpectSucceeded(const CommandResult& failover) const {
    ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log();
    EXPECT_NE(failover.output.find("recovery shop-failover (Failover of plan shop-to-dr): Succeeded"),
              std::string::npos)
        << failover.output;
    EXPECT_EQ(Target("-n kubectl-dr-system get drr shop-failover -o jsonpath={.status.phase}"), "Succeeded");
  }

  // The restored Ingress, changed by the recovery's modifiers as it was created on the DR site.
  void ExpectIngressTransformed() const {
    EXPECT_EQ(Target("-n shop get ingress web -o jsonpath={.spec.ingressClassName}"), "traefik");
    EXPECT_EQ(Target("-n shop get ingress web -o "
                     "'jsonpath={.metadata.annotations.traefik\\.ingress\\.kubernetes\\.io/router\\.entrypoints}'"),
              "websecure");
    EXPECT_EQ(Target("-n shop get ingress web -o "
                     "'jsonpath={.metadata.annotations.nginx\\.ingress\\.kubernetes\\.io/rewrite-target}'"),
              "");
    EXPECT_EQ(Source("-n shop get ingress web -o jsonpath={.spec.ingressClassName}").output, "nginx");
  }

  // The way back begins: kubectl-dr on the primary too (its webhook guards the fence there).
  void InstallOnThePrimary() {
    StartWebhook(pair_->source(), dir_.path() + "/primary", &primary_port_, &primary_url_, &primary_certs_,
                 &primary_webhook_);
  }
  // kubectl dr ... with the primary as the current context (the failback plan lives there).
  CommandResult Back(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + pair_->source().context() + " " + args);
  }
  // Creates the failback plan shop-back (DR site -> primary) with `storage` flags, captures the DR
  // site for it, and runs the failback; the failback's output.
  CommandResult FailBack(const std::string& storage) {
    CommandResult plan = Back("plan create shop-back --source-context " + target().context() + " --target-context " +
                              pair_->source().context() + " --namespaces shop --inventory-pvc shop/shop-inventory " +
                              storage);
    EXPECT_EQ(plan.exit_code, 0) << plan.output;
    plan_create_output_ = plan.output;
    const std::string inventory = dir_.path() + "/inventory-back";
    CommandResult capture = Back("inventory capture --plan shop-back --agent local --inventory-path " + inventory);
    EXPECT_EQ(capture.exit_code, 0) << capture.output;
    CommandResult recovery = Back("recovery create shop-failback --plan shop-back --action Failback");
    EXPECT_EQ(recovery.exit_code, 0) << recovery.output;
    return Back("failback shop-failback --agent local --inventory-path " + inventory + " --yes --timeout 2m");
  }
  void ExpectFailedBack(const CommandResult& failback) const {
    ASSERT_EQ(failback.exit_code, 0) << failback.output << primary_webhook_->Log();
    EXPECT_NE(failback.output.find("recovery shop-failback (Failback of plan shop-back): Succeeded"),
              std::string::npos)
        << failback.output;
    // The primary is unfenced, and the DR site quiesced.
    EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "");
    EXPECT_EQ(Source("-n shop get pvc shop-inventory -o "
                     "'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'")
                  .output,
              "");
    EXPECT_EQ(Source("-n kubectl-dr-system get drplan shop-back -o jsonpath={.status.phase}/{.status.spentBy}").output,
              "Spent/shop-failback");
  }

  void SetUpShop(const std::string& shop, const std::string& plan) {
    CommandResult applied = Source("apply -f " + StorageData(shop));
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    CommandResult bound = Source("-n shop wait --for=jsonpath={.status.phase}=Bound pvc --all --timeout=60s");
    ASSERT_EQ(bound.exit_code, 0) << bound.output;
    CommandResult cm = Kubectl("-n kubectl-dr-system create configmap shop-modifiers --from-file=modifiers.yaml=" +
                               Data("modifiers.yaml"));
    ASSERT_EQ(cm.exit_code, 0) << cm.output;
    CommandResult made = Kubectl("apply -f " + StorageData(plan));
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }

  int primary_port_ = 0;
  std::string primary_url_;
  std::string primary_certs_;
  std::unique_ptr<WebhookProcess> primary_webhook_;
  std::string plan_create_output_;
};

class LonghornFailoverE2eTest : public StorageFailoverE2eTest {
 protected:
  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs the Longhorn simulation (Longhorn's controller and a backup store shared by the two "
                      "sites), which clusters given by KDR_E2E_*_KUBECONFIG do not run";
    }
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    SetUpShop("longhorn-shop.yaml", "longhorn-plan.yaml");
    if (HasFatalFailure()) return;
    SeedLonghornShopVolumes(*pair_);
    if (HasFatalFailure()) return;
    // The DR site follows the primary's backups: a first backup of each volume, and a standby
    // volume of the same name on the target restored from it (what Longhorn's DR volume setup
    // does).
    CommandResult backups = Source("apply -f " + StorageData("longhorn-backups.yaml"));
    ASSERT_EQ(backups.exit_code, 0) << backups.output;
    CommandResult done = Source("-n longhorn-system wait --for=jsonpath={.status.state}=Completed "
                                "backups.longhorn.io --all --timeout=60s");
    ASSERT_EQ(done.exit_code, 0) << done.output;
    std::vector<json> standby;
    for (const char* volume : {"shop-inventory-vol", "shop-orders-vol"}) {
      std::string url = Source("-n longhorn-system get backups.longhorn.io " + std::string(volume) +
                               "-first -o jsonpath={.status.url}")
                            .output;
      ASSERT_TRUE(StartsWith(url, "file://")) << url;
      std::string size = Source("-n longhorn-system get volumes.longhorn.io " + std::string(volume) +
                                " -o jsonpath={.spec.size}")
                             .output;
      standby.push_back(
          {{"apiVersion", "longhorn.io/v1beta2"},
           {"kind", "Volume"},
           {"metadata", {{"name", volume}, {"namespace", "longhorn-system"}}},
           {"spec",
            {{"size", size}, {"numberOfReplicas", 3}, {"frontend", "blockdev"}, {"fromBackup", url}, {"standby", true}}}});
    }
    std::string docs;
    for (const json& doc : standby) docs += doc.dump() + "\n";  // a JSON stream
    const std::string file = dir_.Write("standby.json", docs);
    CommandResult made = Kubectl("apply -f " + file);
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }
};

TEST_F(LonghornFailoverE2eTest, ActivatesTheDrVolumesWithTheLatestDataAndRestoresTheShopTransformed) {
  // Written on the primary after the first backup: the failover's sync must carry it.
  WriteLonghornFile(*pair_, pair_->source(), "shop-orders-vol", "orders", "orders up to 42");
  ASSERT_EQ(Target("-n longhorn-system get volumes.longhorn.io shop-orders-vol -o jsonpath={.spec.standby}"), "true");

  CommandResult failover = CaptureAndFailOver();
  ExpectSucceeded(failover);

  // The DR volumes are active Longhorn volumes holding what the primary last wrote.
  for (const char* volume : {"shop-inventory-vol", "shop-orders-vol"}) {
    SCOPED_TRACE(volume);
    EXPECT_EQ(Target("-n longhorn-system get volumes.longhorn.io " + std::string(volume) +
                     " -o jsonpath={.spec.standby}/{.status.isStandby}"),
              "false/false");
  }
  EXPECT_EQ(LonghornFile(*pair_, target(), "shop-orders-vol", "orders"), "orders up to 42");
  // The claims are bound to CSI PVs on those volumes, and the database runs on them.
  EXPECT_EQ(Target("-n shop get pvc orders -o jsonpath={.status.phase}/{.spec.volumeName}"), "Bound/shop-orders-pv");
  EXPECT_EQ(Target("get pv shop-orders-pv -o jsonpath={.spec.csi.driver}/{.spec.csi.volumeHandle}"),
            "driver.longhorn.io/shop-orders-vol");
  EXPECT_EQ(Target("-n shop get pvc shop-inventory -o jsonpath={.status.phase}"), "Bound");
  EXPECT_EQ(Target("-n shop get deployment db -o jsonpath={.status.readyReplicas}"), "1");
  ExpectIngressTransformed();

  // The old primary is quiesced and fenced, the orders claim with the inventory's.
  EXPECT_EQ(Source("-n shop get deployment db -o jsonpath={.spec.replicas}").output, "0");
  for (const char* claim : {"shop-inventory", "orders"}) {
    SCOPED_TRACE(claim);
    EXPECT_EQ(Source("-n shop get pvc " + std::string(claim) +
                     " -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'")
                  .output,
              "shop-to-dr");
  }
}

// Back home after a Longhorn failover: the failback plan's Protect (plan create on the primary)
// puts standby volumes beside the primary's stale originals, following the DR site's backups; the
// failback activates them with what the DR site wrote last, and the primary's workload claims,
// whose PVs named the stale volumes, are made anew on them.
TEST_F(LonghornFailoverE2eTest, FailsBackOntoStandbyVolumesFollowingTheDrSitesBackups) {
  ExpectSucceeded(CaptureAndFailOver());
  if (HasFatalFailure()) return;
  // Life goes on at the DR site.
  WriteLonghornFile(*pair_, target(), "shop-orders-vol", "orders", "orders up to 99");

  InstallOnThePrimary();
  ASSERT_FALSE(HasFatalFailure());
  CommandResult failback = FailBack("--storage longhorn --storage-param longhornNamespace=longhorn-system");
  // plan create made the standby volumes beside the stale originals of the same names.
  for (const char* volume : {"shop-inventory-vol", "shop-orders-vol"}) {
    SCOPED_TRACE(volume);
    EXPECT_NE(plan_create_output_.find("standby volume " + std::string(volume) + "-dr on the target"),
              std::string::npos)
        << plan_create_output_;
  }
  ExpectFailedBack(failback);
  if (HasFatalFailure()) return;

  // The primary's volumes are the activated standby volumes, holding what the DR site wrote last.
  EXPECT_EQ(Source("-n longhorn-system get volumes.longhorn.io shop-orders-vol-dr -o "
                   "jsonpath={.spec.standby}/{.status.isStandby}")
                .output,
            "false/false");
  EXPECT_EQ(LonghornFile(*pair_, pair_->source(), "shop-orders-vol-dr", "orders"), "orders up to 99");
  // The claims are bound to PVs on them (the PVs that named the stale volumes were replaced), and
  // the database runs there again.
  EXPECT_EQ(Source("-n shop get pvc orders -o jsonpath={.status.phase}/{.spec.volumeName}").output,
            "Bound/shop-orders-pv");
  EXPECT_EQ(Source("get pv shop-orders-pv -o jsonpath={.spec.csi.volumeHandle}").output, "shop-orders-vol-dr");
  // So is the inventory's claim, made anew before the agent read it: not the stale inventory.
  EXPECT_EQ(Source("-n shop get pvc shop-inventory -o jsonpath={.status.phase}/{.spec.volumeName}").output,
            "Bound/shop-inventory-pv");
  EXPECT_EQ(Source("get pv shop-inventory-pv -o jsonpath={.spec.csi.volumeHandle}").output, "shop-inventory-vol-dr");
  EXPECT_NE(failback.output.find("replaced: the target's PV named volume csi:driver.longhorn.io/shop-inventory-vol "
                                 "(kept: reclaim policy Retain); its claim shop/shop-inventory is made anew"),
            std::string::npos)
      << failback.output;
  EXPECT_TRUE(Eventually(
      [&] { return Source("-n shop get deployment db -o jsonpath={.status.readyReplicas}").output == "1"; },
      kBindDeadline))
      << Source("-n shop get deployment db -o yaml").output;
  // The stale originals are kept, not deleted: the failback never destroys data.
  EXPECT_EQ(LonghornFile(*pair_, pair_->source(), "shop-orders-vol", "orders"), "orders up to 41");
  // The DR site is quiesced.
  EXPECT_EQ(Target("-n shop get deployment db -o jsonpath={.spec.replicas}"), "0");
}

// alletra-sim's groups as its admin listener reports them: name -> role on the DR site's array.
std::map<std::string, std::string> RolesOn(const AlletraSimInfo& a, const std::string& array) {
  std::map<std::string, std::string> roles;
  const std::string hostport = a.admin_url.substr(std::string("https://").size());
  httplib::SSLClient cli(hostport.substr(0, hostport.rfind(':')), std::stoi(hostport.substr(hostport.rfind(':') + 1)));
  cli.set_ca_cert_path(a.ca_path.c_str());
  cli.enable_server_certificate_verification(true);
  auto r = cli.Get("/sim/v1/state");
  if (!r || r->status != 200) return roles;
  json state = json::parse(r->body, nullptr, false);
  if (!state.is_object()) return roles;
  for (const json& g : state.value("groups", json::array())) {
    roles[g.value("name", "")] = g.value("/roles"_json_pointer / array, "");
  }
  return roles;
}

class AlletraFailoverE2eTest : public StorageFailoverE2eTest {
 protected:
  AlletraFailoverE2eTest() { pair_options_.alletra_config = StorageData("alletra-pair.yaml"); }

  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs the HPE CSI rule against alletra-sim (--hpe-array), which clusters given by "
                      "KDR_E2E_*_KUBECONFIG do not run";
    }
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    ASSERT_NE(pair_->alletra(), nullptr);
    SetUpShop("alletra-shop.yaml", "alletra-plan.yaml");
    if (HasFatalFailure()) return;
    CommandResult secret = Kubectl(AlletraArraysSecretArgs(*pair_->alletra()));
    ASSERT_EQ(secret.exit_code, 0) << secret.output;
  }

  std::string ClaimEvents(const std::string& ns) const {
    return Target("-n " + ns + " get events -o 'jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}'");
  }
};

TEST_F(AlletraFailoverE2eTest, FailsOverEveryGroupAndTheRestoredVolumesBindOnlyOnceWritable) {
  const AlletraSimInfo& a = *pair_->alletra();
  // Before the failover, the DR site's replica cannot be used, and says why. kubesim keeps the
  // claim on it Pending; on a real cluster kube-controller-manager binds the claim and a pod
  // mounting it does not start (attaching the read-only volume fails: kubesim-controllers' node).
  ASSERT_EQ(Kubectl("apply -f " + StorageData("alletra-probe.yaml")).exit_code, 0);
  const bool binder_rule = ClusterPair::Simulated();
  if (!binder_rule) {
    const std::string pod = dir_.Write("probe-pod.yaml",
                                       "apiVersion: v1\nkind: Pod\nmetadata: {name: db, namespace: probe}\n"
                                       "spec:\n  containers: [{name: db, image: postgres, volumeMounts: "
                                       "[{name: data, mountPath: /data}]}]\n"
                                       "  volumes: [{name: data, persistentVolumeClaim: {claimName: db}}]\n");
    ASSERT_EQ(Kubectl("apply -f " + pod).exit_code, 0);
  }
  const std::string refusal = binder_rule ? "VolumeNotWritable" : "FailedAttachVolume";
  ASSERT_TRUE(Eventually([&] { return ClaimEvents("probe").find(refusal) != std::string::npos; }, kBindDeadline))
      << ClaimEvents("probe");
  EXPECT_NE(ClaimEvents("probe").find("volume \"shop-db-b\" of persistentvolume \"probe-db-pv\" is not writable on "
                                      "array array-b"),
            std::string::npos)
      << ClaimEvents("probe");
  if (binder_rule) {
    EXPECT_EQ(Target("-n probe get pvc db -o jsonpath={.status.phase}"), "Pending");
  } else {
    EXPECT_EQ(Target("-n probe get pod db -o jsonpath={.status.phase}/{.status.containerStatuses[0].state.waiting.reason}"),
              "Pending/ContainerCreating");
  }

  CommandResult failover = CaptureAndFailOver();
  ExpectSucceeded(failover);

  // Every remote-copy group, the inventory's and both of the shop's, is primary on the DR array.
  std::map<std::string, std::string> roles = RolesOn(a, a.target_array);
  EXPECT_EQ(roles, (std::map<std::string, std::string>{
                       {"shop-inventory", "Primary-Rev"}, {"shop-db", "Primary-Rev"}, {"shop-media", "Primary-Rev"}}));
  // The restored claims are bound to HPE CSI PVs naming the DR array's volumes, and the shop runs.
  struct Claim {
    std::string name, pv, volume;
  } claims[] = {{"shop-inventory", "shop-inventory-pv", "shop-inv-b"},
                {"db", "shop-db-pv", "shop-db-b"},
                {"media", "shop-media-pv", "shop-media-b"}};
  for (const Claim& c : claims) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Target("-n shop get pvc " + c.name + " -o jsonpath={.status.phase}/{.spec.volumeName}"),
              "Bound/" + c.pv);
    EXPECT_EQ(Target("get pv " + c.pv + " -o jsonpath={.spec.csi.driver}/{.spec.csi.volumeHandle}"),
              "csi.hpe.com/" + c.volume);
    EXPECT_EQ(Target("get pv " + c.pv + " -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/array}'"),
              a.target_array);
  }
  EXPECT_EQ(Target("-n shop get deployment shop -o jsonpath={.status.readyReplicas}"), "1");
  // The probe's claim on the same replica binds too now that the array may write it (on a real
  // cluster: its pod runs).
  EXPECT_TRUE(Eventually([&] { return Target("-n probe get pvc db -o jsonpath={.status.phase}") == "Bound"; },
                         kBindDeadline))
      << Target("-n probe get pvc db -o yaml");
  if (!binder_rule) {
    EXPECT_TRUE(Eventually([&] { return Target("-n probe get pod db -o jsonpath={.status.phase}") == "Running"; },
                           kBindDeadline))
        << Target("-n probe get pod db -o yaml");
  }
  // The old primary is fenced for every claim whose volume failed over.
  for (const Claim& c : claims) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Source("-n shop get pvc " + c.name + " -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'")
                  .output,
              "shop-to-dr");
  }
}

// Back home after an Alletra failover: the failback plan (DR array -> primary array) finds the
// groups Primary-Rev on the DR array and runs Recover then Restore there; the groups are Primary
// on the primary's array again, and the primary's claims stay bound to HPE CSI PVs on the
// original volumes.
TEST_F(AlletraFailoverE2eTest, FailsBackThroughRecoverAndRestoreOntoTheOriginalVolumes) {
  const AlletraSimInfo& a = *pair_->alletra();
  ExpectSucceeded(CaptureAndFailOver());
  if (HasFatalFailure()) return;
  ASSERT_EQ(RolesOn(a, a.target_array)["shop-db"], "Primary-Rev");

  InstallOnThePrimary();
  ASSERT_FALSE(HasFatalFailure());
  // The failback plan lives on the primary, and so does the Secret naming both arrays (the DR
  // array is its source now).
  CommandResult secret = Source(AlletraArraysSecretArgs(a, /*reversed=*/true));
  ASSERT_EQ(secret.exit_code, 0) << secret.output;
  CommandResult failback = FailBack("--storage alletra --storage-param sourceArray=" + a.target_array +
                                    " --storage-param targetArray=" + a.source_array +
                                    " --credentials-secret shop-arrays");
  ExpectFailedBack(failback);
  if (HasFatalFailure()) return;

  // Every group is Primary on the primary's array again, the DR array following it.
  const std::map<std::string, std::string> home = {
      {"shop-inventory", "Primary"}, {"shop-db", "Primary"}, {"shop-media", "Primary"}};
  const std::map<std::string, std::string> follower = {
      {"shop-inventory", "Secondary"}, {"shop-db", "Secondary"}, {"shop-media", "Secondary"}};
  EXPECT_EQ(RolesOn(a, a.source_array), home);
  EXPECT_EQ(RolesOn(a, a.target_array), follower);
  // Through Recover then Restore, each issued to the DR array, for every group.
  for (const char* group : {"shop-inventory", "shop-db", "shop-media"}) {
    SCOPED_TRACE(group);
    for (const char* action : {"recovered", "restored"}) {
      const std::string line = std::string(action) + " remote copy group group=" + group;
      const size_t at = failback.output.find(line);
      ASSERT_NE(at, std::string::npos) << failback.output;
      EXPECT_NE(failback.output.find("array=" + a.target_array, at), std::string::npos) << failback.output;
    }
  }
  // The primary's claims are bound to HPE CSI PVs on the original volumes, and the shop runs.
  struct Claim {
    std::string name, pv, volume;
  } claims[] = {{"shop-inventory", "shop-inventory-pv", "shop-inv-a"},
                {"db", "shop-db-pv", "shop-db-a"},
                {"media", "shop-media-pv", "shop-media-a"}};
  for (const Claim& c : claims) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Source("-n shop get pvc " + c.name + " -o jsonpath={.status.phase}/{.spec.volumeName}").output,
              "Bound/" + c.pv);
    EXPECT_EQ(Source("get pv " + c.pv + " -o jsonpath={.spec.csi.driver}/{.spec.csi.volumeHandle}").output,
              "csi.hpe.com/" + c.volume);
  }
  EXPECT_TRUE(Eventually(
      [&] { return Source("-n shop get deployment shop -o jsonpath={.status.readyReplicas}").output == "1"; },
      kBindDeadline))
      << Source("-n shop get deployment shop -o yaml").output;
  EXPECT_EQ(Target("-n shop get deployment shop -o jsonpath={.spec.replicas}"), "0");
}

}  // namespace
}  // namespace kdr::e2e
