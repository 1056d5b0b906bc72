#pragma once

// kubesim's simulated controllers: what kube-controller-manager, a scheduler, kubelets, a CSI
// provisioner and Longhorn would do on a real cluster, reduced to what kubectl-dr observes. Each
// runs on its own thread, fed by a Store watch over every resource (plus a periodic resync), and
// writes through the Store; the pods, claims and volumes a controller creates through the API on
// a cluster pass the built-in admission plugins first (CreateAdmitted), never webhooks.
// Every write is idempotent: a controller seeing its own write again changes nothing.
//
//   pvc        PersistentVolumeClaim binding. A PVC naming spec.volumeName binds to that PV
//              (when the PV exists, is not bound to another claim and, for a Longhorn CSI volume,
//              the Longhorn volume is active); a PVC whose StorageClass is provisioned by kubesim
//              (provisioner kubesim.kubectl-dr.dev/hostpath, or any class annotated
//              kubesim.kubectl-dr.dev/provision: "true"; a PVC without a class uses the default
//              class) gets a new PV "pvc-<uid>" (hostPath) and binds. A static PV whose claimRef
//              names a pending PVC binds to it. Bound: PVC spec.volumeName, the
//              pv.kubernetes.io/bind-completed annotation, status {phase Bound, accessModes,
//              capacity}; PV claimRef (with the claim's uid) and status.phase Bound. A deleted
//              claim releases its PV (Released): reclaimPolicy Delete then deletes it, Retain
//              keeps it. The protection finalizers admission adds (builtin_admission.h) go as
//              kube-controller-manager's pvc-/pv-protection controllers remove them: a deleted
//              claim's once no scheduled pod of its namespace mounts it (whatever the pod's
//              phase), a deleted volume's once it is not Bound. Provisioned PVs and the claims of
//              StatefulSets are created through the built-in admission plugins, as their API
//              calls would be on a cluster. With an HPE array (ControllerOptions::hpe_array,
//              hpe_csi.h) a PV of driver csi.hpe.com binds only while alletra-sim says its
//              volume is writable on that array; until then the claim stays Pending with a
//              Warning Event (reason VolumeNotWritable, or VolumeCheckFailed when alletra-sim
//              cannot say), and every resync asks again, so it binds once failed over.
//   workloads  Deployments own a ReplicaSet per pod template (label pod-template-hash), the
//              newest scaled to spec.replicas and older ones to 0; ReplicaSets and StatefulSets
//              own Pods (StatefulSets: NAME-0..N-1 and a PVC per volumeClaimTemplate, kept on
//              scale-down as Kubernetes does; with podManagementPolicy OrderedReady, the
//              default, each pod and its claims only once every lower ordinal is Ready,
//              with Parallel all at once); DaemonSets run one Pod (one node). A Pod runs
//              (phase Running, Ready) once every PVC it mounts is Bound, else it stays Pending
//              with PodScheduled False "pod has unbound immediate PersistentVolumeClaims". A
//              Pod whose spec.nodeName is not kubesim-node never runs and is left as created
//              until the pod GC deletes it, 40 s (of the Clock) after it first saw it.
//              Pods are created through the built-in admission plugins: a template naming a
//              service account, PriorityClass or RuntimeClass that does not exist gets no pods,
//              and the ReplicaSet (and its Deployment) reports ReplicaFailure, reason
//              FailedCreate, with kube-apiserver's refusal as message, until it appears.
//              Workload status reports what its pods show: replicas, readyReplicas,
//              availableReplicas, updatedReplicas, observedGeneration and (Deployments) the
//              Available and Progressing conditions. Jobs start (active 1, startTime) and then
//              complete (succeeded = completions, conditions SuccessCriteriaMet and Complete);
//              annotate a Job kubesim.kubectl-dr.dev/job-outcome: "fail" to make it fail
//              (BackoffLimitExceeded) or "hold" to keep it running until the annotation changes.
//              A Job whose pods run for real (agent.binary set and the agent image: agent_node.h)
//              gets pods instead (job-name and controller-uid labels), one at a time, until one
//              Succeeds (Complete) or more than spec.backoffLimit Fail (Failed,
//              BackoffLimitExceeded); those pods' phase follows their process.
//   namespaces Every namespace gets the `default` ServiceAccount and the `kube-root-ca.crt`
//              ConfigMap (cluster_ca_pem; other data written to it is written back at once), and
//              `default` the `kubernetes` Service, as on a real cluster. A Secret of type
//              kubernetes.io/service-account-token whose ServiceAccount is missing or has
//              another uid than its kubernetes.io/service-account.uid annotation is deleted;
//              with its account it gets the uid annotation, namespace, ca.crt and, when it has
//              none, a token (agent.issue_token).
//   longhorn   see longhorn.h.
//
// What runs where. Inside kubesim all of the above run in process over its Store. Against any
// other API server (the real pair of scripts/realk8s, whose kube-controller-manager already binds
// claims, runs workloads and Jobs and fills namespaces) only the simulators run, as one external
// process, kubesim-controllers (external_controllers.h), over kube::Client (ClientView,
// client_view.h): the same Longhorn controller (longhorn.h) and agent node (agent_node.h), and a
// node (sim_node.h) that registers a Node, binds pods, writes their status as a kubelet would and
// applies the storage rules at attach time, as a real cluster shows them: a pod mounting a
// Longhorn volume that is not active, or a csi.hpe.com volume not writable on the cluster's
// array, does not start (FailedAttachVolume), while its claim binds (kubesim's pvc controller
// keeps such claims Pending instead). The hostpath provisioner, the workload, Job and namespace
// controllers above have no external counterpart: kube-controller-manager is the real thing.
//
// Thread-safe. The store must outlive the Controllers.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr {
class Clock;
class FileSystem;
class Logger;
}

