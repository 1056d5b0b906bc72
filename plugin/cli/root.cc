#include <CLI/CLI.hpp>
#include <exception>
#include <ostream>

#include "base/json.h"
#include "base/log.h"
#include "cli/cli.h"

namespace kdr::plugin {

// `agent capture|restore|install` (agent.cc).
void RegisterAgent(const Registrar& r);

namespace {

constexpr std::string_view kDescription =
    "kubectl dr moves Kubernetes workloads between a primary cluster and a DR-site cluster:\n"
    "failover, failback and DR drills, with an admission webhook that keeps them safe.\n\n"
    " Find more information at: https://kubectl-dr.dev/docs";

void AddGlobalFlags(CLI::App& app, GlobalOptions* g) {
  app.add_option("--kubeconfig", g->kubeconfig, "Path to the kubeconfig file to use for CLI requests.")
      ->type_name("PATH");
  app.add_option("--context", g->context, "The name of the kubeconfig context to use")
      ->type_name("NAME");
  app.add_option("-n,--namespace", g->namespace_name,
                 "If present, the namespace scope for this CLI request")
      ->type_name("NS");
  app.add_option("-o,--output", g->output,
                 "Output format. One of: (table, wide, json, yaml, name).")
      ->type_name("FORMAT");
  app.add_option("-v,--v", g->verbosity, "number for the log level verbosity")->type_name("N");
  app.add_option("--request-timeout", g->request_timeout,
                 "The length of time to wait before giving up on a single server request. Non-zero "
                 "values should contain a corresponding time unit (e.g. 1s, 2m, 3h). A value of zero "
                 "means don't timeout requests.")
      ->type_name("DURATION");
  app.add_option("--qps", g->qps,
                 "Client-side requests per second to the API server (default 0: no client-side limit; the "
                 "server's API Priority and Fairness queues what it cannot take, and a 429 is retried after "
                 "its Retry-After)")
      ->type_name("QPS");
  app.add_option("--burst", g->burst, "Client-side burst of requests above --qps")
      ->type_name("N");
}

}  // namespace

Status RunGuarded(const Action& action, int argc, const char* const* argv) {
  auto failed = [&](std::string_view why) {
    std::string command = "kubectl dr";
    for (int i = 1; i < argc; ++i) command += " " + std::string(argv[i]);
    return Status::Internal("internal error in " + PrintableBytes(command) + ": " +
                            PrintableBytes(why) + "; please report it with that input");
  };
  try {
    return action();
  } catch (const std::exception& e) {
    return failed(e.what());
  } catch (...) {
    return failed("unknown exception");
  }
}

int RunPlugin(int argc, const char* const* argv, CommandContext* ctx) {
  CLI::App app(std::string(kDescription), "kubectl dr");
  app.formatter(MakeKubectlFormatter());
  app.option_defaults()->always_capture_default();
  app.set_help_flag("-h,--help", "Print help and exit");
  app.require_subcommand(0, 1);
  app.fallthrough();
  AddGlobalFlags(app, &ctx->globals);

  Action action;
  Registrar r{&app, ctx, &action};
  RegisterVersion(r);
  RegisterTransforms(r);
  RegisterInstall(r);
  RegisterPlan(r);
  RegisterFence(r);
  RegisterInventory(r);
  RegisterRecovery(r);
  RegisterFailover(r);
  RegisterQuiesce(r);
  RegisterStatus(r);
  RegisterAgent(r);

  std::ostream& out = *ctx->streams.out;
  std::ostream& err = *ctx->streams.err;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp& e) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::ParseError& e) {
    err << "error: " << e.what() << "\nSee 'kubectl dr --help' for usage.\n";
    return 2;
  }
  if (!action) {
    out << app.help();
    return 0;
  }
  if (ctx->env.logger != nullptr) ctx->env.logger->set_verbosity(VerbosityFromFlag(ctx->globals.verbosity));
  Status s = RunGuarded(action, argc, argv);
  if (!s.ok()) {
    err << "error: " << s.message() << "\n";
  }
  return s.ExitCode();
}

}  // namespace kdr::plugin
