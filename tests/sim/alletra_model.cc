#include "alletra_model.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>
#include <utility>

#include "base/fs.h"
#include "dir_tree.h"

namespace kdr::sim {
namespace {

WsapiError Refuse(int code, std::string desc) { return {403, code, std::move(desc), ""}; }

std::string NewSessionKey() {
  unsigned char bytes[12];
  // OpenSSL's generator failing means the process cannot do TLS either: a broken invariant.
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string key;
  for (unsigned char b : bytes) {
    key.push_back(kHex[b >> 4]);
    key.push_back(kHex[b & 0xF]);
  }
  return key;  // 24 upper-case hex digits, like the guide's "48A70B8A8301C458037E0821"
}

bool IsPrimarySide(Role r) { return r == Role::kPrimary || r == Role::kPrimaryRev; }

std::string ActionName(int action) {
  switch (action) {
    case kActionAdmitVolume: return "admit volume";
    case kActionDismissVolume: return "dismiss volume";
    case kActionStart: return "start";
    case kActionStop: return "stop";
    case kActionSync: return "synchronize";
    case kActionReverse: return "reverse";
    case kActionFailover: return "failover";
    case kActionSwitchover: return "switchover";
    case kActionRecover: return "recover";
    case kActionRestore: return "restore";
    case kActionOverrideFailsafe: return "override failsafe";
  }
  return "action " + std::to_string(action);
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kPrimary: return "Primary";
    case Role::kSecondary: return "Secondary";
    case Role::kPrimaryRev: return "Primary-Rev";
    case Role::kSecondaryRev: return "Secondary-Rev";
  }
  return "Unknown";
}

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kNatural: return "natural";
    case Phase::kFailedOver: return "failedover";
    case Phase::kRecovered: return "recovered";
  }
  return "unknown";
}

std::string_view SyncStatusName(SyncStatus s) {
  switch (s) {
    case SyncStatus::kSynced: return "synced";
    case SyncStatus::kSyncing: return "syncing";
    case SyncStatus::kStopped: return "stopped";
  }
  return "unknown";
}

std::string ArrayVolumeDir(std::string_view data_dir, std::string_view array, std::string_view volume) {
  return JoinPath(JoinPath(data_dir, array), volume);
}

AlletraPair::AlletraPair(PairSpec spec, Clock* clock, std::string data_dir)
    : spec_(std::move(spec)), clock_(clock), data_dir_(std::move(data_dir)) {}

Result<std::unique_ptr<AlletraPair>> AlletraPair::Create(PairSpec spec, Clock* clock,
                                                         std::string data_dir) {
  for (int i = 0; i < 2; ++i) {
    const std::string field = "arrays[" + std::to_string(i) + "]";
    if (spec.arrays[i].name.empty()) {
      return Status::InvalidArgument(field + ".name is empty; every array needs a system name");
    }
    if (spec.arrays[i].id <= 0) {
      return Status::InvalidArgument(field + ".id must be a positive system id");
    }
  }
  if (spec.arrays[0].name == spec.arrays[1].name) {
    return Status::InvalidArgument("arrays[1].name \"" + spec.arrays[1].name +
                                   "\" is the same as arrays[0].name; the two arrays need "
                                   "different system names");
  }
  if (spec.arrays[0].id == spec.arrays[1].id) {
    return Status::InvalidArgument("arrays[1].id is the same as arrays[0].id");
  }
  if (spec.user.empty()) return Status::InvalidArgument("user is empty");
  if (spec.session_idle_timeout.count() <= 0) {
    return Status::InvalidArgument("sessionIdleTimeoutSeconds must be positive");
  }
  std::vector<GroupSpec> groups = std::move(spec.groups);
  std::vector<VolumeSpec> volumes = std::move(spec.volumes);
  std::unique_ptr<AlletraPair> pair(new AlletraPair(std::move(spec), clock, std::move(data_dir)));
  std::lock_guard lock(pair->mu_);
  if (!pair->data_dir_.empty()) {
    for (int i = 0; i < 2; ++i) {
      if (!IsTreeName(pair->spec_.arrays[i].name)) {
        return Status::InvalidArgument("arrays[" + std::to_string(i) + "].name \"" + pair->spec_.arrays[i].name +
                                       "\" cannot name the array's directory in the data dir");
      }
      std::error_code ec;
      const std::string dir = JoinPath(pair->data_dir_, pair->spec_.arrays[i].name);
      std::filesystem::create_directories(dir, ec);
      if (ec) return Status::Unavailable("creating " + dir + ": " + ec.message());
    }
  }
  for (size_t i = 0; i < volumes.size(); ++i) {
    const VolumeSpec& v = volumes[i];
    int a = pair->ArrayIndex(v.array);
    if (a < 0) {
      return Status::InvalidArgument("volumes[" + std::to_string(i) + "].array \"" + v.array +
                                     "\" is not one of the two arrays");
    }
    Status s = pair->AddVolumeLocked(a, v.name, v.size_mib);
    if (!s.ok()) return s.WithContext("volumes[" + std::to_string(i) + "]");
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    Status s = pair->AddGroupLocked(groups[i]);
    if (!s.ok()) return s.WithContext("groups[" + std::to_string(i) + "]");
  }
  return pair;
}

