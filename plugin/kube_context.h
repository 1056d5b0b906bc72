#pragma once

// From the plugin's global flags to a cluster: every command that talks to an API server starts
// here, so --kubeconfig, --context, -n, --request-timeout, --qps and --burst mean the same
// everywhere.

#include <chrono>
#include <memory>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "cli/cli.h"
#include "kube/client.h"
#include "kube/rest_config.h"

namespace kdr::plugin {

// kubectl's --request-timeout: "0" (none), "30s", "1m30s", "500ms", "1.5h"; a bare number is
// seconds. InvalidArgument naming the flag and the value otherwise (negative, unknown unit).
Result<std::chrono::milliseconds> ParseRequestTimeout(std::string_view text);

// The RestConfig of the chosen context (kube::LoadRestConfig with the process environment's
// KUBECONFIG/HOME), with --request-timeout, --qps and --burst applied.
Result<kube::RestConfig> RestConfigFromGlobals(const GlobalOptions& globals, const Env& env);

// A Client for the chosen context. Errors name the kubeconfig file or context; nothing is sent.
Result<std::unique_ptr<kube::Client>> ClientFromGlobals(const GlobalOptions& globals, const Env& env);

}  // namespace kdr::plugin
