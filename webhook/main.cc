// kubectl-dr-webhook: the admission webhook server (DESIGN.md section 4). main() only parses
// flags, builds the real Env and wires the pieces of shared/admission/ together.

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <malloc.h>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/server.h"
#include "admission/transform_engine.h"
#include "admission/webhook.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "dr/types.h"

namespace {

using namespace kdr;
using namespace kdr::admission;

int Run(int argc, char** argv) {
  CLI::App app("kubectl-dr admission webhook: fences failed-over inventory PVCs, rejects reuse of "
               "spent DR plans, applies resource-modifier transforms on restore.",
               "kubectl-dr-webhook");
  ServerOptions opts;
  std::string dr_namespace(dr::kSystemNamespace);
  int verbosity = 0;
  int shutdown_delay_s = 5;
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");
  app.add_option("--listen", opts.listen, "HTTPS address, HOST:PORT")->capture_default_str();
  app.add_option("--tls-cert", opts.cert_file,
                 "Serving certificate (PEM, chain after the leaf); re-read when it changes");
  app.add_option("--tls-key", opts.key_file, "Private key of the serving certificate (PEM)");
  app.add_option("--client-ca", opts.client_ca_file,
                 "Require client certificates signed by this CA (the API server's)");
  app.add_option("--metrics-listen", opts.metrics_listen,
                 "Plain-HTTP address for /metrics, HOST:PORT (also served on --listen over TLS)");
  app.add_option("--dr-namespace", dr_namespace, "The DR system namespace")
      ->capture_default_str();
  app.add_option("--max-body-bytes", opts.max_body_bytes, "Largest AdmissionReview accepted")
      ->capture_default_str();
  app.add_option("--threads", opts.threads, "Connections served at once")
      ->capture_default_str()->check(CLI::Range(2, 1024));
  app.add_option("--shutdown-delay", shutdown_delay_s,
                 "Seconds between failing /readyz and closing the listener on SIGTERM")
      ->capture_default_str()->check(CLI::Range(0, 300));
  app.add_option("-v", verbosity, "Log verbosity (0: decisions and errors)");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "kubectl-dr-webhook v" << Version() << "\n";
    return 0;
  }
  if (opts.cert_file.empty() || opts.key_file.empty()) {
    std::cerr << "error: --tls-cert and --tls-key are required (the webhook serves HTTPS only)\n";
    return 2;
  }

  // Block the signals before any thread starts, so only sigwait below sees them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Few malloc arenas: the request threads allocate briefly; per-thread arenas would hold RSS.
  mallopt(M_ARENA_MAX, 2);

  RealClock clock;
  PosixFileSystem fs;
  Logger logger(std::make_unique<JsonLogSink>(&std::cerr, &clock), VerbosityFromFlag(verbosity));
  Env env{&clock, &fs, &logger};

  StateCache cache;
  Metrics metrics;
  std::unique_ptr<TransformEngine> engine = NewResourceModifierEngine();
  std::unique_ptr<Policy> fenced = NewFencedPvcPolicy(&cache, dr_namespace);
  std::unique_ptr<Policy> spent = NewSpentPlanPolicy(&cache);
  std::unique_ptr<Policy> transforms = NewTransformsPolicy(&cache, engine.get(), dr_namespace);
  PolicyChain validating({fenced.get(), spent.get()});
  Webhook validate("validate", &validating, &metrics, &logger, &clock);
  Webhook mutate("mutate", transforms.get(), &metrics, &logger, &clock);
  metrics.AddGauge("kdr_webhook_cache_objects", "Objects held by the webhook's caches.", [&cache] {
    StateCache::Sizes s = cache.sizes();
    return Metrics::GaugeValues{{"kind=\"drplans\"", double(s.plans)},
                                {"kind=\"drrecoveries\"", double(s.recoveries)},
                                {"kind=\"fenced_pvcs\"", double(s.fenced_pvcs)},
                                {"kind=\"configmaps\"", double(s.config_maps)},
                                {"kind=\"compiled_modifiers\"", double(s.compiled_modifiers)}};
  });
  metrics.AddGauge("kdr_webhook_cache_synced", "1 once every cache has listed its kind.",
                   [&cache] { return Metrics::GaugeValues{{"", cache.Synced() ? 1.0 : 0.0}}; });

  Server server(opts, env, &validate, &mutate, &metrics, [&cache] { return cache.Synced(); });
  if (Status st = server.Start(); !st.ok()) {
    std::cerr << "error: " << st.message() << "\n";
    return st.ExitCode();
  }
  logger.Info("serving", {{"listen", opts.listen}, {"port", std::to_string(server.port())},
                          {"dr_namespace", dr_namespace}, {"version", std::string(Version())}});
  // TODO(webhook): #4 feed the cache from list+watch once shared/kube/client.h lands; until then
  // it stays empty and /readyz reports "caches not synced".

  int sig = 0;
  sigwait(&signals, &sig);
  // Fail readiness first, give the endpoints time to drop this pod, then drain and exit.
  server.BeginShutdown();
  logger.Info("shutting down", {{"signal", std::to_string(sig)},
                                {"delay_s", std::to_string(shutdown_delay_s)}});
  clock.SleepFor(std::chrono::seconds(shutdown_delay_s));
  server.Stop();
  logger.Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
