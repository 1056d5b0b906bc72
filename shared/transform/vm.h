#pragma once

// VM options of a recovery: power KubeVirt VirtualMachines (kubevirt.io/*, kind VirtualMachine)
// on or off as they are restored, through spec.runStrategy: Always (on) or Halted (off). Objects
// written for older KubeVirt carry the boolean spec.running instead; KubeVirt refuses both at
// once, so spec.running is removed when runStrategy is set.

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace kdr::transform {

// True for a KubeVirt VirtualMachine (any kubevirt.io version).
bool IsVirtualMachine(const nlohmann::json& object);

// Sets the VM's power state. Returns whether the object changed; other kinds are left alone
// (false). InvalidArgument when a VM's spec is not an object.
Result<bool> ApplyVmPowerOn(bool power_on, nlohmann::json* object);

}  // namespace kdr::transform
