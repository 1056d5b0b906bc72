#pragma once

// The restore engine's parts, shared by restore.cc (the tiers), restore_plan.cc (what to do with
// each object, read from the input and one survey of the target) and restore_wait.cc (waiting
// for CRDs and claims, the worker pool). Not a public interface.

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "inventory/restore.h"
#include "inventory/sanitize.h"
#include "kube/object.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::inventory::internal {

enum class Outcome { kPending, kCreated, kUpdated, kExisting, kSkipped, kFailed, kExcluded };

// How an object found on the target relates to the restore.
enum class Existing {
  kNone,         // not there
  kOurs,         // labelled with this recovery: an earlier run restored it
  kMadeByTarget, // the target made it (IsMadeByTarget)
  kShared,       // a class or CRD the cluster shares: used, compared, never replaced
  kConflict,     // anything else
};

struct Entry {
  size_t index = 0;                         // in RestoreInput::objects
  const nlohmann::json* captured = nullptr;
  kube::Gvk gvk;
  Tier tier = Tier::kOther;
  std::string source_namespace;
  std::string namespace_name;  // target
  std::string name;            // target (a mapped Namespace's new name; a PV's name as the storage driver gives it)
  std::optional<std::string> skip;
  // A PV's entry in the volume map (the storage driver may give its volume source): null otherwise.
  const VolumeMapEntry* volume = nullptr;

  // The REST collection, once resolved (resolve_error otherwise).
  bool resolved = false;
  kube::Gvr gvr;
  bool namespaced = false;
  bool awaits_crd = false;  // its CRD is in the input: resolved after the CRD tier
  Status resolve_error;

  // What the survey found on the target.
  std::shared_ptr<const nlohmann::json> found;  // null: not there

  // The result, written only by the worker that handles the entry.
  Outcome outcome = Outcome::kPending;
  Status status;
  std::string reason;             // skip reason
  std::string target_uid;
  std::vector<std::string> notes;
  std::vector<Difference> differences;
  // The captured owner references ({"metadata": {"ownerReferences": [...]}}, source uids), kept
  // apart because the object is sanitized in place; null when it has none.
  std::shared_ptr<const nlohmann::json> owners;
  // Owner references: those sent or found (JSON text), and whether they may still change (an
  // owner in the restore set was not restored when the object was written).
  std::string owner_refs;
  bool owners_pending = false;
  bool sanitized = false;  // the input object has been sanitized in place

  ObjectRef Ref() const;
};

struct Plan {
  SanitizeOptions sanitize;
  std::unique_ptr<RestoreSet> set;
  std::vector<Entry> entries;  // one per input object, in input order
  int64_t excluded = 0;
  // Captured PV name -> the name of the PV the storage driver gives for its volume, where they
  // differ (a drill copy's PV): the PV is created, surveyed and read under the new name, and the
  // claims naming the old one are pointed at it.
  std::map<std::string, std::string> renamed_volumes;
};

// Checks the options, classifies every object (tier, skip, target name, namespace filter) and
// resolves its resource through the target's discovery (or the CRDs in the input). The PVs of the
// volume map are named as RestoreOptions::rewrite_volume names them (Plan::renamed_volumes).
// Errors: InvalidArgument for bad options; a discovery failure.
Status BuildPlan(kube::Client& target, const RestoreInput& input, const RestoreOptions& options,
                 Plan* plan);
// Resolves entries whose CRD came in the CRD tier, by the CRD's names once it is Established.
// Entries whose CRD failed (or did not become Established) fail with a message naming it.
void ResolveAwaitingCrds(Plan* plan, const std::map<std::string, Status>& crd_failures);
// Reads what exists on the target for every restorable entry (one LIST per resource and target
// namespace, in parallel), filling Entry::found.
Status Survey(kube::Client& target, Plan* plan, int parallel, std::stop_token stop);
// The relation of an entry to what the survey (or a later read) found.
Existing Classify(const Entry& entry, const nlohmann::json* found, std::string_view recovery);
// The conflicts among surveyed entries, and mapped namespaces that exist unlabelled.
Result<std::vector<Conflict>> Conflicts(kube::Client& target, const Plan& plan,
                                        const RestoreOptions& options);
// What differs between a captured shared object (StorageClass, PriorityClass, RuntimeClass, CRD)
// and the target's.
std::vector<Difference> Differences(const Entry& entry, const nlohmann::json& target);

// Runs fn(i) for i in [0, n) on up to `parallel` threads (stacks sized for deep JSON); stops
// handing out indices once stop is requested.
void RunParallel(size_t n, int parallel, std::stop_token stop, const std::function<void(size_t)>& fn);

// Waits until each CRD entry that is on the target is Established, or the deadline. Returns the
// failures by CRD name (metadata.name) and marks those entries failed.
std::map<std::string, Status> WaitEstablished(kube::Client& target, std::vector<Entry*>& crds,
                                              std::chrono::milliseconds timeout, std::stop_token stop);
// Waits until each claim entry that is on the target and expected to bind (a volumeName, or a
// class that binds at once) is Bound, or the deadline; claims still pending then are marked
// failed with why (phase, conditions, events, the volume's state).
void WaitBound(kube::Client& target, std::vector<Entry*>& claims, std::chrono::milliseconds timeout,
               std::stop_token stop);

}  // namespace kdr::inventory::internal
