#include "transform/strategic_schema.h"

namespace kdr::transform::internal {

namespace {

// Each table lists a struct's tagged fields and the fields that lead to tagged structs, copied
// from the Go tags of k8s.io/api v0.32 (checked against kubectl 1.32's `patch --local`). Notably
// untagged, so replaced wholesale: tolerations, resizePolicy, resources.claims, envFrom,
// readinessGates, ServiceAccount imagePullSecrets, StatefulSet volumeClaimTemplates, RoleBinding
// subjects, Role rules, Ingress rules and tls, Endpoints subsets, CronJob status.active.

constexpr FieldSchema kObjectMetaFields[] = {
    {.name = "finalizers", .merge = true},
    {.name = "ownerReferences", .merge = true, .merge_key = "uid"},
};
constexpr StructSchema kObjectMeta{"ObjectMeta", kObjectMetaFields};

// Container and EphemeralContainer share these fields.
constexpr FieldSchema kContainerFields[] = {
    {.name = "ports", .merge = true, .merge_key = "containerPort"},
    {.name = "env", .merge = true, .merge_key = "name"},
    {.name = "volumeMounts", .merge = true, .merge_key = "mountPath"},
    {.name = "volumeDevices", .merge = true, .merge_key = "devicePath"},
};
constexpr StructSchema kContainer{"Container", kContainerFields};

constexpr FieldSchema kPodSpecFields[] = {
    {.name = "volumes", .merge = true, .retain_keys = true, .merge_key = "name"},
    {.name = "initContainers", .merge = true, .merge_key = "name", .type = &kContainer},
    {.name = "containers", .merge = true, .merge_key = "name", .type = &kContainer},
    {.name = "ephemeralContainers", .merge = true, .merge_key = "name", .type = &kContainer},
    {.name = "imagePullSecrets", .merge = true, .merge_key = "name"},
    {.name = "hostAliases", .merge = true, .merge_key = "ip"},
    {.name = "topologySpreadConstraints", .merge = true, .merge_key = "topologyKey"},
    {.name = "schedulingGates", .merge = true, .merge_key = "name"},
    {.name = "resourceClaims", .merge = true, .retain_keys = true, .merge_key = "name"},
};
constexpr StructSchema kPodSpec{"PodSpec", kPodSpecFields};

constexpr FieldSchema kPodStatusFields[] = {
    {.name = "conditions", .merge = true, .merge_key = "type"},
    {.name = "hostIPs", .merge = true, .merge_key = "ip"},
    {.name = "podIPs", .merge = true, .merge_key = "ip"},
    {.name = "resourceClaimStatuses", .merge = true, .retain_keys = true, .merge_key = "name"},
};
constexpr StructSchema kPodStatus{"PodStatus", kPodStatusFields};

constexpr FieldSchema kPodFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kPodSpec},
    {.name = "status", .type = &kPodStatus},
};
constexpr StructSchema kPod{"Pod", kPodFields};

constexpr FieldSchema kPodTemplateSpecFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kPodSpec},
};
constexpr StructSchema kPodTemplateSpec{"PodTemplateSpec", kPodTemplateSpecFields};

constexpr FieldSchema kPodTemplateFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "template", .type = &kPodTemplateSpec},
};
constexpr StructSchema kPodTemplate{"PodTemplate", kPodTemplateFields};

// Objects whose only tagged fields are in their metadata.
constexpr FieldSchema kMetadataOnlyFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
};
constexpr StructSchema kMetadataOnly{"Object", kMetadataOnlyFields};

// A status whose conditions merge by type (PVC, Namespace, Service, the workloads, Job).
constexpr FieldSchema kConditionsStatusFields[] = {
    {.name = "conditions", .merge = true, .merge_key = "type"},
};
constexpr StructSchema kConditionsStatus{"Status", kConditionsStatusFields};

constexpr FieldSchema kWithConditionsFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "status", .type = &kConditionsStatus},
};
constexpr StructSchema kWithConditions{"Object", kWithConditionsFields};

constexpr FieldSchema kServiceSpecFields[] = {
    {.name = "ports", .merge = true, .merge_key = "port"},
};
constexpr StructSchema kServiceSpec{"ServiceSpec", kServiceSpecFields};
constexpr FieldSchema kServiceFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kServiceSpec},
    {.name = "status", .type = &kConditionsStatus},
};
constexpr StructSchema kService{"Service", kServiceFields};

