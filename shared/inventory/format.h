#pragma once

// The inventory's on-disk format, v1: what a capture writes to the inventory volume and what a
// restore reads back, on another cluster, possibly after the writer died mid-capture.
//
// Layout, under the inventory directory (the mounted inventory volume):
//
//   kubectl-dr/inventory/v1/
//     current                      the pointer: {"formatVersion":1,"generation":7,
//                                  "index":"generations/00000007/index.json","indexSha256":"..."}
//     lock                         held by the running capture (LockInfo as JSON)
//     generations/00000007/        one folder per capture ("generation"), numbered from 1
//       index.json                 the Index below
//       objects/<group|core>/<resource>/<namespace|_cluster>/<name>.json
//                                  one object per file, as the API server returned it
//
// A capture (Writer) takes the lock, writes every object into a new generation folder, makes
// them durable together, writes index.json (with each file's sha256), then makes the generation
// current by replacing `current` atomically (temp file + rename). Killed at any instant, it leaves
// the previous generation current and whole; the next capture removes what it left. The last
// `keep` complete generations (default 3) are kept, older ones and leftovers are removed.
//
// A Reader (Inventory::Open) checks the pointer, the index and every object's size and sha256, and
// refuses with one error naming the file and what to do: a torn generation (a file missing, a
// hash that differs: "use the previous generation: --generation 6"), an unknown format version (a
// `v2` layout or index: upgrade kubectl-dr), or an empty inventory.
//
// All file access goes through the injected FileSystem (base/fs.h), so tests use an in-memory one
// and inject faults at every write.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "inventory/volume_map.h"

namespace kdr {
class FileSystem;
}

namespace kdr::inventory {

inline constexpr int kFormatVersion = 1;
// The layout folder under the inventory directory; a future format gets its own (".../v2").
inline constexpr std::string_view kLayoutPath = "kubectl-dr/inventory/v1";
inline constexpr int kDefaultKeep = 3;
// A capture renews its lock at least this often; a lock not renewed for kDefaultStaleLockAfter
// belongs to a dead capture and is broken by the next one.
inline constexpr std::chrono::seconds kLockRenewEvery{60};
inline constexpr std::chrono::seconds kDefaultStaleLockAfter{600};

struct PlanRef {
  std::string namespace_name;
  std::string name;
  friend bool operator==(const PlanRef&, const PlanRef&) = default;
};

// The cluster the inventory was captured from.
struct SourceCluster {
  std::string server;           // the API server URL the capture used
  std::string kube_system_uid;  // metadata.uid of its kube-system namespace: stable per cluster
  friend bool operator==(const SourceCluster&, const SourceCluster&) = default;
};

// One captured object: its identity, its file (relative to the generation folder) and what the
// file must hold.
struct ObjectEntry {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural: "deployments"
  std::string kind;
  std::string namespace_name;  // "" for cluster-scoped objects
  std::string name;
  std::string file;    // "objects/apps/deployments/shop/web.json"
  uint64_t size = 0;   // bytes
  std::string sha256;  // lowercase hex of the file's bytes
  friend bool operator==(const ObjectEntry&, const ObjectEntry&) = default;
};

// What the capture could not read (a list or get the server refused or failed): missing from the
// inventory, and said so rather than silently dropped.
struct UnlistedResource {
  std::string group;
  std::string version;
  std::string resource;
  std::string namespace_name;  // "" for cluster-scoped
  std::string name;            // "" for a list; the object for a get
  std::string code;            // StatusCodeName: "permission denied"
  std::string message;         // the server's reason
  friend bool operator==(const UnlistedResource&, const UnlistedResource&) = default;
};

// index.json. Times are written in RFC 3339 (second precision).
struct Index {
  int format_version = kFormatVersion;
  int64_t generation = 0;
  PlanRef plan;
  std::vector<std::string> namespaces;  // the plan's namespaces that were captured
  SourceCluster source;
  Clock::WallTime capture_start;
  // When the last object was read: the recovery point (RPO) every later step reports.
  Clock::WallTime capture_end;
  std::string kubectl_dr_version;  // kdr::Version() of the writer
  std::vector<ObjectEntry> objects;
  VolumeMap volumes;
  // Objects left out, by reason (capture.h: kLeftOut*), e.g. {"owned-by-controller": 12}.
  std::map<std::string, int64_t> left_out;
  std::vector<UnlistedResource> unlisted;
  std::vector<std::string> warnings;  // e.g. a StorageClass a claim names that does not exist
};

nlohmann::json ToJson(const Index& index);
// InvalidArgument naming `what` and the field when a field is missing or mistyped;
// FailedPrecondition when formatVersion is not kFormatVersion (checked first).
Result<Index> IndexFromJson(const nlohmann::json& json, std::string_view what);
nlohmann::json ToJson(const VolumeMapEntry& entry);
Result<VolumeMapEntry> VolumeMapEntryFromJson(const nlohmann::json& json, std::string_view what);

// Lowercase hex SHA-256 of data (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);

// <root>/kubectl-dr/inventory/v1
std::string LayoutDir(std::string_view root);
// <root>/kubectl-dr/inventory/v1/generations/00000007
std::string GenerationDir(std::string_view root, int64_t generation);
// The file of an object inside its generation folder:
// "objects/apps/deployments/shop/web.json", "objects/core/persistentvolumes/_cluster/pv-1.json".
// Names too long for one path component are shortened and suffixed with a hash of the name.
std::string ObjectFile(std::string_view group, std::string_view resource,
                       std::string_view namespace_name, std::string_view name);

// The content of the lock file.
struct LockInfo {
  std::string holder;   // "HOST pid 4242": who to look for
  PlanRef plan;
  Clock::WallTime started;
  Clock::WallTime renewed;  // last renewal; stale once older than the writer's stale_lock_after
};

struct WriterOptions {
  PlanRef plan;
  // Who holds the lock, for the message a second capture gets. "" = "<hostname> pid <pid>".
  std::string holder;
  // Complete generations to keep, the new one included. REQUIRES: >= 1.
  int keep = kDefaultKeep;
  // A lock not renewed for this long is a dead capture's: broken, with a warning.
  std::chrono::seconds stale_lock_after = kDefaultStaleLockAfter;
};

// Writes one generation. Begin takes the lock, Add writes objects, Commit makes the generation
// current. Without Commit (an error, an exception, ^C) the destructor removes what was written
// and releases the lock, best effort; a killed process leaves both, and the next capture breaks
// the lock once stale and removes the leftovers.
//
// Thread-safe: Add may be called from several threads.
class Writer {
 public:
  // Takes the lock in <root>/kubectl-dr/inventory/v1 (creating the folders) and starts the
  // generation after the highest one present. Errors: Aborted naming the holder, its plan and
  // since when when another capture holds the lock; InvalidArgument for keep < 1; the file
  // system's error naming the path.
  // REQUIRES: env.fs and env.clock are set and outlive the writer; env.logger may be null.
  static Result<std::unique_ptr<Writer>> Begin(const Env& env, std::string root,
                                               WriterOptions options);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  int64_t generation() const { return generation_; }
  // The generation folder being written.
  const std::string& dir() const { return dir_; }

