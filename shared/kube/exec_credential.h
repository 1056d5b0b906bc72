#pragma once

// Exec credential plugins (client.authentication.k8s.io/v1 and v1beta1), the way client-go runs
// them: the command (looked up on PATH unless it contains a '/') runs with the process environment
// plus the kubeconfig's exec.env, KUBERNETES_EXEC_INFO holding the ExecCredential request
// (spec.interactive=false; spec.cluster when provideClusterInfo), stdin from /dev/null, stdout and
// stderr captured, under a timeout. Its stdout must be an ExecCredential of the same apiVersion
// with status.token and/or status.clientCertificateData + clientKeyData, and optionally
// status.expirationTimestamp.
//
// Errors name the plugin's command and the kubeconfig user:
//   NotFound          the command is not on PATH / the file does not exist (with installHint)
//   Unauthenticated   it exited non-zero (the message carries its stderr, trimmed to one line) or
//                     was killed by a signal
//   DeadlineExceeded  it ran past the timeout (it is killed, with its process group)
//   InvalidArgument   stdout is not JSON, the wrong apiVersion/kind, no credential in status, a
//                     malformed expirationTimestamp; interactiveMode Always (we never prompt)

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "kube/credentials.h"
#include "kube/rest_config.h"

namespace kdr {
class Logger;
}  // namespace kdr

namespace kdr::kube {

struct ExecRunOptions {
  // The child's base environment ("NAME=value"), exec.env entries override it; PATH from it is
  // where a bare command is looked up.
  std::vector<std::string> environment;
  // Generous, because a plugin may open a browser for single sign-on; a hung plugin still ends.
  std::chrono::milliseconds timeout{std::chrono::minutes(2)};
  // Where a plugin's stderr goes when it succeeds (kubectl shows it; plugins print warnings and
  // login prompts there) and why it ran (debug). May be null.
  Logger* logger = nullptr;
  // Called (under the provider's lock) each time a Get joins a run already under way instead of
  // starting one: lets tests prove concurrent callers share a run. Unset in production.
  std::function<void()> on_share_run;

  // The process environment, the default timeout and `logger`. For MakeCredentialProvider.
  static ExecRunOptions FromProcess(Logger* logger);
};

struct ProcessOutput {
  int exit_code = 0;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs `path` (absolute or relative to the working directory) with argv = {path, args...} and the
// given environment, stdin /dev/null, collecting stdout and stderr until it exits. The child gets
// its own process group, killed whole on timeout (DeadlineExceeded). Unavailable when it cannot be
// started. Thread-safe.
Result<ProcessOutput> RunProcess(const std::string& path, const std::vector<std::string>& args,
                                 const std::vector<std::string>& environment,
                                 std::chrono::milliseconds timeout);

// The first executable regular file named `command` in the ':'-separated `path_list`, or `command`
// itself when it contains a '/' and is executable. NotFound otherwise.
Result<std::string> LookPath(const std::string& command, std::string_view path_list);

// The KUBERNETES_EXEC_INFO value for config.exec: {"apiVersion", "kind":"ExecCredential",
// "spec":{"interactive":false, "cluster":{...} when provide_cluster_info}}.
// REQUIRES: config.exec.
std::string ExecCredentialRequestJson(const RestConfig& config);

// Parses the plugin's stdout. `what` names the plugin for messages.
Result<Credentials> ParseExecCredential(std::string_view out, const ExecConfig& exec,
                                        const std::string& what);

// The exec provider: runs the plugin on first Get, caches its credential until
// expirationTimestamp (per clock->Now(); never when absent) and re-runs it on expiry or
// force_refresh. Concurrent Get calls while a run is under way wait for that run and share its
// result. A failed run is not cached (the next Get tries again). Client certificates from the
// config are returned when the plugin gives only a token. REQUIRES: config.exec; clock outlives
// the provider.
std::unique_ptr<CredentialProvider> MakeExecCredentialProvider(const RestConfig& config,
                                                               Clock* clock,
                                                               ExecRunOptions options);

}  // namespace kdr::kube