int AlletraPair::ArrayIndex(std::string_view name) const {
  for (int i = 0; i < 2; ++i) {
    if (spec_.arrays[i].name == name) return i;
  }
  return -1;
}

Status AlletraPair::AddVolumeLocked(int array, const std::string& name, long long size_mib) {
  if (name.empty()) return Status::InvalidArgument("volume name is empty");
  if (size_mib <= 0) {
    return Status::InvalidArgument("volume \"" + name + "\": sizeMiB must be positive");
  }
  for (const Volume& v : volumes_[array]) {
    if (v.name == name) {
      return Status::InvalidArgument("volume \"" + name + "\" is declared twice on " +
                                     spec_.arrays[array].name);
    }
  }
  if (!data_dir_.empty()) {
    if (!IsTreeName(name)) {
      return Status::InvalidArgument("volume \"" + name + "\" cannot name a directory (it must not begin with a dot "
                                     "or hold a '/')");
    }
    std::error_code ec;
    const std::string dir = VolumeDirLocked(array, name);
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status::Unavailable("creating the directory of volume \"" + name + "\": " + ec.message());
  }
  Volume v;
  v.id = next_volume_id_++;
  v.name = name;
  v.size_mib = size_mib;
  char wwn[40];
  std::snprintf(wwn, sizeof(wwn), "60002AC%09llX%016llX",
                static_cast<unsigned long long>(spec_.arrays[array].id),
                static_cast<unsigned long long>(v.id));
  v.wwn = wwn;
  volumes_[array].push_back(std::move(v));
  return Status::Ok();
}

Status AlletraPair::AddGroup(const GroupSpec& spec) {
  std::lock_guard lock(mu_);
  return AddGroupLocked(spec);
}

