#pragma once

// Capture: reads a plan's workloads from the source cluster into a new inventory generation
// (format.h). What goes in:
//
//   - every object of every namespaced resource in the plan's namespaces, found through
//     discovery (custom resources included): resources that support list and create (what
//     cannot be created cannot be restored: metrics.k8s.io's PodMetrics), one version per
//     group (the preferred one);
//   - the plan's Namespace objects;
//   - the cluster-scoped objects they depend on: the PersistentVolumes bound to their claims, the
//     StorageClasses of those claims and volumes (and of StatefulSet claim templates), the
//     PriorityClasses and RuntimeClasses their pod specs and templates name, the
//     CustomResourceDefinitions of their custom resources, the ClusterRoleBindings whose subjects are their ServiceAccounts (or
//     the group system:serviceaccounts:<namespace>), and the ClusterRoles those bindings and the
//     namespaces' RoleBindings refer to.
//
// Left out, counted by reason in the index (kLeftOut* below): Pods, ReplicaSets and Jobs with a
// controller owner (the owner recreates them; a bare Pod is captured), ControllerRevisions,
// Endpoints, EndpointSlices, Events, Leases, service-account token Secrets, the kube-root-ca.crt
// ConfigMap, objects labelled dr.kubectl-dr.dev/exclude=true, kubectl-dr's own agent objects
// (labelled app.kubernetes.io/name=kubectl-dr and app.kubernetes.io/component=agent: `kubectl dr
// agent install` makes each site's, for its plan and its role, and the source's capture RBAC,
// restored on the target, would bind the restore agent's account to a role the target does not
// have), and cluster-scoped dependencies
// every cluster has by itself (RBAC bootstrap roles labelled kubernetes.io/bootstrapping=
// rbac-defaults, PriorityClasses named system-*).
//
// Objects are written as the API server returned them, with apiVersion and kind set (list items
// come without them); sanitizing is the restore's job. Listed objects keep the server's bytes
// (kube/raw_list.h: member order and escapes as sent, apiVersion and kind put first where
// missing); objects read by GET are written compact. Either reads back as the same object.
// Lists are paginated (limit/continue) and paced by the client's QPS limit. A list or get the
// server forbids (or no longer serves) is recorded in Index::unlisted, never silently dropped;
// any other failure (an answer that is not a List of objects among them) fails the capture and
// nothing is made current. The volume map has one entry per captured claim (and the plan's
// inventory claim), filled from the claim and its PV; the storage driver adds its identity
// through CaptureOptions::describe_volume.
//
// The index's capture_end, taken after the last read, is the recovery point (RPO).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/env.h"
#include "base/status.h"
#include "inventory/format.h"
#include "inventory/volume_map.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::inventory {

// The label that keeps an object out of the inventory.
inline constexpr std::string_view kExcludeLabel = "dr.kubectl-dr.dev/exclude";

// Index::left_out keys.
inline constexpr std::string_view kLeftOutOwnedByController = "owned-by-controller";
inline constexpr std::string_view kLeftOutControllerRevision = "controller-revision";
inline constexpr std::string_view kLeftOutEndpoints = "endpoints";
inline constexpr std::string_view kLeftOutEndpointSlice = "endpointslice";
inline constexpr std::string_view kLeftOutEvent = "event";
inline constexpr std::string_view kLeftOutLease = "lease";
inline constexpr std::string_view kLeftOutServiceAccountToken = "service-account-token";
inline constexpr std::string_view kLeftOutKubeRootCa = "kube-root-ca.crt";
inline constexpr std::string_view kLeftOutExcludeLabel = "excluded-by-label";
inline constexpr std::string_view kLeftOutBuiltIn = "built-in";
inline constexpr std::string_view kLeftOutKubectlDrAgent = "kubectl-dr-agent";

// Fills entry->storage (the storage driver's identity for the volume: Longhorn {"volume": NAME},
// Alletra {"volume": NAME, "group": RCG}) from the claim and its PV (null when the claim is not
// bound or the PV could not be read). Called once per volume map entry, from the capturing
// thread. An error fails the capture.
using DescribeVolume =
    std::function<Status(VolumeMapEntry* entry, const nlohmann::json& pvc, const nlohmann::json* pv)>;

struct CaptureOptions {
  PlanRef plan;
  // The plan's namespaces. REQUIRES: not empty, each a DNS-1123 label.
  std::vector<std::string> namespaces;
  // The plan's inventory claim: its volume gets a volume map entry with inventory=true (its
  // objects are captured only when it lives in one of the namespaces). Empty: none.
  std::string inventory_pvc_namespace;
  std::string inventory_pvc_name;
  // Objects per list page. REQUIRES: > 0.
  int64_t page_size = 500;
  // Passed to the Writer.
  int keep = kDefaultKeep;
  std::string holder;
  std::chrono::seconds stale_lock_after = kDefaultStaleLockAfter;
  // Optional: the storage driver's hook.
  DescribeVolume describe_volume;
};

// Captures into a new generation under `inventory_root` and makes it current; returns its index
// (Index::unlisted says what could not be read). Errors, all before anything is made current:
//   InvalidArgument     bad options (no namespace, a namespace that is not a DNS-1123 label, a
//                       page size < 1, keep < 1)
//   NotFound            plan namespaces that do not exist on the source, all named
//   Aborted             another capture holds the inventory lock (named)
//   the client's error  a list that failed otherwise (Unavailable, ...), with the resource named
// REQUIRES: env.fs and env.clock are set; env.logger may be null. The client's discovery is used
// as loaded (RestMapper caches it; it reloads once on a miss).
Result<Index> Capture(kube::Client& source, const Env& env, const std::string& inventory_root,
                      const CaptureOptions& options);

// The volume map entry of a claim as the capture writes it: the claim's name, volume and class,
// with what its PV says of the volume (capacity, access and volume modes, reclaim policy, CSI
// driver, handle, fsType and attributes) when `pv` (its bound PV) is given. `inventory` and
// `storage` are left to the caller.
VolumeMapEntry VolumeMapEntryFor(const nlohmann::json& claim, const nlohmann::json* pv);

// Why an object of this resource is left out of the inventory (a kLeftOut* key), or "" when it
// is captured. Exposed for tests and for `kubectl dr inventory show`.
std::string_view LeftOutReason(std::string_view group, std::string_view resource,
                               const nlohmann::json& object);

}  // namespace kdr::inventory
