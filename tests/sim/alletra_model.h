#pragma once

// The state of a simulated pair of HPE Alletra (3PAR/Primera WSAPI) arrays that replicate to each
// other with remote-copy groups: sessions, volumes, groups, roles, replication and sync states, and
// the transitions of the remote-copy actions. No HTTP here: alletra_sim.h serves it.
//
// What the state machine follows, and from where (see also wsapi_errors.h for the error codes):
//   * Actions [python-3parclient client.py, verified]: PUT /remotecopygroups/<name> {"action": N}
//     with 1 admit volume, 2 dismiss volume, 3 start, 4 stop, 5 synchronize; POST
//     /remotecopygroups/<name> {"action": N} ("recover from disaster") with 6 reverse
//     (RC_ACTION_CHANGE_DIRECTION), 7 failover (CHANGE_TO_PRIMARY), 8 switchover (MIGRATE_GROUP),
//     9 recover (CHANGE_TO_SECONDARY), 10 restore (CHANGE_TO_NATURAL_DIRECTION), 11 override
//     failsafe, and the options skipStart, skipSync, noSnapshot... Failover = 7 is what cinder's
//     drivers send; restore = 10 is python-3parclient's live test (RESTORE_GROUP = 10); recover = 9
//     is what HPE's CSI test issues after a failover. (An earlier guess of 8/9 for recover/restore
//     is wrong: 8 migrates the group "without impacting I/O", i.e. switchover.)
//   * Roles [HPE's python-hpedockerplugin, which reads real arrays]: the group's "role" is 1 on a
//     primary side and 2 on a secondary side; the -Rev roles are the same numbers with
//     targets[].roleReversed = true. Primary-Rev = role 1 + reversed, Secondary-Rev = role 2 +
//     reversed. (Numbers 3/4 for the -Rev roles were NOT found; the simulator does not use them.)
//   * Target state [python-3parclient tests, cinder]: targets[].state 3 started, 5 stopped.
//   * Volume sync [cinder: SYNC_STATUS_COMPLETED = 3]: remoteVolumes[].syncStatus 3 synced;
//     2 syncing and 5 stopped are INFERRED.
//   * Transitions [HP 3PAR CIM API Programming Reference, "CopyState/SyncState transitions during
//     disaster recovery", which lists showrcopy's Role/Status at each step]:
//       primary down            -> secondary: Secondary/Stopped
//       failover on secondary   -> secondary: Primary-Rev/Stopped
//       recover on Primary-Rev  -> Primary-Rev/Syncing and the old primary Secondary-Rev/Syncing,
//                                  then both .../Synced
//       restore on Primary-Rev  -> Primary-Rev/Synced while failing back, then Secondary/Synced and
//                                  the old primary Primary/Synced.
//     INFERRED: the old primary keeps Primary/Stopped after a failover until recover (HPE's docker
//     plugin treats "local Primary, remote Primary-Rev" as the failed-over state; the CIM table
//     shows Secondary-Rev for a primary that rebooted, which the simulator does not model).
//   * Preconditions: failover needs the group stopped and is issued on the secondary; recover
//     and restore are issued on the Primary-Rev side and need the peer reachable; restore needs the
//     group started and not syncing; start/sync are issued on a primary side. The refusal symbols
//     are python-3parclient's documented ones for these calls; which one the array picks in a given
//     wrong state is INFERRED from their descriptions.
//   * Sessions [guide]: keys expire after fifteen minutes unused; any use refreshes them.
//
// Volume contents [simulator's own, nothing of the WSAPI]: with a data dir, each array keeps a
// directory per volume, ArrayVolumeDir(DATA_DIR, ARRAY, VOLUME), made with the volume. A
// completed sync copies every volume of the group from its current primary side (the natural
// primary; the Primary-Rev side once recovered) over its peer on the other array, whatever the
// mode: data moves when a sync completes, not write by write. Restore first pushes the
// Primary-Rev side's volumes back over the natural primary's. A failover copies nothing (each side
// keeps what it has: the secondary the last completed sync). A virtual copy starts as a copy of
// its parent's directory; deleting a volume removes its directory. Every copy is made aside and
// swapped in (dir_tree.h): a host reading a volume's directory sees the old contents or the new.
// A copy that fails leaves the sync in progress (GroupState::data_error says why; the next read
// retries) or refuses the restore (RCOPY_TARGET_IS_NOT_READY).
//
// Arrays are addressed by index (0, 1) in the order of PairSpec::arrays; ArrayIndex maps a system
// name. Thread-safe: every method takes one mutex.

