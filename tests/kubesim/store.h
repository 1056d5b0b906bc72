#pragma once

// Store: kubesim's object database, with kube-apiserver's storage semantics, used by the REST
// handlers and directly (in-process) by the simulated controllers.
//
// What it does, as kube-apiserver's registry + etcd would:
//   - one cluster-wide resourceVersion counter; every committed write takes the next value and
//     writes it into metadata.resourceVersion
//   - Create: uid, creationTimestamp, generateName (name = prefix + 5 random chars),
//     generation = 1 (types that track it), status reset for types with a status subresource,
//     defaults (namespace phase Active, Service clusterIP, Pod/PVC phase Pending, PV phase
//     Available, workload replicas 1, the field defaults of defaults.h); the namespace must
//     exist (404 `namespaces "x" not found`) and not be terminating (403 Forbidden). What
//     admission plugins add (the default StorageClass, protection finalizers...) is not the
//     Store's: see builtin_admission.h
//   - validation (validation.h): names, labels, per-type rules and immutable fields on update;
//     custom resources are pruned and validated by their CRD's structural schema (schema.h)
//   - Update: optimistic concurrency when metadata.resourceVersion is set (409 Conflict with
//     kube's message); generation bumped when anything outside metadata and status changes; with
//     a status subresource the main resource ignores status changes and the "status"
//     subresource ignores everything but status; a write that changes nothing keeps the
//     resourceVersion and emits no event (like kube-apiserver's no-op updates)
//   - Delete: preconditions (uid, resourceVersion), finalizers (deletionTimestamp set, object
//     kept until an update empties metadata.finalizers), propagationPolicy (Background and
//     Foreground delete dependents by ownerReferences uid, Orphan strips the references), a
//     Namespace goes Terminating, its objects are deleted and it disappears when empty;
//     a CRD's deletion deletes its custom resources and stops serving it
//   - CRDs stored here register their type in the Registry (on create, update and on load)
//   - dry run: every check, nothing stored, no event
//   - watch: a bounded history of events; a watch from a resourceVersion older than the history
//     fails (HTTP 410 Expired); MODIFIED events that move an object into or out of a selector are
//     delivered as ADDED / DELETED, as the watch cache does
//   - --data-dir: every committed write is appended to a log under the directory before the call
//     returns (see persist.h); Open() replays it
//
// Errors are kdr::Status whose message is kube-apiserver's message for the case:
//   kNotFound           `deployments.apps "web" not found`                       (404 NotFound)
//   kAlreadyExists      `configmaps "x" already exists`                           (409 AlreadyExists)
//   kAborted            `Operation cannot be fulfilled on configmaps "x": the object has been
//                        modified; please apply your changes to the latest version and try
//                        again`, and failed delete preconditions                  (409 Conflict)
//   kInvalidArgument    `ConfigMap "Bad" is invalid: metadata.name: Invalid value: ...` (422)
//   kPermissionDenied   creating in a terminating namespace                      (403 Forbidden)
//   kFailedPrecondition Watch only: resourceVersion too old                      (410 Expired)
// ApiErrorFor() in api_error.h turns them into metav1.Status bodies.
//
// Objects are nlohmann::json values of the type's storage version (apiVersion and kind set).
// Thread-safe: one mutex; no user callback ever runs under it. Writes bypass admission: the
// REST layer calls admission before it calls the Store; in-process controllers create what a
// controller's API call would create through the built-in plugins (CreateAdmitted in
// builtin_admission.h) and write the rest directly.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "registry.h"

namespace kdr {
class Clock;
}

namespace kdr::kubesim {

class Persister;

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

enum class EventType { kAdded, kModified, kDeleted, kBookmark };
// "ADDED", "MODIFIED", "DELETED", "BOOKMARK".
std::string_view EventTypeName(EventType type);

struct WatchEvent {
  EventType type = EventType::kAdded;
  GroupResource gr;
  // The object after the change (for DELETED: the last state, with the deletion's
  // resourceVersion). Bookmarks carry no object.
  ObjectPtr object;
  // MODIFIED: the object before the change (null otherwise).
  ObjectPtr old_object;
  uint64_t resource_version = 0;
};

struct ListOptions {
  std::string namespace_name;  // "" = all namespaces (and always for cluster-scoped types)
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;           // 0 = no limit
  std::string continue_token;  // from a previous ListResult
};

struct ListResult {
  std::vector<ObjectPtr> items;  // sorted by namespace, then name
  uint64_t resource_version = 0;
  std::string continue_token;       // "" when complete
  std::optional<int64_t> remaining;  // remainingItemCount when continue_token is set
};

struct WriteOptions {
  bool dry_run = false;
  std::string subresource;  // "" (main resource) or "status"
  // Only the checks kube-apiserver makes before its validating admission (the object's
  // validation, CRD schemas, immutable fields, resourceVersion conflicts, the namespace): nothing
  // is stored and, for a create, a taken name is not yet an error (kube-apiserver finds that
  // only when it writes, after the validating webhooks). Returns what would be stored.
  bool validate_only = false;
};

struct DeleteOptions {
  bool dry_run = false;
  std::optional<std::string> precondition_uid;
  std::optional<std::string> precondition_resource_version;
  std::string propagation_policy;  // "", Background, Foreground, Orphan
};

struct DeleteResult {
  // The object as last stored: removed (deleted == true) or now carrying deletionTimestamp.
  ObjectPtr object;
  bool deleted = false;
};

struct WatchOptions {
  GroupResource gr;            // resource "" = every resource (controllers)
  std::string namespace_name;  // "" = all
  std::string label_selector;
  std::string field_selector;
  // nullopt or 0: synthetic ADDED events for every current object, then changes.
  // N: every change after N (FailedPrecondition when N is older than the history).
  std::optional<uint64_t> resource_version;
};

// A pull-based event stream. Events are queued in commit order as writes happen (no callback
// runs inside the Store); read them from your own thread. Destroying the Watcher unsubscribes.
class Watcher {
 public:
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The next event, waiting up to `timeout`; nullopt on timeout or once closed.
  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout);
  // Ends the stream: Next returns nullopt from now on. Thread-safe; called by Store::Close.
  void Close();
  bool closed() const;
  // When nothing is queued: the resourceVersion up to which this watcher has been handed every
  // matching event (what a BOOKMARK may announce). nullopt while events are pending.
  std::optional<uint64_t> ProgressVersion() const;
  // The store's resourceVersion when the watch began, and how many synthetic ADDED events
  // (current state) it started with.
  uint64_t start_version() const { return start_version_; }
  size_t initial_events() const { return initial_events_; }

