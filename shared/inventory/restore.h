#pragma once

// The restore engine (DESIGN.md section 3 step 9; issue 9 section 3; issue 15): puts the objects
// of one inventory generation into the target cluster, tier after tier, each object sanitized
// (sanitize.h) and labelled dr.kubectl-dr.dev/recovery=<recovery> so the webhook transforms it as
// it is created.
//
//   RestoreInput in;                          // the captured objects and the volume map
//   RestoreOptions o;
//   o.recovery = "shop-failover";
//   KDR_ASSIGN_OR_RETURN(auto conflicts, ListConflicts(target, in, o));   // preflight: no writes
//   RestoreResult r = Restore(target, std::move(in), o, stop);            // r.status, r.counts
//
// Tiers, one after the other (a tier starts when the previous one has finished and its waits are
// over): CRDs (wait Established) -> Namespaces -> StorageClasses, PriorityClasses, RuntimeClasses
// -> PVs -> PVCs (wait Bound) -> ServiceAccounts -> Secrets, ConfigMaps -> RBAC -> Services,
// Endpoints, EndpointSlices -> everything else (custom resources, Ingresses, NetworkPolicies,
// HPAs, PDBs...) -> workloads (Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs,
// CronJobs, bare Pods, KubeVirt VirtualMachines) -> ResourceQuotas and LimitRanges (a quota first
// makes later creates 403).
//
// Objects already on the target:
//   labelled with this recovery    restored by an earlier, interrupted run: counted `existing`
//   made by the target itself      never a conflict (IsMadeByTarget): the default ServiceAccount
//                                  gets the captured imagePullSecrets merged in, the rest is left
//   StorageClass, PriorityClass,   shared by the cluster, never replaced (their specs are
//   CustomResourceDefinition       immutable: 422): counted `existing`; where the target's differs
//                                  from the captured one, a Difference is reported
//   anything else                  a conflict, settled by RestoreOptions::existing: kFail (the
//                                  default) refuses the whole restore before any write and lists
//                                  every conflict; kSkip leaves it; kUpdate replaces it (PUT, the
//                                  target's allocated fields kept: clusterIPs, node ports, a
//                                  claim's volume, a Job's selector). A PV naming another volume
//                                  than the restore's (a failback's stale original) is made anew
//                                  with its claim, the stale volume kept (reclaim policy Retain)
//
// Within a tier, objects are written in parallel (RestoreOptions::parallel, default 16) over the
// client's keep-alive connections. One object's failure is recorded with the server's reason and
// never stops the rest. A create without a clear answer (the connection lost after it went out, a
// 5xx, a timeout: a restarting API server) is sent again a few times, its 409 then read as this
// recovery's object, or read back; a target that stops answering altogether halts the restore
// (Unavailable, no object failed for it, the rest pending). A restore run again after an
// interruption reaches the same end state:
// what the first run made counts as existing, owner references to owners that came later are
// added then.
//
// Thread-safety: Restore and ListConflicts may run concurrently with other users of the client.
// The progress callback is called from worker threads, one call at a time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "inventory/volume_map.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::inventory {

class Inventory;

// What the restore reads: the objects of one inventory generation, each exactly as the source API
// server returned it (status, uid, managedFields and all), with apiVersion and kind set, and the
// generation's volume map.
struct RestoreInput {
  RestoreInput();
  ~RestoreInput();
  RestoreInput(const RestoreInput&);
  RestoreInput(RestoreInput&&) noexcept;
  RestoreInput& operator=(const RestoreInput&);
  RestoreInput& operator=(RestoreInput&&) noexcept;

  std::vector<nlohmann::json> objects;
  VolumeMap volumes;
};

// The input of an opened inventory generation (format.h): every object, read and checked against
// its sha256 again, with apiVersion and kind from the index where the file lacks them, and the
// volume map. Errors: Inventory::ReadObject's (FailedPrecondition naming a file that changed).
Result<RestoreInput> ReadRestoreInput(const Inventory& inventory);

enum class Tier {
  kCustomResourceDefinitions,
  kNamespaces,
  kClusterClasses,  // StorageClasses, PriorityClasses, RuntimeClasses
  kPersistentVolumes,
  kPersistentVolumeClaims,
  kServiceAccounts,
  kConfiguration,  // Secrets, ConfigMaps
  kRbac,
  kServices,  // Services, Endpoints, EndpointSlices
  kOther,
  kWorkloads,
  kQuotas,  // ResourceQuotas, LimitRanges
};
inline constexpr int kTierCount = 12;

// "crds", "namespaces", "classes", "pvs", "pvcs", "serviceaccounts", "config", "rbac",
// "services", "other", "workloads", "quotas".
std::string_view TierName(Tier tier);
// The tier of an object of this API group and kind.
Tier TierOf(std::string_view group, std::string_view kind);

enum class ExistingPolicy { kFail, kSkip, kUpdate };
// "fail" | "skip" | "update" (the --existing flag). InvalidArgument naming the choices.
Result<ExistingPolicy> ParseExistingPolicy(std::string_view text);
std::string_view ToString(ExistingPolicy policy);

// Objects done so far, of how many, and the tier being restored.
struct RestoreProgress {
  int64_t done = 0;
  int64_t total = 0;
  Tier tier = Tier::kCustomResourceDefinitions;
  int64_t failed = 0;  // of done, refused when written (a claim that never binds fails later)
};

