#pragma once

// storage::Driver: how a plan's volumes move between its two sites. One implementation per
// backend (longhorn.h, alletra.h, none.h), picked by the plan's spec.storage.driver through the
// registry (registry.h). The failover workflow calls, in order:
//
//   Discover(plan, volume map)  the consistency groups (CGs): the inventory's first, then the
//                               workloads'; each volume named on both sites
//   State(cg)                   where replication stands, in the product's terms
//   Sync(cg)                    best effort: the workflow records a failure and goes on
//   Failover(cg)                the target's copies become the writable ones
//   VolumeSourceFor(volume)     the PV to create on the target for a captured claim
//
// failback runs Recover(cg) then Restore(cg) from a plan defined the other way round (or simply
// Failover(cg), which does both when the backend needs them); a drill runs PrepareDrill(cg), the
// restore into mapped namespaces with VolumeSourceFor on the copies, then CleanupDrill(cg).
//
// Contract of every call:
//   - It takes a Deadline (deadline.h): waits end at deadline.at (kDeadlineExceeded naming what
//     was still pending: "DR volume pvc-1 (pvc shop/data) has restored backup-a, not backup-b")
//     or on deadline.stop (kCancelled). Time and sleeps go through the Env's Clock only.
//   - It is idempotent: repeating a call that already took effect succeeds (a group already
//     failed over fails over again as Ok), and a call interrupted anywhere can be repeated.
//   - Its Status code says what to do (base/status.h): kUnavailable / kDeadlineExceeded: the
//     backend or a cluster cannot be reached or did not finish in time, retry later;
//     kFailedPrecondition: the state forbids it, fix the state first (an array refusing an
//     action surfaces this way with the array's code and description); kUnauthenticated: the
//     credentials were refused (the message names the Secret and its key); kInvalidArgument:
//     the plan's parameters are wrong; kNotFound: a named volume or group does not exist.
//   - Drivers never guess: a backend state they do not know (a role number, a volume state) is
//     kFailedPrecondition naming it, and the workflow stops.
//
// Thread safety: one call at a time per Driver object.

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "inventory/volume_map.h"
#include "storage/deadline.h"

namespace kdr::dr {
struct DRPlan;
}
namespace kdr::kube {
class Client;
}

namespace kdr::storage {

// The backend's name for something, as key/value pairs. Longhorn volume: {"volume": NAME};
// Alletra volume: {"array": SYSTEM, "volume": NAME, "group": RCG}; Alletra group: {"array",
// "group"}; none: {}.
using Identity = std::map<std::string, std::string>;

// One captured claim and its volume on each site.
struct Volume {
  // The claim and its PV, as captured (inventory/volume_map.h).
  inventory::VolumeMapEntry captured;
  Identity source;  // the volume on the plan's source site
  Identity target;  // its replica (or, in a drill CG, its drill copy) on the target site
  // True in the CG PrepareDrill returns: `target` names a copy made for the drill.
  bool drill = false;
  // A drill copy that holds no data (driver none): VolumeSourceFor returns no PV and the claim is
  // restored unbound, to be provisioned empty by its StorageClass. `note` says so.
  bool without_data = false;
  std::string note;

  // "shop/data", for messages.
  std::string pvc() const { return captured.pvc_namespace + "/" + captured.pvc_name; }
};

enum class CgRole { kInventory, kWorkloads };
std::string_view ToString(CgRole role);  // "inventory", "workloads"

// A consistency group: the volumes that fail over as one.
struct ConsistencyGroup {
  std::string plan;  // the plan it was discovered for (names drill copies and backups)
  CgRole role = CgRole::kWorkloads;
  // "inventory" / "workloads" (Longhorn, none); the remote-copy group's name (Alletra).
  std::string name;
  Identity source;  // the group on each site (Alletra: {"array", "group"}); empty otherwise
  Identity target;
  std::vector<Volume> volumes;
  // What the workflow should show the user (a remote-copy group that also holds volumes outside
  // the plan: they fail over with it).
  std::vector<std::string> warnings;
};

// Where replication of a CG stands, in the product's terms, relative to the plan: the source is
// the site the plan fails over from, the target the one it fails over to.
enum class Replication {
  kReplicating,  // the source is primary and the target follows it (caught_up says how closely)
  kFailingOver,  // a failover started and did not finish (some volumes moved): repeat Failover
  kFailedOver,   // the target's volumes are the writable ones and nothing replicates to the source
  kReversed,     // the target is primary and the source follows it (ready for a failback)
  kExternal,     // not managed by kubectl-dr (driver none): nothing to report
  kUnknown,      // the backend cannot be read now (unreachable); `backend` says why
};
std::string_view ToString(Replication r);  // "replicating", "failing over", ...

struct VolumeState {
  std::string pvc;  // "shop/data"
  Replication replication = Replication::kUnknown;
  bool caught_up = false;
  std::optional<Clock::WallTime> last_sync;
  std::string backend;  // the backend's words for this volume
};

struct CgState {
  Replication replication = Replication::kUnknown;
  // kReplicating / kReversed: replication is running (Alletra: the group is started).
  bool running = false;
  // kReplicating / kReversed: the follower holds everything the primary had at its last sync,
  // and replication is running (so nothing newer is waiting).
  bool caught_up = false;
  // The last completed sync (the oldest over the group's volumes); how far behind the follower
  // is: now - last_sync when not caught up, 0 when caught up or unknown.
  std::optional<Clock::WallTime> last_sync;
  std::chrono::seconds behind{0};
  // The backend's own words: "array-b: Secondary, started, synced; array-a: Primary, started".
  std::string backend;
  std::vector<VolumeState> volumes;
};

// A storage Secret's data, decoded (the Secret named by spec.storage.credentialsSecret).
struct Credentials {
  std::string secret;  // "kubectl-dr-system/alletra", for messages
  std::map<std::string, std::string> data;
};

// What a driver is built with (registry.h). Not owned; everything must outlive the driver.
struct DriverOptions {
  Env env;                         // env.clock is required; env.logger may be null
  kube::Client* source = nullptr;  // the plan's source cluster; null when it is unreachable
  kube::Client* target = nullptr;  // the plan's target cluster (holds the plan and its Secret)
  // The longest pause between two reads of what a driver waits for (the first pauses are
  // shorter: Backoff in deadline.h).
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
};

class Driver {
 public:
  virtual ~Driver() = default;

