// A failover as an operator runs it, with real kubectl and the real webhook on the target: capture
// the shop's inventory on the primary, define the recovery, fail over with the agent in the
// plugin (--agent local), then look at both sites.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

std::string FailoverData(const std::string& file) { return testutil::DataPath("e2e/failover/" + file); }

class FailoverE2eTest : public WebhookE2eTest {
 protected:
  void SetUp() override {
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    inventory_ = dir_.path() + "/inventory";
    CommandResult shop = pair_->Kubectl(pair_->source(), "apply -f " + FailoverData("shop.yaml"));
    ASSERT_EQ(shop.exit_code, 0) << shop.output;
    CommandResult cm = Kubectl("-n kubectl-dr-system create configmap shop-modifiers --from-file=modifiers.yaml=" +
                               Data("modifiers.yaml"));
    ASSERT_EQ(cm.exit_code, 0) << cm.output;
    CommandResult plan = Kubectl("apply -f " + Data("plan.yaml"));
    ASSERT_EQ(plan.exit_code, 0) << plan.output;
  }

  // kubectl dr ... with the target as the current context (plans live there).
  CommandResult Dr(const std::string& args) const {
    return pair_->Shell("kubectl dr --context " + target().context() + " " + args);
  }
  CommandResult Source(const std::string& args) const { return pair_->Kubectl(pair_->source(), args); }
  // kubectl dr ... with its stdout in .output and its stderr in *err (a report printed with -o json
  // alone on stdout).
  CommandResult DrSplit(const std::string& args, std::string* err) const {
    const std::string file = dir_.path() + "/stderr";
    CommandResult r =
        pair_->Shell("sh -c 'exec 2>" + file + "; kubectl dr --context " + target().context() + " " + args + "'");
    std::ifstream in(file);
    *err = std::string(std::istreambuf_iterator<char>(in), {});
    return r;
  }

  // Real pairs have no kubelet: restored pods never run there, so readiness is not waited for.
  std::string WaitFlag() const { return target().simulated() ? "" : " --no-wait"; }

  std::string inventory_;
};

TEST_F(FailoverE2eTest, FailsOverTheShopSpendsThePlanAndFencesTheOldPrimary) {
  CommandResult capture = Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr --resource-modifiers " +
                              Data("modifiers.yaml"));
  ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
  WaitForCache("drrecoveries", 1);
  WaitForCache("configmaps", 2);

  CommandResult failover = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes" +
                              WaitFlag());
  ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log();
  EXPECT_NE(failover.output.find("recovery shop-failover (Failover of plan shop-to-dr): Succeeded"), std::string::npos)
      << failover.output;
  EXPECT_NE(failover.output.find("RPO: inventory generation 1 captured"), std::string::npos) << failover.output;

  // The DR site runs the shop, transformed on its way in.
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
  EXPECT_EQ(Kubectl("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  EXPECT_EQ(Kubectl("-n shop get ingress web -o jsonpath={.spec.ingressClassName}").output, "traefik");
  EXPECT_EQ(Kubectl("-n shop get pvc shop-inventory -o jsonpath={.spec.volumeName}").output, "shop-inventory-pv");
  EXPECT_EQ(Kubectl("-n shop get deployment web -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/recovery}'").output,
            "shop-failover");
  // The plan is spent by this recovery, whose journal says every step is done.
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}/{.status.spentBy}").output,
            "Spent/shop-failover");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drr shop-failover -o jsonpath={.status.phase}").output, "Succeeded");

  // The old primary: quiesced (replicas remembered) and fenced, namespace first.
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "0");
  EXPECT_EQ(Source("-n shop get deployment web -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/replicas}'").output,
            "2");
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "true");
  EXPECT_EQ(Source("-n shop get pvc shop-inventory -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'").output,
            "shop-to-dr");

  // A finished recovery is never run again, and the spent plan refuses a new one.
  CommandResult again = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes");
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("a finished recovery is never re-run"), std::string::npos) << again.output;
  CommandResult reuse = Dr("recovery create shop-failover-2 --plan shop-to-dr");
  EXPECT_NE(reuse.exit_code, 0);
  EXPECT_NE(reuse.output.find("plan \"shop-to-dr\" was spent by \"shop-failover\""), std::string::npos) << reuse.output;
}

