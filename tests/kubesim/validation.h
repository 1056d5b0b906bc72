#pragma once

// Object validation kube-apiserver does for every type (names, labels) plus the few per-type
// rules the product can trip over. Errors are InvalidArgument with kube's 422 message:
//   `ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC
//    1123 subdomain must consist of ...`

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "base/status.h"
#include "registry.h"

namespace kdr::kubesim {

// "Deployment.apps", "ConfigMap": how kube names a kind in Invalid messages.
std::string QualifiedKind(const ResourceType& t);

// Validates metadata (name format for the type, label keys and values) and type rules.
Status ValidateObject(const ResourceType& t, const nlohmann::json& object);

// Update rules (kube's ValidateUpdate): immutable fields of the built-in kinds kubectl-dr
// touches: workload selectors, the StatefulSet spec beyond replicas/template/updateStrategy/
// persistentVolumeClaimRetentionPolicy/minReadySeconds/ordinals, Job templates and selectors,
// PVC specs (but a Bound claim's storage request, volumeAttributesClassName and a first
// volumeName; the storage request never shrinks: "field can not be less than previous value"), PV
// sources, Service clusterIPs (kept from the old object when omitted) and immutable
// ConfigMaps/Secrets. *next may be completed (clusterIP). 422 messages as kube writes them.
Status ValidateUpdate(const ResourceType& t, const nlohmann::json& old, nlohmann::json* next);

// A created Job without spec.manualSelector (its uid assigned, its selector generated): the
// template's controller-uid labels must be the new uid and the selector must match the template's
// labels, 422 `Job.batch "j" is invalid: [spec.template.metadata.labels[controller-uid]: Invalid
// value: {...}: must be '<uid>', ...]` as kube-apiserver's ValidateGeneratedSelector writes it.
Status ValidateGeneratedSelector(const ResourceType& t, const nlohmann::json& job);
// pods/ephemeralcontainers: `want` (the new spec.ephemeralContainers) must keep every container of
// `had` unchanged and in place; each added one needs a name unique among the pod's containers, an
// image, and volumeMounts naming the pod's volumes. InvalidArgument in kube-apiserver's words.
Status ValidateEphemeralContainersUpdate(const ResourceType& t, const nlohmann::json& pod,
                                         const nlohmann::json& had, const nlohmann::json& want);

}  // namespace kdr::kubesim
