#pragma once

// Sanitizing captured objects for a restore (DESIGN.md section 3 step 9, issue 15): what the
// source cluster assigned is dropped, what the target makes itself is skipped, references follow
// a namespace mapping and the restored owners' new uids, and every object gets the recovery label
// (the webhook transforms it server-side; this code never applies resource modifiers).
//
// One table in sanitize.cc holds every rule, each row naming the kube-apiserver (or controller)
// behaviour it answers; SanitizeTable() returns it for tests, docs and reports. The functions
// here are pure: no API calls, no clock. Thread-safe (const data only).
//
//   RestoreSet set(objects, volumes);
//   SanitizeOptions o{.recovery = "shop-failover"};
//   if (auto why = SkipReason(o, set, captured)) { /* not restored: *why */ }
//   json object = captured;
//   SanitizeOutcome out = Sanitize(o, set, owner_uids, &object);   // object is ready to POST

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "inventory/volume_map.h"

namespace kdr::inventory {

// The label every restored object carries: the webhook's objectSelector, and how a later run
// recognises what an interrupted one restored.
inline constexpr std::string_view kRecoveryLabel = "dr.kubectl-dr.dev/recovery";

struct SanitizeOptions {
  // The recovery's name: the value of kRecoveryLabel. REQUIRED (a valid label value).
  std::string recovery;
  // Source namespace -> target namespace (drills: {shop: shop-drtest}). Unmapped ones stay.
  std::map<std::string, std::string> namespace_mapping;
  // Keep Services' spec.ports[].nodePort (a NodePort the clients of the source rely on). Off: the
  // target allocates (the source's port may clash or be outside the target's range: 422).
  bool keep_node_ports = false;
  // The target cluster is single-stack: drop Services' ipFamilies and ipFamilyPolicy, which name
  // the source's families (IPv6 or RequireDualStack there is 422 "not configured on this
  // cluster"). Off: kept as captured.
  bool target_single_stack = false;
  // Restore Jobs that finished on the source (they run again: status is not restorable). Off:
  // skipped with a reason.
  bool rerun_finished_jobs = false;
};

// The namespace an object of `source_namespace` goes to ("" stays "").
std::string TargetNamespace(const SanitizeOptions& options, std::string_view source_namespace);

// What the whole restore set holds, for the rules that look beyond one object (an Endpoints
// object and its Service, an owner reference and its owner, a claim and its volume). Built once;
// read-only after. The objects are not copied; they must outlive the set.
class RestoreSet {
 public:
  struct Member {
    std::string api_version;
    std::string kind;
    std::string namespace_name;  // as captured (source namespace)
    std::string name;
    size_t index = 0;  // position in the objects given to the constructor
  };

  RestoreSet(const std::vector<nlohmann::json>& objects, const VolumeMap& volumes);

  // The member whose source uid is `uid`, or null.
  const Member* FindByUid(std::string_view uid) const;
  // True when the set holds a Service ns/name that has a spec.selector.
  bool HasSelectorService(std::string_view ns, std::string_view name) const;
  // True when the set holds the PersistentVolume `name`.
  bool HasVolume(std::string_view name) const;
  // The volume map's entry for claim ns/name, or for the PV `pv_name`; null when none.
  const VolumeMapEntry* VolumeForClaim(std::string_view ns, std::string_view name) const;
  const VolumeMapEntry* VolumeForPv(std::string_view pv_name) const;
  size_t size() const { return members_.size(); }

 private:
  std::vector<Member> members_;
  std::unordered_map<std::string, size_t> by_uid_;
  std::set<std::string> selector_services_;  // "ns/name"
  std::set<std::string> volumes_;
  std::map<std::string, const VolumeMapEntry*> claim_volumes_;  // "ns/name"
  std::map<std::string, const VolumeMapEntry*> pv_volumes_;
};

// Answers "what is the target uid of the owner whose source uid is this?": the uid once the
// owner has been restored (created, or found labelled by this recovery), nullopt before.
using OwnerUidLookup = std::function<std::optional<std::string>(std::string_view source_uid)>;

// Why `object` (as captured) is not restored, or nullopt when it is: the target makes it itself
// (kube-root-ca.crt, service-account token Secrets, the default namespaces, the `kubernetes`
// Service, bootstrap RBAC and PriorityClasses), its controller recreates it (a Deployment's
// ReplicaSet, a ReplicaSet's Pod, Endpoints of a selector Service, Events), a finished Job
// (unless rerun_finished_jobs), the inventory volume itself (the failover restores it first).
std::optional<std::string> SkipReason(const SanitizeOptions& options, const RestoreSet& set,
                                      const nlohmann::json& object);

// True for objects the target makes itself that a restore may meet there without it being a
// conflict: the `default` ServiceAccount of any namespace (its imagePullSecrets are merged, see
// restore.h), kube-root-ca.crt, the `kubernetes` Service of `default`.
bool IsMadeByTarget(const nlohmann::json& object);

struct SanitizeOutcome {
  // Source uids of owners that are in the restore set but not restored yet: their references are
  // left out of the object for now (a reference to a uid that does not exist makes the garbage
  // collector delete the object); the engine adds them once the owners exist.
  std::vector<std::string> pending_owner_uids;
  // What changed beyond the routine, for the report ("spec.volumeName dropped: ...").
  std::vector<std::string> notes;
};

// Rewrites `object` (a captured object that SkipReason lets through) into what is created on the
// target: every row of the sanitize table that applies. REQUIRES: object is a JSON object with
// apiVersion, kind and metadata.name; options.recovery is set.
SanitizeOutcome Sanitize(const SanitizeOptions& options, const RestoreSet& set,
                         const OwnerUidLookup& owner_uid, nlohmann::json* object);

// The owner references `captured` should carry on the target, given the owners restored so far
// (the same rule Sanitize applies; the engine uses it to patch dependents whose owners came later).
// Sets *all_known to false when an owner in the set is not restored yet.
Result<nlohmann::json> TargetOwnerReferences(const RestoreSet& set, const OwnerUidLookup& owner_uid,
                                             const nlohmann::json& captured, bool* all_known);

// kube-apiserver's size limits a restored object must fit, checked before it is sent so that the
// refusal names the limit rather than a 500 from etcd: annotations at most 256 KiB in total
// (422), ConfigMap and Secret data at most 1 MiB (422), the object at most 1.5 MiB (etcd's
// default --max-request-bytes: 500 "etcdserver: request is too large"). InvalidArgument naming
// the field and both sizes.
Status CheckSizeLimits(const nlohmann::json& object);

// One row of the sanitize table (or of the skip table), as documentation.
struct SanitizeRow {
  std::string_view kinds;  // "*", "Service", "Job", "Pod, ReplicaSet"
  std::string_view what;   // "drop metadata.resourceVersion"
  std::string_view why;    // the server's behaviour it answers
};
std::span<const SanitizeRow> SanitizeTable();
std::span<const SanitizeRow> SkipTable();

}  // namespace kdr::inventory
