// kubesim throughput: ConfigMap creates over 16 keep-alive HTTPS connections (bearer token),
// client and server in one process on the same machine. Target: >= 2,000 creates/s on 2 cores.
//
//   build-*/tests/bench/kubesim_bench   (results: BENCHMARKS.md)

// Bench targets do not get cpp-httplib's pkg-config flags; these must match them (the library is
// Debian's shared build, and its class layouts depend on them).
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif

#include <benchmark/benchmark.h>
#include <httplib.h>
#include <openssl/pem.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "kubesim/server.h"
#include "tls/pem.h"

namespace {

using json = nlohmann::json;

std::unique_ptr<httplib::SSLClient> NewClient(const kdr::kubesim::Server& server) {
  auto cli = std::make_unique<httplib::SSLClient>("127.0.0.1", server.port());
  cli->set_ca_cert_store(kdr::tls::NewCertStore(server.ca_pem(), "kubesim CA")->release());
  cli->enable_server_certificate_verification(true);
  cli->set_bearer_token_auth(server.admin_token());
  cli->set_keep_alive(true);
  cli->set_tcp_nodelay(true);  // as Go clients do; without it Nagle + delayed ACK cap each connection
  return cli;
}

void BM_CreateConfigMaps(benchmark::State& state) {
  const int connections = static_cast<int>(state.range(0));
  const int per_connection = static_cast<int>(state.range(1));
  for (auto _ : state) {
    state.PauseTiming();
    kdr::kubesim::Server::Options options;
    std::string dir;
    if (state.range(2)) {
      char tmpl[] = "/tmp/kubesim-bench-XXXXXX";
      dir = mkdtemp(tmpl);
      options.data_dir = dir;
    }
    auto server = kdr::kubesim::Server::Start(options);
    if (!server.ok()) {
      state.SkipWithError(server.status().message().c_str());
      return;
    }
    std::vector<std::unique_ptr<httplib::SSLClient>> clients;
    for (int c = 0; c < connections; ++c) {
      clients.push_back(NewClient(**server));
      clients.back()->Get("/version");  // handshake outside the measurement
    }
    std::atomic<int> failures{0};
    state.ResumeTiming();
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&, c] {
        for (int i = 0; i < per_connection; ++i) {
          json cm = {{"apiVersion", "v1"},
                     {"kind", "ConfigMap"},
                     {"metadata", {{"name", "cm-" + std::to_string(c) + "-" + std::to_string(i)},
                                   {"labels", {{"app", "bench"}}}}},
                     {"data", {{"key", "value"}, {"other", "some longer value for realism"}}}};
          auto r = clients[c]->Post("/api/v1/namespaces/default/configmaps", cm.dump(), "application/json");
          if (!r || r->status != 201) ++failures;
        }
      });
    }
    for (auto& t : threads) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.PauseTiming();
    state.counters["creates_per_s"] = connections * per_connection / secs;
    state.counters["failures"] = failures.load();
    clients.clear();
    (*server)->Stop();
    if (!dir.empty()) std::filesystem::remove_all(dir);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * connections * per_connection);
}
// Args: connections, creates per connection, with --data-dir (write log) or in memory.
BENCHMARK(BM_CreateConfigMaps)->ArgNames({"conns", "per_conn", "data_dir"})->Args({16, 500, 0})->Args({16, 500, 1})->Iterations(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
