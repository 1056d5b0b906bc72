#include "inventory/replace_volume.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "base/clock.h"
#include "base/strings.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kdr::inventory {
namespace {

using nlohmann::json;

const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};
const kube::Gvr kPods{"", "v1", "pods"};
constexpr std::string_view kFieldManager = "kubectl-dr";

// The pods of ns that declare claim `claim`, "ns/name".
std::vector<std::string> PodsUsing(kube::Client& target, const std::string& ns, const std::string& claim) {
  std::vector<std::string> out;
  Result<json> pods = target.ListAll(kPods, ns);
  if (!pods.ok() || !pods->contains("items")) return out;
  for (const json& pod : (*pods)["items"]) {
    const json& volumes = kube::FieldAt(pod, {"spec", "volumes"});
    if (!volumes.is_array()) continue;
    for (const json& v : volumes) {
      if (kube::StringField(v, {"persistentVolumeClaim", "claimName"}) == claim) {
        out.push_back(ns + "/" + kube::StringField(pod, {"metadata", "name"}));
        break;
      }
    }
  }
  return out;
}

// Polls until ns/name is gone (NotFound), up to `timeout` on the client's clock.
Status WaitGone(kube::Client& target, const kube::Gvr& gvr, const std::string& ns, const std::string& name,
                const std::string& what, std::chrono::milliseconds timeout, std::stop_token stop) {
  Clock& clock = *target.env().clock;
  const auto deadline = clock.Monotonic() + timeout;
  std::chrono::milliseconds pause(50);
  for (;;) {
    Result<json> r = target.Get(gvr, ns, name);
    if (!r.ok() && r.status().IsNotFound()) return Status::Ok();
    if (!r.ok()) return r.status().WithContext("waiting for " + what + " to go");
    if (clock.Monotonic() >= deadline) {
      return Status::DeadlineExceeded(what + " is still there after " + std::to_string(timeout.count() / 1000) +
                                      "s of waiting for its deletion; run again once it is gone");
    }
    if (!clock.SleepFor(pause, stop)) return Status::Cancelled("stopped while waiting for " + what + " to go");
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

// Sets the reclaim policy of PV `name` (as `pv` was read; null: read it) to Retain, so that
// deleting it, or its claim, keeps the volume. Ok when it is gone.
Status KeepVolume(kube::Client& target, const std::string& name, const json* pv) {
  Result<json> read = pv != nullptr ? Result<json>(*pv) : target.Get(kVolumes, "", name);
  if (!read.ok()) return read.status().IsNotFound() ? Status::Ok() : read.status().WithContext("reading persistentvolume " + name);
  if (kube::StringField(*read, {"spec", "persistentVolumeReclaimPolicy"}) == "Retain") return Status::Ok();
  kube::PatchOptions po;
  po.field_manager = std::string(kFieldManager);
  const json keep = {{"spec", {{"persistentVolumeReclaimPolicy", "Retain"}}}};
  Result<json> r = target.Patch(kVolumes, "", name, kube::PatchType::kMergePatch, keep, po);
  if (!r.ok() && !r.status().IsNotFound()) {
    return r.status().WithContext("keeping the volume of persistentvolume " + name + " (reclaim policy Retain)");
  }
  return Status::Ok();
}

}  // namespace

std::string VolumeIdentity(const json& pv) {
  static const std::set<std::string> kNotSource = {
      "capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy", "storageClassName",
      "mountOptions", "volumeMode", "nodeAffinity", "volumeAttributesClassName"};
  const json& spec = kube::FieldAt(pv, {"spec"});
  if (!spec.is_object()) return "";
  std::string out;
  for (auto it = spec.begin(); it != spec.end(); ++it) {
    if (kNotSource.count(it.key())) continue;
    const json& v = it.value();
    std::string id;
    if (it.key() == "csi") {
      id = kube::StringField(v, {"driver"}) + "/" + kube::StringField(v, {"volumeHandle"});
    } else if (it.key() == "hostPath" || it.key() == "local") {
      id = kube::StringField(v, {"path"});
    } else if (it.key() == "nfs") {
      id = kube::StringField(v, {"server"}) + ":" + kube::StringField(v, {"path"});
    } else {
      id = v.dump();
    }
    out += (out.empty() ? "" : ";") + it.key() + ":" + id;
  }
  return out;
}

std::string VolumeReplacement::Note() const {
  return "replaced: the target's PV named volume " + stale + " (kept: reclaim policy Retain)" +
         (claim_name.empty() ? "" : "; its claim " + claim_namespace + "/" + claim_name + " is made anew");
}

Status DeleteClaim(kube::Client& target, const json& claim, std::string_view why, std::chrono::milliseconds timeout,
                   std::stop_token stop) {
  const std::string ns = kube::Namespace(claim);
  const std::string name = kube::Name(claim);
  const std::string what = "persistentvolumeclaim " + ns + "/" + name + " (" + std::string(why) + ")";
  // Deleted already by an earlier, interrupted run: waited for all the same.
  if (kube::FieldAt(claim, {"metadata", "deletionTimestamp"}).is_null()) {
    // A bound claim's deletion deletes its volume under reclaim policy Delete.
    if (const std::string volume = kube::StringField(claim, {"spec", "volumeName"}); !volume.empty()) {
      KDR_RETURN_IF_ERROR(KeepVolume(target, volume, nullptr).WithContext("deleting " + what));
    }
    kube::DeleteOptions d;
    d.precondition_uid = kube::Uid(claim);
    Result<json> r = target.Delete(kClaims, ns, name, d);
    if (!r.ok() && !r.status().IsNotFound()) return r.status().WithContext("deleting " + what);
  }
  Status gone = WaitGone(target, kClaims, ns, name, what, timeout, stop);
  if (gone.code() == StatusCode::kDeadlineExceeded) {
    // kube-controller-manager's pvc-protection keeps a claim that a pod declares.
    const std::vector<std::string> users = PodsUsing(target, ns, name);
    if (!users.empty()) {
      return Status(gone.code(), gone.message() + "; pods still use it (" + Join(users, ", ") +
                                     "), and a claim in use is not deleted: stop them (kubectl dr quiesce) first");
    }
  }
  return gone;
}

Result<json> ReplaceVolume(kube::Client& target, const json& found, const json& want, std::chrono::milliseconds timeout,
                           std::stop_token stop, VolumeReplacement* replaced) {
  const std::string name = kube::Name(found);
  replaced->pv = name;
  replaced->stale = VolumeIdentity(found);
  KDR_RETURN_IF_ERROR(KeepVolume(target, name, &found).WithContext("keeping the target's stale volume " +
                                                                    replaced->stale));
  const std::string claim_ns = kube::StringField(found, {"spec", "claimRef", "namespace"});
  const std::string claim = kube::StringField(found, {"spec", "claimRef", "name"});
  if (!claim.empty()) {
    Result<json> bound = target.Get(kClaims, claim_ns, claim);
    if (bound.ok() && kube::StringField(*bound, {"spec", "volumeName"}) == name) {
      replaced->claim_namespace = claim_ns;
      replaced->claim_name = claim;
      KDR_RETURN_IF_ERROR(DeleteClaim(target, *bound, "bound to the stale volume", timeout, stop));
    } else if (!bound.ok() && !bound.status().IsNotFound()) {
      return bound.status().WithContext("reading persistentvolumeclaim " + claim_ns + "/" + claim);
    }
  }
  Result<json> r = target.Delete(kVolumes, "", name, {});
  if (!r.ok() && !r.status().IsNotFound()) return r.status().WithContext("deleting the stale persistentvolume " + name);
  KDR_RETURN_IF_ERROR(WaitGone(target, kVolumes, "", name, "persistentvolume " + name, timeout, stop));
  Result<json> made = target.Create(kVolumes, "", want);
  if (!made.ok()) return made.status().WithContext("creating persistentvolume " + name + " anew");
  return made;
}

}  // namespace kdr::inventory
