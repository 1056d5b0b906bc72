// kubesim: the in-memory Kubernetes API server as a process, for the demo and for tests that
// run it out of process.
//
//   kubesim --listen 127.0.0.1:0 --kubeconfig-out /tmp/src.kubeconfig [--data-dir DIR]
//           [--context-name NAME] [--service-endpoint ns/name:port=127.0.0.1:port]...
//           [--no-controllers pvc,workloads,longhorn] [--longhorn-backupstore DIR]
//           [--longhorn-data-dir DIR]
//           [--agent-binary PATH/kubectl-dr [--node-dir DIR]]
//           [--hpe-array NAME --alletra-sim-url https://127.0.0.1:P
//            (--alletra-sim-ca FILE | --alletra-sim-insecure) [--alletra-sim-data-dir DIR]]
//
// Prints "kubesim ready at https://127.0.0.1:PORT" on stdout once serving, then serves until
// SIGTERM or SIGINT.

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>

#include "admission.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "controllers.h"
#include "hpe_csi.h"
#include "quota.h"
#include "server.h"

int main(int argc, char** argv) {
  CLI::App app{"kubesim: an in-memory Kubernetes API server for kubectl-dr's tests and demo"};
  std::string listen = "127.0.0.1:0";
  std::string kubeconfig_out;
  std::string data_dir;
  std::string context_name = "kubesim";
  std::vector<std::string> endpoints;
  int verbosity = 0;
  size_t threads = 128;
  bool no_admission = false;
  std::string no_controllers;
  std::string longhorn_backupstore;
  std::string longhorn_data_dir;
  int longhorn_poll_ms = 5000;
  std::string ca_cert_file;
  std::string ca_key_file;
  kdr::kubesim::HpeArrayFlags hpe;
  std::string agent_binary;
  std::string node_dir;
  app.add_option("--listen", listen, "HOST:PORT to serve on (port 0 picks a free port)");
  app.add_option("--kubeconfig-out", kubeconfig_out, "write an admin kubeconfig for this server here");
  app.add_option("--data-dir", data_dir, "keep state here across restarts (default: in memory)");
  app.add_option("--context-name", context_name, "context, cluster and user name in the kubeconfig");
  app.add_option("--service-endpoint", endpoints,
                 "NS/NAME:PORT=HOST:PORT: where admission reaches a webhook service");
  app.add_option("--threads", threads, "HTTP worker threads (each open watch holds one)");
  app.add_flag("--no-admission", no_admission, "do not call admission webhooks");
  app.add_option("--no-controllers", no_controllers,
                 "simulated controllers to switch off: pvc,workloads,longhorn,namespaces or all");
  app.add_option("--longhorn-backupstore", longhorn_backupstore,
                 "directory holding Longhorn backups (share it between a source and a target)");
  app.add_option("--longhorn-data-dir", longhorn_data_dir,
                 "this cluster's Longhorn volume contents, a directory per volume, apart from the backup store "
                 "(default: --data-dir/longhorn, else a new temp dir)");
  app.add_option("--longhorn-poll-interval-ms", longhorn_poll_ms,
                 "how often Longhorn DR volumes look for new backups");
  app.add_option("--ca-cert", ca_cert_file,
                 "PEM CA certificate that signs the serving and client certificates (default: made at "
                 "start, or kept in --data-dir)");
  app.add_option("--ca-key", ca_key_file, "PEM private key of --ca-cert");
  app.add_option("--hpe-array", hpe.array,
                 "the HPE Alletra array this cluster's hosts use: a csi.hpe.com PV binds only "
                 "while alletra-sim says its volume is writable there");
  app.add_option("--alletra-sim-url", hpe.alletra_url,
                 "alletra-sim's admin listener (the admin= URL of its ready line)");
  app.add_option("--alletra-sim-ca", hpe.ca_file,
                 "PEM CA of alletra-sim (the ca= file of its ready line)");
  app.add_flag("--alletra-sim-insecure", hpe.insecure,
               "do not verify alletra-sim's certificate (loopback URLs only)");
  app.add_option("--alletra-sim-data-dir", hpe.data_dir,
                 "alletra-sim's --data-dir (the data= of its ready line): agent pods mount HPE CSI volumes as "
                 "their array volume's directory");
  app.add_option("--agent-binary", agent_binary,
                 "the kubectl-dr binary: pods of kubectl-dr's agent image run as its processes, with "
                 "the pod's args, env, service-account token and claims as directories (default: they "
                 "only pretend to run)");
  app.add_option("--node-dir", node_dir,
                 "where agent pods keep their files and volumes without a host path (default: "
                 "--data-dir/node, else a new temp dir)");
  app.add_option("-v", verbosity, "log verbosity (1+: one line per request)");
  CLI11_PARSE(app, argc, argv);

  kdr::kubesim::Server::Options options;
  options.listen = listen;
  options.data_dir = data_dir;
  options.threads = threads;
  options.admission = !no_admission;
  if (ca_cert_file.empty() != ca_key_file.empty()) {
    std::cerr << "kubesim: --ca-cert and --ca-key go together; give both or neither\n";
    return 2;
  }
  if (!ca_cert_file.empty()) {
    kdr::PosixFileSystem fs;
    auto cert = fs.ReadFile(ca_cert_file);
    auto key = fs.ReadFile(ca_key_file);
    if (!cert.ok() || !key.ok()) {
      std::cerr << "kubesim: " << (cert.ok() ? key.status() : cert.status()).message() << "\n";
      return 2;
    }
    options.ca = {*cert, *key};
  }
  for (const auto& e : endpoints) {
    kdr::Status s = kdr::kubesim::ParseServiceEndpoint(e, &options.service_endpoints);
    if (!s.ok()) {
      std::cerr << "kubesim: --service-endpoint: " << s.message() << "\n";
      return 2;
    }
  }
  kdr::kubesim::ControllerOptions controller_options;
  controller_options.longhorn_backupstore = longhorn_backupstore;
  controller_options.longhorn_data_dir = !longhorn_data_dir.empty() ? longhorn_data_dir
                                         : data_dir.empty()         ? ""
                                                                    : data_dir + "/longhorn";
  controller_options.longhorn_poll_interval = std::chrono::milliseconds(longhorn_poll_ms);
  if (kdr::Status s = kdr::kubesim::DisableControllers(no_controllers, &controller_options);
      !s.ok()) {
    std::cerr << "kubesim: " << s.message() << "\n";
    return 2;
  }
  {
    kdr::PosixFileSystem fs;
    auto hpe_options = kdr::kubesim::HpeArrayOptionsFromFlags(hpe, fs);
    if (!hpe_options.ok()) {
      std::cerr << "kubesim: " << hpe_options.status().message() << "\n";
      return 2;
    }
    if (*hpe_options) {
      auto array = kdr::kubesim::HpeArray::Connect(std::move(**hpe_options));
      if (!array.ok()) {
        std::cerr << "kubesim: " << array.status().message() << "\n";
        return array.status().code() == kdr::StatusCode::kUnavailable ? 1 : 2;
      }
      controller_options.hpe_array = std::move(*array);
    }
  }
  kdr::RealClock clock;
  auto logger = std::make_unique<kdr::Logger>(std::make_unique<kdr::TextLogSink>(&std::cerr, &clock),
                                              kdr::VerbosityFromFlag(verbosity));
  options.logger = logger.get();

  // Block the signals before any thread starts, then wait for them here.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = kdr::kubesim::Server::Start(options);
  if (!server.ok()) {
    std::cerr << "kubesim: " << server.status().message() << "\n";
    return 1;
  }
  if (!kubeconfig_out.empty()) {
    kdr::Status s = (*server)->WriteKubeconfig(kubeconfig_out, context_name);
    if (!s.ok()) {
      std::cerr << "kubesim: " << s.message() << "\n";
      return 1;
    }
  }
  controller_options.clock = &clock;
  controller_options.cluster_ca_pem = (*server)->ca_pem();
  if (!agent_binary.empty()) {
    if (access(agent_binary.c_str(), X_OK) != 0) {
      std::cerr << "kubesim: --agent-binary " << agent_binary << " is not an executable file; build the kubectl-dr target\n";
      return 2;
    }
    kdr::kubesim::Server* s = server->get();
    controller_options.agent.binary = agent_binary;
    controller_options.agent.work_dir = !node_dir.empty() ? node_dir : data_dir.empty() ? "" : data_dir + "/node";
    controller_options.agent.api_port = [s] { return s->port(); };
    controller_options.agent.issue_token = [s](const std::string& ns, const std::string& name) {
      return s->IssueServiceAccountToken(ns, name);
    };
  }
  controller_options.logger = logger.get();
  auto controllers = kdr::kubesim::Controllers::Start((*server)->store(), controller_options);
  if (!controllers.ok()) {
    std::cerr << "kubesim: starting controllers: " << controllers.status().message() << "\n";
    return 1;
  }
  // kube-controller-manager's resourcequota controller runs whatever --no-controllers says.
  auto quota_controller = kdr::kubesim::QuotaController::Start((*server)->store(), logger.get());
  std::cout << "kubesim ready at " << (*server)->url() << std::endl;
  int sig = 0;
  sigwait(&set, &sig);
  (*controllers)->Stop();
  quota_controller->Stop();
  (*server)->Stop();
  return 0;
}
