// The output of a kubeconfig exec plugin (kube/exec_credential.h): an ExecCredential on its
// stdout, read for both API versions kubectl-dr sends.

#include "fuzz_target.h"
#include "kube/exec_credential.h"
#include "kube/rest_config.h"

namespace kdr::fuzz {

int FuzzExecCredential(const uint8_t* data, size_t size) {
  const std::string_view out = AsText(data, size);
  for (const char* version : {"client.authentication.k8s.io/v1",
                              "client.authentication.k8s.io/v1beta1"}) {
    kube::ExecConfig exec;
    exec.api_version = version;
    exec.command = "fuzz-credential-plugin";
    auto credentials = kube::ParseExecCredential(out, exec, "exec plugin fuzz-credential-plugin");
    CheckMessage(credentials.status());
  }
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzExecCredential)
