#pragma once

// RestConfig: everything needed to talk to one API server, resolved from a kubeconfig context or
// from in-cluster configuration (kubeconfig.h), and consumed by the HTTPS transport and the REST
// client (client.h). Plain data: no parsing library appears here.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kdr::kube {

// An exec credential plugin (client.authentication.k8s.io/v1 or v1beta1), as a kubeconfig user's
// `exec` entry describes it.
struct ExecConfig {
  std::string api_version;  // "client.authentication.k8s.io/v1" or ".../v1beta1"
  std::string command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string install_hint;
  bool provide_cluster_info = false;
  std::string interactive_mode;  // Never | IfAvailable | Always
  // The cluster's extensions[client.authentication.k8s.io/exec] as JSON text ("" = none): sent
  // as spec.cluster.config when provide_cluster_info.
  std::string cluster_config_json;
};

struct RestConfig {
  std::string server;  // "https://host:port" (no trailing slash)

  // TLS. ca_pem empty: the system trust store.
  std::string ca_pem;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;  // SNI and the name verified in the server certificate
  std::string proxy_url;        // the cluster's proxy-url ("" = none); passed to exec plugins
  std::string client_cert_pem;
  std::string client_key_pem;

  // Authentication; at most one source is used: exec, then token_file, then bearer_token.
  std::string bearer_token;
  std::string token_file;  // re-read when it changes (service-account token rotation)
  std::optional<ExecConfig> exec;

  // Where this came from, for messages: context name and the kubeconfig file(s).
  std::string context;
  std::string cluster_name;
  std::string user_name;
  std::string source;           // "/home/me/.kube/config" or "in-cluster"
  std::string namespace_name;   // the context's namespace ("default" when unset)

  // Client behaviour (kubectl's flags).
  std::chrono::milliseconds request_timeout{0};  // 0: none
  double qps = 50;                                // client-side rate limit
  int burst = 100;
  int max_connections = 16;  // parallel connections for bulk work
};

}  // namespace kdr::kube
