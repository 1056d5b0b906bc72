#include "dr/inventory_volume.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "inventory/capture.h"
#include "inventory/format.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kdr::dr {
namespace {

using nlohmann::json;

const kube::Gvr kPlans{std::string(kGroup), std::string(kVersion), std::string(kPlanResource)};
const kube::Gvr kClaims{"", "v1", "persistentvolumeclaims"};
const kube::Gvr kVolumes{"", "v1", "persistentvolumes"};

// What the source's API server assigned: meaningless on the target, refused by some servers on
// create (a resourceVersion), and noise in the plan's status.
json Sanitized(json pv) {
  if (pv.contains("metadata") && pv["metadata"].is_object()) {
    for (const char* f : {"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                          "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers"}) {
      pv["metadata"].erase(f);
    }
  }
  pv.erase("status");
  if (pv.contains("spec") && pv["spec"].contains("claimRef") && pv["spec"]["claimRef"].is_object()) {
    pv["spec"]["claimRef"].erase("uid");
    pv["spec"]["claimRef"].erase("resourceVersion");
  }
  pv["apiVersion"] = "v1";
  pv["kind"] = "PersistentVolume";
  return pv;
}

}  // namespace

Result<inventory::RestoreInput> ReadInventoryVolume(kube::Client& source, const DRPlan& plan) {
  const std::string ns = plan.spec.inventory_pvc_namespace, name = plan.spec.inventory_pvc_name;
  if (name.empty()) return Status::InvalidArgument("plan " + Quote(plan.metadata.name) + " names no inventory claim");
  Result<json> claim = source.Get(kClaims, ns, name);
  if (!claim.ok()) return claim.status().WithContext("reading the inventory claim " + ns + "/" + name + " on the source");
  inventory::RestoreInput out;
  std::optional<json> pv;
  if (std::string pv_name = kube::StringField(*claim, {"spec", "volumeName"}); !pv_name.empty()) {
    Result<json> got = source.Get(kVolumes, "", pv_name);
    if (!got.ok()) return got.status().WithContext("reading volume " + pv_name + " of the inventory claim on the source");
    pv = Sanitized(std::move(*got));
  }
  inventory::VolumeMapEntry entry = inventory::VolumeMapEntryFor(*claim, pv ? &*pv : nullptr);
  entry.inventory = true;
  out.volumes.push_back(std::move(entry));
  if (pv) out.objects.push_back(std::move(*pv));
  return out;
}

Result<inventory::RestoreInput> RecordedInventoryVolume(const json& plan_object) {
  const json& rec = kube::FieldAt(plan_object, {"status", "inventoryVolume"});
  if (!rec.is_object() || !rec.contains("volume")) {
    return Status::NotFound("drplan " + Quote(kube::Name(plan_object)) + " records no inventory volume");
  }
  KDR_ASSIGN_OR_RETURN(inventory::VolumeMapEntry entry,
                       inventory::VolumeMapEntryFromJson(rec["volume"], "status.inventoryVolume.volume"));
  entry.inventory = true;
  inventory::RestoreInput out;
  out.volumes.push_back(std::move(entry));
  if (rec.contains("persistentVolume")) {
    const json& pv = rec["persistentVolume"];
    if (!pv.is_object() || kube::StringField(pv, {"metadata", "name"}).empty()) {
      return Status::InvalidArgument("status.inventoryVolume.persistentVolume: not a PersistentVolume");
    }
    out.objects.push_back(Sanitized(pv));
  }
  return out;
}

Status RecordInventoryVolume(kube::Client& target, const DRPlan& plan, const inventory::RestoreInput& volume,
                             const Clock& clock) {
  if (volume.volumes.empty()) return Status::InvalidArgument("no inventory volume to record");
  json record = {{"recordedAt", FormatRfc3339(clock.Now())}, {"volume", inventory::ToJson(volume.volumes.front())}};
  if (!volume.objects.empty()) record["persistentVolume"] = volume.objects.front();
  const std::string ns = plan.metadata.namespace_name.empty() ? std::string(kSystemNamespace) : plan.metadata.namespace_name;
  // Replaced whole (a merge patch would keep the fields of an earlier PV that this one lacks),
  // the rest of the status as it is.
  for (int attempt = 0; attempt < 5; ++attempt) {
    Result<json> cur = target.Get(kPlans, ns, plan.metadata.name);
    if (!cur.ok()) return cur.status().WithContext("reading drplan " + plan.metadata.name);
    (*cur)["status"]["inventoryVolume"] = record;
    Result<json> r = target.UpdateStatus(kPlans, ns, *cur);
    if (r.ok()) return Status::Ok();
    if (r.status().code() != StatusCode::kAborted) {
      return r.status().WithContext("recording the inventory volume in drplan " + plan.metadata.name);
    }
  }
  return Status::Aborted("the status of drplan " + plan.metadata.name + " kept changing; run it again");
}

}  // namespace kdr::dr
