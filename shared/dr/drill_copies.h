#pragma once

// What a drill (a Test recovery, DESIGN.md section 3) runs on: drill copies of the workloads'
// volumes, never the live DR volumes. The workflow's PrepareDrill step, the agent's restore and
// drill cleanup all go through here, so that they agree on which volumes have copies.
//
// The inventory's own volume is copied only when the drill's agent runs as Jobs on the DR site
// (drill --agent job): the Jobs mount a claim of the drill's own (DrillInventoryClaimName,
// agent_job.h) on that copy, never the live replica. With --agent local the drill reads the
// replicated inventory in place and its restore skips the inventory's claim, so a copy would serve
// nothing. A copy that holds no data (driver none, which moves no data: Volume::without_data)
// cannot serve the agent either; the workflow then mounts the inventory's volume as captured,
// read-only, which is reading it in place as --agent local does.

#include <functional>
#include <vector>

#include "base/status.h"
#include "storage/deadline.h"

namespace kdr::storage {
class Driver;
struct ConsistencyGroup;
}  // namespace kdr::storage

namespace kdr::dr {

// Which groups a drill copies: the workloads' always, the inventory's with the agent as Jobs.
enum class DrillCopies { kWorkloads, kWithInventory };

// True for a group a drill copies.
bool CopiedForDrill(const storage::ConsistencyGroup& cg, DrillCopies which = DrillCopies::kWorkloads);

// The drill's groups: Driver::PrepareDrill of each group of `groups` that CopiedForDrill selects,
// in order, each call with a deadline from `deadline`. Idempotent as PrepareDrill is (the copies
// are named after the replicas and reused). Errors: the driver's.
Result<std::vector<storage::ConsistencyGroup>> PrepareDrillCopies(
    storage::Driver& driver, const std::vector<storage::ConsistencyGroup>& groups,
    const std::function<storage::Deadline()>& deadline, DrillCopies which = DrillCopies::kWorkloads);

}  // namespace kdr::dr
