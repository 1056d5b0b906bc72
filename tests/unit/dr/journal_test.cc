#include "dr/journal.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "testutil/testutil.h"

namespace kdr::dr {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> Names(const std::vector<RecoveryStep>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(s.name);
  return out;
}

TEST(JournalTest, ReconcileListsEveryStepOfTheActionPendingInOrder) {
  testutil::FakeClock clock;
  struct Case {
    RecoveryAction action;
    std::vector<std::string> want;
  } cases[] = {
      {RecoveryAction::kFailover,
       {"Preflight", "QuiesceSource", "SyncInventory", "SpendPlan", "FailoverInventory", "RestoreInventoryVolume",
        "StartAgent", "WorkloadVolumes", "RestoreObjects", "FenceSource", "Verify"}},
      {RecoveryAction::kFailback,
       {"Preflight", "QuiesceSource", "SyncInventory", "SpendPlan", "FailbackInventory", "Unfence",
        "RestoreInventoryVolume", "StartAgent", "WorkloadVolumes", "RestoreObjects", "Verify"}},
      {RecoveryAction::kTest,
       {"Preflight", "PrepareDrill", "RestoreInventoryVolume", "StartAgent", "RestoreObjects", "Verify"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(ToString(c.action)));
    std::vector<RecoveryStep> steps;
    Journal j(c.action, &steps, &clock);
    ASSERT_TRUE(j.Reconcile().ok());
    EXPECT_EQ(Names(steps), c.want);
    for (const auto& s : steps) EXPECT_EQ(s.state, StepState::kPending);
    EXPECT_EQ(j.Next(), "Preflight");
  }
}

TEST(JournalTest, ResumesAtTheFirstStepNotSucceededAndCountsItsAttempts) {
  testutil::FakeClock clock;
  std::vector<RecoveryStep> steps;
  Journal first(RecoveryAction::kFailover, &steps, &clock);
  ASSERT_TRUE(first.Reconcile().ok());
  for (std::string_view s : {step::kPreflight, step::kQuiesceSource}) {
    ASSERT_TRUE(first.Start(s).ok());
    ASSERT_TRUE(first.Succeed(s, "done").ok());
  }
  ASSERT_TRUE(first.Start(step::kSyncInventory).ok());
  ASSERT_TRUE(first.Skip(step::kSyncInventory, "storage sync failed: recorded, going on").ok());
  ASSERT_TRUE(first.Start(step::kSpendPlan).ok());
  // The run dies here, SpendPlan Running. A new run reads the journal back from the status.
  DRRecovery r;
  r.metadata.name = "shop-failover";
  r.metadata.namespace_name = "kubectl-dr-system";
  r.spec.plan_name = "shop-to-dr";
  r.status.steps = steps;
  Result<DRRecovery> back = DRRecoveryFromJson(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();

  clock.Advance(90s);
  std::vector<RecoveryStep> resumed = back->status.steps;
  Journal second(RecoveryAction::kFailover, &resumed, &clock);
  ASSERT_TRUE(second.Reconcile().ok());
  EXPECT_EQ(second.Next(), "SpendPlan");
  ASSERT_TRUE(second.Start(step::kSpendPlan).ok());
  const RecoveryStep* spend = second.Find(step::kSpendPlan);
  ASSERT_NE(spend, nullptr);
  EXPECT_EQ(spend->attempts, 2);
  EXPECT_EQ(spend->started_at, "2026-01-01T00:01:30Z");
  EXPECT_EQ(second.Find(step::kPreflight)->message, "done");
  EXPECT_EQ(second.Find(step::kSyncInventory)->state, StepState::kSkipped);
}

TEST(JournalTest, DoneOnlyWhenEveryStepSucceededOrWasSkipped) {
  testutil::FakeClock clock;
  std::vector<RecoveryStep> steps;
  Journal j(RecoveryAction::kTest, &steps, &clock);
  ASSERT_TRUE(j.Reconcile().ok());
  for (std::string_view s : StepsOf(RecoveryAction::kTest)) {
    EXPECT_FALSE(j.Done());
    ASSERT_TRUE(j.Start(s).ok());
    if (s == step::kVerify) {
      ASSERT_TRUE(j.Fail(s, "2 of 3 replicas ready").ok());
      EXPECT_EQ(j.Next(), "Verify") << "a failed step runs again";
      ASSERT_TRUE(j.Start(s).ok());
    }
    ASSERT_TRUE(j.Succeed(s).ok());
  }
  EXPECT_TRUE(j.Done());
  EXPECT_EQ(j.Find(step::kVerify)->attempts, 2);
  EXPECT_EQ(j.Find(step::kVerify)->message, "");
}

TEST(JournalTest, RefusesAJournalItDidNotWrite) {
  testutil::FakeClock clock;
  struct Case {
    const char* name;
    std::vector<std::string> recorded;
    const char* want;
  } cases[] = {
      {"a step of another action", {"Preflight", "PrepareDrill"},
       "holds step \"PrepareDrill\", which a Failover does not have"},
      {"steps out of order", {"SpendPlan", "Preflight"}, "lists step \"Preflight\" out of order"},
      {"a step twice", {"Preflight", "Preflight"}, "lists step \"Preflight\" out of order"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<RecoveryStep> steps;
    for (const std::string& n : c.recorded) steps.push_back(RecoveryStep{n});
    const std::vector<RecoveryStep> before = steps;
    Journal j(RecoveryAction::kFailover, &steps, &clock);
    Status st = j.Reconcile();
    EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(st.message().find(c.want), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("create a new recovery"), std::string::npos);
    EXPECT_EQ(Names(steps), Names(before)) << "left as it was";
  }
  std::vector<RecoveryStep> steps;
  Journal j(RecoveryAction::kFailover, &steps, &clock);
  ASSERT_TRUE(j.Reconcile().ok());
  EXPECT_EQ(j.Start("NoSuchStep").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(j.Succeed("NoSuchStep").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kdr::dr