TEST_F(FailoverE2eTest, AnUnconfirmedFailoverOrAConflictChangesNothing) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  CommandResult unconfirmed = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " </dev/null");
  EXPECT_EQ(unconfirmed.exit_code, 1);
  EXPECT_NE(unconfirmed.output.find("stdin is not a terminal to ask: add --yes"), std::string::npos)
      << unconfirmed.output;

  // Something of the same name already on the DR site, not made by this recovery: listed, and
  // the failover stops before changing anything.
  ASSERT_EQ(Kubectl("create namespace shop").exit_code, 0);
  ASSERT_EQ(Kubectl("-n shop create configmap web-config --from-literal=greeting=local").exit_code, 0);
  CommandResult conflict = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes");
  EXPECT_EQ(conflict.exit_code, 1) << conflict.output;
  EXPECT_NE(conflict.output.find("ConfigMap shop/web-config"), std::string::npos) << conflict.output;
  EXPECT_NE(conflict.output.find("nothing was changed"), std::string::npos) << conflict.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan shop-to-dr -o jsonpath={.status.phase}").output, "");
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "local");

  // Once the conflict is gone, the same command resumes where the journal stopped: Preflight,
  // attempted twice, then the rest.
  ASSERT_EQ(Kubectl("-n shop delete configmap web-config").exit_code, 0);
  ASSERT_EQ(Kubectl("delete namespace shop --wait=true").exit_code, 0);
  CommandResult resumed = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes" +
                             WaitFlag() + " -o json");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const std::string journal = Kubectl("-n kubectl-dr-system get drr shop-failover -o json").output;
  json rec = json::parse(journal, nullptr, false);
  ASSERT_TRUE(rec.is_object()) << journal;
  EXPECT_EQ(rec["status"]["phase"], "Succeeded");
  EXPECT_EQ(rec["status"]["steps"][0]["name"], "Preflight");
  EXPECT_EQ(rec["status"]["steps"][0]["attempts"], 2);
  EXPECT_EQ(rec["status"]["steps"].size(), 11u);
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
}

