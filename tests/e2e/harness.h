#pragma once

// The end-to-end harness: a source and a target cluster, driven with real kubectl.
//
// When KDR_E2E_SOURCE_KUBECONFIG and KDR_E2E_TARGET_KUBECONFIG are both set, the clusters are
// those (a kind pair, a lab pair) and the tests run unchanged against them; Restart() is then
// unsupported and tests that need it skip. With KDR_E2E_PAIR=real, each cluster is a real
// kube-apiserver, kube-controller-manager and etcd that `scripts/realk8s start` runs on loopback
// in the pair's temp dir (built by `scripts/realk8s build`), stopped when the pair is destroyed.
// Otherwise (KDR_E2E_PAIR unset or "kubesim") each cluster is a `kubesim` process started from
// the build tree with its own data directory, whose node runs kubectl-dr's agent pods as
// processes of the built kubectl-dr (kubesim --agent-binary). On kubesim and on the real pair a test can restart
// a cluster's API server in the middle of a workflow and find its state intact.
//
// The simulators (Longhorn with a backup store shared by the two sites, the HPE CSI attach rule
// against alletra-sim, a node that runs pods and the agent's processes) run in process in each
// kubesim; beside each real cluster the harness starts them as one `kubesim-controllers` process
// (tests/kubesim/external_controllers.h) on the cluster's kubeconfig, its node named after the
// context ("source", "target"), stopped by pid before the cluster (and by itself should this
// process die: --stop-with). Clusters given by KDR_E2E_*_KUBECONFIG get none.
//
// Tests reach clusters only through kubeconfigs (kubectl, the plugin, the client): nothing here
// gives them a way into kubesim's internals that a real cluster could not give.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "testutil/testutil.h"

namespace kdr::e2e {

class Cluster {
 public:
  virtual ~Cluster() = default;
  // Path of a kubeconfig whose current context reaches this cluster.
  virtual const std::string& kubeconfig() const = 0;
  virtual const std::string& context() const = 0;
  virtual bool simulated() const = 0;
  // True when the API server runs on this machine, so it can call a webhook on 127.0.0.1.
  virtual bool local() const = 0;
  // Stops and starts the cluster's API server, keeping its state and address. Unimplemented on
  // clusters given by KDR_E2E_*_KUBECONFIG.
  virtual Status Restart() = 0;
  // Stops the API server (the cluster becomes unreachable) until Restart().
  virtual Status Stop() = 0;
};

// alletra-sim running beside a pair: the source's array first, the target's second.
struct AlletraSimInfo {
  std::string source_array;  // system names ("array-a")
  std::string target_array;
  std::string source_url;    // each array's WSAPI, "https://127.0.0.1:PORT"
  std::string target_url;
  std::string admin_url;     // alletra-sim's admin listener (/sim/v1/...)
  std::string ca_path;       // the PEM CA that signed all three
  std::string data_dir;      // its --data-dir: the arrays' volume contents
};

// kubectl's arguments making the plan's credentials Secret "shop-arrays" in kubectl-dr-system for
// alletra-sim's arrays (user 3paradm): the source array's URL as sourceUrl unless `reversed` (a
// failback's plan, whose source is the DR array); `extra` follows ("--dry-run=client -o yaml").
std::string AlletraArraysSecretArgs(const AlletraSimInfo& arrays, bool reversed = false,
                                    const std::string& password = "3pardata", const std::string& extra = "");

struct PairOptions {
  // When set, an alletra-sim process is started first with this pair description (--config) and
  // stopped with the pair, its data dir in the pair's temp dir (AlletraVolumeDir). The source's simulators attach to the first array and the target's to
  // the second (--hpe-array): on kubesim a csi.hpe.com PV binds only where its volume is
  // writable; on the real pair kube-controller-manager binds it and the pods mounting it run only
  // where it is writable (FailedAttachVolume events elsewhere).
  std::string alletra_config;
  // false: no kubesim-controllers beside a real pair, which then shows what a cluster without a
  // kubelet does (pods stay Pending). kubesim's in-process simulators always run.
  bool simulators = true;
};

class ClusterPair {
 public:
  // Starts (or connects to) both clusters. FailedPrecondition naming what to build when kubesim
  // (or, for KDR_E2E_PAIR=real, the real control plane) is not built; InvalidArgument for an
  // unknown KDR_E2E_PAIR; Unavailable with the start-up log when a real cluster does not start.
  // Both kubesims share a Longhorn backup store (a folder of the pair's temp dir).
  static Result<std::unique_ptr<ClusterPair>> Create(const PairOptions& options = {});
  ~ClusterPair();
  // True when Create() starts kubesim clusters (KDR_E2E_PAIR unset or kubesim and no
  // KDR_E2E_*_KUBECONFIG).
  static bool Simulated();
  // True when the pair runs the simulators (Longhorn, the HPE CSI rule, a node that runs pods and
  // agent processes): kubesim and the real pair; not clusters given by KDR_E2E_*_KUBECONFIG.
  // Tests that need one can skip before starting anything.
  static bool RunsSimulators();

  Cluster& source() const { return *source_; }
  Cluster& target() const { return *target_; }
  // A kubeconfig holding both contexts ("source" and "target" for kubesim), for commands that
  // take --context.
  const std::string& merged_kubeconfig() const { return merged_; }

  // Runs kubectl with the given arguments against `cluster` (its kubeconfig), stdout and stderr
  // together.
  testutil::CommandResult Kubectl(const Cluster& cluster, const std::string& args) const;
  // Runs a shell command with PATH starting at the build dir (kubectl dr finds our plugin) and
  // KUBECONFIG set to the merged kubeconfig.
  testutil::CommandResult Shell(const std::string& command) const;

  // The alletra-sim started for PairOptions::alletra_config; null without one.
  const AlletraSimInfo* alletra() const { return alletra_ ? &alletra_info_ : nullptr; }
  // The directory holding the contents of volume `volume` of array `array` in that alletra-sim
  // (which the node of the cluster attached to the array mounts in the agent's pods, and which
  // remote copy copies); "" without one.
  std::string AlletraVolumeDir(const std::string& array, const std::string& volume) const;

  // The directory holding the contents of Longhorn volume `volume` on `cluster`, in the Longhorn
  // data dir the harness gives that cluster's simulators (kubesim's, or kubesim-controllers'
  // beside a real cluster; tests/kubesim/longhorn.h). Tests write and read a volume's files
  // there, as an application would through its mount. "" for clusters given by
  // KDR_E2E_*_KUBECONFIG, whose volumes are not on this machine.
  std::string LonghornVolumeDir(const Cluster& cluster, const std::string& volume) const;

 private:
  class Process;
  ClusterPair() = default;
  testutil::TempDir dir_;
  std::unique_ptr<Process> alletra_;  // stopped after the clusters
  AlletraSimInfo alletra_info_;
  std::unique_ptr<Cluster> source_;
  std::unique_ptr<Cluster> target_;
  bool simulated_volumes_ = false;  // the simulators' data dirs are the harness's
  // kubesim-controllers beside each real cluster; stopped before the clusters.
  std::vector<std::unique_ptr<Process>> simulators_;
  std::string merged_;

  Status StartSimulators();
  // The Longhorn data dir of the simulators of the cluster named `context`.
  std::string LonghornDataDir(const std::string& context) const;
};

}  // namespace kdr::e2e
