#pragma once

// The part of kubesim's node that runs pods for real: a pod whose container image is kubectl-dr's
// agent image (dr::IsAgentImage) runs as a local process of the built kubectl-dr binary, as a
// kubelet would run the container:
//
//   - argv: the binary, then the container's command after its first word, then its args (an
//     image's entrypoint is the binary);
//   - env: the container's env (values, and fieldRefs to metadata.name, metadata.namespace and
//     spec.serviceAccountName), HOSTNAME, KUBERNETES_SERVICE_HOST=127.0.0.1 and
//     KUBERNETES_SERVICE_PORT of this kubesim; nothing of kubesim's own environment (no HOME,
//     no KUBECONFIG), so the process finds the in-cluster configuration;
//   - a token for the pod's service account (issued by kubesim, so requests authenticate as
//     system:serviceaccount:NS:NAME), ca.crt and namespace in a directory named by
//     KUBECTL_DR_SERVICEACCOUNT_DIR (a process cannot have /var/run/secrets/... mounted);
//   - mounts: each volumeMount's path maps to a directory: a claim's PV by its hostPath (a PV
//     kubesim provisioned, under /var/lib/kubesim/volumes/, maps to a directory of the node's
//     work dir); a Longhorn CSI PV (driver.longhorn.io) to its Longhorn volume's directory
//     (LonghornVolumeDir of options.longhorn_data_dir and the PV's volumeHandle), refused while
//     that volume is standby or restoring, as the CSI driver refuses to stage it; an HPE CSI PV
//     (csi.hpe.com) to the directory alletra-sim keeps for the volume its volumeHandle names on
//     this cluster's array (options.hpe_array, hpe_csi.h), refused while that array may not
//     write it. A refused mount fails the pod (reason StartError) with the refusal as its
//     message. Other volume sources map to <work>/volumes/<pv>; an emptyDir to a directory of
//     the pod. Arguments and env values naming a mount path (or a path under it) are rewritten
//     to the directory, as the mount would make them mean; other volume types are not mounted;
//   - stdout and stderr to <work>/pods/<ns>_<pod>_<uid>/container.log; the termination message
//     file (the container's terminationMessagePath) is a file of that folder, named by
//     KUBECTL_DR_TERMINATION_LOG;
//   - on exit, the exit code (128+signal when killed) and the termination message (or, with
//     FallbackToLogsOnError and a failure, the log's tail) become the container's terminated
//     state and the pod's phase Succeeded or Failed.
//
// Used from the workload controller's thread only. The destructor kills what still runs.

#include <nlohmann/json_fwd.hpp>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <sys/types.h>

#include "controllers.h"

namespace kdr::kubesim {

class ClusterView;

class AgentNode {
 public:
  // `view` (kubesim's Store in process, or a real API server for kubesim-controllers) is where
  // claims and volumes are read; it must outlive the node.
  AgentNode(ClusterView* view, const AgentNodeOptions& options, Logger* logger);
  ~AgentNode();
  AgentNode(const AgentNode&) = delete;
  AgentNode& operator=(const AgentNode&) = delete;

  // True when this pod (or pod template) runs for real: a binary is configured and its first
  // container's image is the agent's.
  bool RunsForReal(const nlohmann::json& pod_or_template_spec) const;

  struct ContainerState {
    bool running = false;
    bool exited = false;
    int exit_code = 0;
    std::string message;      // the termination message
    std::string reason;       // "Completed", "Error", "StartError"
    std::string started_at;   // RFC 3339
    std::string finished_at;
  };
  // Starts the pod's process the first time it is asked, and says where it stands.
  ContainerState Run(const nlohmann::json& pod, const std::string& now);
  // Reaps exited processes; returns the namespaces of the pods whose process ended since the
  // last call (their status needs writing).
  std::set<std::string> Poll(const std::string& now);
  // Kills the process of a pod being deleted.
  void Kill(const std::string& pod_uid);

 private:
  struct Process {
    pid_t pid = -1;
    std::string ns;
    std::string dir;
    std::string policy;  // terminationMessagePolicy
    ContainerState state;
  };
  Result<Process> Start(const nlohmann::json& pod, const std::string& now);
  Result<std::string> VolumeDir(const nlohmann::json& pod, const nlohmann::json& volume, const std::string& pod_dir);
  Result<std::string> LonghornDir(const std::string& pv_name, const std::string& volume) const;
  Result<std::string> HpeDir(const std::string& pv_name, const std::string& volume) const;
  void Finish(Process* p, int wait_status, const std::string& now);

  ClusterView* const view_;
  const AgentNodeOptions options_;
  Logger* const logger_;
  std::string work_dir_;
  std::map<std::string, Process> processes_;  // by pod uid
};

}  // namespace kdr::kubesim
