#pragma once

// What a drill (a Test recovery, DESIGN.md section 3) runs on: drill copies of the workloads'
// volumes, never the live DR volumes. The inventory's own volume is not copied: a drill reads the
// replicated inventory in place and the restore skips the inventory's claim, so a copy of it
// would serve nothing (and driver none would warn that it holds no data). The workflow's
// PrepareDrill step, the agent's restore and drill cleanup all go through here, so that they
// agree on which volumes have copies.

#include <functional>
#include <vector>

#include "base/status.h"
#include "storage/deadline.h"

namespace kdr::storage {
class Driver;
struct ConsistencyGroup;
}  // namespace kdr::storage

namespace kdr::dr {

// True for a group a drill copies: the workloads', not the inventory's.
bool CopiedForDrill(const storage::ConsistencyGroup& cg);

// The drill's groups: Driver::PrepareDrill of each group of `groups` that CopiedForDrill selects,
// in order, each call with a deadline from `deadline`. Idempotent as PrepareDrill is (the copies
// are named after the replicas and reused). Errors: the driver's.
Result<std::vector<storage::ConsistencyGroup>> PrepareDrillCopies(
    storage::Driver& driver, const std::vector<storage::ConsistencyGroup>& groups,
    const std::function<storage::Deadline()>& deadline);

}  // namespace kdr::dr
