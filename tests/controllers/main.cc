// kubesim-controllers: kubesim's simulators (Longhorn, the HPE CSI attach rule, a node that runs
// pods and kubectl-dr's agent processes) against any API server, as one process. See
// tests/kubesim/external_controllers.h.
//
// Prints "kubesim-controllers ready node=NAME server=URL" on stdout once the controllers run,
// then runs until SIGTERM or SIGINT. Exit 2 for bad flags, 1 when it cannot start.

#include <signal.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/clock.h"
#include "base/log.h"
#include "kubesim/external_controllers.h"

int main(int argc, char** argv) {
  kdr::kubesim::ExternalFlags flags;
  bool no_longhorn = false;
  int verbosity = 0;
  int stop_with = 0;
  CLI::App app{"kubesim-controllers: kubesim's Longhorn, HPE CSI and node simulators against any API server"};
  app.add_option("--kubeconfig", flags.kubeconfig, "kubeconfig of the API server (required)");
  app.add_option("--context", flags.context, "context of the kubeconfig (default: its current context)");
  app.add_option("--longhorn-backup-store", flags.longhorn_backup_store,
                 "directory of Longhorn's backup store, shared by the clusters of a pair (default: none, "
                 "backups end in Error)");
  app.add_option("--longhorn-namespace", flags.longhorn_namespace, "namespace of Longhorn's objects");
  app.add_option("--longhorn-data-dir", flags.longhorn_data_dir,
                 "this cluster's Longhorn volume contents, a directory per volume, apart from the backup store "
                 "(default: --work-dir/longhorn, else a new temp dir)");
  app.add_flag("--no-longhorn", no_longhorn, "do not run the Longhorn simulation");
  app.add_option("--hpe-array", flags.hpe.array, "the HPE array this cluster's hosts use (alletra-sim's name)");
  app.add_option("--alletra-sim-url", flags.hpe.alletra_url, "alletra-sim's admin listener (https://HOST:PORT)");
  app.add_option("--alletra-sim-ca", flags.hpe.ca_file, "PEM CA of alletra-sim");
  app.add_flag("--alletra-sim-insecure", flags.hpe.insecure, "do not verify alletra-sim (loopback only)");
  app.add_option("--alletra-sim-data-dir", flags.hpe.data_dir,
                 "alletra-sim's --data-dir: agent pods mount HPE CSI volumes as their array volume's directory");
  app.add_option("--agent-binary", flags.agent_binary,
                 "kubectl-dr binary: pods of the agent image run as its processes (default: they pretend)");
  app.add_option("--work-dir", flags.work_dir, "where agent pods keep their files (default: a new temp dir)");
  app.add_option("--node-name", flags.node_name, "name of the node to register (default: the context's name)");
  app.add_option("--stop-with", stop_with,
                 "stop once process PID has exited (a test harness killed on its timeout leaves nothing running)");
  app.add_option("-v", verbosity, "log verbosity");
  CLI11_PARSE(app, argc, argv);
  flags.longhorn = !no_longhorn;

  kdr::RealClock clock;
  kdr::Logger logger(std::make_unique<kdr::TextLogSink>(&std::cerr, &clock), kdr::VerbosityFromFlag(verbosity));

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto controllers = kdr::kubesim::ExternalControllers::Start(flags, &clock, &logger);
  if (!controllers.ok()) {
    std::cerr << "kubesim-controllers: " << controllers.status().message() << "\n";
    return controllers.status().code() == kdr::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::cout << "kubesim-controllers ready node=" << (*controllers)->node_name()
            << " server=" << (*controllers)->server() << std::endl;
  int sig = 0;
  if (stop_with > 0) {
    // Polled: the harness is not our parent's parent in every setup, so no PR_SET_PDEATHSIG.
    const timespec second{1, 0};
    while ((sig = sigtimedwait(&set, nullptr, &second)) < 0 && ::kill(stop_with, 0) == 0) {
    }
  } else {
    sigwait(&set, &sig);
  }
  (*controllers)->Stop();
  return 0;
}
