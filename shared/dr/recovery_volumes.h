#pragma once

// The volumes a recovery moves. A recovery of a subset of its plan's namespaces (spec.namespaces)
// fails over, restores and fences the volumes of those namespaces only, plus the plan's inventory
// volume: the rest keep running on the source under a clone of the plan (kubectl dr plan clone).
// A backend group fails over as a whole, so a group holding volumes of namespaces both inside and
// outside the subset cannot move for the subset alone: that is refused, naming the group and the
// namespaces it would take along.
//
//   KDR_ASSIGN_OR_RETURN(inventory::VolumeMap moved, RecoveryVolumes(index.volumes, {"shop"}));
//   driver->Discover(plan, moved, deadline);

#include <string>
#include <vector>

#include "base/status.h"
#include "inventory/volume_map.h"

namespace kdr::dr {

// The entries of `volumes` in `namespaces` (source namespaces) and the inventory's, in their order.
// FailedPrecondition when an entry left out shares its backend group (storage["group"]) with one
// kept: the message names the group, the claims it would take along and what to do.
Result<inventory::VolumeMap> RecoveryVolumes(const inventory::VolumeMap& volumes,
                                             const std::vector<std::string>& namespaces);

}  // namespace kdr::dr