Status AlletraPair::AddGroupLocked(const GroupSpec& in) {
  if (in.name.empty()) return Status::InvalidArgument("name is empty");
  int p = ArrayIndex(in.primary_array);
  if (p < 0) {
    return Status::InvalidArgument("primary \"" + in.primary_array + "\" of group \"" + in.name +
                                   "\" is not one of the arrays (" + spec_.arrays[0].name +
                                   ", " + spec_.arrays[1].name + ")");
  }
  GroupSpec spec = in;
  if (spec.remote_name.empty()) {
    // The array names the mirrored group "<name>.r<primary system id>" on the secondary.
    spec.remote_name = spec.name + ".r" + std::to_string(spec_.arrays[p].id);
  }
  if (spec.mode != 1 && spec.mode != 2 && spec.mode != 3 && spec.mode != 4) {
    return Status::InvalidArgument("group \"" + spec.name + "\": mode " +
                                   std::to_string(spec.mode) + " is not 1 (sync), 2 or 3 "
                                   "(periodic) or 4 (async)");
  }
  if (spec.sync_reads < 0) {
    return Status::InvalidArgument("group \"" + spec.name + "\": syncReads must be 0 or more");
  }
  if (spec.phase == Phase::kFailedOver && spec.started) {
    return Status::InvalidArgument("group \"" + spec.name +
                                   "\": a failed-over group cannot be started; set replication "
                                   "to stopped");
  }
  if (!spec.started && spec.sync == SyncStatus::kSyncing) {
    return Status::InvalidArgument("group \"" + spec.name +
                                   "\": a stopped group cannot be syncing");
  }
  const int s = 1 - p;
  for (const Group& g : groups_) {
    const std::string& on_p = g.primary == p ? g.spec.name : g.spec.remote_name;
    const std::string& on_s = g.primary == s ? g.spec.name : g.spec.remote_name;
    if (on_p == spec.name || on_s == spec.remote_name) {
      return Status::InvalidArgument("group \"" + spec.name + "\" already exists");
    }
  }
  std::set<std::string> seen;
  for (const VolumePairSpec& v : spec.volumes) {
    if (!seen.insert(v.primary_volume).second) {
      return Status::InvalidArgument("group \"" + spec.name + "\": volume \"" + v.primary_volume +
                                     "\" is listed twice");
    }
  }
  // Validate every volume before creating any, so a failed AddGroup changes nothing.
  for (const VolumePairSpec& v : spec.volumes) {
    for (const auto& [array, name] : {std::pair{p, v.primary_volume}, {s, v.secondary_volume}}) {
      if (name.empty()) {
        return Status::InvalidArgument("group \"" + spec.name + "\": a volume name is empty");
      }
      if (!data_dir_.empty() && !IsTreeName(name)) {
        return Status::InvalidArgument("group \"" + spec.name + "\": volume \"" + name +
                                       "\" cannot name a directory (it must not begin with a dot or hold a '/')");
      }
      for (const Volume& existing : volumes_[array]) {
        if (existing.name == name) {
          return Status::InvalidArgument("group \"" + spec.name + "\": volume \"" + name +
                                         "\" already exists on " + spec_.arrays[array].name);
        }
      }
    }
    if (v.size_mib <= 0) {
      return Status::InvalidArgument("group \"" + spec.name + "\": sizeMiB of \"" +
                                     v.primary_volume + "\" must be positive");
    }
  }
  for (const VolumePairSpec& v : spec.volumes) {
    KDR_RETURN_IF_ERROR(AddVolumeLocked(p, v.primary_volume, v.size_mib));
    KDR_RETURN_IF_ERROR(AddVolumeLocked(s, v.secondary_volume, v.size_mib));
  }
  Group g;
  g.id = next_group_id_++;
  g.primary = p;
  g.phase = spec.phase;
  g.started = spec.started;
  g.sync = spec.sync;
  g.reads_left = spec.sync_reads;
  if (g.sync == SyncStatus::kSynced) g.last_sync_time = FormatRfc3339(clock_->Now());
  g.spec = std::move(spec);
  groups_.push_back(std::move(g));
  return Status::Ok();
}

// ---- sessions ----

std::optional<WsapiError> AlletraPair::Login(int array, std::string_view user,
                                             std::string_view password, std::string* key) {
  std::lock_guard lock(mu_);
  if (user != spec_.user || password != spec_.password) {
    return Refuse(wsapi::kInvUserPass, "invalid user or password");
  }
  std::string k = NewSessionKey();
  sessions_[array][k] = Session{clock_->Monotonic()};
  *key = std::move(k);
  return std::nullopt;
}

