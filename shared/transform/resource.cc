#include "transform/resource.h"

#include <array>
#include <utility>

#include "base/strings.h"

namespace kdr::transform {
namespace {

struct KindResource {
  std::string_view group;
  std::string_view kind;
  std::string_view resource;
};

// Built-in kinds whose plural the naive rule gets wrong, or that a DR restore meets often enough
// to pin down. Sorted by nothing; it is small.
constexpr std::array kBuiltins = {
    KindResource{"", "Endpoints", "endpoints"},
    KindResource{"", "PersistentVolumeClaim", "persistentvolumeclaims"},
    KindResource{"", "PersistentVolume", "persistentvolumes"},
    KindResource{"", "ConfigMap", "configmaps"},
    KindResource{"", "Secret", "secrets"},
    KindResource{"", "Service", "services"},
    KindResource{"", "ServiceAccount", "serviceaccounts"},
    KindResource{"", "Namespace", "namespaces"},
    KindResource{"", "Pod", "pods"},
    KindResource{"", "LimitRange", "limitranges"},
    KindResource{"", "ResourceQuota", "resourcequotas"},
    KindResource{"", "ReplicationController", "replicationcontrollers"},
    KindResource{"apps", "Deployment", "deployments"},
    KindResource{"apps", "StatefulSet", "statefulsets"},
    KindResource{"apps", "DaemonSet", "daemonsets"},
    KindResource{"apps", "ReplicaSet", "replicasets"},
    KindResource{"batch", "Job", "jobs"},
    KindResource{"batch", "CronJob", "cronjobs"},
    KindResource{"networking.k8s.io", "Ingress", "ingresses"},
    KindResource{"networking.k8s.io", "IngressClass", "ingressclasses"},
    KindResource{"networking.k8s.io", "NetworkPolicy", "networkpolicies"},
    KindResource{"storage.k8s.io", "StorageClass", "storageclasses"},
    KindResource{"policy", "PodDisruptionBudget", "poddisruptionbudgets"},
    KindResource{"autoscaling", "HorizontalPodAutoscaler", "horizontalpodautoscalers"},
    KindResource{"discovery.k8s.io", "EndpointSlice", "endpointslices"},
    KindResource{"kubevirt.io", "VirtualMachine", "virtualmachines"},
    KindResource{"kubevirt.io", "VirtualMachineInstance", "virtualmachineinstances"},
    KindResource{"cdi.kubevirt.io", "DataVolume", "datavolumes"},
};

}  // namespace

std::string_view GroupOf(std::string_view api_version) {
  size_t slash = api_version.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : api_version.substr(0, slash);
}

std::string ResourceOfKind(std::string_view group, std::string_view kind) {
  for (const auto& b : kBuiltins) {
    if (b.group == group && b.kind == kind) return std::string(b.resource);
  }
  std::string lower = ToLower(kind);
  if (lower.empty()) return lower;
  if (EndsWith(lower, "endpoints")) return lower;
  switch (lower.back()) {
    case 's':
      return lower + "es";
    case 'y':
      return lower.substr(0, lower.size() - 1) + "ies";
    default:
      return lower + "s";
  }
}

Result<std::string> ResourceMapper::GroupResource(std::string_view api_version,
                                                  std::string_view kind) const {
  if (api_version.empty() || kind.empty()) {
    return Status::InvalidArgument("object has no apiVersion or kind: both are needed to know "
                                   "which resource it is");
  }
  std::string_view group = GroupOf(api_version);
  std::string resource = ResourceOfKind(group, kind);
  if (group.empty()) return resource;
  return resource + "." + std::string(group);
}

}  // namespace kdr::transform
