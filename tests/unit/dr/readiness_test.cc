// The readiness pieces a failover's preflight shares with `kubectl dr plan check` that need no
// cluster: the spent-plan refusal and the conflicts refusal. (The checks against clusters are
// exercised through plan check: tests/unit/plugin/plan_check_test.cc.)

#include "dr/readiness.h"

#include <gtest/gtest.h>

namespace kdr::dr {
namespace {

DRPlan Plan(std::optional<PlanPhase> phase, std::string spent_by = "") {
  DRPlan p;
  p.metadata.name = "shop-to-dr";
  p.status.phase = phase;
  p.status.spent_by = std::move(spent_by);
  return p;
}

TEST(CheckPlanNotSpentTest, RefusesASpentPlanExceptToTheRecoveryThatSpentIt) {
  struct Case {
    std::string name;
    DRPlan plan;
    std::string recovery;
    bool ok;
  } cases[] = {
      {"ready", Plan(PlanPhase::kReady), "", true},
      {"no status yet", Plan(std::nullopt), "shop-failover", true},
      {"spent, any recovery", Plan(PlanPhase::kSpent, "shop-failover"), "", false},
      {"spent by another", Plan(PlanPhase::kSpent, "shop-failover"), "second-try", false},
      {"spent by this one (a resumed run)", Plan(PlanPhase::kSpent, "shop-failover"), "shop-failover", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = CheckPlanNotSpent(c.plan, c.recovery);
    EXPECT_EQ(s.ok(), c.ok) << s.message();
    if (!c.ok) {
      EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
      EXPECT_EQ(s.message(), "plan \"shop-to-dr\" was spent by \"shop-failover\"; clone it: kubectl dr plan clone "
                             "shop-to-dr --name NEW --inventory-pvc NEW-PVC");
    }
  }
}

TEST(RefuseConflictsTest, ListsEveryConflictAndChangesNothingWhenThereAreNone) {
  EXPECT_TRUE(RefuseConflicts({}).ok());
  std::vector<inventory::Conflict> conflicts = {
      {{"v1", "Namespace", "", "shop"}, "exists on the target and was not created by recovery \"f\""},
      {{"apps/v1", "Deployment", "shop", "web"}, "exists on the target, restored by recovery \"d\", not \"f\""},
  };
  Status s = RefuseConflicts(conflicts);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(),
            "2 object(s) on the target were not created by this recovery (nothing was changed; choose --existing "
            "skip or update, or remove them):" +
                DescribeConflicts(conflicts));
  EXPECT_EQ(DescribeConflicts(conflicts),
            "\n  " + conflicts[0].object.ToString() + ": exists on the target and was not created by recovery \"f\""
            "\n  " + conflicts[1].object.ToString() + ": exists on the target, restored by recovery \"d\", not \"f\"");
}

}  // namespace
}  // namespace kdr::dr
