#pragma once

// Kubernetes strategic merge patch for the built-in types: lists with a patch merge key merge by
// that key (containers and initContainers by name, volumes by name, env by name, ports by
// containerPort, volumeMounts by mountPath, Service ports by port...), primitive lists with the
// merge strategy union, other lists replace; and the directives `$patch: delete|replace|merge`,
// `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`, as
// k8s.io/apimachinery's strategicpatch package applies them. Used by the transform engine
// (Velero `strategicPatches`) and by kubesim (PATCH application/strategic-merge-patch+json).

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "base/status.h"

namespace kdr::transform {

// True when the schema of this built-in kind is known ("apps/v1", "Deployment"). Custom resources
// are not: kube-apiserver refuses strategic merge patches for them.
bool IsStrategicMergeKnownKind(std::string_view api_version, std::string_view kind);

// Applies patch to *doc, an object of the given kind. All or nothing: on error *doc is unchanged.
// Errors: Unimplemented for a kind without a known schema ("strategic merge patch is not
// supported for example.com/v1, Kind=Widget; use a JSON merge patch"), InvalidArgument for a
// malformed patch or directive (naming the path).
Status ApplyStrategicMergePatch(nlohmann::json* doc, const nlohmann::json& patch,
                                std::string_view api_version, std::string_view kind);

}  // namespace kdr::transform
