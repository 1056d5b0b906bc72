// The admission webhook as an operator meets it: `kubectl dr install` on the target cluster
// pointing at a real kubectl-dr-webhook process (real TLS with the certificates install wrote),
// then each policy through real kubectl: a writable mount of a fenced inventory volume, a
// recovery on a spent plan, a restored Ingress transformed on its way in.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "base/strings.h"
#include "e2e/harness.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

TEST_F(WebhookE2eTest, InstallPointsTheClusterAtTheWebhookWithTheCaItWrote) {
  CommandResult urls = Kubectl(
      "get validatingwebhookconfiguration kubectl-dr-webhook -o jsonpath={.webhooks[*].clientConfig.url}");
  ASSERT_EQ(urls.exit_code, 0) << urls.output;
  EXPECT_EQ(urls.output, url_ + "/validate " + url_ + "/validate " + url_ + "/validate " + url_ + "/validate");
  CommandResult mutate = Kubectl(
      "get mutatingwebhookconfiguration kubectl-dr-webhook -o jsonpath={.webhooks[*].clientConfig.url}");
  EXPECT_EQ(mutate.output, url_ + "/mutate");
  EXPECT_EQ(Kubectl("get crd drplans.dr.kubectl-dr.dev drrecoveries.dr.kubectl-dr.dev -o name").exit_code, 0);
  // No in-cluster server when the webhook runs outside.
  CommandResult deploy = Kubectl("-n kubectl-dr-system get deployment kubectl-dr-webhook");
  EXPECT_NE(deploy.exit_code, 0) << deploy.output;

  // Re-running install changes nothing the running webhook depends on.
  auto ca_before = testutil::RunCommand("cat " + certs_ + "/ca.crt").output;
  CommandResult again = pair_->Shell("kubectl dr install --context " + target().context() +
                                     " --webhook-url " + url_ + " --cert-dir " + certs_);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("reusing the webhook certificates"), std::string::npos) << again.output;
  EXPECT_EQ(testutil::RunCommand("cat " + certs_ + "/ca.crt").output, ca_before);
  EXPECT_EQ(Get("/readyz").first, 200);
}

TEST_F(WebhookE2eTest, WritableMountOfAFencedPvcIsRefusedReadOnlyIsAdmitted) {
  CommandResult setup = Kubectl("apply -f " + Data("fenced.yaml"));
  ASSERT_EQ(setup.exit_code, 0) << setup.output;
  WaitForCache("fenced_pvcs", 1);

  CommandResult writer = Kubectl("apply -f " + Data("writer-pod.yaml"));
  ExpectDenied(writer, "fenced-workloads.dr.kubectl-dr.dev",
               "creating pod shop/writer is refused: its volume \"inventory\" (spec.volumes[0]) is "
               "persistentvolumeclaim shop/shop-inventory, which is fenced");
  EXPECT_NE(writer.output.find("Set spec.volumes[0].persistentVolumeClaim.readOnly: true"), std::string::npos)
      << writer.output;
  EXPECT_NE(Kubectl("-n shop get pod writer").exit_code, 0);

  CommandResult deployment = Kubectl("apply -f " + Data("writer-deployment.yaml"));
  ExpectDenied(deployment, "fenced-workloads.dr.kubectl-dr.dev",
               "creating deployment shop/inventory-writer is refused");
  // Declared but mounted by no container: the node still attaches it read-write.
  CommandResult holder = Kubectl("apply -f " + Data("unused-volume-deployment.yaml"));
  ExpectDenied(holder, "fenced-workloads.dr.kubectl-dr.dev",
               "creating deployment shop/inventory-holder is refused: its volume \"inventory\" "
               "(spec.template.spec.volumes[0]) is persistentvolumeclaim shop/shop-inventory");
  EXPECT_NE(holder.output.find("no container mounts it"), std::string::npos) << holder.output;
  // Read-only container mounts over a read-write source are still a read-write node mount.
  CommandResult sneaky = Kubectl("apply -f " + Data("read-only-mounts-pod.yaml"));
  ExpectDenied(sneaky, "fenced-workloads.dr.kubectl-dr.dev",
               "creating pod shop/sneaky-reader is refused");
  EXPECT_NE(sneaky.output.find("container \"app\" mounts it read-only, but the node"), std::string::npos)
      << sneaky.output;

  CommandResult reader = Kubectl("apply -f " + Data("reader-pod.yaml"));
  EXPECT_EQ(reader.exit_code, 0) << reader.output;
  EXPECT_NE(reader.output.find("pod/reader created"), std::string::npos) << reader.output;

  // The fenced volume itself: no delete, no unfencing by hand.
  CommandResult del = Kubectl("-n shop delete pvc shop-inventory --wait=false");
  ExpectDenied(del, "fenced-pvcs.dr.kubectl-dr.dev", "deleting persistentvolumeclaim shop/shop-inventory");
  CommandResult unlabel = Kubectl("-n shop label pvc shop-inventory dr.kubectl-dr.dev/failed-over-");
  ExpectDenied(unlabel, "fenced-pvcs.dr.kubectl-dr.dev",
               "removing the label dr.kubectl-dr.dev/failed-over of persistentvolumeclaim shop/shop-inventory");
  EXPECT_EQ(Kubectl("-n shop get pvc shop-inventory -o name").output, "persistentvolumeclaim/shop-inventory\n");
}

