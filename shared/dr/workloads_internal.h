#pragma once

// What quiesce.cc and verify.cc share: the workload collections, the namespace check both run
// before anything else, listing, and durations in messages. Not a public interface.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kdr::dr::internal {

inline const kube::Gvr kNamespaces{"", "v1", "namespaces"};
inline const kube::Gvr kPods{"", "v1", "pods"};
inline const kube::Gvr kDeployments{"apps", "v1", "deployments"};
inline const kube::Gvr kStatefulSets{"apps", "v1", "statefulsets"};
inline const kube::Gvr kDaemonSets{"apps", "v1", "daemonsets"};
inline const kube::Gvr kReplicaSets{"apps", "v1", "replicasets"};
inline const kube::Gvr kVirtualMachines{"kubevirt.io", "v1", "virtualmachines"};
inline const kube::Gvr kVirtualMachineInstances{"kubevirt.io", "v1", "virtualmachineinstances"};

// The namespaces, distinct, in the order given. InvalidArgument when there are none ("<what>: no
// namespaces given") or one is not a namespace name; NotFound naming every one the cluster does
// not have, each with the nearest existing name; other errors of the client as they are.
Result<std::vector<std::string>> CheckNamespaces(kube::Client& cluster, const std::vector<std::string>& namespaces,
                                                 std::string_view what);

// The items of one list (every page). Errors say what was listed ("listing deployments in shop").
Result<std::vector<nlohmann::json>> ListItems(kube::Client& cluster, const kube::Gvr& gvr, std::string_view ns,
                                              const kube::ListOptions& options = {});

// Whether discovery serves the resource (a CRD that is not installed: false).
Result<bool> Serves(kube::Client& cluster, const kube::Gvr& gvr);

// "deployment shop/web": the kind in lowercase and the namespaced name.
std::string Describe(std::string_view kind, const nlohmann::json& object);

// Go's time.Duration form, as kubectl prints its timeouts: "500ms", "30s", "5m0s", "1h0m0s".
std::string FormatDuration(std::chrono::nanoseconds d);

}  // namespace kdr::dr::internal