std::optional<WsapiError> AlletraPair::CheckSession(int array, std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = sessions_[array].find(key);
  if (key.empty() || it == sessions_[array].end()) {
    return Refuse(wsapi::kInvSessKey, "invalid session key");
  }
  const Clock::MonoTime now = clock_->Monotonic();
  if (now - it->second.last_used >= spec_.session_idle_timeout) {
    sessions_[array].erase(it);
    return Refuse(wsapi::kInvSessKey, "invalid session key (expired after " +
                                          std::to_string(spec_.session_idle_timeout.count()) +
                                          "s unused)");
  }
  it->second.last_used = now;
  return std::nullopt;
}

std::optional<WsapiError> AlletraPair::Logout(int array, std::string_view key) {
  std::lock_guard lock(mu_);
  auto it = sessions_[array].find(key);
  if (it == sessions_[array].end()) return Refuse(wsapi::kInvSessKey, "invalid session key");
  sessions_[array].erase(it);
  return std::nullopt;
}

void AlletraPair::ExpireSessions() {
  std::lock_guard lock(mu_);
  sessions_[0].clear();
  sessions_[1].clear();
}

// ---- groups ----

Role AlletraPair::RoleOf(const Group& g, int array) const {
  const bool natural_primary = array == g.primary;
  switch (g.phase) {
    case Phase::kNatural: return natural_primary ? Role::kPrimary : Role::kSecondary;
    case Phase::kFailedOver: return natural_primary ? Role::kPrimary : Role::kPrimaryRev;
    case Phase::kRecovered: return natural_primary ? Role::kSecondaryRev : Role::kPrimaryRev;
  }
  return Role::kPrimary;
}

AlletraPair::Group* AlletraPair::FindLocked(int array, std::string_view name) {
  for (Group& g : groups_) {
    const std::string& local = array == g.primary ? g.spec.name : g.spec.remote_name;
    if (local == name) return &g;
  }
  return nullptr;
}

const AlletraPair::Group* AlletraPair::FindAnyLocked(std::string_view name) const {
  for (const Group& g : groups_) {
    if (g.spec.name == name || g.spec.remote_name == name) return &g;
  }
  return nullptr;
}

GroupView AlletraPair::ViewLocked(const Group& g, int array) const {
  GroupView v;
  v.id = g.id;
  const bool natural_primary = array == g.primary;
  v.name = natural_primary ? g.spec.name : g.spec.remote_name;
  v.role = RoleOf(g, array);
  v.started = g.started && up_[0] && up_[1];
  v.sync = g.sync;
  v.target_name = spec_.arrays[1 - array].name;
  v.mode = g.spec.mode;
  v.reported_role = g.reported_role[array];
  v.last_sync_time = g.last_sync_time;
  for (const VolumePairSpec& p : g.spec.volumes) {
    GroupView::Volume vol;
    vol.local_name = natural_primary ? p.primary_volume : p.secondary_volume;
    vol.remote_name = natural_primary ? p.secondary_volume : p.primary_volume;
    vol.size_mib = p.size_mib;
    v.volumes.push_back(std::move(vol));
  }
  return v;
}

void AlletraPair::NoteReadLocked(Group& g) {
  if (g.sync != SyncStatus::kSyncing || g.spec.sync_reads == 0) return;
  // A copy that fails keeps the group syncing: the next read tries again.
  if (--g.reads_left <= 0) (void)FinishSyncLocked(g);
}

std::string AlletraPair::VolumeDirLocked(int array, std::string_view name) const {
  return data_dir_.empty() ? std::string() : ArrayVolumeDir(data_dir_, spec_.arrays[array].name, name);
}

Status AlletraPair::CopyVolumesLocked(const Group& g, int from) const {
  if (data_dir_.empty()) return Status::Ok();
  for (const VolumePairSpec& p : g.spec.volumes) {
    const std::string& src = from == g.primary ? p.primary_volume : p.secondary_volume;
    const std::string& dst = from == g.primary ? p.secondary_volume : p.primary_volume;
    KDR_RETURN_IF_ERROR(ReplaceTree(VolumeDirLocked(from, src), VolumeDirLocked(1 - from, dst))
                            .WithContext("copying volume " + src + " of " + spec_.arrays[from].name + " to " +
                                         dst + " of " + spec_.arrays[1 - from].name));
  }
  return Status::Ok();
}