  // "longhorn", "alletra", "none": the spec.storage.driver value.
  virtual std::string_view name() const = 0;

  // Checks spec.storage.parameters and the credentials Secret's data (null: the plan names no
  // Secret) without contacting anything. InvalidArgument listing every unknown key (with the
  // nearest known one), every missing key and every bad value at once.
  virtual Status ValidateParameters(const std::map<std::string, std::string>& parameters,
                                    const Credentials* credentials) const = 0;

  // The driver's identity of a captured volume, for the volume map's `storage` (filled at
  // capture). FailedPrecondition when the volume is not one this backend replicates (a hostPath
  // PV under a Longhorn plan, a volume in no remote-copy group).
  virtual Result<Identity> Identify(const inventory::VolumeMapEntry& entry,
                                    const Deadline& deadline) = 0;

  // The plan's CGs: the inventory's first (its volume alone: FailedPrecondition when the backend
  // would fail it over together with workload volumes), then the workloads' (none when no
  // workload claim has a volume). Each volume is named on both sites; FailedPrecondition lists
  // every volume without a replica on the target. Entries whose `storage` is empty are
  // identified as by Identify.
  virtual Result<std::vector<ConsistencyGroup>> Discover(const dr::DRPlan& plan,
                                                         const inventory::VolumeMap& volumes,
                                                         const Deadline& deadline) = 0;

  // Where replication stands. A backend that cannot be reached is kUnknown with the reason in
  // `backend` (an Ok status: a report, not a failure); a backend state the driver does not know
  // is FailedPrecondition naming it.
  virtual Result<CgState> State(const ConsistencyGroup& cg, const Deadline& deadline) = 0;

  // Brings the target's replicas up to date with the source now, and waits until they are.
  // Best effort for the workflow: an unreachable source is kUnavailable after the target has
  // caught up with what it could.
  virtual Status Sync(const ConsistencyGroup& cg, const Deadline& deadline) = 0;

  // Makes the target's replicas the writable volumes and waits until they are. Ok when they
  // already are. Never needs the source.
  virtual Status Failover(const ConsistencyGroup& cg, const Deadline& deadline) = 0;

  // Failback, first half: the source (the DR site, for a failback plan) starts replicating its
  // changes to the target (the old primary), and the call waits until every volume is synced.
  virtual Status Recover(const ConsistencyGroup& cg, const Deadline& deadline) = 0;

  // Failback, second half: back to the natural roles, the target primary again. Needs Recover
  // first (FailedPrecondition saying so otherwise); Ok when already done.
  virtual Status Restore(const ConsistencyGroup& cg, const Deadline& deadline) = 0;

  // Makes a copy of every target replica for a drill (never the live replica, never activated)
  // and returns the CG with `target` naming the copies (Volume::drill set). Idempotent: the
  // copies have names derived from the replicas and are reused.
  virtual Result<ConsistencyGroup> PrepareDrill(const ConsistencyGroup& cg,
                                                const Deadline& deadline) = 0;

  // Removes the copies PrepareDrill made for `cg` (the CG Discover returned, or the drill CG).
  // Ok when there are none.
  virtual Status CleanupDrill(const ConsistencyGroup& cg, const Deadline& deadline) = 0;

  // The PersistentVolume to create on the target for `volume` (from a CG Discover or
  // PrepareDrill returned): named as captured (drill copies: after the copy), bound in advance
  // to the captured claim (spec.claimRef namespace and name; the restore maps namespaces).
  // captured_pv: the PV manifest from the inventory (null when it has none; the none driver
  // needs it). nullopt: no PV, restore the claim unbound (Volume::without_data).
  virtual Result<std::optional<nlohmann::json>> VolumeSourceFor(const Volume& volume,
                                                                const nlohmann::json& captured_pv,
                                                                const Deadline& deadline) = 0;

  // Prepares the target to receive the plan's volumes (plan create; also for a failback plan,
  // whose target is the old primary). Longhorn: a standby (DR) volume on the target for every
  // Longhorn volume of the plan's claims on the source, restored from its latest backup (one is
  // taken when there is none). Others: nothing. Returns the volumes protected. Idempotent.
  virtual Result<std::vector<Volume>> Protect(const dr::DRPlan& plan, const Deadline& deadline) = 0;
};

}  // namespace kdr::storage
