#pragma once

// Kubeconfig loading and resolution, as kubectl does it (client-go's clientcmd).
//
// Where the configuration comes from, in order:
//   1. ConfigOverrides::kubeconfig (--kubeconfig): that one file, which must exist.
//   2. else ConfigPaths::kubeconfig_env (KUBECONFIG): a ':'-separated list merged with kubectl's
//      rules: the first file to set a key wins (clusters, contexts and users by name, whole
//      entries; current-context: the first file that sets a non-empty one). Files of the list that
//      do not exist are skipped; one that exists but cannot be read or parsed is an error.
//   3. else $HOME/.kube/config when it exists.
//   4. when the result holds no context at all and KUBERNETES_SERVICE_HOST/PORT are set and the
//      service-account token exists: the in-cluster config (server https://HOST:PORT, token file
//      re-read when it rotates, ca.crt, the namespace file).
// ConfigOverrides::context (--context) replaces current-context; ConfigOverrides::namespace_name
// (-n) replaces the context's namespace ("default" when neither sets one).
//
// Relative paths in a kubeconfig (certificate-authority, client-certificate, client-key,
// tokenFile, and an exec command containing a '/') resolve against the directory of the file that
// defined the entry. Files named by a kubeconfig are read when a context is resolved, through
// Env::fs; *-data fields are base64 and decoded then too. So, unlike kubectl (which refuses the
// whole file over one bad base64 field), a broken entry only breaks the contexts that use it: in a
// disaster the tool must still reach the cluster that works.
//
// Other departures from kubectl, on purpose: in-cluster without a readable ca.crt is an error
// (client-go only logs it); basic auth and auth-providers are refused with what to use instead; a
// context naming a missing cluster is an error (kubectl falls back to localhost:8080). As kubectl,
// insecure-skip-tls-verify together with a CA is refused.
//
// Errors are one line naming the file, context, cluster or user:
//   NotFound          the explicit --kubeconfig file, or a CA/cert/key/token file, does not exist;
//                     an unknown context (with the nearest name: "did you mean ...?"); no
//                     configuration found at all
//   InvalidArgument   malformed YAML (line and column) or a field of the wrong type; no current
//                     context; a context naming a missing cluster or user; bad base64; a cert
//                     without its key; basic auth or an auth-provider (with what to use instead);
//                     an unsupported exec apiVersion; a cluster without a server; a kubeconfig
//                     path that is a directory
//   PermissionDenied  a file that exists but cannot be read
// Thread-compatible plain data and pure functions; nothing here runs an exec plugin (that happens
// in the CredentialProvider, credentials.h, on first use).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/env.h"
#include "base/status.h"
#include "kube/rest_config.h"

namespace kdr::kube {

// kubectl's flags that choose and shape the config.
struct ConfigOverrides {
  std::string kubeconfig;      // --kubeconfig; "" = use KUBECONFIG / ~/.kube/config
  std::string context;         // --context; "" = current-context
  std::string namespace_name;  // -n; "" = the context's namespace, else "default"
};

// The environment the loader consults, injectable so tests never read the real one.
struct ConfigPaths {
  static constexpr const char* kDefaultInClusterDir =
      "/var/run/secrets/kubernetes.io/serviceaccount";

  std::optional<std::string> kubeconfig_env;          // KUBECONFIG; nullopt or "" = unset
  std::string home;                                   // HOME; "" = no ~/.kube/config
  std::string in_cluster_dir = kDefaultInClusterDir;  // token, ca.crt, namespace
  std::string service_host;                           // KUBERNETES_SERVICE_HOST
  std::string service_port;                           // KUBERNETES_SERVICE_PORT

  // Reads KUBECONFIG, HOME, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT from the process
  // environment. For main() only; tests build their own.
  static ConfigPaths FromEnvironment();
};

// One `clusters[]` entry. Paths are already resolved against the defining file's directory;
// *_data fields hold the base64 text as written (decoded on resolution, so a bad entry only
// breaks the contexts that use it).
struct KubeconfigCluster {
  std::string name;
  std::string server;
  std::string certificate_authority;
  std::string certificate_authority_data;
  bool insecure_skip_tls_verify = false;
  std::string tls_server_name;
  std::string proxy_url;
  // extensions[name=client.authentication.k8s.io/exec].extension, as JSON text ("" = none);
  // handed to exec plugins with provideClusterInfo.
  std::string exec_extension_json;
  std::string source;  // the file that defined it
};

// One `users[]` entry.
struct KubeconfigUser {
  std::string name;
  std::string client_certificate;
  std::string client_certificate_data;
  std::string client_key;
  std::string client_key_data;
  std::string token;
  std::string token_file;
  std::optional<ExecConfig> exec;
  bool has_basic_auth = false;  // username/password: unsupported, reported on resolution
  std::string auth_provider;    // auth-provider.name: unsupported, reported on resolution
  std::string exec_error;       // a malformed exec entry, reported on resolution
  std::string source;
};

// One `contexts[]` entry.
struct KubeconfigContext {
  std::string name;
  std::string cluster;
  std::string user;
  std::string namespace_name;
  std::string source;
};

// The merged view of one or more kubeconfig files.
struct Kubeconfig {
  std::vector<std::string> files;  // files read, in precedence order (missing ones left out)
  std::string current_context;     // "" = none set
  std::map<std::string, KubeconfigCluster> clusters;
  std::map<std::string, KubeconfigContext> contexts;
  std::map<std::string, KubeconfigUser> users;

  // Context names, sorted (for `kubectl dr ... --context` completion and messages).
  std::vector<std::string> ContextNames() const;
  // True when nothing was configured (no file, or files without any cluster/context/user).
  bool empty() const { return clusters.empty() && contexts.empty() && users.empty(); }
  // "/a/config" or "/a/config:/b/config", for messages.
  std::string FilesForMessages() const;
};

// Parses one kubeconfig document read from `path` (used for messages and to resolve relative
// paths). An empty document is an empty config.
Result<Kubeconfig> ParseKubeconfig(std::string_view yaml, const std::string& path);

// Loads the kubeconfig chosen by steps 1-3 above and merges it. No file found at all (KUBECONFIG
// naming only missing files, no ~/.kube/config) gives an empty Kubeconfig, not an error; the
// explicit --kubeconfig missing is NotFound.
Result<Kubeconfig> LoadKubeconfig(const ConfigOverrides& overrides, const Env& env,
                                  const ConfigPaths& paths);

// Resolves the context chosen by overrides (overrides.kubeconfig is ignored here) into a
// RestConfig: reads the CA, cert, key files (through env.fs), decodes *-data, checks that a
// token file exists, validates the exec entry. Does not run an exec plugin.
Result<RestConfig> ResolveRestConfig(const Kubeconfig& config, const ConfigOverrides& overrides,
                                     const Env& env);

// The in-cluster config from paths (step 4). NotFound naming KUBERNETES_SERVICE_HOST/PORT or the
// token file when not running in a pod; overrides.namespace_name replaces the namespace file.
Result<RestConfig> InClusterRestConfig(const ConfigOverrides& overrides, const Env& env,
                                       const ConfigPaths& paths);
// True when KUBERNETES_SERVICE_HOST/PORT are set and the token file exists.
bool InClusterPossible(const Env& env, const ConfigPaths& paths);

// Steps 1-4 in one call: what the plugin's commands use.
Result<RestConfig> LoadRestConfig(const ConfigOverrides& overrides, const Env& env,
                                  const ConfigPaths& paths);

}  // namespace kdr::kube
