// kubectl-dr-webhook: the admission webhook server (DESIGN.md section 4). main() only parses
// flags, builds the real Env and wires the pieces of shared/admission/ together.

#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>
#include <malloc.h>
#include <unistd.h>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/populator.h"
#include "admission/server.h"
#include "admission/transform_engine.h"
#include "admission/webhook.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/version.h"
#include "dr/types.h"
#include "kube/client.h"
#include "kube/kubeconfig.h"

namespace {

using namespace kdr;
using namespace kdr::admission;

int Run(int argc, char** argv) {
  CLI::App app("kubectl-dr admission webhook: fences failed-over inventory PVCs, rejects reuse of "
               "spent DR plans, applies resource-modifier transforms on restore.",
               "kubectl-dr-webhook");
  ServerOptions opts;
  std::string dr_namespace(dr::kSystemNamespace);
  std::string kubeconfig;
  std::string objects_file;
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
  app.add_option("--kubeconfig", kubeconfig,
                 "Kubeconfig to watch the cluster with (default: in-cluster config, then "
                 "KUBECONFIG and ~/.kube/config)");
  app.add_option("--objects", objects_file,
                 "Serve from the DRPlans, DRRecoveries, PVCs and ConfigMaps in this file "
                 "(YAML or JSON) instead of watching a cluster: offline use, benchmarks")
      ->excludes("--kubeconfig");
  app.add_option("--dr-namespace", dr_namespace, "The DR system namespace")
      ->capture_default_str();
  app.add_option("--max-body-bytes", opts.max_body_bytes, "Largest AdmissionReview accepted")
      ->capture_default_str();
  app.add_option("--threads", opts.threads,
                 "Worker threads deciding requests (0: one per core, at least 2); connections "
                 "wait in epoll, not in a thread")
      ->capture_default_str()->check(CLI::Range(0, 1024));
  int read_timeout_s = static_cast<int>(opts.read_timeout.count());
  int write_timeout_s = static_cast<int>(opts.write_timeout.count());
  int idle_timeout_s = static_cast<int>(opts.idle_timeout.count());
  app.add_option("--read-timeout", read_timeout_s,
                 "Seconds a client has to finish its TLS handshake, and each request (header and "
                 "body) from its first byte; a slower client is cut off")
      ->capture_default_str()->check(CLI::Range(1, 300));
  app.add_option("--write-timeout", write_timeout_s, "Seconds to write an answer")
      ->capture_default_str()->check(CLI::Range(1, 300));
  app.add_option("--idle-timeout", idle_timeout_s,
                 "Seconds an idle keep-alive connection is kept open")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  app.add_option("--max-connections", opts.max_connections,
                 "Open connections at most; past it, the one quiet longest (idle for a second, "
                 "or a handshake or request stalled for half --read-timeout) is closed to admit "
                 "the next, and new ones wait while every one is at work")
      ->capture_default_str()->check(CLI::Range(16, 1 << 20));
  app.add_option("--shutdown-delay", shutdown_delay_s,
                 "Seconds between failing /readyz and closing the listener on SIGTERM")
      ->capture_default_str()->check(CLI::Range(0, 300));
  app.add_option("-v", verbosity, "Log verbosity (0: decisions and errors)");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "kubectl-dr-webhook v" << Version() << "\n";
    return 0;
  }
  opts.read_timeout = std::chrono::seconds(read_timeout_s);
  opts.write_timeout = std::chrono::seconds(write_timeout_s);
  opts.idle_timeout = std::chrono::seconds(idle_timeout_s);
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
  // One malloc arena: a second one held 0.5 MiB more under load. The workers rarely meet in it,
  // since thread_cache.cc recycles a request's small blocks per thread before they reach it.
  mallopt(M_ARENA_MAX, 1);

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
  // No decision from a cache out of sync without saying so.
  std::unique_ptr<Policy> validating_guard = NewCacheFreshnessGuard(&validating, &cache);
  std::unique_ptr<Policy> transforms_guard = NewCacheFreshnessGuard(transforms.get(), &cache);
  Webhook validate("validate", validating_guard.get(), &metrics, &logger, &clock);
  Webhook mutate("mutate", transforms_guard.get(), &metrics, &logger, &clock);
  metrics.AddGauge("kdr_webhook_cache_objects", "Objects held by the webhook's caches.", [&cache] {
    StateCache::Sizes s = cache.sizes();
    return Metrics::GaugeValues{{"kind=\"drplans\"", double(s.plans)},
                                {"kind=\"drrecoveries\"", double(s.recoveries)},
                                {"kind=\"fenced_pvcs\"", double(s.fenced_pvcs)},
                                {"kind=\"configmaps\"", double(s.config_maps)},
                                {"kind=\"compiled_modifiers\"", double(s.compiled_modifiers)},
                                {"kind=\"read_only_pvs\"", double(s.read_only_pvs)},
                                {"kind=\"workloads\"", double(s.workloads)}};
  });
  metrics.AddGauge("kdr_webhook_cache_synced", "1 once every cache has listed its kind.",
                   [&cache] { return Metrics::GaugeValues{{"", cache.Synced() ? 1.0 : 0.0}}; });

  // The caches: from a file, or list+watch of the cluster.
  std::unique_ptr<kube::Client> client;
  std::unique_ptr<CachePopulator> populator;
  if (!objects_file.empty()) {
    Result<std::string> text = fs.ReadFile(objects_file);
    Status st = text.ok() ? SeedCache(&cache, *text, objects_file) : text.status();
    if (!st.ok()) {
      std::cerr << "error: --objects: " << st.message() << "\n";
      return 2;
    }
  } else {
    kube::ConfigOverrides overrides;
    overrides.kubeconfig = kubeconfig;
    kube::ConfigPaths paths = kube::ConfigPaths::FromEnvironment();
    // In a pod the service account is the identity; --kubeconfig (or no pod) falls back to
    // kubectl's loading rules.
    Result<kube::RestConfig> config =
        kubeconfig.empty() && kube::InClusterPossible(env, paths)
            ? kube::InClusterRestConfig(overrides, env, paths)
            : kube::LoadRestConfig(overrides, env, paths);
    if (!config.ok()) {
      std::cerr << "error: cannot configure the API client: " << config.status().message() << "\n";
      return 2;
    }
    Result<std::unique_ptr<kube::Client>> made = kube::Client::Create(*config, env);
    if (!made.ok()) {
      std::cerr << "error: " << made.status().message() << "\n";
      return 2;
    }
    client = std::move(made).value();
    populator = std::make_unique<CachePopulator>(client.get(), &cache, dr_namespace, &logger);
  }

  Server server(opts, env, &validate, &mutate, &metrics, [&cache] { return cache.Synced(); });
  if (Status st = server.Start(); !st.ok()) {
    std::cerr << "error: " << st.message() << "\n";
    return st.ExitCode();
  }
  logger.Info("serving", {{"listen", opts.listen}, {"port", std::to_string(server.port())},
                          {"dr_namespace", dr_namespace}, {"version", std::string(Version())}});
  if (populator) populator->Start();

  int sig = 0;
  sigwait(&signals, &sig);
  // Fail readiness first, give the endpoints time to drop this pod, then drain and exit.
  server.BeginShutdown();
  logger.Info("shutting down", {{"signal", std::to_string(sig)},
                                {"delay_s", std::to_string(shutdown_delay_s)}});
  clock.SleepFor(std::chrono::seconds(shutdown_delay_s));
  server.Stop();
  if (populator) populator->Stop();
  logger.Info("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
