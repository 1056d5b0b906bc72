#pragma once

// Verifying a recovery (DESIGN.md section 3, step 11): the restored workloads run their desired
// replicas on the target. The time this takes ends the RTO.

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::dr {

// One workload: {"deployment shop/web", 3, 1}. `ready` is what its status reports; a workload
// whose ready count reached `want` may still wait for its rollout (see WaitReady).
struct WorkloadReadiness {
  std::string object;
  int64_t want = 0;
  int64_t ready = 0;
};

struct VerifyOptions {
  std::vector<std::string> namespaces;  // REQUIRED, not empty
  // Only workloads labelled dr.kubectl-dr.dev/recovery=<recovery>; "" = all.
  std::string recovery;
  std::chrono::nanoseconds timeout{std::chrono::minutes(10)};
  // Called after each poll with every workload (sorted by kind, then namespace/name); may be
  // empty.
  std::function<void(const std::vector<WorkloadReadiness>&)> progress;
  // The longest pause between two polls: the first pauses are poll_interval/16, doubling up to
  // it, so a workload ready at once is seen within tens of milliseconds.
  std::chrono::nanoseconds poll_interval{std::chrono::seconds(1)};
};

// Polls, through env.clock, pausing poll_interval/16 then twice as long each time up to
// poll_interval, until every Deployment, StatefulSet and DaemonSet
// of the namespaces, and every KubeVirt VirtualMachine when discovery serves kubevirt.io/v1
// virtualmachines, is ready:
//   Deployment     want spec.replicas (absent: 1); ready status.readyReplicas; done when
//                  readyReplicas and updatedReplicas reach want
//   StatefulSet    want spec.replicas (absent: 1); ready status.readyReplicas
//   DaemonSet      want status.desiredNumberScheduled; ready status.numberReady
//   VirtualMachine want 1 unless spec.runStrategy is Halted or spec.running false (then 0);
//                  ready 1 when status.ready
// want 0 is done at once (but a DaemonSet's 0 only once its controller has observed it); otherwise
// a status whose observedGeneration is behind metadata.generation is not done (it describes an
// older spec). Returns the final readiness; no workload at all is done at once.
//
// Errors: InvalidArgument (no namespaces, a bad namespace name or recovery name, a negative
// timeout, a poll_interval not positive) and NotFound (namespaces that do not exist) before the
// first poll; DeadlineExceeded after timeout listing every workload not ready ("deployment
// shop/web: 1 of 3 ready") with the reason its status gives (a ReplicaFailure condition,
// Progressing ProgressDeadlineExceeded, a VM's Failure condition or printableStatus, replicas not
// yet updated, a status not yet observed); Cancelled when stop is requested; the client's errors.
// REQUIRES: env.clock is set.
Result<std::vector<WorkloadReadiness>> WaitReady(kube::Client& cluster, const Env& env, const VerifyOptions& options,
                                                 std::stop_token stop = {});

}  // namespace kdr::dr
