#include "external_controllers.h"

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "client_view.h"
#include "controllers_internal.h"
#include "sim/dir_tree.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "longhorn.h"
#include "sim_node.h"

namespace kdr::kubesim {
namespace {

// "https://127.0.0.1:6443" -> {"127.0.0.1", 6443}; port 0 when the URL has none.
std::pair<std::string, int> HostPort(const std::string& url) {
  std::string rest = url;
  if (size_t s = rest.find("://"); s != std::string::npos) rest = rest.substr(s + 3);
  if (size_t slash = rest.find('/'); slash != std::string::npos) rest = rest.substr(0, slash);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.back() == ']') return {rest, 0};
  int port = 0;
  try {
    port = std::stoi(rest.substr(colon + 1));
  } catch (const std::exception&) {
    port = 0;
  }
  return {rest.substr(0, colon), port};
}

}  // namespace

struct ExternalControllers::Impl {
  std::unique_ptr<sim::ScopedTree> scratch_longhorn;  // destroyed last, once nothing runs
  std::string node_name;
  std::string server;
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<ClientView> view;
  std::vector<std::unique_ptr<Reconciler>> reconcilers;
  std::vector<std::jthread> threads;
};

ExternalControllers::ExternalControllers() : impl_(std::make_unique<Impl>()) {}
ExternalControllers::~ExternalControllers() { Stop(); }
const std::string& ExternalControllers::node_name() const { return impl_->node_name; }
const std::string& ExternalControllers::server() const { return impl_->server; }

void ExternalControllers::Stop() {
  for (auto& t : impl_->threads) t.request_stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
  impl_->reconcilers.clear();  // the node's destructor kills agent processes still running
}

