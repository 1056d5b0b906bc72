#pragma once

// Longhorn, simulated: the longhorn.io/v1beta2 custom resources kubectl-dr's Longhorn driver uses
// and a controller giving them Longhorn's documented behaviour, with a backup store that is a
// plain directory shared by a source and a target kubesim (as an NFS backup target is shared by
// two Longhorn clusters).
//
// Resources (namespace ControllerOptions::longhorn_namespace, "longhorn-system"):
//   volumes.longhorn.io (lhv)        spec {size (bytes), numberOfReplicas, frontend ("blockdev"),
//                                    fromBackup (a backup URL), standby}; status {state,
//                                    robustness, isStandby, restoreRequired, restoreInitiated,
//                                    lastBackup, lastBackupAt, frontendDisabled, conditions
//                                    [Restore], kubernetesStatus}
//   backups.longhorn.io (lhb)        label backup-volume: VOLUME; spec {snapshotName, labels};
//                                    status {state New|InProgress|Completed|Error, url,
//                                    volumeName, volumeSize, snapshotName, backupCreatedAt,
//                                    snapshotCreatedAt, size, progress, error, lastSyncedAt}
//   backupvolumes.longhorn.io (lhbv) one per volume in the backup store, named after the volume;
//                                    spec.syncRequestedAt (set it to sync at once); status
//                                    {lastBackupName, lastBackupAt, size, createdAt, lastSyncedAt}
//   backuptargets.longhorn.io (lhbt) "default": spec.backupTargetURL "file://DIR",
//                                    spec.syncRequestedAt; status.available
//
// Behaviour:
//   - A volume's contents are a directory of this machine, LonghornVolumeDir(data dir, VOL), in
//     the cluster's own data dir (ControllerOptions::longhorn_data_dir, never in the shared
//     backup store), made when an active volume is first seen. kubesim's node mounts it in the
//     agent's pods (agent_node.h); tests write and read its files.
//   - A Backup of an active volume copies that directory into the backup store (DIR/volumes/VOL/
//     backups/backup_NAME.data/, built under a temporary name and renamed, see sim/dir_tree.h),
//     then writes DIR/volumes/VOL/backups/backup_NAME.cfg and DIR/volumes/VOL/volume.cfg naming
//     it the last backup, and turns Completed with status.url
//     "file://DIR?backup=NAME&volume=VOL"; the volume's status.lastBackup names it. A backup is
//     in the store once its .cfg is: a reader never finds one whose data is half copied.
//   - Every restore (fromBackup, each backup a DR volume follows, activation's catch-up)
//     replaces the volume's directory with a copy of the backup's data, made aside and swapped
//     in, so the directory shows the old contents or the backup's, never a mix. A backup whose
//     data is missing from the store fails the restore (condition Restore, RestoreFailure).
//   - Every poll interval (or when the spec.syncRequestedAt of a BackupVolume or of the
//     BackupTarget changes) the backup
//     store is read: BackupVolumes and Completed Backups appear for what other clusters wrote.
//   - A backup store that cannot be read (its directory gone, as an NFS share unmounted): the
//     BackupTarget reports status.available false with an Unavailable condition, Backups end in
//     Error "cannot reach backup target ...", nothing is written and polls find nothing.
//   - A volume with spec.fromBackup restores that backup (a plain restore is then done, even
//     when newer backups exist). With spec.standby true it is a DR
//     volume: status.isStandby true, restoreRequired true, frontendDisabled true, state attached,
//     and it follows its backup volume, restoring each newer backup as polls find it
//     (status.lastBackup = the last restored backup).
//   - Activation (spec.standby true -> false) completes only once caught up: the backup store is
//     read at once, the newest backup restored, and only then isStandby and restoreRequired turn
//     false. It is one way: an active volume never becomes standby again (ignored by the
//     controller, rejected by ValidateLonghornVolumeUpdate). A PV whose csi.driver is
//     driver.longhorn.io binds only to an active volume (see controllers.h).
//   - A PVC of a StorageClass with provisioner driver.longhorn.io gets a Longhorn volume
//     "pvc-<uid>" and a CSI PV.
// Not simulated: snapshots as objects (snapshotName is recorded as given or generated),
// replicas, engines, backup deletion and the backup store's block layout.

#include <nlohmann/json_fwd.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"
#include "controllers.h"

namespace kdr::kubesim {

class ClusterView;
class Reconciler;

// The CSI driver name of Longhorn's PVs (a PV's csi.volumeHandle names the Longhorn volume).
inline constexpr std::string_view kLonghornCsiDriver = "driver.longhorn.io";

// The directory holding the contents of Longhorn volume `volume` of the cluster whose
// Longhorn data dir is `data_dir` (ControllerOptions::longhorn_data_dir): DATA_DIR/VOLUME.
std::string LonghornVolumeDir(std::string_view data_dir, std::string_view volume);

// Creates the Longhorn CRDs (volumes, backups, backupvolumes, backuptargets) when missing.
Status InstallLonghornCrds(ClusterView* view);

// True when the volume can back a PV: not standby (spec and status) and no restore pending.
bool LonghornVolumeActive(const nlohmann::json& volume);

// Creates volume `name` of `size` (a Kubernetes quantity, "2Gi") for dynamic provisioning.
// parameters: the StorageClass parameters (numberOfReplicas, fromBackup...). Ok when it exists.
Status CreateLonghornVolume(ClusterView* view, const std::string& ns, const std::string& name,
                            const std::string& size, const nlohmann::json& parameters);

// Longhorn's own validating webhook rule for volume updates, for the server to apply as a
// built-in admission check: InvalidArgument when an active volume would be made standby again.
Status ValidateLonghornVolumeUpdate(const nlohmann::json& old_volume,
                                    const nlohmann::json& new_volume);

// The controller, over any cluster view: kubesim's Store in process (started by Controllers) or
// a real API server (kubesim-controllers). It reads and writes only longhorn.io objects,
// namespaces (its own) and PVs (read), so it behaves alike on both. InvalidArgument when
// options.longhorn_data_dir is empty or inside the backup store, or when either directory
// cannot be created. `view` must outlive it.
Result<std::unique_ptr<Reconciler>> NewLonghornController(ClusterView* view,
                                                          const ControllerOptions& options);

}  // namespace kdr::kubesim