TEST_F(WebhookE2eTest, TheFenceCannotBeLiftedFromItsNamespace) {
  ASSERT_EQ(Kubectl("apply -f " + Data("fenced.yaml")).exit_code, 0);
  WaitForCache("fenced_pvcs", 1);

  CommandResult unlabel = Kubectl("label ns shop dr.kubectl-dr.dev/fenced-");
  ExpectDenied(unlabel, "fenced-namespaces.dr.kubectl-dr.dev",
               "removing the label dr.kubectl-dr.dev/fenced of namespace shop is refused: it holds "
               "fenced persistentvolumeclaims (shop-inventory, failed over by plan \"shop-to-dr\")");
  CommandResult relabel = Kubectl("label ns shop dr.kubectl-dr.dev/fenced=false --overwrite");
  ExpectDenied(relabel, "fenced-namespaces.dr.kubectl-dr.dev", "changing the label dr.kubectl-dr.dev/fenced");
  EXPECT_EQ(Kubectl("get ns shop -o 'jsonpath={.metadata.labels.dr\\.kubectl-dr\\.dev/fenced}'").output, "true");
  // So the writable mount is still refused, and other labels still change freely.
  ExpectDenied(Kubectl("apply -f " + Data("writer-pod.yaml")), "fenced-workloads.dr.kubectl-dr.dev",
               "creating pod shop/writer is refused");
  CommandResult other = Kubectl("label ns shop team=shop");
  EXPECT_EQ(other.exit_code, 0) << other.output;
}

TEST_F(WebhookE2eTest, AQuiescedWorkloadCannotBeScaledBackUpOrDebuggedIntoTheFencedVolume) {
  CommandResult setup = Kubectl("apply -f " + Data("quiesced.yaml"));
  ASSERT_EQ(setup.exit_code, 0) << setup.output;
  // The fence, namespace first, as kubectl dr fence does.
  ASSERT_EQ(Kubectl("label ns shop dr.kubectl-dr.dev/fenced=true").exit_code, 0);
  ASSERT_EQ(Kubectl("-n shop label pvc shop-inventory dr.kubectl-dr.dev/failed-over=shop-to-dr").exit_code, 0);
  WaitForCache("fenced_pvcs", 1);
  WaitForCache("workloads", 1);

  CommandResult scale = Kubectl("-n shop scale deployment inventory-writer --replicas=2");
  ExpectDenied(scale, "fenced-workloads.dr.kubectl-dr.dev",
               "scaling deployment shop/inventory-writer to 2 replicas is refused: its pod template "
               "declares persistentvolumeclaim shop/shop-inventory with a read-write source");
  EXPECT_EQ(Kubectl("-n shop get deployment inventory-writer -o jsonpath={.spec.replicas}").output, "0");
  CommandResult patch = Kubectl("-n shop patch deployment inventory-writer -p '{\"spec\":{\"replicas\":1}}'");
  ExpectDenied(patch, "fenced-workloads.dr.kubectl-dr.dev", "updating deployment shop/inventory-writer is refused");

  // kubectl debug adds an ephemeral container through pods/ephemeralcontainers.
  CommandResult debug = Kubectl("-n shop debug web --image=busybox:1.36 --container=dbg --attach=false "
                                "--profile=general --custom=" + Data("debug-profile.json"));
  ExpectDenied(debug, "fenced-workloads.dr.kubectl-dr.dev",
               "updating pod shop/web is refused: its volume \"inventory\" (spec.volumes[0]) is "
               "persistentvolumeclaim shop/shop-inventory, which is fenced");
  EXPECT_NE(debug.output.find("ephemeral container \"dbg\" mounts it read-only"), std::string::npos)
      << debug.output;
  EXPECT_EQ(Kubectl("-n shop get pod web -o jsonpath={.spec.ephemeralContainers}").output, "");
}

