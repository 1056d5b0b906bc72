#pragma once

// The seam between the transforms policy and the transform engine (shared/transform/): compile a
// ConfigMap's Velero-format resource modifiers once, then apply them and the VM options to each
// object restored. The webhook's main() wires the real engine; tests may use a double.

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

#include "base/status.h"

namespace kdr::admission {

struct ConfigMapInfo;

// Compiled resource modifiers; each engine subclasses it. Immutable, shared between threads.
class CompiledModifiers {
 public:
  virtual ~CompiledModifiers() = default;
};

struct VmOptions {
  std::optional<bool> power_on;  // DRRecovery spec.transforms.vm.powerOn; unset: leave as is
};

class TransformEngine {
 public:
  virtual ~TransformEngine() = default;
  // Compiles the modifier file held by `config_map`. InvalidArgument naming the data key and
  // rule when it is not a valid modifier file. Thread-safe.
  virtual Result<std::shared_ptr<const CompiledModifiers>> Compile(
      const ConfigMapInfo& config_map) const = 0;
  // Applies `modifiers` (null: none) and `vm` to `object`, whose resource is `group_resource`
  // ("ingresses.networking.k8s.io", "pods"). A rule that fails returns an error naming the rule
  // (its index and conditions) and why; the object is then unspecified. Thread-safe.
  virtual Status Apply(const CompiledModifiers* modifiers, const VmOptions& vm,
                       std::string_view group_resource, nlohmann::json* object) const = 0;
};

}  // namespace kdr::admission

namespace kdr::admission {

// The engine of shared/transform/: the ConfigMap's one data key holds a Velero-format modifier
// file (ResourceModifiers::Parse); Apply is transform::TransformObject. Thread-safe.
std::unique_ptr<TransformEngine> NewResourceModifierEngine();

}  // namespace kdr::admission