namespace kdr::kubesim {

class HpeArray;
class Store;

// The provisioner kubesim provisions volumes for.
inline constexpr std::string_view kHostpathProvisioner = "kubesim.kubectl-dr.dev/hostpath";
// Annotation marking any StorageClass as provisioned by kubesim.
inline constexpr std::string_view kProvisionAnnotation = "kubesim.kubectl-dr.dev/provision";
// Job annotation steering its outcome: "fail" or "hold".
inline constexpr std::string_view kJobOutcomeAnnotation = "kubesim.kubectl-dr.dev/job-outcome";

// The node's agent runner (agent_node.h): pods of kubectl-dr's agent image run as real processes.
struct AgentNodeOptions {
  // The kubectl-dr binary; "" = agent pods pretend to run like any other.
  std::string binary;
  // Pods' files and the directories of volumes without a host path; "" = a new temp dir.
  std::string work_dir;
  // How the processes reach this API server: 127.0.0.1 and the port (read when a pod starts).
  std::function<int()> api_port;
  // The CA the processes trust (the cluster CA; ControllerOptions::cluster_ca_pem when empty).
  std::string ca_pem;
  // A token authenticating as the service account NS/NAME.
  std::function<std::string(const std::string& ns, const std::string& name)> issue_token;
  // Longhorn CSI volumes (driver.longhorn.io) mount as their Longhorn volume's directory
  // (longhorn.h): the Longhorn controller's data dir and namespace. Controllers::Start fills
  // them from ControllerOptions; "" = such volumes cannot be mounted.
  std::string longhorn_data_dir;
  std::string longhorn_namespace = "longhorn-system";
  // HPE CSI volumes (csi.hpe.com) mount as their array volume's directory while the array may
  // write them (hpe_csi.h); null = such volumes cannot be mounted. Controllers::Start fills it
  // from ControllerOptions::hpe_array.
  std::shared_ptr<const HpeArray> hpe_array;
};

struct ControllerOptions {
  bool pvc = true;
  bool workloads = true;
  bool longhorn = true;
  bool namespaces = true;
  // The cluster CA published in each namespace's kube-root-ca.crt ConfigMap ("" = none).
  std::string cluster_ca_pem;
  // Longhorn: the backup store directory (shared by a source and a target kubesim). "" disables
  // backups (Backup objects then end in state Error naming the missing backup target).
  std::string longhorn_backupstore;
  // Longhorn: this cluster's volume contents, a directory per volume (longhorn.h); keep it out
  // of the backup store. "" = a new temporary directory, removed when the controllers are.
  std::string longhorn_data_dir;
  // Longhorn: the namespace its objects live in.
  std::string longhorn_namespace = "longhorn-system";
  // How often standby volumes look for new backups in the backup store (Longhorn's
  // backupstore-poll-interval; a BackupVolume's spec.syncRequestedAt forces a sync at once).
  std::chrono::milliseconds longhorn_poll_interval{std::chrono::seconds(5)};
  // The HPE array this cluster's hosts use (hpe_csi.h); null: HPE CSI PVs bind like any other.
  std::shared_ptr<const HpeArray> hpe_array;
  // Periodic resync of every controller (catches anything an event did not; re-asks alletra-sim
  // about Pending HPE claims).
  std::chrono::milliseconds resync_interval{std::chrono::seconds(2)};
  // Agent pods run for real when agent.binary is set.
  AgentNodeOptions agent;
  FileSystem* fs = nullptr;  // the backup store's files; null: the real file system
  Clock* clock = nullptr;    // timestamps (startTime, lastTransitionTime); null: the real clock
  Logger* logger = nullptr;  // may be null
};

// Parses the --no-controllers value ("pvc,workloads,longhorn", "all", "") into `options`.
// InvalidArgument naming an unknown controller, with the nearest known name.
Status DisableControllers(std::string_view csv, ControllerOptions* options);

class Controllers {
 public:
  // Starts the enabled controllers (Longhorn first installs its CRDs). Errors: whatever
  // installing the CRDs returns.
  static Result<std::unique_ptr<Controllers>> Start(Store* store, ControllerOptions options);
  ~Controllers();  // Stop()
  Controllers(const Controllers&) = delete;
  Controllers& operator=(const Controllers&) = delete;

  // Stops every controller thread; idempotent.
  void Stop();

 private:
  Controllers() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kdr::kubesim