TEST_F(WebhookE2eTest, RecoveryOnASpentPlanIsRefused) {
  ASSERT_EQ(Kubectl("apply -f " + Data("plan.yaml")).exit_code, 0);
  CommandResult spend = Kubectl(
      "-n kubectl-dr-system patch drplan shop-to-dr --subresource=status --type=merge "
      "-p '{\"status\":{\"phase\":\"Spent\",\"spentBy\":\"shop-failover\",\"spentAt\":\"2026-01-01T00:00:00Z\"}}'");
  ASSERT_EQ(spend.exit_code, 0) << spend.output;
  // The webhook learns the plan is spent through its watch: wait until a server-side dry run
  // (which calls the webhooks and persists nothing) is refused.
  ASSERT_TRUE(Eventually([&] { return Kubectl("apply --dry-run=server -f " + Data("recovery-again.yaml")).exit_code != 0; },
                         kCacheDeadline))
      << webhook_->Log();

  CommandResult again = Kubectl("apply -f " + Data("recovery-again.yaml"));
  ExpectDenied(again, "spent-plans.dr.kubectl-dr.dev",
               "creating drrecovery kubectl-dr-system/shop-failover-again is refused: plan \"shop-to-dr\" "
               "was spent by \"shop-failover\"");
  EXPECT_NE(again.output.find("kubectl dr plan clone shop-to-dr"), std::string::npos) << again.output;
  EXPECT_NE(Kubectl("-n kubectl-dr-system get drr shop-failover-again").exit_code, 0);

  // Nor can the plan be un-spent or re-targeted.
  CommandResult unspend = Kubectl(
      "-n kubectl-dr-system patch drplan shop-to-dr --subresource=status --type=merge "
      "-p '{\"status\":{\"phase\":\"Ready\"}}'");
  ExpectDenied(unspend, "spent-plans.dr.kubectl-dr.dev", "un-spending drplan");
  CommandResult respec = Kubectl(
      "-n kubectl-dr-system patch drplan shop-to-dr --type=merge -p '{\"spec\":{\"namespaces\":[\"other\"]}}'");
  ExpectDenied(respec, "spent-plans.dr.kubectl-dr.dev", "changing the spec of drplan");
  EXPECT_EQ(Kubectl("-n kubectl-dr-system get drp shop-to-dr -o jsonpath={.status.phase}").output, "Spent");
}

TEST_F(WebhookE2eTest, RestoredIngressArrivesTransformed) {
  ASSERT_EQ(Kubectl("create namespace shop").exit_code, 0);
  CommandResult cm = Kubectl("-n kubectl-dr-system create configmap shop-modifiers --from-file=modifiers.yaml=" +
                             Data("modifiers.yaml"));
  ASSERT_EQ(cm.exit_code, 0) << cm.output;
  CommandResult objs = Kubectl("apply -f " + Data("plan.yaml") + " -f " + Data("recovery.yaml"));
  ASSERT_EQ(objs.exit_code, 0) << objs.output;
  WaitForCache("configmaps", 1);
  WaitForCache("drrecoveries", 1);

  CommandResult restore = Kubectl("create -f " + Data("ingress.yaml"));
  ASSERT_EQ(restore.exit_code, 0) << restore.output << webhook_->Log();
  CommandResult get = Kubectl("-n shop get ingress web -o json");
  ASSERT_EQ(get.exit_code, 0) << get.output;
  json ing = json::parse(get.output);
  EXPECT_EQ(ing["spec"]["ingressClassName"], "traefik");
  const json& ann = ing["metadata"]["annotations"];
  EXPECT_FALSE(ann.contains("nginx.ingress.kubernetes.io/rewrite-target")) << ann.dump();
  EXPECT_FALSE(ann.contains("nginx.ingress.kubernetes.io/ssl-redirect")) << ann.dump();
  EXPECT_EQ(ann.value("traefik.ingress.kubernetes.io/router.entrypoints", ""), "websecure");
  EXPECT_EQ(ann.value("shop.example.com/owner", ""), "team-shop");
  EXPECT_EQ(ing["spec"]["rules"][0]["host"], "shop.example.com");

  // Without the recovery label an Ingress is none of the webhook's business.
  CommandResult plain = Kubectl("apply -f " + Data("ingress-plain.yaml"));
  ASSERT_EQ(plain.exit_code, 0) << plain.output;
  EXPECT_EQ(Kubectl("-n shop get ingress plain -o jsonpath={.spec.ingressClassName}").output, "nginx");
}

