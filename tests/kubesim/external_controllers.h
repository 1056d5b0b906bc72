#pragma once

// The simulators as one external process (kubesim-controllers, tests/controllers/main.cc):
// Longhorn (longhorn.h), the HPE CSI attach rule and the node that runs pods (sim_node.h), run
// over a ClientView (client_view.h) against any API server, the real kube-apiserver of
// scripts/realk8s included. kubesim runs the same Longhorn controller and agent node in process
// (controllers.h).
//
//   kubesim-controllers --kubeconfig KC [--context CTX] [--longhorn-backup-store DIR]
//       [--longhorn-data-dir DIR]
//       [--hpe-array A --alletra-sim-url URL --alletra-sim-ca CA [--alletra-sim-data-dir DIR]]
//       [--agent-binary kubectl-dr]
//       [--work-dir DIR] [--node-name NAME]
//
// Loopback only: agent processes reach the API server at 127.0.0.1 (KUBERNETES_SERVICE_HOST), so
// --agent-binary needs a kubeconfig whose server is on 127.0.0.1; nothing dials a ClusterIP.

#include <memory>
#include <string>

#include "base/status.h"
#include "hpe_csi.h"

namespace kdr {
class Clock;
class Logger;
}

namespace kdr::kubesim {

struct ExternalFlags {
  std::string kubeconfig;            // --kubeconfig (required)
  std::string context;               // --context ("" = the kubeconfig's current context)
  std::string longhorn_backup_store;  // --longhorn-backup-store ("" = backups end in Error)
  std::string longhorn_namespace = "longhorn-system";
  // --longhorn-data-dir: the volumes' contents ("" = work_dir/longhorn, else a new temp dir
  // removed on Stop).
  std::string longhorn_data_dir;
  HpeArrayFlags hpe;                 // --hpe-array, --alletra-sim-url, --alletra-sim-ca, --alletra-sim-insecure,
                                     // --alletra-sim-data-dir
  std::string agent_binary;          // --agent-binary ("" = agent pods pretend to run)
  std::string work_dir;              // --work-dir ("" = a new temp dir, when agent pods run)
  std::string node_name;             // --node-name ("" = the context's name)
  bool longhorn = true;              // false: --no-longhorn
};

class ExternalControllers {
 public:
  // Validates every flag, connects (the API server, alletra-sim), installs the Longhorn CRDs and
  // waits until they are served, then starts the controllers. Errors: InvalidArgument naming
  // the flag (missing --kubeconfig, an unknown context, an --agent-binary that is not
  // executable or a server not on loopback with it, a --node-name that is not a DNS subdomain,
  // the HPE flags as HpeArrayOptionsFromFlags says); Unavailable when the API server or
  // alletra-sim cannot be reached or the CRDs are not established within 30 s.
  // REQUIRES: clock outlives the controllers; logger may be null.
  static Result<std::unique_ptr<ExternalControllers>> Start(const ExternalFlags& flags, Clock* clock,
                                                            Logger* logger);
  ~ExternalControllers();  // Stop()
  ExternalControllers(const ExternalControllers&) = delete;
  ExternalControllers& operator=(const ExternalControllers&) = delete;

  const std::string& node_name() const;
  const std::string& server() const;
  // Stops every controller thread and kills agent processes still running; idempotent.
  void Stop();

 private:
  ExternalControllers();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kdr::kubesim
