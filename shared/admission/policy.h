#pragma once

// Policy: the one-method handler every admission decision goes through, a chain that composes
// policies, and the product's policies (their rules are documented at each factory).
//
// Contract for every Handle: decides from the request and the in-memory StateCache only (never an
// API call), is thread-safe (called from many server threads at once), and should not throw;
// the Webhook still guards each call and turns an exception into Errored(500) with the uid.
// A policy answers requests outside its scope with Allowed() and an empty `policy`.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "admission/response.h"

namespace kdr::admission {

struct Request;
class StateCache;

class Policy {
 public:
  virtual ~Policy() = default;
  virtual Response Handle(const Request& request) const = 0;
};

// Runs policies in order. The first response that is not allowed, or that carries a patch, is the
// answer; otherwise the answer is allowed, attributed to the first policy that claimed the request,
// with every policy's warnings gathered. Does not own the policies.
class PolicyChain final : public Policy {
 public:
  explicit PolicyChain(std::vector<const Policy*> policies) : policies_(std::move(policies)) {}
  Response Handle(const Request& request) const override;

 private:
  const std::vector<const Policy*> policies_;
};

// Wraps `policy` (not owned; must outlive the guard) so that no decision taken from a cache out
// of sync with the API server goes unsaid: while `cache` is not Synced() (a kind not listed yet,
// or its watch broken since its last list), a refusal's message ends with what is out of date,
// since when and why, and an allowed answer carries the same as a warning. The webhook is unready
// meanwhile (/readyz fails), so only callers that reach it anyway meet this. Costs one shared
// lock per request while in sync.
std::unique_ptr<Policy> NewCacheFreshnessGuard(const Policy* policy, const StateCache* cache);
// The text the guard adds, e.g. "decided from the webhook's cache while it is out of sync with
// the API server (drplans: watch failing since 2026-12-03T07:00:00Z: connection refused): the
// cluster may have changed since; retry once the webhook is ready". Empty when in sync.
std::string UnsyncedCacheNote(const StateCache& cache);

// The DR service account "system:serviceaccount:<dr_namespace>:kubectl-dr".
std::string DrServiceAccount(std::string_view dr_namespace);

// Fenced inventory PVCs ("fenced-pvc"). A PVC is fenced when it carries the label
// dr.kubectl-dr.dev/failed-over (any value). Rules:
//  - UPDATE of a fenced PVC (PATCH arrives as UPDATE) that changes spec: denied.
//  - UPDATE that removes the failed-over label or changes its value: denied, except while a
//    Failback DRRecovery is Running in the DR namespace, by its runner: the DR service account
//    or the user the recovery records in status.startedBy (failback is what unfences). Other metadata (annotations, other labels, finalizers) may change.
//  - DELETE of a fenced PVC: denied unless it is annotated kAllowDeleteAnnotation: "true".
//  - CREATE/UPDATE of a Pod, or of a workload whose pod template would run pods (Deployment,
//    StatefulSet, ReplicaSet, ReplicationController with replicas > 0; DaemonSet; Job and
//    CronJob not suspended), that declares a fenced PVC of its namespace with a read-write
//    source: denied, whatever its containers do. A volume is read-only only when it says
//    persistentVolumeClaim.readOnly: true or the claim is bound to a read-only PV: the node
//    attaches every declared volume and mounts it read-write otherwise (pod_volumes.h), so an
//    unused volume, read-only volumeMounts and raw block devices do not change the answer. A
//    StatefulSet whose volumeClaimTemplates would claim a fenced PVC ("<tpl>-<sts>-<n>") is
//    denied too. A Pod UPDATE (including pods/ephemeralcontainers) is denied only when it adds
//    a container's use of such a volume (pod volumes are immutable; refusing metadata updates
//    of a pod that predates the fence would protect nothing).
//  - UPDATE of the scale subresource of a Deployment, StatefulSet, ReplicaSet or
//    ReplicationController that raises replicas, when its pod template (from the cache: a Scale
//    carries none) declares a fenced PVC read-write or its claim templates collide: denied.
//    Scaling down is always allowed.
//  - UPDATE of a Namespace labelled dr.kubectl-dr.dev/fenced: "true" that removes or changes
//    the label while the namespace holds a fenced PVC: denied, naming the PVCs and plans, with
//    the same failback exception as the PVC label.
// Looks fenced PVCs up in the cache; a DELETE/UPDATE reads the PVC from oldObject.
inline constexpr std::string_view kAllowDeleteAnnotation = "dr.kubectl-dr.dev/allow-delete";
std::unique_ptr<Policy> NewFencedPvcPolicy(const StateCache* cache, std::string dr_namespace);

// Spent plans ("spent-plan"). Rules:
//  - CREATE of a DRRecovery whose plan (spec.planRef.name, same namespace) is Spent: denied.
//  - UPDATE of such a DRRecovery (main resource or status) changing spec or status: denied,
//    unless it is the recovery that spent the plan (status.spentBy), whose journal goes on.
//    Metadata-only updates (labels, finalizers) stay allowed so it can be cleaned up.
//  - UPDATE of a finished DRRecovery (phase Succeeded or Failed) that resets its status to a
//    non-finished phase: denied (re-running a finished recovery).
//  - UPDATE of a Spent DRPlan changing spec: denied; changing status.phase away from Spent, or
//    spentBy/spentAt, through the main resource or drplans/status: denied.
// A DRRecovery whose plan is not in the cache is allowed with a warning.
std::unique_ptr<Policy> NewSpentPlanPolicy(const StateCache* cache);

}  // namespace kdr::admission

namespace kdr::admission {

class TransformEngine;

// Transforms on restore ("transforms", mutating). Rules: a CREATE of an object carrying the
// label dr.kubectl-dr.dev/recovery=<name> gets the transforms of DRRecovery <name> in the DR
// namespace: its resource modifiers (spec.transforms.resourceModifiers.configMapRef, a ConfigMap
// in the DR namespace, compiled once per resourceVersion) and VM options (spec.transforms.vm),
// answered as a JSONPatch from the object to its transformed form. Denied, saying which, when the
// recovery or the ConfigMap does not exist, when the modifier file is invalid, or when a rule
// fails (naming the rule and why). Anything else (no label, not a CREATE): allowed, untouched.
// `engine` may be null (a build without the transform engine): a labelled object whose recovery
// asks for transforms is then refused with a 500 saying so, never silently left untransformed.
std::unique_ptr<Policy> NewTransformsPolicy(const StateCache* cache, const TransformEngine* engine,
                                            std::string dr_namespace);

}  // namespace kdr::admission