// The way back: a plan defined from the DR site to the primary (kept on the primary), an inventory
// of the DR site, and kubectl dr failback, which quiesces the DR site, unfences the primary (as the
// user running it: the primary's webhook admits that from a running failback only) and brings the
// primary's stale copies to the DR site's state.
TEST_F(FailoverE2eTest, FailsBackToThePrimaryWithTheDrSitesStateAndUnfencesIt) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  CommandResult failover = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes" +
                              WaitFlag());
  ASSERT_EQ(failover.exit_code, 0) << failover.output;

  // Life goes on at the DR site.
  ASSERT_EQ(Kubectl("-n shop scale deployment web --replicas=3").exit_code, 0);
  ASSERT_EQ(Kubectl("-n shop patch configmap web-config --type=merge -p '{\"data\":{\"greeting\":\"hello from "
                    "the DR site\"}}'").exit_code, 0);

  // The primary gets kubectl-dr too (its webhook guards the fence there), and the failback plan.
  int port = 0;
  std::string url, certs;
  std::unique_ptr<WebhookProcess> primary_webhook;
  StartWebhook(pair_->source(), dir_.path() + "/primary", &port, &url, &certs, &primary_webhook);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_EQ(Source("apply -f " + FailoverData("plan-back.yaml")).exit_code, 0);
  auto back = [&](const std::string& args) {
    return pair_->Shell("kubectl dr --context " + pair_->source().context() + " " + args);
  };
  const std::string back_inventory = dir_.path() + "/inventory-back";
  CommandResult capture = back("inventory capture --plan shop-back --agent local --inventory-path " + back_inventory);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  ASSERT_EQ(back("recovery create shop-failback --plan shop-back --action Failback").exit_code, 0);

  // Run as a failover, it is refused, naming the command to use.
  CommandResult wrong = back("failover shop-failback --agent local --inventory-path " + back_inventory + " --yes");
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("is a Failback: run it with kubectl dr failback shop-failback"), std::string::npos)
      << wrong.output;

  // Before the failback, the fence holds on the primary against anyone.
  CommandResult by_hand = Source("label ns shop dr.kubectl-dr.dev/fenced-");
  EXPECT_NE(by_hand.exit_code, 0) << by_hand.output;

  // A failback needs both sites: with the DR site down, preflight refuses and nothing moves.
  ASSERT_TRUE(target().Stop().ok());
  CommandResult alone = back("failback shop-failback --agent local --inventory-path " + back_inventory + " --yes");
  ASSERT_TRUE(target().Restart().ok());
  EXPECT_NE(alone.exit_code, 0);
  EXPECT_NE(alone.output.find("a failback needs both sites"), std::string::npos) << alone.output;
  EXPECT_EQ(Source("-n kubectl-dr-system get drplan shop-back -o jsonpath={.status.phase}").output, "");

  CommandResult failback = back("failback shop-failback --agent local --inventory-path " + back_inventory +
                                " --yes" + WaitFlag());
  ASSERT_EQ(failback.exit_code, 0) << failback.output << primary_webhook->Log();
  EXPECT_NE(failback.output.find("recovery shop-failback (Failback of plan shop-back): Succeeded"), std::string::npos)
      << failback.output;

  // The primary runs the DR site's state, unfenced.
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "3");
  EXPECT_EQ(Source("-n shop get deployment web -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/replicas}'").output,
            "");
  EXPECT_EQ(Source("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the DR site");
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "");
  EXPECT_EQ(Source("-n shop get pvc shop-inventory -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'").output,
            "");
  EXPECT_EQ(Source("-n kubectl-dr-system get drplan shop-back -o jsonpath={.status.phase}/{.status.spentBy}").output,
            "Spent/shop-failback");
  const std::string journal = Source("-n kubectl-dr-system get drr shop-failback -o json").output;
  json rec = json::parse(journal, nullptr, false);
  ASSERT_TRUE(rec.is_object()) << journal;
  EXPECT_EQ(rec["status"]["phase"], "Succeeded");
  EXPECT_FALSE(rec["status"].value("startedBy", "").empty()) << "the user who ran it is recorded";
  std::vector<std::string> steps;
  for (const json& st : rec["status"]["steps"]) steps.push_back(st["name"].get<std::string>() + "=" + st["state"].get<std::string>());
  EXPECT_EQ(Join(steps, ","),
            "Preflight=Succeeded,QuiesceSource=Succeeded,SyncInventory=Succeeded,SpendPlan=Succeeded,"
            "FailbackInventory=Succeeded,Unfence=Succeeded,RestoreInventoryVolume=Succeeded,StartAgent=Skipped,"
            "WorkloadVolumes=Skipped,RestoreObjects=Succeeded,Verify=" +
                std::string(target().simulated() ? "Succeeded" : "Skipped"));

  // The DR site is quiesced, its replicas remembered.
  EXPECT_EQ(Kubectl("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "0");
  EXPECT_EQ(Kubectl("-n shop get deployment web -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/replicas}'").output,
            "3");
}

// The primary is down when the failover runs: it goes ahead without it (a failover never needs the
// dead site), says what it could not do there, and `kubectl dr fence` does it once the primary is
// back.
TEST_F(FailoverE2eTest, WithThePrimaryDownFailsOverAndFenceFinishesTheJobWhenItIsBack) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);
  ASSERT_TRUE(pair_->source().Stop().ok());
  std::string err;
  CommandResult failover = DrSplit("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes" +
                                   WaitFlag() + " -o json", &err);
  ASSERT_TRUE(pair_->source().Restart().ok());
  ASSERT_EQ(failover.exit_code, 0) << failover.output << err;
  EXPECT_NE(err.find("warning: the source is unreachable: nothing was quiesced there"), std::string::npos)
      << err;
  EXPECT_NE(err.find("warning: the source is unreachable: fence it when it is back: kubectl dr fence "
                                "--plan shop-to-dr"),
            std::string::npos)
      << err;
  json report = json::parse(failover.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << failover.output;
  std::vector<std::string> skipped;
  for (const json& st : report["steps"]) {
    if (st.value("state", "") == "Skipped") skipped.push_back(st.value("name", ""));
  }
  EXPECT_NE(std::find(skipped.begin(), skipped.end(), "QuiesceSource"), skipped.end()) << report.dump();
  EXPECT_NE(std::find(skipped.begin(), skipped.end(), "FenceSource"), skipped.end()) << report.dump();
  EXPECT_GE(report["warnings"].size(), 2u) << report.dump();
  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");

  // The primary is back, untouched: nothing quiesced, nothing fenced.
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "");
  // A dry run says what it would fence and changes nothing; then the fence, namespace first.
  CommandResult dry = Dr("fence --plan shop-to-dr --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("nothing was changed (--dry-run)"), std::string::npos) << dry.output;
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "");
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  CommandResult fence = Dr("fence --plan shop-to-dr");
  ASSERT_EQ(fence.exit_code, 0) << fence.output;
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "true");
  // The shop, which kept running on the primary while it was cut off, is stopped as the
  // failover's quiesce would have stopped it.
  EXPECT_NE(fence.output.find("deployment shop/web: 2 -> 0 replicas"), std::string::npos) << fence.output;
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "0");
  EXPECT_EQ(Source("-n shop get pvc shop-inventory -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/failed-over}'").output,
            "shop-to-dr");
  // Run again, it finds the fence in place.
  CommandResult again = Dr("fence --plan shop-to-dr");
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("0 object(s) fenced"), std::string::npos) << again.output;
}

