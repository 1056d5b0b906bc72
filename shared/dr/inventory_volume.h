#pragma once

// The inventory claim's own volume, known before the inventory can be read.
//
// With the agent as a Job on the target (failover --agent job), the plugin never reads the
// inventory: it lies on the inventory volume, which must be failed over and restored on the
// target (DESIGN.md steps 5 and 6) before the agent can mount it and read the volume map. What
// those two steps need of that volume -- the claim's volume map entry, as a capture writes it
// (its PV, class, capacity, modes, CSI driver and handle), and, for the storage driver none, the
// PV itself, restored as it was -- comes from the source when it answers, else from the plan's
// status.inventoryVolume, which `kubectl dr agent install` records while the source answers.
//
// Both are returned as an inventory::RestoreInput holding that volume alone: volumes = {the
// entry, inventory true}, objects = {its PV, cluster-assigned fields removed} (no PV when the
// claim is not bound), which is how the workflow reads an inventory's own volume anyway.

#include <nlohmann/json_fwd.hpp>

#include "base/clock.h"
#include "base/status.h"
#include "dr/types.h"
#include "inventory/restore.h"

namespace kdr::kube {
class Client;
}

namespace kdr::dr {

// The plan's inventory claim and its PV as `source` has them now. NotFound naming the claim when
// it does not exist; the client's error otherwise. A claim not bound yet gives an entry without
// a volume and no PV.
Result<inventory::RestoreInput> ReadInventoryVolume(kube::Client& source, const DRPlan& plan);

// status.inventoryVolume of a plan object as read from the target. NotFound when the plan
// records none (agent install never ran while the source answered); InvalidArgument naming the
// field when it is malformed.
Result<inventory::RestoreInput> RecordedInventoryVolume(const nlohmann::json& plan_object);

// Records `volume` (as ReadInventoryVolume returns it) in the plan's status.inventoryVolume on
// `target`, stamped with the clock's time. Idempotent; the rest of the status is left as it is.
Status RecordInventoryVolume(kube::Client& target, const DRPlan& plan, const inventory::RestoreInput& volume,
                             const Clock& clock);

}  // namespace kdr::dr