TEST_F(WebhookE2eTest, RestoreForAnUnknownRecoveryIsRefusedNamingIt) {
  ASSERT_EQ(Kubectl("create namespace shop").exit_code, 0);
  CommandResult r = Kubectl("create -f " + Data("ingress.yaml"));
  ExpectDenied(r, "transforms.dr.kubectl-dr.dev",
               "restoring ingress shop/web is refused: it carries dr.kubectl-dr.dev/recovery=shop-failover "
               "but drrecovery \"shop-failover\" does not exist in namespace kubectl-dr-system");
  EXPECT_NE(Kubectl("-n shop get ingress web").exit_code, 0);
}

TEST_F(WebhookE2eTest, RestoreWithAMissingModifierConfigMapIsRefusedNamingIt) {
  ASSERT_EQ(Kubectl("create namespace shop").exit_code, 0);
  ASSERT_EQ(Kubectl("apply -f " + Data("plan.yaml") + " -f " + Data("recovery.yaml")).exit_code, 0);
  WaitForCache("drrecoveries", 1);
  CommandResult r = Kubectl("create -f " + Data("ingress.yaml"));
  ExpectDenied(r, "transforms.dr.kubectl-dr.dev",
               "restoring ingress shop/web is refused: drrecovery \"shop-failover\" names the resource "
               "modifiers configmap \"shop-modifiers\", which does not exist");
}

TEST_F(WebhookE2eTest, WithTheWebhookDownWritesItGuardsFailClosed) {
  ASSERT_EQ(Kubectl("apply -f " + Data("fenced.yaml")).exit_code, 0);
  WaitForCache("fenced_pvcs", 1);
  webhook_->Stop();
  CommandResult writer = Kubectl("apply -f " + Data("writer-pod.yaml"));
  EXPECT_NE(writer.exit_code, 0) << writer.output;
  EXPECT_NE(writer.output.find("failed calling webhook \"fenced-workloads.dr.kubectl-dr.dev\""), std::string::npos)
      << writer.output;
  EXPECT_NE(Kubectl("-n shop get pod writer").exit_code, 0);
  // Namespaces that are not fenced never call the webhook.
  EXPECT_EQ(Kubectl("create namespace elsewhere").exit_code, 0);
  CommandResult other = Kubectl("-n elsewhere run web --image=nginx:1.27");
  EXPECT_EQ(other.exit_code, 0) << other.output;
}

TEST_F(WebhookE2eTest, InstallWithBadFlagsChangesNothing) {
  struct Case {
    const char* flags;
    const char* want;
  };
  const Case cases[] = {
      {"--webhook-url http://127.0.0.1:1 --cert-dir /tmp/unused", "is plain HTTP"},
      {"--webhook-url https://127.0.0.1:1", "--webhook-url needs --cert-dir"},
      {"--webhook-url https://127.0.0.1:1 --cert-dir /tmp/unused --image x/y:1", "--image sets"},
  };
  CommandResult uninstall = pair_->Shell("kubectl dr uninstall --context " + target().context());
  ASSERT_EQ(uninstall.exit_code, 0) << uninstall.output;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.flags);
    CommandResult r = pair_->Shell("kubectl dr install --context " + target().context() + " " + c.flags);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.want), std::string::npos) << r.output;
  }
  CommandResult none = Kubectl("get validatingwebhookconfigurations -o name");
  EXPECT_EQ(none.output.find("kubectl-dr-webhook"), std::string::npos) << none.output;
  CommandResult unknown = pair_->Shell("kubectl dr install --context no-such-context --webhook-url " + url_ +
                                       " --cert-dir " + dir_.path() + "/other");
  EXPECT_NE(unknown.exit_code, 0) << unknown.output;
  EXPECT_NE(unknown.output.find("no-such-context"), std::string::npos) << unknown.output;
  EXPECT_EQ(testutil::RunCommand("test -e " + dir_.path() + "/other").exit_code, 1);
}

}  // namespace
}  // namespace kdr::e2e
