#pragma once

// Field defaults kube-apiserver applies when it decodes built-in objects (SetDefaults_*), for the
// fields users and the product see in `kubectl get -o yaml`: pod specs (in Pods and workload
// templates), container ports and pull policies, workload strategies and history limits, Service
// port protocol/targetPort, PVC volumeMode, PriorityClass preemptionPolicy; and a Secret's
// stringData merged into its data, as the conversion that decoding runs does. Applied on create
// and on every update, as decoding does. Idempotent; fields already set are kept.

#include <nlohmann/json_fwd.hpp>

#include "registry.h"

namespace kdr::kubesim {

void ApplyDefaults(const ResourceType& type, nlohmann::json* object);

}  // namespace kdr::kubesim
