#include "storage/alletra_groups.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube/object.h"

namespace kdr::storage::alletra {
namespace {

using nlohmann::json;

// The WSAPI's numbers: group role 1 primary side / 2 secondary side; targets[].state 3 started /
// 5 stopped.
constexpr int kRolePrimary = 1;
constexpr int kRoleSecondary = 2;
constexpr int kTargetStarted = 3;
constexpr int kTargetStopped = 5;

int IntField(const json& o, std::string_view key, int fallback) {
  auto it = o.find(key);
  return it != o.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

std::string Unknown(const std::string& array, const std::string& group, const std::string& what) {
  return array + " reports " + what + " for remote copy group " + Quote(group) +
         ", which kubectl-dr does not know; stopping rather than guessing what it means";
}

}  // namespace

std::string RoleName(Role r) {
  switch (r) {
    case Role::kPrimary: return "Primary";
    case Role::kSecondary: return "Secondary";
    case Role::kPrimaryRev: return "Primary-Rev";
    case Role::kSecondaryRev: return "Secondary-Rev";
  }
  return "?";
}

std::string Group::Words() const {
  std::string sync = AllSynced() ? "synced" : AnySyncing() ? "syncing" : "not synced";
  return array + ": " + name + " " + RoleName(role) + ", " + (started ? "started" : "stopped") +
         ", " + sync + (last_sync.empty() ? "" : " (last sync " + last_sync + ")");
}

Result<Group> ParseGroup(const json& g, const std::string& array) {
  Group out;
  out.array = array;
  out.name = kube::StringField(g, {"name"});
  const json& targets = kube::FieldAt(g, {"targets"});
  const json target = targets.is_array() && !targets.empty() ? targets[0] : json::object();
  const int role = IntField(g, "role", 0);
  // Answers are read without trusting their types: a member of another type reads as absent
  // (and then fails the checks below), never as an exception.
  const json& group_reversed = kube::FieldAt(g, {"roleReversed"});
  const json& target_reversed = kube::FieldAt(target, {"roleReversed"});
  const bool reversed = group_reversed.is_boolean()    ? group_reversed.get<bool>()
                        : target_reversed.is_boolean() ? target_reversed.get<bool>()
                                                       : false;
  if (role == kRolePrimary) {
    out.role = reversed ? Role::kPrimaryRev : Role::kPrimary;
  } else if (role == kRoleSecondary) {
    out.role = reversed ? Role::kSecondaryRev : Role::kSecondary;
  } else {
    return Status::FailedPrecondition(Unknown(array, out.name, "role " + std::to_string(role)));
  }
  const int state = IntField(target, "state", 0);
  if (state != kTargetStarted && state != kTargetStopped) {
    return Status::FailedPrecondition(
        Unknown(array, out.name, "target state " + std::to_string(state)));
  }
  out.started = state == kTargetStarted;
  out.last_sync = kube::StringField(target, {"groupLastSyncTime"});
  const json& vols = kube::FieldAt(g, {"volumes"});
  if (vols.is_array()) {
    for (const json& v : vols) {
      Group::Vol vol;
      vol.local = kube::StringField(v, {"localVolumeName"});
      const json& remotes = kube::FieldAt(v, {"remoteVolumes"});
      if (remotes.is_array() && !remotes.empty()) {
        vol.remote = kube::StringField(remotes[0], {"remoteVolumeName"});
        vol.sync = IntField(remotes[0], "syncStatus", 0);
      }
      if (vol.sync != kSyncing && vol.sync != kSynced && vol.sync != kSyncStopped) {
        return Status::FailedPrecondition(Unknown(
            array, out.name,
            "sync status " + std::to_string(vol.sync) + " of volume " + Quote(vol.local)));
      }
      out.volumes.push_back(std::move(vol));
    }
  }
  return out;
}

}  // namespace kdr::storage::alletra
