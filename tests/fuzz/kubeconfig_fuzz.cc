// Kubeconfig files (kube/kubeconfig.h) as the plugin reads them: the KUBECONFIG list merged
// (several files: parts separated by kPartSeparator), then every context resolved into a
// RestConfig (CA, client certificate and key files read, *-data decoded, the exec entry checked),
// and the exec plugin's ExecCredential request built. Nothing is contacted or run.

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "fuzz_target.h"
#include "kube/exec_credential.h"
#include "kube/kubeconfig.h"
#include "testutil/testutil.h"

namespace kdr::fuzz {

int FuzzKubeconfig(const uint8_t* data, size_t size) {
  testutil::MemFileSystem fs;
  testutil::FakeClock clock;
  Env env{&clock, &fs, nullptr};
  // What the fixtures of tests/data/kubeconfig/ point at, relative to their file.
  for (const char* f : {"certs/ca.crt", "certs/client.crt", "certs/client.key", "token"}) {
    (void)fs.WriteFile(std::string("/kube/") + f,
                       testutil::ReadData(std::string("kubeconfig/") + f));
  }
  kube::ConfigPaths paths;
  std::string list;
  const std::vector<std::string_view> parts = SplitParts(AsText(data, size));
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string path = "/kube/config-" + std::to_string(i);
    (void)fs.WriteFile(path, parts[i]);
    list += (i == 0 ? "" : ":") + path;
  }
  paths.kubeconfig_env = list;

  auto one = kube::ParseKubeconfig(parts[0], "/kube/config-0");
  CheckMessage(one.status());
  auto merged = kube::LoadKubeconfig(kube::ConfigOverrides{}, env, paths);
  CheckMessage(merged.status());
  if (!merged.ok()) return 0;
  (void)merged->ContextNames();
  (void)merged->FilesForMessages();
  std::vector<std::string> contexts = {""};  // current-context
  for (const auto& [name, context] : merged->contexts) contexts.push_back(name);
  for (const std::string& name : contexts) {
    kube::ConfigOverrides overrides;
    overrides.context = name;
    auto rest = kube::ResolveRestConfig(*merged, overrides, env);
    CheckMessage(rest.status());
    if (rest.ok() && rest->exec) {
      const std::string request = kube::ExecCredentialRequestJson(*rest);
      KDR_FUZZ_CHECK(nlohmann::json::accept(request), request);
    }
  }
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzKubeconfig)
