#include "kube_context.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "base/strings.h"
#include "kube/kubeconfig.h"

namespace kdr::plugin {

Result<std::chrono::milliseconds> ParseRequestTimeout(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("--request-timeout " + Quote(text) +
                                   " is not a duration: use seconds (30) or numbers with units "
                                   "(500ms, 30s, 1m30s, 1h)");
  };
  std::string_view s = TrimSpace(text);
  if (s.empty()) return bad();
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    if (s.size() > 9) return bad();
    return std::chrono::milliseconds(std::stoll(std::string(s)) * 1000);
  }
  // Go's time.ParseDuration: a sequence of decimal numbers, each with a unit.
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
    if (i == start) return bad();
    std::string number(s.substr(start, i - start));
    if (std::count(number.begin(), number.end(), '.') > 1 || number == ".") return bad();
    double value = std::stod(number);
    size_t unit_start = i;
    while (i < s.size() && !std::isdigit(static_cast<unsigned char>(s[i])) && s[i] != '.') ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    double ms_per_unit = 0;
    if (unit == "h") ms_per_unit = 3600e3;
    else if (unit == "m") ms_per_unit = 60e3;
    else if (unit == "s") ms_per_unit = 1e3;
    else if (unit == "ms") ms_per_unit = 1;
    else if (unit == "us" || unit == "\u00b5s") ms_per_unit = 1e-3;
    else if (unit == "ns") ms_per_unit = 1e-6;
    else return bad();
    total_ms += value * ms_per_unit;
  }
  if (total_ms > 1e12) return bad();
  auto ms = static_cast<long long>(std::ceil(total_ms));
  return std::chrono::milliseconds(ms);
}

Result<kube::RestConfig> RestConfigFromGlobals(const GlobalOptions& g, const Env& env) {
  KDR_ASSIGN_OR_RETURN(std::chrono::milliseconds timeout, ParseRequestTimeout(g.request_timeout));
  if (g.burst < 0) return Status::InvalidArgument("--burst must be 0 or more, not " + std::to_string(g.burst));
  if (!std::isfinite(g.qps)) return Status::InvalidArgument("--qps must be a number");
  kube::ConfigOverrides overrides;
  overrides.kubeconfig = g.kubeconfig;
  overrides.context = g.context;
  overrides.namespace_name = g.namespace_name;
  KDR_ASSIGN_OR_RETURN(kube::RestConfig config,
                       kube::LoadRestConfig(overrides, env, kube::ConfigPaths::FromEnvironment()));
  config.request_timeout = timeout;
  config.qps = g.qps;  // <= 0: no client-side limit
  config.burst = g.burst;
  return config;
}

Result<std::unique_ptr<kube::Client>> ClientFromGlobals(const GlobalOptions& g, const Env& env) {
  KDR_ASSIGN_OR_RETURN(kube::RestConfig config, RestConfigFromGlobals(g, env));
  return kube::Client::Create(config, env);
}

}  // namespace kdr::plugin