void AlletraPair::StartSyncLocked(Group& g) {
  g.sync = SyncStatus::kSyncing;
  g.reads_left = g.spec.sync_reads;
}

Status AlletraPair::FinishSyncLocked(Group& g) {
  // What the sync carried: the primary side's volumes over the other side's. Nothing syncs
  // while failed over (the group is stopped then).
  if (g.phase != Phase::kFailedOver) {
    const int from = g.phase == Phase::kNatural ? g.primary : 1 - g.primary;
    if (Status s = CopyVolumesLocked(g, from); !s.ok()) {
      g.data_error = s.message();
      return s;
    }
  }
  g.data_error.clear();
  g.sync = SyncStatus::kSynced;
  g.reads_left = 0;
  g.last_sync_time = FormatRfc3339(clock_->Now());
  return Status::Ok();
}

std::vector<GroupView> AlletraPair::Groups(int array) {
  std::lock_guard lock(mu_);
  std::vector<GroupView> out;
  for (Group& g : groups_) {
    NoteReadLocked(g);
    out.push_back(ViewLocked(g, array));
  }
  return out;
}

std::optional<WsapiError> AlletraPair::GetGroup(int array, std::string_view name,
                                                GroupView* out) {
  std::lock_guard lock(mu_);
  Group* g = FindLocked(array, name);
  if (g == nullptr) {
    return WsapiError{404, wsapi::kNonExistentRcopyGroup,
                      "remote copy group " + std::string(name) + " does not exist", ""};
  }
  NoteReadLocked(*g);
  *out = ViewLocked(*g, array);
  return std::nullopt;
}

std::optional<WsapiError> AlletraPair::Act(int array, std::string_view name, int action,
                                           const ActionOptions& options) {
  std::lock_guard lock(mu_);
  Group* g = FindLocked(array, name);
  if (g == nullptr) {
    return WsapiError{404, wsapi::kNonExistentRcopyGroup,
                      "remote copy group " + std::string(name) + " does not exist", ""};
  }
  return ActLocked(*g, array, action, options);
}