// A plan protects two applications; the failover takes the shop alone. The blog stays on the
// primary, untouched and unfenced; the spent plan is cloned (with a new inventory volume) to protect
// what is left, and the clone fails the blog over in its turn.
TEST_F(FailoverE2eTest, ASubsetFailoverLeavesTheRestToAClonedPlanThatFailsItOverLater) {
  ASSERT_EQ(Source("apply -f " + FailoverData("blog.yaml")).exit_code, 0);
  ASSERT_EQ(Kubectl("apply -f " + FailoverData("shop-and-blog.yaml")).exit_code, 0);
  ASSERT_EQ(Dr("inventory capture --plan shop-and-blog --agent local --inventory-path " + inventory_).exit_code, 0);
  CommandResult recovery = Dr("recovery create shop-only --plan shop-and-blog --namespaces shop");
  ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
  WaitForCache("drrecoveries", 1);
  CommandResult failover = Dr("failover shop-only --agent local --inventory-path " + inventory_ + " --yes" + WaitFlag());
  ASSERT_EQ(failover.exit_code, 0) << failover.output;

  EXPECT_EQ(Kubectl("-n shop get configmap web-config -o jsonpath={.data.greeting}").output, "hello from the primary");
  EXPECT_NE(Kubectl("get namespace blog").exit_code, 0) << "the blog was not part of the recovery";
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "true");
  EXPECT_EQ(Source("get ns blog -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "");
  CommandResult reuse = Dr("recovery create blog-only --plan shop-and-blog --namespaces blog");
  EXPECT_NE(reuse.exit_code, 0);
  EXPECT_NE(reuse.output.find("kubectl dr plan clone"), std::string::npos) << reuse.output;

  // The clone protects by default what the spending recovery left on the primary.
  CommandResult clone = Dr("plan clone shop-and-blog --name blog-to-dr --inventory-pvc blog-inventory "
                           "--inventory-namespace blog");
  ASSERT_EQ(clone.exit_code, 0) << clone.output;
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan blog-to-dr -o jsonpath={.spec.namespaces}").output, "[\"blog\"]");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan blog-to-dr -o "
                    "'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/cloned-from}/{.status.phase}'").output,
            "shop-and-blog/");

  const std::string blog_inventory = dir_.path() + "/inventory-blog";
  CommandResult capture = Dr("inventory capture --plan blog-to-dr --agent local --inventory-path " + blog_inventory);
  ASSERT_EQ(capture.exit_code, 0) << capture.output;
  ASSERT_EQ(Dr("recovery create blog-failover --plan blog-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 2);
  CommandResult second = Dr("failover blog-failover --agent local --inventory-path " + blog_inventory + " --yes" +
                            WaitFlag());
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_EQ(Kubectl("-n blog get configmap posts -o jsonpath={.data.latest}").output, "written on the primary");
  EXPECT_EQ(Source("get ns blog -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "true");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drplan blog-to-dr -o jsonpath={.status.phase}/{.status.spentBy}").output,
            "Spent/blog-failover");
  // The shop's restore was left alone by the second failover.
  EXPECT_EQ(Kubectl("-n shop get deployment web -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/recovery}'").output,
            "shop-only");
}

// Every object of `types` on a cluster with its resourceVersion, one "kind ns/name rv" line each,
// sorted; the control plane's own namespaces left out (their leases renew on their own).
std::string Snapshot(const ClusterPair& pair, const Cluster& cluster, const std::string& types) {
  CommandResult r = pair.Kubectl(cluster, "get " + types + " -A -o json");
  json list = json::parse(r.output, nullptr, false);
  if (!list.is_object()) return "unreadable: " + r.output;
  std::vector<std::string> lines;
  for (const json& o : list.value("items", json::array())) {
    const json& m = o.value("metadata", json::object());
    const std::string ns = m.value("namespace", "");
    if (ns == "kube-system" || ns == "kube-node-lease") continue;
    lines.push_back(o.value("kind", "") + " " + ns + "/" + m.value("name", "") + " " + m.value("resourceVersion", ""));
  }
  std::sort(lines.begin(), lines.end());
  return Join(lines, "\n");
}

// Snapshot once the cluster's own controllers have finished with what the test wrote: the deployment
// controller of a real cluster records status and a revision on a Deployment just restored, for a
// moment after the restore returns. Two snapshots a second apart that agree are taken as settled.
std::string SettledSnapshot(const ClusterPair& pair, const Cluster& cluster, const std::string& types) {
  std::string last = Snapshot(pair, cluster, types);
  for (int attempt = 0; attempt < 30; ++attempt) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::string now = Snapshot(pair, cluster, types);
    if (now == last) return now;
    last = std::move(now);
  }
  return last;
}

