// Transforms on restore: the rules are documented at NewTransformsPolicy in policy.h.

#include <nlohmann/json.hpp>

#include "admission/cache.h"
#include "admission/policy.h"
#include "admission/review.h"
#include "admission/transform_engine.h"
#include "base/strings.h"
#include "dr/types.h"

namespace kdr::admission {
namespace {

using nlohmann::json;

constexpr std::string_view kPolicyName = "transforms";

std::string RecoveryLabelOf(const json& obj) {
  if (!obj.is_object()) return "";
  auto md = obj.find("metadata");
  if (md == obj.end() || !md->is_object()) return "";
  auto labels = md->find("labels");
  if (labels == md->end() || !labels->is_object()) return "";
  auto it = labels->find(std::string(dr::kRecoveryLabel));
  return it != labels->end() && it->is_string() ? it->get<std::string>() : "";
}

class TransformsPolicy final : public Policy {
 public:
  TransformsPolicy(const StateCache* cache, const TransformEngine* engine, std::string dr_namespace)
      : cache_(cache), engine_(engine),
        dr_namespace_(std::move(dr_namespace)) {}

  Response Handle(const Request& req) const override {
    if (req.operation != "CREATE" || !req.sub_resource.empty()) return Allowed();
    const std::string recovery_name = RecoveryLabelOf(req.object());
    if (recovery_name.empty()) return Allowed();
    Response r = Transform(req, recovery_name);
    r.policy = std::string(kPolicyName);
    return r;
  }

 private:
  Response Transform(const Request& req, const std::string& recovery_name) const {
    const std::string what = ToLower(req.kind) + " " +
                             (req.namespace_name.empty() ? "" : req.namespace_name + "/") +
                             req.name;
    const std::string refused = "restoring " + what + " is refused: ";
    auto recovery = cache_->Recovery(dr_namespace_, recovery_name);
    if (recovery == nullptr) {
      return Denied(refused + "it carries " + std::string(dr::kRecoveryLabel) + "=" +
                    recovery_name + " but drrecovery " + Quote(recovery_name) +
                    " does not exist in namespace " + dr_namespace_ + "; create the recovery "
                    "first, or remove the label to restore the object untransformed");
    }
    const std::string& cm_name = recovery->spec.modifiers_config_map;
    VmOptions vm{recovery->spec.vm_power_on};
    if (cm_name.empty() && !vm.power_on.has_value()) return Allowed("recovery has no transforms");

    std::shared_ptr<const CompiledModifiers> modifiers;
    if (!cm_name.empty()) {
      auto cm = cache_->ConfigMap(dr_namespace_, cm_name);
      if (cm == nullptr) {
        return Denied(refused + "drrecovery " + Quote(recovery_name) + " names the resource "
                      "modifiers configmap " + Quote(cm_name) + ", which does not exist in "
                      "namespace " + dr_namespace_ + "; create it (kubectl create configmap " +
                      cm_name + " -n " + dr_namespace_ + " --from-file=modifiers.yaml) or "
                      "remove transforms.resourceModifiers from the recovery");
      }
      if (engine_ == nullptr) return NoEngine(refused);
      auto compiled = cache_->Compiled<std::shared_ptr<const CompiledModifiers>>(
          *cm, [this](const ConfigMapInfo& c) { return engine_->Compile(c); });
      if (!compiled.ok()) {
        return Denied(refused + "the resource modifiers in configmap " + dr_namespace_ + "/" +
                      cm_name + " are invalid: " + compiled.status().message() +
                      "; fix the file (kubectl dr transforms validate FILE) and update the "
                      "configmap");
      }
      modifiers = **compiled;
    } else if (engine_ == nullptr) {
      return NoEngine(refused);
    }
    const std::string group_resource =
        req.group.empty() ? req.resource : req.resource + "." + req.group;
    json transformed = req.object();
    Status st = engine_->Apply(modifiers.get(), vm, group_resource, &transformed);
    if (!st.ok()) {
      return Denied(refused + "a transform of drrecovery " + Quote(recovery_name) +
                    (cm_name.empty() ? "" : " (configmap " + cm_name + ")") + " failed: " +
                    st.message() + "; fix the rule, or narrow its conditions so it does not "
                    "match this object");
    }
    return PatchedFrom(req.object(), transformed, "transformed for recovery " + recovery_name);
  }

  static Response NoEngine(const std::string& refused) {
    return Errored(500, refused + "this webhook build has no transform engine, so it cannot "
                        "apply the recovery's transforms; deploy a webhook image built with "
                        "shared/transform");
  }

  const StateCache* const cache_;
  const TransformEngine* const engine_;
  const std::string dr_namespace_;
};

}  // namespace

std::unique_ptr<Policy> NewTransformsPolicy(const StateCache* cache, const TransformEngine* engine,
                                            std::string dr_namespace) {
  return std::make_unique<TransformsPolicy>(cache, engine, std::move(dr_namespace));
}

}  // namespace kdr::admission
