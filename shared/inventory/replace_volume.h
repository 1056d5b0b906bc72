#pragma once

// Replacing a PersistentVolume that names another volume than the one a restore brings. A
// failback's old primary still holds the PV of the stale original (and the claim bound to it)
// while the volume that took over is another one; a PV's volume source is immutable, and so is a
// bound claim's spec.volumeName, so both are deleted and made anew. The stale volume itself is
// kept. Used by the restore engine under existing: update (restore.h) and by the workflow's
// inventory volume step (dr/workflow.h), which restores the inventory's own claim before the
// agent starts.
//
//   if (VolumeIdentity(found) != VolumeIdentity(want)) {
//     VolumeReplacement replaced;
//     KDR_ASSIGN_OR_RETURN(json pv, ReplaceVolume(target, found, want, timeout, stop, &replaced));
//     notes.push_back(replaced.Note());
//   }

#include <chrono>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace kdr::kube {
class Client;
}  // namespace kdr::kube

namespace kdr::inventory {

// What names a PV's volume, as one comparable string: "csi:DRIVER/HANDLE", "hostPath:PATH",
// "local:PATH", "nfs:SERVER:PATH"; any other source as "KEY:" and its JSON; several joined with
// ';'. Fields that are not the source (capacity, claimRef, reclaim policy, class, mount options,
// node affinity...) and server defaults (hostPath.type) do not count. "" without a spec.
std::string VolumeIdentity(const nlohmann::json& pv);

// What ReplaceVolume did, filled as it goes (so that a caller whose replacement failed half way
// still learns that the claim was deleted).
struct VolumeReplacement {
  std::string pv;     // the PV's name
  std::string stale;  // VolumeIdentity of the PV that was there
  // The claim that was bound to it, deleted to be made anew by the caller; empty when none was.
  std::string claim_namespace;
  std::string claim_name;

  // "replaced: the target's PV named volume hostPath:/data (kept: reclaim policy Retain); its
  // claim shop/data is made anew"
  std::string Note() const;
};

// Replaces `found` (the target's PV, as read) with `want` (the PV to create, of the same name):
//   1. found's reclaim policy is set to Retain (a merge patch), so deleting the PV keeps the
//      stale volume;
//   2. the claim found's claimRef names, when it is bound to found (spec.volumeName), is deleted
//      (DeleteClaim below) and waited for until gone; the caller makes it anew;
//   3. found is deleted and waited for until gone (its pv-protection finalizer goes with the
//      claim);
//   4. want is created, and returned as the server stored it.
// Idempotent: run again after an interruption at any point, it finishes (a claim deleting already
// is waited for, a PV gone is created). Waits poll through the client's Clock, each up to
// `timeout`. Errors: DeadlineExceeded naming what is still there (and, for a claim, the pods that
// still use it: a claim in use is not deleted); Cancelled when stopped; the server's error saying
// what was being done (the webhook refuses to delete a fenced claim: unfence it first).
Result<nlohmann::json> ReplaceVolume(kube::Client& target, const nlohmann::json& found, const nlohmann::json& want,
                                     std::chrono::milliseconds timeout, std::stop_token stop,
                                     VolumeReplacement* replaced);

// Deletes `claim` (as read from the target: only that very claim, by its uid, not one made since)
// unless it is deleting already, and waits until it is gone. The volume it is bound to is kept:
// its PV's reclaim policy is set to Retain first. `why` says what the claim is, for
// messages ("bound to the stale volume"). Ok when it is gone already. Errors as ReplaceVolume's.
Status DeleteClaim(kube::Client& target, const nlohmann::json& claim, std::string_view why,
                   std::chrono::milliseconds timeout, std::stop_token stop);

}  // namespace kdr::inventory