constexpr char kTargetTypes[] =
    "drplans,drrecoveries,leases,jobs,namespaces,configmaps,persistentvolumeclaims,persistentvolumes,deployments,"
    "services,ingresses";
constexpr char kSourceTypes[] = "namespaces,configmaps,persistentvolumeclaims,persistentvolumes,deployments,services";

TEST_F(FailoverE2eTest, DryRunChangesNothingNeedsNoConfirmationAndShowsWhatARunWouldDo) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);
  const std::string target_before = SettledSnapshot(*pair_, target(), kTargetTypes);
  const std::string source_before = SettledSnapshot(*pair_, pair_->source(), kSourceTypes);

  // No --yes and no terminal: a dry run asks nothing.
  CommandResult dry = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --dry-run </dev/null");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("dry run of recovery shop-failover (Failover of plan shop-to-dr"), std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("a run would start cleanly; nothing was changed"), std::string::npos) << dry.output;
  for (const char* step : {"Preflight", "QuiesceSource", "SpendPlan", "RestoreObjects", "FenceSource", "Verify"}) {
    EXPECT_NE(dry.output.find(step), std::string::npos) << step << "\n" << dry.output;
  }
  EXPECT_NE(dry.output.find("deployment shop/web: 2 -> 0 replicas"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("Deployment.apps"), std::string::npos) << dry.output;

  std::string err;
  CommandResult report = DrSplit("failover shop-failover --agent local --inventory-path " + inventory_ +
                                     " --dry-run -o json </dev/null",
                                 &err);
  ASSERT_EQ(report.exit_code, 0) << report.output << err;
  json r = json::parse(report.output, nullptr, false);
  ASSERT_TRUE(r.is_object()) << report.output;
  EXPECT_EQ(r["dryRun"], true);
  EXPECT_EQ(r["ready"], true);
  EXPECT_EQ(r["problems"].size(), 0u) << r.dump(2);
  EXPECT_EQ(r["sourceReachable"], true);
  ASSERT_EQ(r["steps"].size(), 11u) << r.dump(2);
  EXPECT_EQ(r["steps"][1]["name"], "QuiesceSource");
  EXPECT_EQ(r["steps"][1]["state"], "run");
  EXPECT_EQ(r["steps"][6]["name"], "StartAgent");
  EXPECT_EQ(r["steps"][6]["state"], "skip") << "--agent local";
  EXPECT_EQ(r["inventory"]["generation"], 1);
  EXPECT_EQ(r["inventory"]["objectsByKind"]["Deployment.apps"], 1) << r.dump(2);
  EXPECT_EQ(r["inventory"]["objectsByKind"]["ConfigMap"], 1) << r.dump(2);
  ASSERT_EQ(r["storage"].size(), 1u) << r.dump(2);
  EXPECT_EQ(r["storage"][0]["role"], "inventory");
  EXPECT_EQ(r["storage"][0]["claims"], json::array({"shop/shop-inventory"}));
  EXPECT_EQ(r["quiesce"], json::array({"deployment shop/web: 2 -> 0 replicas"})) << r.dump(2);
  EXPECT_EQ(r["conflicts"].size(), 0u);

  // Neither cluster changed: no lease, no journal, the plan not spent, nothing quiesced.
  EXPECT_EQ(Snapshot(*pair_, target(), kTargetTypes), target_before);
  EXPECT_EQ(Snapshot(*pair_, pair_->source(), kSourceTypes), source_before);
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drr shop-failover -o jsonpath={.status}").output, "");
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
}

TEST_F(FailoverE2eTest, DryRunListsEveryConflictAndExitsOneChangingNothing) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);
  ASSERT_EQ(Kubectl("create namespace shop").exit_code, 0);
  ASSERT_EQ(Kubectl("-n shop create configmap web-config --from-literal=greeting=local").exit_code, 0);
  CommandResult service = Kubectl("apply -f " + dir_.Write("service.yaml",
                                                          "apiVersion: v1\nkind: Service\nmetadata: {name: web, "
                                                          "namespace: shop}\nspec:\n  ports:\n  - {port: 80}\n"));
  ASSERT_EQ(service.exit_code, 0) << service.output;
  const std::string target_before = SettledSnapshot(*pair_, target(), kTargetTypes);
  const std::string source_before = SettledSnapshot(*pair_, pair_->source(), kSourceTypes);

  CommandResult dry = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --dry-run");
  EXPECT_EQ(dry.exit_code, 1) << dry.output;
  EXPECT_NE(dry.output.find("a run would NOT start cleanly (1 problem)"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("conflicts on the target (existing: fail):"), std::string::npos) << dry.output;
  for (const char* object : {"Namespace shop", "ConfigMap shop/web-config", "Service shop/web"}) {
    EXPECT_NE(dry.output.find(std::string("  ") + object + ": "), std::string::npos) << object << "\n" << dry.output;
  }
  EXPECT_NE(dry.output.find("would not start cleanly: 1 problem(s), listed above; nothing was changed"),
            std::string::npos)
      << dry.output;

  std::string err;
  CommandResult report = DrSplit("failover shop-failover --agent local --inventory-path " + inventory_ +
                                     " --dry-run -o yaml",
                                 &err);
  EXPECT_EQ(report.exit_code, 1) << report.output << err;
  EXPECT_NE(report.output.find("ready: false"), std::string::npos) << report.output;
  EXPECT_NE(report.output.find("object: ConfigMap shop/web-config"), std::string::npos) << report.output;

  // Under --existing skip the same conflicts are shown, and a run would start.
  CommandResult skip = Dr("failover shop-failover --agent local --inventory-path " + inventory_ +
                          " --dry-run --existing skip");
  EXPECT_EQ(skip.exit_code, 0) << skip.output;
  EXPECT_NE(skip.output.find("conflicts on the target (existing: skip):"), std::string::npos) << skip.output;

  EXPECT_EQ(Snapshot(*pair_, target(), kTargetTypes), target_before);
  EXPECT_EQ(Snapshot(*pair_, pair_->source(), kSourceTypes), source_before);
}

