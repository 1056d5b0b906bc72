// kubectl-dr-webhook: the admission webhook server. Its server arrives with the webhook issue;
// until then the binary answers --version and --help, so images and manifests can be built.

#include <CLI/CLI.hpp>
#include <iostream>

#include "base/version.h"

int main(int argc, char** argv) {
  CLI::App app("kubectl-dr admission webhook: fences failed-over inventory PVCs, rejects reuse of "
               "spent DR plans, applies resource-modifier transforms on restore.",
               "kubectl-dr-webhook");
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "kubectl-dr-webhook v" << kdr::Version() << "\n";
    return 0;
  }
  std::cerr << "error: the admission server is not part of this build yet; run with --version\n";
  return 1;
}
