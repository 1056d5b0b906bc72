// The end-to-end harness itself: two clusters reachable with real kubectl, the product's CRDs
// installable on both, and a restarted cluster that keeps its state.

#include <gtest/gtest.h>

#include "e2e/harness.h"

namespace kdr::e2e {
namespace {

class ClusterPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = ClusterPair::Create();
    ASSERT_TRUE(p.ok()) << p.status().message();
    pair_ = std::move(*p);
  }
  std::unique_ptr<ClusterPair> pair_;
};

TEST_F(ClusterPairTest, BothClustersServeKubectlAndTheProductCrds) {
  for (Cluster* c : {&pair_->source(), &pair_->target()}) {
    SCOPED_TRACE(c->context());
    auto apply = pair_->Kubectl(*c, "apply -k " + testutil::SourcePath("manifests/crds"));
    ASSERT_EQ(apply.exit_code, 0) << apply.output;
    EXPECT_NE(apply.output.find("drplans.dr.kubectl-dr.dev"), std::string::npos) << apply.output;
    auto get = pair_->Kubectl(*c, "get drp -A");
    EXPECT_EQ(get.exit_code, 0) << get.output;
  }
}

TEST_F(ClusterPairTest, MergedKubeconfigReachesBothContexts) {
  auto r = pair_->Shell("kubectl config get-contexts -o name");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find(pair_->source().context()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(pair_->target().context()), std::string::npos) << r.output;
}

TEST_F(ClusterPairTest, RestartedClusterKeepsItsObjects) {
  if (!pair_->target().local()) GTEST_SKIP() << "cannot restart a cluster given by KDR_E2E_*_KUBECONFIG";
  Cluster& target = pair_->target();
  auto create = pair_->Kubectl(target, "create configmap survivor --from-literal=k=v");
  ASSERT_EQ(create.exit_code, 0) << create.output;
  ASSERT_TRUE(target.Stop().ok());
  auto down = pair_->Kubectl(target, "get configmap survivor --request-timeout=5s");
  EXPECT_NE(down.exit_code, 0) << "a stopped cluster answered: " << down.output;
  ASSERT_TRUE(target.Restart().ok());
  auto get = pair_->Kubectl(target, "get configmap survivor -o jsonpath={.data.k}");
  EXPECT_EQ(get.exit_code, 0) << get.output;
  EXPECT_EQ(get.output, "v");
}

}  // namespace
}  // namespace kdr::e2e