TEST_F(FailoverE2eTest, DryRunOfASpentPlanOrAFinishedRecoveryNamesEveryProblem) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);
  ASSERT_EQ(Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes --no-wait").exit_code, 0);
  const std::string target_before = SettledSnapshot(*pair_, target(), kTargetTypes);

  CommandResult dry = Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --dry-run -o json");
  EXPECT_EQ(dry.exit_code, 1) << dry.output;
  EXPECT_NE(dry.output.find("finished (Succeeded)"), std::string::npos) << dry.output;
  EXPECT_NE(dry.output.find("is never re-run"), std::string::npos) << dry.output;
  // Every step is done: the journal says so.
  EXPECT_EQ(dry.output.find("\"state\": \"run\""), std::string::npos) << dry.output;
  EXPECT_EQ(Snapshot(*pair_, target(), kTargetTypes), target_before);
}

TEST_F(FailoverE2eTest, SkipQuiesceLeavesTheSourceRunningJournalsWhyAndWarns) {
  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-failover --plan shop-to-dr").exit_code, 0);
  WaitForCache("drrecoveries", 1);

  CommandResult dry = Dr("failover shop-failover --agent local --inventory-path " + inventory_ +
                         " --dry-run --skip-quiesce -o json");
  ASSERT_EQ(dry.exit_code, 0) << dry.output;
  json planned = json::parse(dry.output.substr(dry.output.find('{')), nullptr, false);
  ASSERT_TRUE(planned.is_object()) << dry.output;
  EXPECT_EQ(planned["steps"][1]["state"], "skip");
  EXPECT_EQ(planned["quiesce"].size(), 0u);

  std::string err;
  CommandResult run = DrSplit("failover shop-failover --agent local --inventory-path " + inventory_ +
                                  " --skip-quiesce --yes -o json" + WaitFlag(),
                              &err);
  ASSERT_EQ(run.exit_code, 0) << run.output << err;
  json report = json::parse(run.output, nullptr, false);
  ASSERT_TRUE(report.is_object()) << run.output;
  EXPECT_EQ(report["steps"][1]["name"], "QuiesceSource");
  EXPECT_EQ(report["steps"][1]["state"], "Skipped");
  bool warned = false;
  for (const json& w : report["warnings"]) {
    warned = warned || (w.get<std::string>().find("--skip-quiesce") != std::string::npos &&
                        w.get<std::string>().find("were left running") != std::string::npos);
  }
  EXPECT_TRUE(warned) << report.dump(2);

  json rec = json::parse(Kubectl("-n kubectl-dr-system get drr shop-failover -o json").output, nullptr, false);
  ASSERT_TRUE(rec.is_object());
  EXPECT_EQ(rec["status"]["steps"][1]["name"], "QuiesceSource");
  EXPECT_EQ(rec["status"]["steps"][1]["state"], "Skipped");
  EXPECT_NE(rec["status"]["steps"][1].value("message", "").find("--skip-quiesce"), std::string::npos) << rec.dump(2);
  // The source's shop still runs as it did, and is fenced all the same.
  EXPECT_EQ(Source("-n shop get deployment web -o jsonpath={.spec.replicas}").output, "2");
  EXPECT_EQ(Source("-n shop get deployment web -o 'jsonpath={.metadata.annotations.dr\\.kubectl-dr\\.dev/replicas}'").output,
            "");
  EXPECT_EQ(Source("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "true");
}

// A drill takes the agent flags a failover takes: its agent runs as Jobs unless --agent local, and
// --inventory-path belongs to the agent in the plugin. Its dry run, either way, quiesces nothing;
// with the agent as Jobs it names the drill's own inventory claim, never the plan's.
TEST_F(FailoverE2eTest, ADrillTakesTheAgentFlagsOfAFailoverAndItsDryRunQuiescesNothing) {
  CommandResult path_only = Dr("drill shop-drill --inventory-path " + inventory_ + " --yes");
  EXPECT_EQ(path_only.exit_code, 2) << path_only.output;
  EXPECT_NE(path_only.output.find("--inventory-path is read by the agent in the plugin: add --agent local"),
            std::string::npos)
      << path_only.output;

  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0);
  ASSERT_EQ(Dr("recovery create shop-drill --plan shop-to-dr --action Test --namespace-mapping shop=shop-drill")
                .exit_code,
            0);
  WaitForCache("drrecoveries", 1);
  CommandResult dry = Dr("drill shop-drill --agent local --inventory-path " + inventory_ + " --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("dry run of recovery shop-drill (Test of plan shop-to-dr"), std::string::npos)
      << dry.output;
  EXPECT_NE(dry.output.find("restore the inventory's 8 object(s) of shop into shop-drill (existing: fail)"),
            std::string::npos)
      << dry.output;
  EXPECT_EQ(dry.output.find("QuiesceSource"), std::string::npos) << "a drill quiesces nothing\n" << dry.output;

  // The agent as Jobs (the default): not installed on this DR site, which the dry run says, and
  // the claim it would mount is the drill's own.
  CommandResult job = Dr("drill shop-drill --dry-run");
  EXPECT_EQ(job.exit_code, 1) << job.output;
  EXPECT_NE(job.output.find("agent install --plan shop-to-dr"), std::string::npos) << job.output;
  EXPECT_NE(job.output.find("make persistentvolumeclaim shop/kubectl-dr-inventory-shop-drill"),
            std::string::npos)
      << job.output;
  EXPECT_EQ(job.output.find("QuiesceSource"), std::string::npos) << "a drill quiesces nothing\n" << job.output;
}

TEST_F(FailoverE2eTest, ADrillHasNoSkipQuiesceFlag) {
  CommandResult r = Dr("drill shop-drill --skip-quiesce --agent local --inventory-path " + inventory_ + " --yes");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--skip-quiesce"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace kdr::e2e
