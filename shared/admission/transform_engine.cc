#include "admission/transform_engine.h"

#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "base/strings.h"
#include "transform/apply.h"
#include "transform/rules.h"

namespace kdr::admission {
namespace {

class VeleroModifiers final : public CompiledModifiers {
 public:
  explicit VeleroModifiers(transform::ResourceModifiers m) : modifiers(std::move(m)) {}
  const transform::ResourceModifiers modifiers;
};

class ResourceModifierEngine final : public TransformEngine {
 public:
  Result<std::shared_ptr<const CompiledModifiers>> Compile(
      const ConfigMapInfo& cm) const override {
    const std::string where = "configmap " + cm.namespace_name + "/" + cm.name;
    if (cm.data.size() != 1) {
      std::vector<std::string> keys;
      for (const auto& [k, v] : cm.data) keys.push_back(k);
      return Status::InvalidArgument(
          where + " has " + std::to_string(cm.data.size()) + " data keys (" +
          (keys.empty() ? "none" : Join(keys, ", ")) +
          "); it must hold exactly one: the resource-modifier file");
    }
    const auto& [key, text] = *cm.data.begin();
    KDR_ASSIGN_OR_RETURN(transform::ResourceModifiers m,
                         transform::ResourceModifiers::Parse(text, "data." + key));
    return std::shared_ptr<const CompiledModifiers>(
        std::make_shared<const VeleroModifiers>(std::move(m)));
  }

  Status Apply(const CompiledModifiers* modifiers, const VmOptions& vm,
               std::string_view group_resource, nlohmann::json* object) const override {
    transform::TransformOptions options;
    if (modifiers != nullptr) {
      options.modifiers = &static_cast<const VeleroModifiers*>(modifiers)->modifiers;
    }
    options.vm_power_on = vm.power_on;
    return transform::TransformObject(options, object, group_resource);
  }
};

}  // namespace

std::unique_ptr<TransformEngine> NewResourceModifierEngine() {
  return std::make_unique<ResourceModifierEngine>();
}

}  // namespace kdr::admission