std::optional<WsapiError> AlletraPair::ActLocked(Group& g, int array, int action,
                                                 const ActionOptions& options) {
  const Role role = RoleOf(g, array);
  const int peer = 1 - array;
  const std::string& here = spec_.arrays[array].name;
  const std::string& local = array == g.primary ? g.spec.name : g.spec.remote_name;
  const std::string where = " (" + std::string(RoleName(role)) + " on " + here + ")";
  // Replication runs only while both arrays are up; a down peer leaves the group stopped.
  const bool started = g.started && up_[0] && up_[1];

  auto role_conflict = [&] {
    return Refuse(wsapi::kInvOperationRcopyGroupRoleConflict,
                  "group " + local + " is not in the correct role for " + ActionName(action) +
                      where);
  };
  auto target_not_ready = [&] {
    return Refuse(wsapi::kRcopyTargetIsNotReady,
                  "remote copy group target " + spec_.arrays[peer].name + " is not ready");
  };

  switch (action) {
    case kActionStart:
      if (!IsPrimarySide(role)) {
        return Refuse(wsapi::kRcopyGroupOperationOnlyOnPrimarySide,
                      "start should only be issued on the primary side" + where);
      }
      if (g.phase == Phase::kFailedOver) {
        return Refuse(wsapi::kRcopyGroupInFailoverState,
                      "remote copy group " + local +
                          " is in failover state; both systems are in the primary role (recover "
                          "it from the Primary-Rev side)");
      }
      if (started) {
        return Refuse(wsapi::kRcopyGroupStarted,
                      "remote copy group " + local + " has already been started");
      }
      if (!up_[peer]) return target_not_ready();
      g.started = true;
      StartSyncLocked(g);  // starting resynchronizes what changed while stopped
      return std::nullopt;

    case kActionStop:
      if (!started) {
        return Refuse(wsapi::kRcopyGroupNotStarted,
                      "remote copy group " + local + " is not started");
      }
      g.started = false;
      if (g.sync == SyncStatus::kSyncing) g.sync = SyncStatus::kStopped;
      return std::nullopt;

    case kActionSync:
      if (!IsPrimarySide(role)) {
        return Refuse(wsapi::kRcopyGroupOperationOnlyOnPrimarySide,
                      "synchronize should only be issued on the primary side" + where);
      }
      if (!started) {
        return Refuse(wsapi::kRcopyGroupNotStarted,
                      "remote copy group " + local + " is not started");
      }
      if (g.sync == SyncStatus::kSyncing) {
        return Refuse(wsapi::kRcopyGroupInvolvedInSynchronization,
                      "remote copy group " + local + " is already involved in synchronization");
      }
      StartSyncLocked(g);
      return std::nullopt;

    case kActionFailover:
      if (role == Role::kPrimary) {
        return Refuse(wsapi::kRcopyGroupOperationOnlyOnSecondarySide,
                      "failover should only be issued on the secondary side" + where);
      }
      if (role != Role::kSecondary) return role_conflict();
      if (started) {
        return Refuse(wsapi::kRcopyGroupNotStopped,
                      "remote copy group " + local + " is not stopped; stop it (or lose the "
                      "primary) before a failover");
      }
      // The secondary takes over as Primary-Rev; its volumes become writable. Nothing replicates
      // until recover.
      g.phase = Phase::kFailedOver;
      g.started = false;
      if (g.sync == SyncStatus::kSyncing) g.sync = SyncStatus::kStopped;
      return std::nullopt;

    case kActionRecover:
      if (role != Role::kPrimaryRev || g.phase != Phase::kFailedOver) return role_conflict();
      if (!up_[peer]) return target_not_ready();
      // The old primary becomes Secondary-Rev and receives the changes made since the failover.
      g.phase = Phase::kRecovered;
      g.started = !options.skip_start;
      if (g.started && !options.skip_sync) {
        StartSyncLocked(g);
      } else if (!g.started) {
        g.sync = SyncStatus::kStopped;
      }
      return std::nullopt;

    case kActionRestore:
      if (role != Role::kPrimaryRev || g.phase != Phase::kRecovered) return role_conflict();
      if (!up_[peer]) return target_not_ready();
      if (!started) {
        return Refuse(wsapi::kRcopyGroupNotStarted,
                      "remote copy group " + local + " is not started; start it so restore can "
                      "push the last changes back");
      }
      if (g.sync == SyncStatus::kSyncing) {
        return Refuse(wsapi::kRcopyGroupIsBusy,
                      "remote copy group " + local + " is currently busy (synchronizing); "
                      "retry when synced");
      }
      // The last changes go back to the natural primary before it is Primary again.
      if (Status s = CopyVolumesLocked(g, 1 - g.primary); !s.ok()) {
        return Refuse(wsapi::kRcopyTargetIsNotReady,
                      "remote copy group target " + spec_.arrays[peer].name +
                          " is not ready: the last changes could not be pushed back (" + s.message() + ")");
      }
      // Back to the natural direction: the natural primary is Primary again.
      g.phase = Phase::kNatural;
      g.started = !options.skip_start;
      return std::nullopt;

    case kActionAdmitVolume:
    case kActionDismissVolume:
    case kActionReverse:
    case kActionSwitchover:
    case kActionOverrideFailsafe:
      return WsapiError{501, wsapi::kUnsupOp,
                        "the simulator does not implement the " + ActionName(action) +
                            " action (" + std::to_string(action) + ")",
                        "action"};
  }
  return WsapiError{400, wsapi::kInvInputBadEnumValue, "invalid input: bad enum value - action",
                    "action"};
}

// ---- volumes ----

