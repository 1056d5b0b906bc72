#pragma once

// Quiescing a site (DESIGN.md section 3, step 2): before its volumes fail over, the workloads of
// the protected namespaces stop, so that what they wrote is flushed and replicated. Unquiesce
// brings them back (a drill's source, a failover abandoned before the point of no return).
//
// What each write leaves behind is enough to undo it and to run it again: every workload stopped
// carries what it ran with in an annotation, written before (or with) the write that stops it.
//
//   kReplicasAnnotation     on Deployments and StatefulSets: spec.replicas before, "3"
//   kRunStrategyAnnotation  on KubeVirt VirtualMachines: "runStrategy=Always" (any strategy but
//                           Halted) or "running=true" (VMs written with the older spec.running)

#include <chrono>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::dr {

inline constexpr std::string_view kReplicasAnnotation = "dr.kubectl-dr.dev/replicas";
inline constexpr std::string_view kRunStrategyAnnotation = "dr.kubectl-dr.dev/run-strategy";

struct QuiesceOptions {
  std::vector<std::string> namespaces;  // REQUIRED, not empty
  // How long Quiesce waits for the pods to go (0: check once).
  std::chrono::nanoseconds pod_timeout{std::chrono::minutes(5)};
  // dryRun=All on every write; Quiesce then does not wait.
  bool dry_run = false;
  // The longest pause between two looks at the pods: the first pauses are poll_interval/16,
  // doubling up to it, so pods that go at once are seen gone within tens of milliseconds.
  std::chrono::nanoseconds poll_interval{std::chrono::seconds(1)};
};

// One workload changed: {"deployment shop/web", "3 -> 0 replicas"},
// {"virtualmachine shop/vm", "runStrategy Always -> Halted"}.
struct QuiesceChange {
  std::string object;
  std::string change;
};

// The changes in the order they were written. Workloads already in the wanted state are not
// listed.
struct QuiesceResult {
  std::vector<QuiesceChange> changes;
};

// Scales every Deployment and StatefulSet of the namespaces to 0 through the scale subresource,
// after remembering its replicas in kReplicasAnnotation with a merge patch, then halts every
// KubeVirt VirtualMachine (kubevirt.io/v1 virtualmachines, when discovery serves them): one merge
// patch sets spec.runStrategy Halted (or spec.running false) and remembers the old value. Then it
// waits, polling through env.clock (pauses of poll_interval/16, doubling up to poll_interval),
// until no pod owned by those workloads remains, directly or through their ReplicaSets
// (Deployments) and VirtualMachineInstances (VMs);
// a pod being deleted still counts. Other pods (bare pods, Jobs', DaemonSets') are not waited for.
// ReplicaSets owned by Deployments are not scaled directly: their Deployment's controller does it.
//
// Idempotent: a workload already at 0 (halted) is left alone and keeps its annotation, so a
// second run never overwrites the remembered count with 0; a workload scaled up since (by hand)
// is remembered again at its new count.
//
// A workload deleted while this runs is skipped.
//
// Errors, all before any write: InvalidArgument for no namespaces, a name that is not a namespace
// name, a negative pod_timeout or a poll_interval not positive; NotFound naming every namespace
// that does not exist (with the nearest name).
// Then: DeadlineExceeded after pod_timeout naming the pods still there (the workloads stay
// scaled down: run again to keep waiting); Cancelled when stop is requested; the client's errors
// with the workload they concern. REQUIRES: env.clock is set.
Result<QuiesceResult> Quiesce(kube::Client& cluster, const Env& env, const QuiesceOptions& options,
                              std::stop_token stop = {});

// The reverse, without waiting: every Deployment and StatefulSet carrying kReplicasAnnotation is
// scaled back to the remembered count (scale subresource) and then loses the annotation; every VM
// carrying kRunStrategyAnnotation gets its remembered spec.runStrategy (or spec.running) back and
// loses the annotation in one merge patch. A workload no longer stopped (scaled up or started by
// hand since) keeps what it runs with and only loses the annotation. Workloads without the
// annotation are left alone. pod_timeout is not used.
//
// Idempotent: a crash between the scale and the annotation's removal is finished by the next run.
// Errors, all before any write: those of Quiesce, and InvalidArgument naming every workload whose
// annotation does not parse (the annotation and its value). Then the client's errors with the
// workload they concern (an admission denial, e.g. on a fenced site, is PermissionDenied).
// REQUIRES: env.clock is set.
Result<QuiesceResult> Unquiesce(kube::Client& cluster, const Env& env, const QuiesceOptions& options,
                                std::stop_token stop = {});

}  // namespace kdr::dr
