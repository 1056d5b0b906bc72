#pragma once

// The `none` storage driver: storage is replicated outside kubectl-dr (NFS, a cloud disk mirror,
// a path shared by both sites), so the driver makes no storage call at all.
//
//   Discover         the inventory's claim in one CG, the others in "workloads"; no identities
//   State            kExternal ("storage is replicated outside kubectl-dr")
//   Sync, Failover, Recover, Restore, CleanupDrill, Protect
//                    nothing to do: Ok (kCancelled when stop was already requested)
//   PrepareDrill     the same volumes marked without_data: a drill restores the claims unbound,
//                    provisioned empty by their StorageClass, and says so in Volume::note
//   VolumeSourceFor  the captured PV as it was, less what the cluster assigned (metadata uid,
//                    resourceVersion, creationTimestamp, generation, managedFields, status, and
//                    spec.claimRef uid/resourceVersion); nullopt for a drill copy
//
// Parameters: none. Credentials: none (a credentialsSecret is an error: nothing would read it).

#include <memory>

#include "storage/driver.h"

namespace kdr::storage {

std::unique_ptr<Driver> NewNoneDriver(const DriverOptions& options);

// Driver::ValidateParameters of the none driver, without a driver.
Status ValidateNoneParameters(const std::map<std::string, std::string>& parameters,
                              const Credentials* credentials);

}  // namespace kdr::storage