Result<std::unique_ptr<ExternalControllers>> ExternalControllers::Start(const ExternalFlags& flags, Clock* clock,
                                                                        Logger* logger) {
  PosixFileSystem fs;
  if (flags.kubeconfig.empty()) {
    return Status::InvalidArgument("--kubeconfig is required: the kubeconfig of the API server to run the "
                                   "simulators against");
  }
  if (!fs.Exists(flags.kubeconfig)) {
    return Status::InvalidArgument("--kubeconfig " + Quote(flags.kubeconfig) + " does not exist");
  }
  if (!flags.agent_binary.empty() && ::access(flags.agent_binary.c_str(), X_OK) != 0) {
    return Status::InvalidArgument("--agent-binary " + Quote(flags.agent_binary) +
                                   " is not an executable file; build the kubectl-dr target");
  }
  if (!flags.node_name.empty() && !kube::IsDns1123Subdomain(flags.node_name)) {
    return Status::InvalidArgument("--node-name " + Quote(flags.node_name) +
                                   " is not a valid node name (a DNS subdomain: lowercase letters, digits, '-' "
                                   "and '.')");
  }
  KDR_ASSIGN_OR_RETURN(auto hpe_options, HpeArrayOptionsFromFlags(flags.hpe, fs));

  Env env{clock, &fs, logger};
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = flags.kubeconfig;
  overrides.context = flags.context;
  kube::ConfigPaths paths;  // only the file named: never KUBECONFIG, ~/.kube or in-cluster
  auto config = kube::LoadRestConfig(overrides, env, paths);
  if (!config.ok()) {
    return Status::InvalidArgument("--kubeconfig " + Quote(flags.kubeconfig) +
                                   (flags.context.empty() ? "" : " --context " + Quote(flags.context)) + ": " +
                                   config.status().message());
  }
  // Controllers list often and write in bursts (a StatefulSet's pods): the server's own limits
  // apply, not a client-side bucket meant for operators' commands.
  config->qps = 0;
  std::unique_ptr<ExternalControllers> c(new ExternalControllers());
  Impl& impl = *c->impl_;
  impl.server = config->server;
  impl.node_name = !flags.node_name.empty() ? flags.node_name : ToLower(config->context);
  if (!kube::IsDns1123Subdomain(impl.node_name)) {
    return Status::InvalidArgument("the context name " + Quote(config->context) +
                                   " is not a valid node name; give one with --node-name");
  }
  auto [host, port] = HostPort(config->server);
  if (!flags.agent_binary.empty() && host != "127.0.0.1" && host != "localhost") {
    return Status::InvalidArgument("--agent-binary: agent processes reach the API server at 127.0.0.1, but the "
                                   "kubeconfig's server is " + config->server +
                                   "; run kubesim-controllers on the API server's machine with a loopback server URL");
  }
  KDR_ASSIGN_OR_RETURN(impl.client, kube::Client::Create(*config, env));
  impl.view = std::make_unique<ClientView>(impl.client.get());
  {
    auto version = impl.client->ServerVersion();
    if (!version.ok()) {
      return Status::Unavailable("cannot reach the API server " + config->server + ": " + version.status().message());
    }
  }

  std::shared_ptr<const HpeArray> array;
  if (hpe_options) {
    KDR_ASSIGN_OR_RETURN(auto connected, HpeArray::Connect(std::move(*hpe_options)));
    array = std::move(connected);
  }

  ControllerOptions lh;
  lh.clock = clock;
  lh.logger = logger;
  lh.longhorn_backupstore = flags.longhorn_backup_store;
  lh.longhorn_namespace = flags.longhorn_namespace;
  lh.longhorn_data_dir = flags.longhorn_data_dir;
  if (flags.longhorn && lh.longhorn_data_dir.empty()) {
    if (!flags.work_dir.empty()) {
      lh.longhorn_data_dir = JoinPath(flags.work_dir, "longhorn");
    } else {
      KDR_ASSIGN_OR_RETURN(impl.scratch_longhorn, sim::ScopedTree::Make("kubesim-longhorn"));
      lh.longhorn_data_dir = impl.scratch_longhorn->path();
    }
  }
  const std::chrono::milliseconds resync = lh.resync_interval;
  if (flags.longhorn) {
    KDR_RETURN_IF_ERROR(InstallLonghornCrds(impl.view.get()).WithContext("installing the longhorn CRDs"));
    // A CRD is served once Established: until then an apply of Longhorn volumes would fail.
    Status served = Status::Unavailable("not yet listed");
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
         std::chrono::steady_clock::now() < deadline;) {
      served = Status::Ok();
      for (const char* r : {"volumes", "backups", "backupvolumes", "backuptargets"}) {
        auto listed = impl.view->List({"longhorn.io", r}, flags.longhorn_namespace);
        if (!listed.ok()) served = listed.status();
      }
      if (served.ok()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!served.ok()) {
      return Status::Unavailable("the longhorn CRDs are not served by " + config->server +
                                 " after 30 s: " + served.message());
    }
    KDR_ASSIGN_OR_RETURN(auto controller, NewLonghornController(impl.view.get(), lh));
    impl.reconcilers.push_back(std::move(controller));
  }

  SimNodeOptions node;
  node.node_name = impl.node_name;
  node.hpe_array = array;
  node.longhorn_namespace = flags.longhorn_namespace;
  node.clock = clock;
  node.logger = logger;
  node.agent.binary = flags.agent_binary;
  node.agent.work_dir = flags.work_dir;
  node.agent.hpe_array = array;
  if (flags.longhorn) {
    node.agent.longhorn_data_dir = lh.longhorn_data_dir;
    node.agent.longhorn_namespace = flags.longhorn_namespace;
  }
  node.agent.ca_pem = config->ca_pem;
  const int api_port = port;
  node.agent.api_port = [api_port] { return api_port; };
  ClientView* view = impl.view.get();
  node.agent.issue_token = [view, logger](const std::string& ns, const std::string& name) {
    return RequestServiceAccountToken(view, ns, name, logger);
  };
  impl.reconcilers.push_back(NewSimNode(impl.view.get(), node));

  const std::vector<GroupResource> longhorn_resources = {
      {"longhorn.io", "volumes"}, {"longhorn.io", "backups"}, {"longhorn.io", "backupvolumes"},
      {"longhorn.io", "backuptargets"}, {"", "persistentvolumes"}, {"", "namespaces"}};
  for (auto& r : impl.reconcilers) {
    std::vector<GroupResource> resources = r->name() == "longhorn" ? longhorn_resources : SimNodeResources();
    impl.threads.emplace_back(RunReconciler, impl.view.get(), resources, r.get(), resync, logger);
  }
  return c;
}

}  // namespace kdr::kubesim
