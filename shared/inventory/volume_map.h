#pragma once

// The volume map of an inventory: for each captured PVC, where its data lives. Written by the
// capture (index.json "volumes"), read by the storage drivers (which CG a volume belongs to, what
// PV to create on the target) and by the restore (which PVs the driver replaces).

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace kdr::inventory {

struct VolumeMapEntry {
  // The claim, as captured.
  std::string pvc_namespace;
  std::string pvc_name;
  // Its bound PV and what the PV says about the volume.
  std::string pv_name;
  std::string storage_class;        // "" when the claim names none
  std::string capacity;             // the PV's spec.capacity.storage ("10Gi")
  std::vector<std::string> access_modes;
  std::string volume_mode;          // "Filesystem" | "Block"
  std::string reclaim_policy;       // the PV's persistentVolumeReclaimPolicy
  std::string csi_driver;           // spec.csi.driver; "" for non-CSI PVs
  std::string volume_handle;        // spec.csi.volumeHandle
  std::string fs_type;              // spec.csi.fsType
  std::map<std::string, std::string> volume_attributes;  // spec.csi.volumeAttributes
  // The storage driver's identity for the volume (Longhorn: {"volume": NAME}; Alletra:
  // {"volume": NAME, "group": RCG}), filled by the plan's driver at capture; empty for none.
  std::map<std::string, std::string> storage;
  // True for the plan's inventory PVC (it fails over in its own consistency group).
  bool inventory = false;
};

using VolumeMap = std::vector<VolumeMapEntry>;

}  // namespace kdr::inventory
