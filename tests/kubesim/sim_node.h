#pragma once

// SimNode: a node for an API server that has no kubelet and no scheduler (the real pair of
// scripts/realk8s runs kube-apiserver and kube-controller-manager only), run by
// kubesim-controllers over a ClusterView. What it does, as a kubelet and kube-scheduler would, and
// as sigs.k8s.io/kwok fakes them (a Node whose status is kept Ready by heartbeats; pods whose
// status is written as a kubelet writes it; pods being deleted are deleted at once):
//
//   - registers Node `node_name` (labels kubernetes.io/hostname, os and arch; status Ready with
//     KubeletReady, addresses InternalIP node_ip and Hostname, capacity and allocatable) and
//     renews its heartbeat (the Ready condition's lastHeartbeatTime and the Lease
//     kube-node-lease/NAME) every 10 s, so kube-controller-manager's node lifecycle controller
//     never marks it unreachable (40 s without a heartbeat) nor evicts its pods;
//   - binds pods of the default scheduler that have no node to it through pods/NAME/binding,
//     once every claim they mount is Bound; until then writes PodScheduled False, reason
//     Unschedulable, with kube-scheduler's message (as kubesim's workload controller does);
//   - a bound pod whose volumes cannot be attached stays Pending with its containers waiting in
//     ContainerCreating and a Warning Event FailedAttachVolume on the pod (once per message).
//     Attaching is refused, as the CSI drivers' ControllerPublishVolume would refuse it, for a
//     driver.longhorn.io PV whose Longhorn volume is not active (standby or restoring: Longhorn
//     disables a DR volume's frontend) and for a csi.hpe.com PV whose volume alletra-sim says is
//     not writable on `hpe_array` (the secondary of a remote-copy group is read-only). This is the
//     HPE CSI rule as a real cluster shows it: kube-controller-manager's PV binder binds the PV
//     (kubesim's PVC controller keeps the claim Pending instead: see controllers.h); the pods
//     that mount it do not run. Every resync asks alletra-sim again, so they run once failed over;
//   - a pod of kubectl-dr's agent image (AgentNode, agent.binary set) runs as a real process and
//     its status follows it (Running, then Succeeded or Failed with the container's exit code and
//     termination message); its service-account token comes from the TokenRequest API
//     (serviceaccounts/NAME/token), its volume directories as agent_node.h maps them (hostPath
//     PVs, Longhorn volumes from agent.longhorn_data_dir, HPE volumes from alletra-sim's data
//     dir);
//   - any other pod is Running and Ready (conditions, containerStatuses running, hostIP, a
//     podIP) once its volumes attach;
//   - a pod of this node being deleted: its process (if any) is killed and the pod deleted with
//     grace period 0, as the kubelet confirms a deletion.
//
// Pods bound to other nodes are left alone. One thread (the runner's) calls it.

#include <memory>
#include <string>
#include <vector>

#include "controllers.h"
#include "registry.h"

namespace kdr::kubesim {

class ClusterView;
class HpeArray;
class Reconciler;

struct SimNodeOptions {
  std::string node_name;             // required
  std::string node_ip = "127.0.0.1";  // the InternalIP and the pods' hostIP
  // Agent pods run for real when agent.binary is set (issue_token, api_port and ca_pem are the
  // caller's: kubesim-controllers asks the TokenRequest API).
  AgentNodeOptions agent;
  std::shared_ptr<const HpeArray> hpe_array;  // null: csi.hpe.com volumes always attach
  std::string longhorn_namespace = "longhorn-system";
  Clock* clock = nullptr;  // required
  Logger* logger = nullptr;
};

// The resources the node watches (for RunReconciler).
std::vector<GroupResource> SimNodeResources();

// A token for service account ns/name from the TokenRequest API of `view` (one hour); "" (and a
// warning) when the server refuses.
std::string RequestServiceAccountToken(ClusterView* view, const std::string& ns, const std::string& name,
                                       Logger* logger);

// REQUIRES: options.node_name and options.clock set; `view` outlives the node.
std::unique_ptr<Reconciler> NewSimNode(ClusterView* view, const SimNodeOptions& options);

}  // namespace kdr::kubesim