std::vector<VolumeView> AlletraPair::Volumes(int array) const {
  std::lock_guard lock(mu_);
  std::vector<VolumeView> out;
  for (const Volume& v : volumes_[array]) {
    VolumeView view;
    view.id = v.id;
    view.name = v.name;
    view.size_mib = v.size_mib;
    view.wwn = v.wwn;
    view.copy_of = v.copy_of;
    view.read_only = v.read_only;
    view.comment = v.comment;
    out.push_back(std::move(view));
  }
  for (VolumeView& view : out) {
    for (const Group& g : groups_) {
      for (const VolumePairSpec& p : g.spec.volumes) {
        const std::string& local = array == g.primary ? p.primary_volume : p.secondary_volume;
        if (local == view.name) view.rcopy_status = IsPrimarySide(RoleOf(g, array)) ? 2 : 3;
      }
    }
  }
  return out;
}

std::optional<WsapiError> AlletraPair::GetVolume(int array, std::string_view name,
                                                 VolumeView* out) const {
  for (VolumeView& v : Volumes(array)) {
    if (v.name == name) {
      *out = std::move(v);
      return std::nullopt;
    }
  }
  return WsapiError{404, wsapi::kNonExistentVol, "volume " + std::string(name) + " does not exist",
                    ""};
}

std::optional<WsapiError> AlletraPair::CreateSnapshot(int array, std::string_view parent,
                                                      const std::string& name, bool read_only,
                                                      const std::string& comment) {
  std::lock_guard lock(mu_);
  if (name.empty() || name.size() > 31) {
    return WsapiError{400, wsapi::kInvInput,
                      "invalid input: the name must have 1 to 31 characters", "name"};
  }
  const Volume* base = nullptr;
  for (const Volume& v : volumes_[array]) {
    if (v.name == name) {
      return WsapiError{409, wsapi::kExistentSv, "volume exists already: " + name, ""};
    }
    if (v.name == parent) base = &v;
  }
  if (base == nullptr) {
    return WsapiError{404, wsapi::kNonExistentVol, "volume " + std::string(parent) + " does not exist",
                      ""};
  }
  const long long size = base->size_mib;
  const std::string parent_name = base->name;
  if (Status s = AddVolumeLocked(array, name, size); !s.ok()) {
    return WsapiError{400, wsapi::kInvInput, "invalid input: " + s.message(), "name"};
  }
  if (!data_dir_.empty()) {
    // A virtual copy holds what its parent held when it was made.
    if (Status s = ReplaceTree(VolumeDirLocked(array, parent_name), VolumeDirLocked(array, name)); !s.ok()) {
      volumes_[array].pop_back();
      (void)RemoveTree(VolumeDirLocked(array, name));
      return WsapiError{500, wsapi::kInvInput, "volume " + name + " could not be made: " + s.message(), ""};
    }
  }
  Volume& copy = volumes_[array].back();
  copy.copy_of = parent_name;
  copy.read_only = read_only;
  copy.comment = comment;
  return std::nullopt;
}

std::optional<WsapiError> AlletraPair::DeleteVolume(int array, std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = std::find_if(volumes_[array].begin(), volumes_[array].end(),
                         [&](const Volume& v) { return v.name == name; });
  if (it == volumes_[array].end()) {
    return WsapiError{404, wsapi::kNonExistentVol, "volume " + std::string(name) + " does not exist",
                      ""};
  }
  for (const Group& g : groups_) {
    for (const VolumePairSpec& p : g.spec.volumes) {
      const std::string& local = array == g.primary ? p.primary_volume : p.secondary_volume;
      if (local == name) {
        return WsapiError{409, wsapi::kInUse,
                          "volume " + std::string(name) + " is in use: it is in remote copy group " +
                              (array == g.primary ? g.spec.name : g.spec.remote_name),
                          ""};
      }
    }
  }
  for (const Volume& v : volumes_[array]) {
    if (v.copy_of == name) {
      return WsapiError{409, wsapi::kInUse,
                        "volume " + std::string(name) + " is in use: it has virtual copy " + v.name,
                        ""};
    }
  }
  volumes_[array].erase(it);
  if (!data_dir_.empty()) (void)RemoveTree(VolumeDirLocked(array, name));
  return std::nullopt;
}

