#pragma once

// Remote-copy groups as the WSAPI reports them, read into the roles showrcopy names (internal to
// storage/alletra.cc). The numbers and where they come from are in tests/sim/alletra_model.h;
// anything outside them is refused, never guessed.

#include <algorithm>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace kdr::storage::alletra {

// Remote-copy group actions ("action" member; python-3parclient): PUT 3-5, POST 7-10.
inline constexpr int kStart = 3;
inline constexpr int kStop = 4;
inline constexpr int kSynchronize = 5;
inline constexpr int kFailover = 7;
inline constexpr int kRecover = 9;
inline constexpr int kRestore = 10;
// remoteVolumes[].syncStatus
inline constexpr int kSyncing = 2;
inline constexpr int kSynced = 3;
inline constexpr int kSyncStopped = 5;

enum class Role { kPrimary, kSecondary, kPrimaryRev, kSecondaryRev };
std::string RoleName(Role r);  // "Primary", "Secondary", "Primary-Rev", "Secondary-Rev"

// One remote-copy group as one array reports it.
struct Group {
  std::string array;  // the reporting array's system name
  std::string name;   // the group's name on that array
  Role role = Role::kPrimary;
  bool started = false;    // targets[0].state: 3 started, 5 stopped
  std::string last_sync;   // targets[0].groupLastSyncTime
  struct Vol {
    std::string local;   // localVolumeName
    std::string remote;  // remoteVolumes[0].remoteVolumeName
    int sync = 0;        // remoteVolumes[0].syncStatus
  };
  std::vector<Vol> volumes;

  bool AllSynced() const {
    return std::all_of(volumes.begin(), volumes.end(),
                       [](const Vol& v) { return v.sync == kSynced; });
  }
  bool AnySyncing() const {
    return std::any_of(volumes.begin(), volumes.end(),
                       [](const Vol& v) { return v.sync == kSyncing; });
  }
  // "array-b: shop-data.r188150 Secondary, started, synced (last sync 2026-...)"
  std::string Words() const;
};

// The group JSON of `array`. FailedPrecondition naming the value when the role number (1
// primary side, 2 secondary side, with roleReversed), the target state (3, 5) or a volume's sync
// status (2, 3, 5) is one kubectl-dr does not know.
Result<Group> ParseGroup(const nlohmann::json& group, const std::string& array);

}  // namespace kdr::storage::alletra