#include <array>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "wsapi_errors.h"

namespace kdr::sim {

// Remote-copy group actions ("action" member).
inline constexpr int kActionAdmitVolume = 1;
inline constexpr int kActionDismissVolume = 2;
inline constexpr int kActionStart = 3;
inline constexpr int kActionStop = 4;
inline constexpr int kActionSync = 5;
inline constexpr int kActionReverse = 6;
inline constexpr int kActionFailover = 7;
inline constexpr int kActionSwitchover = 8;
inline constexpr int kActionRecover = 9;
inline constexpr int kActionRestore = 10;
inline constexpr int kActionOverrideFailsafe = 11;

// Group "role" and targets[].state / remoteVolumes[].syncStatus numbers as the WSAPI reports them.
inline constexpr int kWsapiRolePrimary = 1;
inline constexpr int kWsapiRoleSecondary = 2;
inline constexpr int kWsapiTargetStarted = 3;
inline constexpr int kWsapiTargetStopped = 5;
inline constexpr int kWsapiSyncing = 2;  // INFERRED
inline constexpr int kWsapiSynced = 3;
inline constexpr int kWsapiSyncStopped = 5;  // INFERRED

enum class Role { kPrimary, kSecondary, kPrimaryRev, kSecondaryRev };
// "Primary", "Secondary", "Primary-Rev", "Secondary-Rev" (showrcopy's spelling).
std::string_view RoleName(Role role);

// Where the group is in the disaster-recovery cycle.
enum class Phase {
  kNatural,     // natural primary is Primary, natural secondary is Secondary
  kFailedOver,  // natural secondary is Primary-Rev; natural primary still Primary, stopped
  kRecovered,   // natural secondary is Primary-Rev replicating to natural primary (Secondary-Rev)
};
std::string_view PhaseName(Phase phase);  // "natural", "failedover", "recovered"

// Sync status of the group's volumes (all volumes of a group move together).
enum class SyncStatus { kSynced, kSyncing, kStopped };
std::string_view SyncStatusName(SyncStatus s);  // "synced", "syncing", "stopped"

struct ArraySpec {
  std::string name;  // system name, also the remote-copy target name the peer reports
  long long id = 0;  // system id
  std::string serial_number;
  std::string model = "HPE Alletra 9060";
  std::string system_version = "9.5.3";
};

struct VolumeSpec {
  std::string array;  // system name
  std::string name;
  long long size_mib = 1024;
};

struct VolumePairSpec {
  std::string primary_volume;    // on the natural primary
  std::string secondary_volume;  // on the natural secondary
  long long size_mib = 1024;
};

struct GroupSpec {
  std::string name;           // on the natural primary
  std::string remote_name;    // on the natural secondary; "" means name + ".r" + primary's id
  std::string primary_array;  // system name of the natural primary
  int mode = 3;               // targets[].mode: 1 sync, 3 periodic, 4 async
  std::vector<VolumePairSpec> volumes;
  Phase phase = Phase::kNatural;
  bool started = true;
  SyncStatus sync = SyncStatus::kSynced;
  // A syncing group becomes synced after this many reads of it (GET of the group or of the list,
  // on either array). 0: only CompleteSync/CompleteAllSyncs finish a sync.
  int sync_reads = 1;
};

struct PairSpec {
  std::array<ArraySpec, 2> arrays;
  std::vector<GroupSpec> groups;
  std::vector<VolumeSpec> volumes;  // volumes outside any group
  std::string user = "3paradm";
  std::string password = "3pardata";
  std::chrono::seconds session_idle_timeout{15 * 60};
};

// One group as one array reports it.
struct GroupView {
  long long id = 0;
  std::string name;  // the name on this array
  Role role = Role::kPrimary;
  bool started = false;  // replication running, as this array sees it
  SyncStatus sync = SyncStatus::kSynced;
  std::string target_name;  // the peer array's system name
  int mode = 3;
  // When not 0, the "role" number the array reports instead of the real one (a test control:
  // SetReportedRole).
  int reported_role = 0;
  std::string last_sync_time;  // RFC 3339, "" before the first completed sync
  struct Volume {
    std::string local_name;
    std::string remote_name;
    long long size_mib = 0;
  };
  std::vector<Volume> volumes;
};

// The directory of volume `volume` of array `array` under a simulator's data dir:
// DATA_DIR/ARRAY/VOLUME. kubesim's node mounts HPE CSI volumes from it (hpe_csi.h).
std::string ArrayVolumeDir(std::string_view data_dir, std::string_view array, std::string_view volume);

// A group as a whole, for tests and the admin endpoint.
struct GroupState {
  std::string name;         // name on the natural primary
  std::string remote_name;  // name on the natural secondary
  int primary_array = 0;    // index of the natural primary
  Phase phase = Phase::kNatural;
  bool started = false;
  SyncStatus sync = SyncStatus::kSynced;
  std::array<Role, 2> roles{};  // by array index
  std::string data_error;        // why the last sync's copy of the volumes failed ("" = it did not)
};

struct VolumeView {
  long long id = 0;
  std::string name;
  long long size_mib = 0;
  std::string wwn;
  int rcopy_status = 1;  // 1 not in remote copy [hpedockerplugin]; 2 primary, 3 secondary INFERRED
  // Virtual copies (snapshots): copyType 3 and copyOf the parent; base volumes copyType 1
  // [python-3parclient: COPY_TYPE BASE_VOLUME = 1, PHYSICAL_COPY = 2, VIRTUAL_COPY = 3].
  std::string copy_of;
  bool read_only = false;
  std::string comment;
};

// Options of the POST actions (the ones the simulator honours; others are accepted and ignored).
struct ActionOptions {
  bool skip_start = false;  // groups are not started after recover/restore
  bool skip_sync = false;   // groups are not synchronized after recover/restore
};

class AlletraPair {
 public:
  // InvalidArgument naming the field when the spec is inconsistent (duplicate or unknown array,
  // group or volume names; with a data dir, a volume name that cannot name a directory).
  // `data_dir` ("" = volumes hold no contents) gets a directory per array and per volume;
  // Unavailable when they cannot be made. clock must outlive the pair.
  static Result<std::unique_ptr<AlletraPair>> Create(PairSpec spec, Clock* clock,
                                                     std::string data_dir = "");
  const std::string& data_dir() const { return data_dir_; }

