#pragma once

// Feeding the StateCache: from the API server (CachePopulator: list+watch of each kind, relist on
// 410 Gone and after a lost connection, each kind marked synced after each list and stale from a
// watch failure until the next list is applied, so readiness tracks it), or from a
// fixed set of objects (SeedCache: serving offline, for development and benchmarks).
//
// What is watched, with the read-only RBAC of manifests/base/rbac.yaml:
//   drplans, drrecoveries, configmaps   in the DR namespace
//   persistentvolumeclaims              in every namespace (only fenced ones are kept)
//   persistentvolumes                   cluster-wide (only read-only ones are kept, by name)
//   deployments, statefulsets, replicasets (apps), replicationcontrollers
//                                       in every namespace (only those whose pod template declares
//                                       a claim read-write, reduced to the claim names: a Scale
//                                       request carries no template)

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "admission/cache.h"
#include "base/status.h"

namespace kdr {
class Logger;
namespace kube {
class Client;
}  // namespace kube
}  // namespace kdr

namespace kdr::admission {

// Which cache kind an object belongs to, from its apiVersion and kind; nullopt for others.
std::optional<CacheKind> CacheKindOf(const nlohmann::json& object);

// Applies one watch event (ADDED, MODIFIED, DELETED) of `kind` to the cache. InvalidArgument
// naming the object when it cannot be parsed (the cache is then unchanged).
Status ApplyEvent(StateCache* cache, CacheKind kind, std::string_view type,
                  const nlohmann::json& object);
// Replaces every entry of `kind` with `items` (a JSON array), then marks the kind synced.
// Objects that cannot be parsed are skipped and reported in the returned status.
Status ReplaceKind(StateCache* cache, CacheKind kind, const nlohmann::json& items);

// Loads objects (a JSON/YAML List, a JSON array, or multi-document YAML of DRPlans, DRRecoveries,
// PVCs and ConfigMaps) into the cache and marks every kind synced. InvalidArgument naming the
// document for an unparsable one or an object of another kind.
Status SeedCache(StateCache* cache, std::string_view text, std::string_view what);

class CachePopulator {
 public:
  // None owned; all must outlive the populator.
  CachePopulator(kube::Client* client, StateCache* cache, std::string dr_namespace,
                 Logger* logger);
  ~CachePopulator();  // Stop()
  CachePopulator(const CachePopulator&) = delete;
  CachePopulator& operator=(const CachePopulator&) = delete;

  // Starts one list+watch thread per kind. Errors that retrying cannot fix (forbidden, resource
  // not served) are logged and end that kind's thread: the cache then never syncs and /readyz
  // says so.
  void Start();
  // Stops the watches and joins their threads.
  void Stop();

 private:
  void Run(CacheKind kind, std::stop_token stop);

  kube::Client* const client_;
  StateCache* const cache_;
  const std::string dr_namespace_;
  Logger* const logger_;
  std::vector<std::jthread> threads_;
};

}  // namespace kdr::admission
