#include "transform/vm.h"

#include <nlohmann/json.hpp>

#include "transform/resource.h"

namespace kdr::transform {

bool IsVirtualMachine(const nlohmann::json& object) {
  if (!object.is_object()) return false;
  auto api = object.find("apiVersion");
  auto kind = object.find("kind");
  if (api == object.end() || kind == object.end() || !api->is_string() || !kind->is_string()) {
    return false;
  }
  return GroupOf(api->get_ref<const std::string&>()) == "kubevirt.io" &&
         kind->get_ref<const std::string&>() == "VirtualMachine";
}

Result<bool> ApplyVmPowerOn(bool power_on, nlohmann::json* object) {
  if (!IsVirtualMachine(*object)) return false;
  nlohmann::json& spec = (*object)["spec"];
  if (spec.is_null()) spec = nlohmann::json::object();
  if (!spec.is_object()) {
    return Status::InvalidArgument("virtual machine spec must be an object to set its power "
                                   "state (spec.runStrategy)");
  }
  const char* want = power_on ? "Always" : "Halted";
  bool changed = spec.erase("running") > 0;
  auto it = spec.find("runStrategy");
  if (it == spec.end() || *it != want) {
    spec["runStrategy"] = want;
    changed = true;
  }
  return changed;
}

}  // namespace kdr::transform