  AlletraPair(const AlletraPair&) = delete;
  AlletraPair& operator=(const AlletraPair&) = delete;

  // -1 when no array has that system name.
  int ArrayIndex(std::string_view name) const;
  const ArraySpec& array(int index) const { return spec_.arrays[index]; }

  // ---- sessions (each array has its own) ----
  // A new session key on success (POST /credentials).
  std::optional<WsapiError> Login(int array, std::string_view user, std::string_view password,
                                  std::string* key);
  // ok when key is a live session of that array; refreshes its idle timer.
  std::optional<WsapiError> CheckSession(int array, std::string_view key);
  std::optional<WsapiError> Logout(int array, std::string_view key);
  // Drops every session of both arrays (an array restart; tests of re-login).
  void ExpireSessions();

  // ---- remote-copy groups as an array reports them (each call is a read of the group) ----
  std::vector<GroupView> Groups(int array);
  std::optional<WsapiError> GetGroup(int array, std::string_view name, GroupView* out);
  // One action (kAction*) on the group named `name` on `array`, as PUT (3-5) or POST (6-11)
  // would run it. REQUIRES: the HTTP layer has validated the method/number pairing.
  std::optional<WsapiError> Act(int array, std::string_view name, int action,
                                const ActionOptions& options);

  // ---- volumes ----
  std::vector<VolumeView> Volumes(int array) const;
  std::optional<WsapiError> GetVolume(int array, std::string_view name, VolumeView* out) const;
  // A virtual copy `name` of volume `parent` (POST /volumes/<parent> createSnapshot). Copies of
  // remote-copy secondary volumes are allowed, as on the arrays (that is what a DR test uses).
  // Names have at most 31 characters.
  std::optional<WsapiError> CreateSnapshot(int array, std::string_view parent,
                                           const std::string& name, bool read_only,
                                           const std::string& comment);
  // DELETE /volumes/<name>: refused (409 IN_USE) for a volume in a remote-copy group or with
  // virtual copies.
  std::optional<WsapiError> DeleteVolume(int array, std::string_view name);
  // Whether hosts attached to `array` may write the volume: a volume of a remote-copy group
  // only on the group's primary side (Primary or Primary-Rev: both sides are writable after a
  // failover until recover, as on the arrays), a virtual copy unless read-only, any other
  // volume always. NotFound naming the volume and the array. What a CSI driver's attach would
  // find out; kubesim can ask it before binding an HPE CSI PV.
  Result<bool> Writable(int array, std::string_view name) const;

