#pragma once

// kube-apiserver's built-in admission plugins: the ones enabled by default (1.28-1.31) whose
// behaviour kubectl-dr's workflows can meet, run where kube-apiserver runs them around the
// admission webhooks (admission.h). ADMISSION.md lists every default plugin and kubesim's stance.
//
// One write, in kube-apiserver's order (AllOrderedPlugins, pkg/kubeapiserver/options/plugins.go:
// every mutating plugin in that order, then every validating one; the webhook plugins come after
// the built-in ones in both phases):
//   1. Mutate     NamespaceLifecycle, ServiceAccount, Priority, DefaultTolerationSeconds,
//                 DefaultStorageClass, StorageObjectInUseProtection, RuntimeClass,
//                 DefaultIngressClass
//   2.            the mutating webhooks (Admission::Mutate), which see what step 1 did
//   3.            the object's own validation: 422 Invalid (validation.h; the REST layer asks the
//                 Store with WriteOptions::validate_only)
//   4. Validate   Priority (PriorityClasses), PersistentVolumeClaimResize, RuntimeClass (pods)
//   5.            the validating webhooks (Admission::Validate)
//   6.            the write (409 AlreadyExists is found only here, as in etcd)
//
// NamespaceLifecycle: DELETE of the namespaces default, kube-system and kube-public is refused
// (403 `namespaces "default" is forbidden: this namespace may not be deleted`); any other request
// for an object in a namespace that does not exist gets 404 `namespaces "x" not found`, and a
// CREATE in a Terminating namespace 403 `configmaps "x" is forbidden: unable to create new content
// in namespace x because it is being terminated` with the cause {reason NamespaceTerminating,
// message "namespace x is being terminated", field metadata.namespace}.
// ServiceAccount (pod CREATE): spec.serviceAccountName defaults to "default"; the account must
// exist (403 `pods "x" is forbidden: error looking up service account ns/app: serviceaccount
// "app" not found`); unless automounting is off (the pod's automountServiceAccountToken, else
// the account's) the token volume kube-api-access-XXXXX (projected: token, kube-root-ca.crt,
// namespace) is mounted at /var/run/secrets/kubernetes.io/serviceaccount in every container not
// mounting something there already; a pod without imagePullSecrets gets the account's.
// Priority (pod CREATE): spec.priority and preemptionPolicy come from spec.priorityClassName,
// which must exist (403 `no PriorityClass with name x was found`; the system classes exist, see
// store.h), else from the globalDefault class (whose name is then set), else 0 and
// PreemptLowerPriority; a pod stating other values is refused ("the integer value of priority
// (5) must not be provided in pod spec; ..."). An UPDATE omitting them keeps the old ones.
// Validating: a second globalDefault PriorityClass is refused ("PriorityClass x is already
// marked as default. Only one default can exist").
// DefaultTolerationSeconds (pod CREATE and UPDATE): unless tolerated already, NoExecute
// tolerations of node.kubernetes.io/not-ready and unreachable for 300 s.
// RuntimeClass (pod CREATE naming spec.runtimeClassName): the class must exist (403 `pod
// rejected: RuntimeClass "x" not found`); its overhead.podFixed becomes spec.overhead, its
// scheduling nodeSelector and tolerations merge into the pod's (a conflicting nodeSelector value
// is refused). Validating: a pod's overhead must be its class's, or absent without one.
// DefaultStorageClass: a PVC CREATE naming no class (spec.storageClassName absent or null and no
// volume.beta.kubernetes.io/storage-class annotation; "" is a choice) gets the default class: of
// the StorageClasses annotated storageclass.kubernetes.io/is-default-class (or the beta
// annotation) "true", the newest, ties broken by name.
// StorageObjectInUseProtection: a created PVC gets the finalizer kubernetes.io/pvc-protection,
// a PV kubernetes.io/pv-protection (kubesim's pvc controller removes them as
// kube-controller-manager does: controllers.h).
// DefaultIngressClass: an Ingress CREATE without spec.ingressClassName or the
// kubernetes.io/ingress.class annotation gets the newest IngressClass annotated
// ingressclass.kubernetes.io/is-default-class "true".
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

#include <nlohmann/json_fwd.hpp>
#include <string_view>

#include "admission.h"
#include "base/status.h"
#include "registry.h"

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
  // ResourceQuota, the last validating plugin (after the validating webhooks): a CREATE (or an
  // UPDATE of a Service or claim that grows its usage) in a namespace whose ResourceQuotas'
  // spec.hard it would exceed is refused, 403 `configmaps "b" is forbidden: exceeded quota: q,
  // requested: configmaps=1, used: configmaps=2, limited: configmaps=2` (only the exceeded names;
  // the first quota exceeded). A pod under a quota of cpu or memory whose containers do not all
  // set it is refused first, 403 `failed quota: q: must specify limits.cpu for: db; ...`. What
  // counts and the scopes: quota.h. Usage is counted from the store at the request
  // (kube-apiserver reads the quota controller's status.used; an unknown status is a 403 there
  // for the moment the controller takes, a count/ of a custom resource for as long as the
  // controller has not discovered it).
  AdmissionResult Quota(const AdmissionRequest& request) const;

 private:
  const Store* const store_;
};

// Creates `object` as kube-apiserver creates what its own controllers send it (a StatefulSet's
// claims, a provisioner's volumes, a ReplicaSet's pods): through the built-in plugins first.
// kubesim's simulated controllers call no webhooks. Errors: a plugin's refusal as
// PermissionDenied (403, with the plugin's message) or NotFound (404), else the Store's.
Result<nlohmann::json> CreateAdmitted(Store* store, const GroupResource& gr, std::string_view ns,
                                      nlohmann::json object);

}  // namespace kdr::kubesim