struct RestoreOptions {
  // The recovery's name: the value of the recovery label. REQUIRED (a valid label value).
  std::string recovery;
  // Restore only the objects of these source namespaces (and the cluster-scoped objects that do
  // not belong to another namespace: PVs by their claimRef, ClusterRoleBindings by their
  // ServiceAccount subjects). Empty: every namespace in the input.
  std::vector<std::string> namespaces;
  // Source namespace -> target namespace (drills). A mapped target namespace that exists on the
  // target and is not labelled with this recovery refuses the restore (FailedPrecondition).
  std::map<std::string, std::string> namespace_mapping;
  ExistingPolicy existing = ExistingPolicy::kFail;
  // Concurrent writes within a tier (at most the client's connections are used at once).
  int parallel = 16;
  bool rerun_finished_jobs = false;   // see SanitizeOptions
  bool keep_node_ports = false;       // see SanitizeOptions
  bool target_single_stack = false;   // see SanitizeOptions
  // Deadlines of the waits, measured on the client's Clock.
  std::chrono::milliseconds crd_established_timeout{std::chrono::seconds(60)};
  std::chrono::milliseconds claim_bound_timeout{std::chrono::minutes(5)};
  // Called as objects complete (from worker threads, serialized). May be empty.
  std::function<void(const RestoreProgress&)> progress;
  // The storage driver's say on a PV it fails over (storage::Driver::VolumeSourceFor): called
  // with the sanitized PV and its volume map entry before the PV is created; may rewrite the
  // volume source. An error fails that PV. Empty: PVs are restored as captured. It may name the
  // PV otherwise (a drill copy's PV): it is then called once more, with the captured PV, before
  // anything is read from the target, so that the PV is looked for under the new name and the
  // claims naming the captured one are pointed at it. The claimRef it writes names the claim as
  // captured; the namespace mapping is applied to it.
  std::function<Status(const VolumeMapEntry& volume, nlohmann::json* pv)> rewrite_volume;
};

// An object named in a report: where it goes on the target.
struct ObjectRef {
  std::string api_version;
  std::string kind;
  std::string namespace_name;  // target namespace ("" for cluster-scoped)
  std::string name;
  // "Deployment shop/web", "StorageClass fast".
  std::string ToString() const;
};

struct Conflict {
  ObjectRef object;
  // "exists on the target and was not created by recovery \"shop-failover\"" or "... labelled by
  // recovery \"old-drill\"".
  std::string reason;
};

struct ObjectFailure {
  ObjectRef object;
  Tier tier = Tier::kOther;
  Status status;  // the server's reason (code and message) or ours (a claim never bound)
};

struct ObjectSkip {
  ObjectRef object;
  std::string reason;
};

// The target holds an object the restore does not replace (StorageClass, PriorityClass, CRD) and
// it differs from the captured one.
struct Difference {
  ObjectRef object;
  std::string field;   // "parameters.type", "reclaimPolicy", "value", "versions"
  std::string source;  // the captured value (JSON text)
  std::string target;  // the target's value (JSON text)
};

struct ObjectNote {
  ObjectRef object;
  std::string message;
};

struct RestoreCounts {
  int64_t created = 0;   // created by this run
  int64_t updated = 0;   // replaced (existing: kUpdate)
  int64_t existing = 0;  // found restored already (this recovery's label, shared classes, made by the target)
  int64_t skipped = 0;   // not restored: skip rules, conflicts with kSkip, a stop request
  int64_t failed = 0;
  int64_t total() const { return created + updated + existing + skipped + failed; }
};

struct TierTiming {
  Tier tier = Tier::kOther;
  int64_t objects = 0;
  std::chrono::nanoseconds elapsed{0};  // on the client's Clock, waits included
};

struct RestoreResult {
  // Ok when the restore ran to its end, even with failed objects (see counts.failed):
  // InvalidArgument (bad options or input), FailedPrecondition (conflicts under kFail: nothing was
  // written; a namespace mapping onto an existing namespace), Cancelled (stop requested: the
  // counts say how far it got; run it again to resume), Unavailable (the target stopped
  // answering: the same, the message naming the last error), or the error of a call every object
  // needed (discovery).
  Status status;
  RestoreCounts counts;
  std::vector<Conflict> conflicts;       // filled when status is FailedPrecondition for conflicts
  std::vector<ObjectFailure> failures;   // every one, in input order within a tier
  std::vector<ObjectSkip> skipped;
  std::vector<Difference> differences;
  std::vector<ObjectNote> notes;         // owner references dropped, volume names filled...
  std::vector<TierTiming> tiers;         // the tiers that had objects, in order
  int64_t excluded = 0;                  // outside RestoreOptions::namespaces: not counted
};

// Every conflict the restore would meet, read from the target (one LIST per resource and
// namespace) without writing anything: what Restore with kFail refuses on, what the failover's
// preflight shows. Mapping onto an existing namespace shows as a conflict of that Namespace.
// Errors: InvalidArgument for bad options, the LIST's error otherwise.
Result<std::vector<Conflict>> ListConflicts(kube::Client& target, const RestoreInput& input,
                                            const RestoreOptions& options);

// Waits until claim ns/name on `target` is Bound (polling through the client's clock). Errors:
// DeadlineExceeded after `timeout` saying why it is not (its phase and conditions, its volume's
// state, the latest event); Cancelled when stopped; the client's error when it cannot be read.
Status WaitClaimBound(kube::Client& target, std::string_view ns, std::string_view name,
                      std::chrono::milliseconds timeout, std::stop_token stop = {});

// Restores `input` into `target`. See the top of this file and RestoreResult::status. A stop
// request is honoured between objects and during waits. The input is taken by value and its
// objects are sanitized in place: pass it with std::move unless it is needed again (a copy of
// every object costs as much as sanitizing it).
RestoreResult Restore(kube::Client& target, RestoreInput input, const RestoreOptions& options,
                      std::stop_token stop = {});

}  // namespace kdr::inventory
