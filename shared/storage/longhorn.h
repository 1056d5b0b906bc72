#pragma once

// The Longhorn storage driver. It speaks to Longhorn only through its longhorn.io/v1beta2 custom
// resources on the two clusters (no Longhorn manager API), as of Longhorn 1.5-1.7: one backup
// target "default" shared by both sites, BackupVolumes named after the volume they back up.
//
// A plan's volume on the source is an active Longhorn volume (the PV's csi.volumeHandle, for
// driver.longhorn.io); its replica on the target is a DR volume: a standby volume restored from
// the source's backups (spec.fromBackup, spec.standby true), which follows each newer backup the
// target's Longhorn finds in the backup store. Replicas kubectl-dr creates are labelled
// dr.kubectl-dr.dev/source-volume=<source volume> and dr.kubectl-dr.dev/plan=<plan>; a DR volume
// made by hand is found when it has the source volume's name and follows its backup volume.
//
//   Discover      each claim's Longhorn volume and its DR volume on the target (one LIST);
//                 FailedPrecondition listing claims that are not Longhorn volumes or have no DR
//                 volume (run Protect: `kubectl dr plan create` does)
//   State         per DR volume: standby and restored the newest backup (caught up) or an older
//                 one (behind since that backup's time); active (failed over; reversed when the
//                 source has a DR volume following it); activation under way (failing over).
//                 Volume state or robustness values Longhorn does not document stop it
//   Sync          on the source (when reachable): a Backup of every volume (a Snapshot first when
//                 snapshots.longhorn.io is served), waited for until Completed; on the target: a
//                 BackupVolume sync request (spec.syncRequestedAt), waited for until every DR
//                 volume has restored that backup. An unreachable source: the target still
//                 catches up with the store, then kUnavailable. A backup in state Error (the
//                 backup target unreachable) is kUnavailable with Longhorn's error
//   Failover      spec.standby=false on every DR volume, then waits until each is active;
//                 volumes still restoring at the deadline are named with what they restored
//   Recover       Sync (for a failback plan: the DR site's backups reach the old primary)
//   Restore       Failover (the old primary's DR volumes take over)
//   PrepareDrill  a new volume "<DR volume>-drill" per volume, restored from the newest backup
//                 in the store (labelled dr.kubectl-dr.dev/drill=<plan>), waited for until
//                 restored; the DR volume itself is never touched
//   CleanupDrill  deletes those volumes (only volumes carrying the drill label)
//   VolumeSourceFor  a CSI PV (driver.longhorn.io) whose volumeHandle is the DR volume (or the
//                 drill copy), with the captured capacity, access modes, volume mode, fsType,
//                 reclaim policy, storage class and volumeAttributes
//   Protect       for every claim of the plan (its namespaces and its inventory claim) bound to a
//                 Longhorn volume on the source: the latest backup (one is taken when there is
//                 none), then a DR volume on the target restored from it, named like the source
//                 volume, or "<name>-dr" when an older volume holds that name (the stale original
//                 on an old primary, for a failback plan); waits until each has restored
//
// Parameters (spec.storage.parameters):
//   longhornNamespace  where Longhorn's objects live on both clusters (default longhorn-system)
// Credentials: none (a credentialsSecret is an error).

#include "base/status.h"
#include "storage/driver.h"

namespace kdr::storage {

inline constexpr std::string_view kLonghornCsiDriver = "driver.longhorn.io";

// InvalidArgument listing bad parameters.
Result<std::unique_ptr<Driver>> NewLonghornDriver(const dr::DRPlan& plan,
                                                  const DriverOptions& options);

// Driver::ValidateParameters of the Longhorn driver, without a driver.
Status ValidateLonghornParameters(const std::map<std::string, std::string>& parameters,
                                  const Credentials* credentials);

}  // namespace kdr::storage