 private:
  friend class Store;
  Watcher() = default;
  bool Accepts(const WatchEvent& e, WatchEvent* out) const;  // filter + selector transitions
  void Push(WatchEvent e);

  class Store* store_ = nullptr;
  WatchOptions options_;
  struct Filter;
  std::shared_ptr<const Filter> filter_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;
  bool closed_ = false;
  uint64_t start_version_ = 0;
  size_t initial_events_ = 0;
};

class Store {
 public:
  struct Options {
    Clock* clock = nullptr;  // required: creationTimestamp, deletionTimestamp
    // Events kept for watch resumption; older resourceVersions get 410 Expired.
    size_t watch_history = 10000;
    // "" = in memory only. Otherwise the directory holding the write log (created if absent).
    std::string data_dir;
  };

  // Opens the store, replaying data_dir when it holds state; creates the default namespaces
  // (default, kube-system, kube-public, kube-node-lease) and the system PriorityClasses
  // (system-node-critical, system-cluster-critical) and the bootstrap RBAC policy
  // (bootstrap_policy.h: cluster-admin and the rest) when missing. `registry` must outlive
  // the store. Errors: Internal/InvalidArgument naming the file when the state cannot be read.
  static Result<std::unique_ptr<Store>> Open(Registry* registry, Options options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Result<nlohmann::json> Get(const GroupResource& gr, std::string_view ns,
                             std::string_view name) const;
  // InvalidArgument for a malformed selector or continue token (HTTP 400).
  Result<ListResult> List(const GroupResource& gr, const ListOptions& options) const;

  // ns is ignored for cluster-scoped types; for namespaced ones it wins over
  // metadata.namespace only when the object has none (a mismatch is the REST layer's 400).
  // Returns the stored object.
  Result<nlohmann::json> Create(const GroupResource& gr, std::string_view ns,
                                nlohmann::json object, const WriteOptions& options = {});
  // Replaces the object named by metadata.name. See the header comment for the semantics.
  Result<nlohmann::json> Update(const GroupResource& gr, std::string_view ns,
                                nlohmann::json object, const WriteOptions& options = {});
  // Read-modify-write with retries on conflict: mutate(&obj) edits a copy of the current
  // object (return an error to abort); then Update with the read resourceVersion. mutate runs
  // without the lock held and may run more than once.
  Result<nlohmann::json> Modify(const GroupResource& gr, std::string_view ns,
                                std::string_view name,
                                const std::function<Status(nlohmann::json*)>& mutate,
                                const WriteOptions& options = {});
  Result<DeleteResult> Delete(const GroupResource& gr, std::string_view ns, std::string_view name,
                              const DeleteOptions& options = {});

  Result<std::unique_ptr<Watcher>> Watch(const WatchOptions& options);

  // The latest committed resourceVersion.
  uint64_t resource_version() const;
  // The oldest resourceVersion a watch can still resume from.
  uint64_t oldest_watchable() const;
  Registry* registry() const { return registry_; }
  // Closes every watcher (server shutdown). Further writes still work.
  void CloseWatchers();

 private:
  friend class Watcher;
  Store(Registry* registry, Options options);
  struct Key;
  using Bucket = std::map<std::string, ObjectPtr>;  // "ns/name" -> object

  Status Load();
  Result<ResourceType> TypeOf(const GroupResource& gr) const;
  // Under mu_: commit a put/remove, append history, notify, persist.
  void CommitLocked(EventType type, const ResourceType& t, ObjectPtr object, ObjectPtr old);
  Result<nlohmann::json> UpdateLocked(const ResourceType& t, std::string_view ns,
                                      nlohmann::json object, const WriteOptions& options);
  void RemoveLocked(const ResourceType& t, const std::string& key, ObjectPtr old,
                    std::vector<std::string>* ns_to_check);
  Result<DeleteResult> DeleteLocked(const ResourceType& t, std::string_view ns,
                                    std::string_view name, const DeleteOptions& options);
  void DeleteNamespaceContentsLocked(const std::string& ns);
  void DeleteDependentsLocked(const std::string& ns, const std::string& owner_uid,
                              bool orphan);
  void MaybeFinishNamespaceLocked(const std::string& ns);
  std::string NowString() const;
  std::string NewUid();
  std::string RandomSuffix(size_t n);
  void Unregister(Watcher* w);

  Registry* const registry_;
  const Options options_;
  mutable std::mutex mu_;
  std::map<GroupResource, Bucket> data_;
  std::deque<WatchEvent> history_;
  std::set<Watcher*> watchers_;
  uint64_t rv_ = 0;
  uint64_t random_state_;
  uint32_t next_ip_ = 10;
  std::unique_ptr<Persister> persister_;
};

}  // namespace kdr::kubesim