  // ---- test controls ----
  // An array going down stops replication of every group (links down); a sync in progress is
  // left stopped. Coming back up does not restart anything (no autoRecover policy).
  void SetUp(int array, bool up);
  bool IsUp(int array) const;
  // Adds a group at run time (same checks as Create).
  Status AddGroup(const GroupSpec& spec);
  // By the name on either array. NotFound naming the group.
  Result<GroupState> State(std::string_view name) const;
  std::vector<GroupState> States() const;  // every group, in creation order
  // Finishes the group's sync now. FailedPrecondition when it is not syncing; Unavailable when its
  // volumes could not be copied (it is then still syncing).
  Status CompleteSync(std::string_view name);
  // Finishes every sync in progress; returns how many did.
  int CompleteAllSyncs();
  // Makes `array` report `role` as the group's role number (0: the real one again), as an array
  // of a newer WSAPI might; clients must not guess what it means. NotFound naming the group.
  Status SetReportedRole(std::string_view group, int array, int role);

 private:
  struct Group {
    long long id = 0;
    GroupSpec spec;  // spec.remote_name filled in
    int primary = 0;
    Phase phase = Phase::kNatural;
    bool started = false;
    SyncStatus sync = SyncStatus::kSynced;
    int reads_left = 0;
    std::string last_sync_time;
    std::array<int, 2> reported_role{0, 0};
    std::string data_error;
  };
  struct Volume {
    long long id = 0;
    std::string name;
    long long size_mib = 0;
    std::string wwn;
    std::string copy_of;
    bool read_only = false;
    std::string comment;
  };
  struct Session {
    Clock::MonoTime last_used;
  };

  AlletraPair(PairSpec spec, Clock* clock, std::string data_dir);

  Status AddGroupLocked(const GroupSpec& spec);
  Status AddVolumeLocked(int array, const std::string& name, long long size_mib);
  Group* FindLocked(int array, std::string_view name);
  const Group* FindAnyLocked(std::string_view name) const;
  GroupState StateLocked(const Group& g) const;
  Role RoleOf(const Group& g, int array) const;
  GroupView ViewLocked(const Group& g, int array) const;
  void NoteReadLocked(Group& g);
  void StartSyncLocked(Group& g);
  Status FinishSyncLocked(Group& g);
  // "" without a data dir.
  std::string VolumeDirLocked(int array, std::string_view name) const;
  // Copies every volume of the group from array `from`'s side over the other's.
  Status CopyVolumesLocked(const Group& g, int from) const;
  std::optional<WsapiError> ActLocked(Group& g, int array, int action,
                                      const ActionOptions& options);

  PairSpec spec_;
  Clock* const clock_;
  const std::string data_dir_;
  mutable std::mutex mu_;
  std::array<bool, 2> up_{true, true};
  std::vector<Group> groups_;
  std::array<std::vector<Volume>, 2> volumes_;
  std::array<std::map<std::string, Session, std::less<>>, 2> sessions_;
  long long next_group_id_ = 1;
  long long next_volume_id_ = 1;
};

}  // namespace kdr::sim