  // Writes one object. `entry` names it (group, version, resource, kind, namespace, name); file,
  // size and sha256 are filled in and the completed entry returned. AlreadyExists when the same
  // object was added before; FailedPrecondition after Commit.
  Result<ObjectEntry> Add(ObjectEntry entry, const nlohmann::json& object);
  // Add of an object already serialized.
  Result<ObjectEntry> AddSerialized(ObjectEntry entry, std::string_view data);

  // Makes the generation current: makes the object files durable, writes index.json from
  // `index` (its generation, format version, kubectl-dr version and objects are set here, from
  // what was added, sorted by file), replaces the pointer, prunes to `keep` generations and
  // releases the lock. Returns the index as written. FailedPrecondition when nothing was added
  // (an empty inventory is never made current); Aborted when the lock was broken by another
  // capture meanwhile (nothing is made current). A pruning failure is logged, not returned: the
  // generation is current by then.
  Result<Index> Commit(Index index);

 private:
  Writer(const Env& env, std::string root, WriterOptions options);
  Status RenewLockIfDue();
  Status CheckLockIsOurs() const;
  void Prune(int64_t current);
  void Cleanup();

  const Env env_;
  const std::string root_;
  const WriterOptions options_;
  const std::string layout_;
  int64_t generation_ = 0;
  std::string dir_;
  std::string lock_text_;  // what we wrote into the lock
  LockInfo lock_;
  mutable std::mutex mu_;
  Clock::MonoTime last_renewal_;        // guarded by mu_
  std::vector<ObjectEntry> entries_;    // guarded by mu_
  std::set<std::string> files_;         // guarded by mu_
  std::set<std::string> made_dirs_;     // guarded by mu_
  bool committed_ = false;              // guarded by mu_
};

// A generation as listed, before verification.
struct GenerationInfo {
  int64_t generation = 0;
  bool current = false;
  // Ok when index.json reads and parses (object hashes are not checked here); otherwise why not.
  Status state;
  std::optional<Index> index;
};

// An opened, verified generation. Copyable; refers to the FileSystem it was opened with, which
// must outlive it.
class Inventory {
 public:
  // Opens the current generation, or `generation` when given, and verifies the pointer, the index
  // and every object file (size, sha256). Errors, each naming the file and what to do:
  //   NotFound            no inventory under root (no layout folder, or no `current`), or the
  //                       requested generation is not kept (the kept ones are listed)
  //   FailedPrecondition  a format this version cannot read (a v2 layout, a formatVersion 2
  //                       index: "upgrade kubectl-dr"); a torn generation (pointer unreadable,
  //                       index missing, not JSON of the v1 schema or not the one the pointer
  //                       names, an object missing, its size or sha256 differing: "use the
  //                       previous generation: --generation N" when one is kept); an empty
  //                       inventory (nothing ever completed, or an index listing no object)
  static Result<Inventory> Open(const FileSystem& fs, std::string root,
                                std::optional<int64_t> generation = std::nullopt);

  // Every generation folder present, newest first, and which one is current. NotFound as Open
  // for a missing inventory; FailedPrecondition for a newer format.
  static Result<std::vector<GenerationInfo>> ListGenerations(const FileSystem& fs,
                                                             std::string root);

  const Index& index() const { return index_; }
  int64_t generation() const { return index_.generation; }
  bool current() const { return current_; }
  // The generation folder.
  const std::string& dir() const { return dir_; }

  // Reads and parses one object, checking its sha256 again (the volume is not ours between Open
  // and the read). FailedPrecondition naming the file when it changed.
  Result<nlohmann::json> ReadObject(const ObjectEntry& entry) const;

 private:
  Inventory(const FileSystem* fs, std::string dir, Index index, bool current)
      : fs_(fs), dir_(std::move(dir)), index_(std::move(index)), current_(current) {}

  const FileSystem* fs_;
  std::string dir_;
  Index index_;
  bool current_ = false;
};

}  // namespace kdr::inventory