Result<bool> AlletraPair::Writable(int array, std::string_view name) const {
  std::lock_guard lock(mu_);
  for (const Group& g : groups_) {
    for (const VolumePairSpec& p : g.spec.volumes) {
      const std::string& local = array == g.primary ? p.primary_volume : p.secondary_volume;
      if (local == name) return IsPrimarySide(RoleOf(g, array));
    }
  }
  for (const Volume& v : volumes_[array]) {
    if (v.name == name) return !v.read_only;
  }
  return Status::NotFound("volume \"" + std::string(name) + "\" does not exist on " +
                          spec_.arrays[array].name);
}

// ---- test controls ----

void AlletraPair::SetUp(int array, bool up) {
  std::lock_guard lock(mu_);
  if (up_[array] == up) return;
  up_[array] = up;
  if (!up) {
    // Links down: every group stops; nothing restarts it when the array comes back.
    for (Group& g : groups_) {
      g.started = false;
      if (g.sync == SyncStatus::kSyncing) g.sync = SyncStatus::kStopped;
    }
  }
}

bool AlletraPair::IsUp(int array) const {
  std::lock_guard lock(mu_);
  return up_[array];
}

GroupState AlletraPair::StateLocked(const Group& g) const {
  GroupState s;
  s.name = g.spec.name;
  s.remote_name = g.spec.remote_name;
  s.primary_array = g.primary;
  s.phase = g.phase;
  s.started = g.started && up_[0] && up_[1];
  s.sync = g.sync;
  s.roles = {RoleOf(g, 0), RoleOf(g, 1)};
  s.data_error = g.data_error;
  return s;
}

Result<GroupState> AlletraPair::State(std::string_view name) const {
  std::lock_guard lock(mu_);
  const Group* g = FindAnyLocked(name);
  if (g == nullptr) {
    return Status::NotFound("remote copy group \"" + std::string(name) + "\" not found on " +
                            spec_.arrays[0].name + " or " + spec_.arrays[1].name);
  }
  return StateLocked(*g);
}

std::vector<GroupState> AlletraPair::States() const {
  std::lock_guard lock(mu_);
  std::vector<GroupState> out;
  for (const Group& g : groups_) out.push_back(StateLocked(g));
  return out;
}

Status AlletraPair::CompleteSync(std::string_view name) {
  std::lock_guard lock(mu_);
  for (Group& g : groups_) {
    if (g.spec.name != name && g.spec.remote_name != name) continue;
    if (g.sync != SyncStatus::kSyncing) {
      return Status::FailedPrecondition("remote copy group \"" + std::string(name) +
                                        "\" is not syncing (it is " +
                                        std::string(SyncStatusName(g.sync)) + ")");
    }
    return FinishSyncLocked(g).WithContext("completing the sync of remote copy group \"" +
                                           std::string(name) + "\"");
  }
  return Status::NotFound("remote copy group \"" + std::string(name) + "\" not found");
}

Status AlletraPair::SetReportedRole(std::string_view name, int array, int role) {
  std::lock_guard lock(mu_);
  for (Group& g : groups_) {
    if (g.spec.name == name || g.spec.remote_name == name) {
      g.reported_role[array] = role;
      return Status::Ok();
    }
  }
  return Status::NotFound("remote copy group \"" + std::string(name) + "\" not found");
}

int AlletraPair::CompleteAllSyncs() {
  std::lock_guard lock(mu_);
  int n = 0;
  for (Group& g : groups_) {
    if (g.sync == SyncStatus::kSyncing && FinishSyncLocked(g).ok()) ++n;
  }
  return n;
}

}  // namespace kdr::sim