constexpr FieldSchema kServiceAccountFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "secrets", .merge = true, .merge_key = "name"},
};
constexpr StructSchema kServiceAccount{"ServiceAccount", kServiceAccountFields};

// Deployment, StatefulSet, DaemonSet, ReplicaSet, Job: a pod template under spec.
constexpr FieldSchema kTemplateSpecFields[] = {
    {.name = "template", .type = &kPodTemplateSpec},
};
constexpr StructSchema kTemplateSpec{"WorkloadSpec", kTemplateSpecFields};
constexpr FieldSchema kWorkloadFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kTemplateSpec},
    {.name = "status", .type = &kConditionsStatus},
};
constexpr StructSchema kWorkload{"Workload", kWorkloadFields};

constexpr FieldSchema kDeploymentSpecFields[] = {
    {.name = "template", .type = &kPodTemplateSpec},
    {.name = "strategy", .retain_keys = true},
};
constexpr StructSchema kDeploymentSpec{"DeploymentSpec", kDeploymentSpecFields};
constexpr FieldSchema kDeploymentFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kDeploymentSpec},
    {.name = "status", .type = &kConditionsStatus},
};
constexpr StructSchema kDeployment{"Deployment", kDeploymentFields};

constexpr FieldSchema kJobTemplateSpecFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kTemplateSpec},
};
constexpr StructSchema kJobTemplateSpec{"JobTemplateSpec", kJobTemplateSpecFields};
constexpr FieldSchema kCronJobSpecFields[] = {
    {.name = "jobTemplate", .type = &kJobTemplateSpec},
};
constexpr StructSchema kCronJobSpec{"CronJobSpec", kCronJobSpecFields};
constexpr FieldSchema kCronJobFields[] = {
    {.name = "metadata", .type = &kObjectMeta},
    {.name = "spec", .type = &kCronJobSpec},
};
constexpr StructSchema kCronJob{"CronJob", kCronJobFields};

struct KindEntry {
  std::string_view api_version;
  std::string_view kind;
  const StructSchema* schema;
};

constexpr KindEntry kKinds[] = {
    {"v1", "Pod", &kPod},
    {"v1", "PodTemplate", &kPodTemplate},
    {"v1", "Service", &kService},
    {"v1", "PersistentVolumeClaim", &kWithConditions},
    {"v1", "PersistentVolume", &kMetadataOnly},
    {"v1", "ConfigMap", &kMetadataOnly},
    {"v1", "Secret", &kMetadataOnly},
    {"v1", "ServiceAccount", &kServiceAccount},
    {"v1", "Namespace", &kWithConditions},
    {"v1", "Endpoints", &kMetadataOnly},
    {"v1", "Event", &kMetadataOnly},
    {"apps/v1", "Deployment", &kDeployment},
    {"apps/v1", "StatefulSet", &kWorkload},
    {"apps/v1", "DaemonSet", &kWorkload},
    {"apps/v1", "ReplicaSet", &kWorkload},
    {"batch/v1", "Job", &kWorkload},
    {"batch/v1", "CronJob", &kCronJob},
    {"networking.k8s.io/v1", "Ingress", &kMetadataOnly},
    {"rbac.authorization.k8s.io/v1", "Role", &kMetadataOnly},
    {"rbac.authorization.k8s.io/v1", "RoleBinding", &kMetadataOnly},
    {"rbac.authorization.k8s.io/v1", "ClusterRole", &kMetadataOnly},
    {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", &kMetadataOnly},
    {"storage.k8s.io/v1", "StorageClass", &kMetadataOnly},
    {"coordination.k8s.io/v1", "Lease", &kMetadataOnly},
};

}  // namespace

const FieldSchema* StructSchema::Find(std::string_view json_name) const {
  for (const FieldSchema& f : fields) {
    if (f.name == json_name) return &f;
  }
  return nullptr;
}

const StructSchema* LookupKindSchema(std::string_view api_version, std::string_view kind) {
  for (const KindEntry& e : kKinds) {
    if (e.api_version == api_version && e.kind == kind) return e.schema;
  }
  return nullptr;
}

}  // namespace kdr::transform::internal
