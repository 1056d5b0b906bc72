#pragma once

// The longhorn.io/v1beta2 objects the Longhorn driver reads and writes, and what it reads in
// them (internal to storage/longhorn.cc). Field names follow longhorn-manager 1.5-1.7's CRDs:
//   volumes        spec {size, numberOfReplicas, frontend, fromBackup, standby, dataEngine,
//                  accessMode}; status {state, robustness, isStandby, restoreRequired,
//                  lastBackup, lastBackupAt, conditions[type Restore]}
//   backups        label backup-volume: VOLUME; spec {snapshotName, labels}; status {state,
//                  url, error}
//   backupvolumes  named after the volume; spec.syncRequestedAt; status.lastBackupName
//   backuptargets  "default": spec {backupTargetURL, syncRequestedAt}; status.available

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "kube/object.h"

namespace kdr::kube {
class Client;
}

namespace kdr::storage::longhorn {

inline const kube::Gvr kVolumes{"longhorn.io", "v1beta2", "volumes"};
inline const kube::Gvr kBackups{"longhorn.io", "v1beta2", "backups"};
inline const kube::Gvr kBackupVolumes{"longhorn.io", "v1beta2", "backupvolumes"};
inline const kube::Gvr kBackupTargets{"longhorn.io", "v1beta2", "backuptargets"};
inline const kube::Gvr kSnapshots{"longhorn.io", "v1beta2", "snapshots"};

// Longhorn names the volume a Backup belongs to with this label (types.LonghornLabelBackupVolume).
inline constexpr std::string_view kBackupVolumeLabel = "backup-volume";
inline constexpr std::string_view kDefaultTarget = "default";

bool Flag(const nlohmann::json& o, std::initializer_list<std::string_view> path);
std::string Str(const nlohmann::json& o, std::initializer_list<std::string_view> path);

// The parts of a backup URL "TARGET?backup=NAME&volume=VOL".
struct BackupRef {
  std::string target;
  std::string backup;
  std::string volume;
};
BackupRef ParseBackupUrl(const std::string& url);
std::string TrimSlashes(std::string s);

// Usable by a PV: not standby (spec and status), seen by Longhorn, no restore pending.
bool Active(const nlohmann::json& volume);
// The message of a failed restore (condition Restore, reason RestoreFailure), or "".
std::string RestoreFailure(const nlohmann::json& volume);
// The backup volume a volume restores from (its fromBackup's volume=), or "".
std::string FollowedBackupVolume(const nlohmann::json& volume);
// FailedPrecondition naming a status.state or status.robustness value Longhorn 1.5-1.7 does not
// document (site: "target", for the message).
Status CheckKnown(const nlohmann::json& volume, std::string_view site);

std::optional<Clock::WallTime> ParseTime(const std::string& s);
// "20260101t000000": backup names that sort by time and are valid object names.
std::string Compact(Clock::WallTime t);

// One cluster's Longhorn objects, read with one LIST per kind (a poll of a 100-volume group
// costs two calls, not two hundred).
struct View {
  std::map<std::string, nlohmann::json> volumes;         // by name
  std::map<std::string, nlohmann::json> backup_volumes;  // by name
};
// site: "source" or "target", for messages; with_backup_volumes: also list backupvolumes.
Result<View> ReadView(kube::Client& client, const std::string& ns, std::string_view site,
                      bool with_backup_volumes);

// A Longhorn volume named `name` like `like` (size, replicas, data engine, access mode),
// restored from backup `url`, standby (a DR volume) or not (a plain restore).
nlohmann::json NewVolume(const std::string& ns, const std::string& name,
                         const nlohmann::json& like, const std::string& url, bool standby);

}  // namespace kdr::storage::longhorn
