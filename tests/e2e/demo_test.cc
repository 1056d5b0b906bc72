// The README's demo command, run as a user runs it: scripts/demo must finish unattended and every
// step must behave as it narrates (the script exits non-zero otherwise).

#include <gtest/gtest.h>

#include <string>

#include "testutil/testutil.h"

namespace kdr::e2e {
namespace {

TEST(DemoTest, ScriptsDemoRunsEveryStepAsNarrated) {
  if (testutil::RunCommand("command -v kubectl").exit_code != 0) GTEST_SKIP() << "kubectl is not installed";
  // The build dir of this test: the demo builds (a no-op here) and runs the same binaries.
  testutil::CommandResult r = testutil::RunCommand("KDR_BUILD_DIR=" + testutil::BinaryDir() + " " +
                                                   testutil::SourcePath("scripts/demo") + " </dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* want : {
           "admission webhook \"fenced-workloads.dr.kubectl-dr.dev\" denied the request: creating pod shop/writer",
           "pod/reader created",
           "admission webhook \"spent-plans.dr.kubectl-dr.dev\" denied the request: creating drrecovery "
           "kubectl-dr-system/shop-failover-again is refused",
           "plan \"shop-to-dr\" on context \"target\": protects shop of source",
           "plan shop-to-dr (source -> target): ready for a failover",
           "recovery shop-drill (Test of plan shop-to-dr): Succeeded",
           "drill shop-drill (plan shop-to-dr): removed ",
           "primary replicas: 2",
           "recovery shop-failover (Failover of plan shop-to-dr): Succeeded",
           "class: traefik",
           "recovery shop-failback (Failback of plan shop-back): Succeeded",
           "greeting: hello from the DR site",
           "~ /spec/ingressClassName: \"nginx\" -> \"traefik\"",
           "validatingwebhookconfiguration.admissionregistration.k8s.io/kubectl-dr-webhook deleted",
           "Done: every step behaved as narrated.",
       }) {
    EXPECT_NE(r.output.find(want), std::string::npos) << want << "\n" << r.output;
  }
}

}  // namespace
}  // namespace kdr::e2e
