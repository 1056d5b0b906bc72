#pragma once

// Fencing the old primary (DESIGN.md section 3, step 10): the claims whose volumes failed over
// are labelled dr.kubectl-dr.dev/failed-over=<plan> and their namespaces
// dr.kubectl-dr.dev/fenced=true, so the webhook there refuses any writable use of them (no split
// brain when a quiesced application is scaled back up on the old primary).
//
// The namespace label is what sends a namespace's pods to the webhook at all (its
// namespaceSelector), so namespaces are labelled before their claims: a crash between the two
// writes leaves a fenced namespace around an unlabelled claim, never a failed-over claim that
// nothing checks. Fencing again repairs the opposite state (left by a hand edit before the
// webhook guarded the label, or by an older fence): see FailedOverClaims.

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::dr {

struct ClaimRef {
  std::string namespace_name;
  std::string name;
};

// What Fence did to one object: "namespace shop", "persistentvolumeclaim shop/inv".
struct FenceChange {
  std::string object;
  bool changed = false;  // false: it already carried the label
};

// Labels every distinct namespace of `claims` fenced, then every claim failed-over=`plan`, with
// merge patches (idempotent: a labelled object is left alone and reported unchanged). A claim
// labelled failed-over by another plan is FailedPrecondition naming both plans, checked for every
// claim before the first write; a missing claim or namespace is NotFound naming it, likewise
// before any write. With dry_run the server checks each patch (dryRun=All) and nothing is
// persisted.
Result<std::vector<FenceChange>> Fence(kube::Client& source, std::string_view plan,
                                       const std::vector<ClaimRef>& claims, bool dry_run = false);

// Failback (DESIGN.md section 3): lifts the fence of the namespaces `namespaces` on the old
// primary, so the workloads coming back may mount their claims again. Every claim there labelled
// failed-over (by whichever plan: the failback plan is not the plan that fenced) loses the label,
// then every one of those namespaces that no longer holds a failed-over claim loses its fenced
// label: the reverse order of Fence, so a crash between the two leaves a fenced namespace, never a
// failed-over claim in an unfenced one. Claims elsewhere (the spent plan's inventory claim in the
// DR namespace) stay fenced. The webhook admits the label's removal only from a running failback
// (admission/policy.h): PermissionDenied otherwise, naming the object. Idempotent; a missing
// namespace is skipped. With dry_run the server checks each patch and nothing is persisted.
Result<std::vector<FenceChange>> Unfence(kube::Client& cluster, const std::vector<std::string>& namespaces,
                                         bool dry_run = false);

// The failed-over claims of `plan` on the cluster (label selector), sorted.
Result<std::vector<ClaimRef>> FailedOverClaims(kube::Client& cluster, std::string_view plan);

// The claims `recovery` restored on the DR site (labelled dr.kubectl-dr.dev/recovery=<recovery>),
// sorted: the claims whose data now lives there, so the old primary's copies must not be written.
// `kubectl dr fence` fences them on a source that was down during the failover.
Result<std::vector<ClaimRef>> RestoredClaims(kube::Client& target, std::string_view recovery);

}  // namespace kdr::dr
