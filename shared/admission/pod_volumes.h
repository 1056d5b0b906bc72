#pragma once

// What a pod spec does with PersistentVolumeClaims, read the way the node that runs it does.
//
// Kubernetes 1.28 (pkg/controller/volume/attachdetach, pkg/kubelet/volumemanager,
// pkg/volume/csi): the attach/detach controller attaches every volume a pod declares, used by a
// container or not, and read-write unless the volume source (or the PV) says read-only; the
// kubelet's node-level mount of a used volume is read-write on the same condition.
// volumeMounts[].readOnly only makes one container's bind mount read-only, and a raw block
// device (volumeDevices) has no read-only form at all. So whether a pod can write a claim is
// decided by spec.volumes[].persistentVolumeClaim.readOnly (or a read-only PV), never by its
// containers; the containers only say who uses the volume.

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kdr::admission {

// One entry of spec.volumes that names a PersistentVolumeClaim.
struct ClaimVolume {
  size_t index = 0;               // position in spec.volumes
  std::string volume;             // spec.volumes[index].name
  std::string claim;              // persistentVolumeClaim.claimName
  bool read_only_source = false;  // persistentVolumeClaim.readOnly: true
  // Who uses it, one entry per container and way: `container "app" mounts it`,
  // `init container "restore" mounts it read-only`, `ephemeral container "debug" uses it as a
  // raw block device`. Empty when no container uses it.
  std::vector<std::string> uses;
};

// The claim volumes of a pod spec, in spec.volumes order. Entries that are not objects, name no
// claim, or have a non-string claimName are skipped (the API server rejects such specs anyway).
std::vector<ClaimVolume> ClaimVolumes(const nlohmann::json& pod_spec);

// A workload's pod template: its spec and the dotted path to it from the object root.
struct PodTemplate {
  const nlohmann::json* spec = nullptr;
  std::string_view path;  // "spec.template.spec", "spec.jobTemplate.spec.template.spec"
};

// The pod template of a workload kind that has one (apps Deployments, StatefulSets, DaemonSets,
// ReplicaSets; core ReplicationControllers; batch Jobs and CronJobs); nullopt for anything else
// or when the object has no template spec.
std::optional<PodTemplate> WorkloadPodTemplate(std::string_view group, std::string_view resource,
                                               const nlohmann::json& object);

// True when a PersistentVolume's source is read-only: any volume source under spec (csi, nfs,
// iscsi, rbd, ...) that says readOnly: true. The kubelet then mounts it read-only for every pod.
bool PersistentVolumeReadOnly(const nlohmann::json& pv);

}  // namespace kdr::admission
