#pragma once

// kube-apiserver's built-in admission plugins: the ones enabled by default (1.28-1.31) whose
// behaviour kubectl-dr's workflows can meet, run where kube-apiserver runs them around the
// admission webhooks (admission.h). ADMISSION.md lists every default plugin and kubesim's stance.
//
// One write, in kube-apiserver's order (AllOrderedPlugins, pkg/kubeapiserver/options/plugins.go:
// every mutating plugin in that order, then every validating one; the webhook plugins come after
// the built-in ones in both phases):
//   1. Mutate     the mutating built-ins (none yet)
//   2.            the mutating webhooks (Admission::Mutate)
//   3.            the object's own validation: 422 Invalid (validation.h; the REST layer asks the
//                 Store with WriteOptions::validate_only)
//   4. Validate   the validating built-ins: PersistentVolumeClaimResize
//   5.            the validating webhooks (Admission::Validate)
//   6.            the write (409 AlreadyExists is found only here, as in etcd)
//
// PersistentVolumeClaimResize (validating; UPDATE of persistentvolumeclaims, not subresources):
// when spec.resources.requests.storage grows (Quantity order: "1Gi" == "1024Mi"), the old claim
// must be Bound, and its class (the volume.beta.kubernetes.io/storage-class annotation, else
// spec.storageClassName) must be set, unchanged, name an existing StorageClass and that class
// must have allowVolumeExpansion: true. Shrinking is not this plugin's business: validation
// refused it already (422 "field can not be less than previous value").
//
// Refusals are admission.NewForbidden's: 403 Forbidden,
//   `persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized
//    and the storageclass that provisions the pvc must support resize`
// with details {name, group (when not core), kind: the resource}. The name is the request's, else
// the object's metadata.name, else its generateName (before the name is generated).
//
// Thread-safe: reads the store only, never holding anything across calls.

#include "admission.h"

namespace kdr::kubesim {

class Store;

class BuiltinAdmission {
 public:
  // store must outlive this object.
  explicit BuiltinAdmission(const Store* store) : store_(store) {}

  // The mutating built-ins, in order; they edit *request.object in place. A refusal stops the
  // write before any webhook is called.
  AdmissionResult Mutate(const AdmissionRequest& request) const;
  // The validating built-ins, in order (request.object: the mutated object).
  AdmissionResult Validate(const AdmissionRequest& request) const;

 private:
  const Store* const store_;
};

}  // namespace kdr::kubesim
