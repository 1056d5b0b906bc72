// REST client create throughput: kube::Client::Create of ConfigMaps against an in-process kubesim
// over real loopback TLS (bearer token), with 1 and 16 connections, each driven by as many
// threads. What a bulk restore of many small objects costs on the client side.
//
//   build-*/tests/client_bench   (results: BENCHMARKS.md)

#include <benchmark/benchmark.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/fs.h"
#include "kube/client.h"
#include "kube/transport_https.h"
#include "kubesim/server.h"

namespace {

using nlohmann::json;

const kdr::kube::Gvr kConfigMaps{"", "v1", "configmaps"};

// One server and one client per connection count, shared by the benchmark's threads.
struct Shared {
  kdr::RealClock clock;
  kdr::PosixFileSystem fs;
  kdr::Env env{&clock, &fs, nullptr};
  std::unique_ptr<kdr::kubesim::Server> server;
  std::map<int, std::unique_ptr<kdr::kube::Client>> clients;
  std::atomic<long long> next{0};
  std::mutex mu;

  kdr::kube::Client* ClientFor(int connections) {
    std::lock_guard<std::mutex> lock(mu);
    if (!server) {
      auto s = kdr::kubesim::Server::Start({});
      if (!s.ok()) return nullptr;
      server = std::move(s).value();
    }
    auto& c = clients[connections];
    if (!c) {
      kdr::kube::RestConfig config;
      config.server = server->url();
      config.ca_pem = server->ca_pem();
      config.bearer_token = server->admin_token();
      config.qps = 0;  // measure the client and the server, not the limiter
      config.max_connections = connections;
      auto client = kdr::kube::Client::Create(config, env);
      if (!client.ok()) return nullptr;
      c = std::move(client).value();
      json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "bench"}}}};
      (void)c->Create(kdr::kube::Gvr{"", "v1", "namespaces"}, "", ns);
    }
    return c.get();
  }
};

Shared& State() {
  static Shared shared;  // benchmark process only
  return shared;
}

void BM_ClientCreate(benchmark::State& state) {
  kdr::kube::Client* client = State().ClientFor(static_cast<int>(state.range(0)));
  if (client == nullptr) {
    state.SkipWithError("cannot start kubesim or build the client");
    return;
  }
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", ""}, {"labels", {{"app", "bench"}}}}},
             {"data", {{"config.yaml", std::string(512, 'x')}}}};
  for (auto _ : state) {
    cm["metadata"]["name"] = "cm-" + std::to_string(State().next.fetch_add(1));
    auto r = client->Create(kConfigMaps, "bench", cm);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    if (auto* https = dynamic_cast<kdr::kube::HttpsTransport*>(&client->transport())) {
      state.counters["connections"] = static_cast<double>(https->stats().connections_opened);
    }
  }
}

// range(0) = connections; as many threads drive them.
BENCHMARK(BM_ClientCreate)->Arg(1)->Threads(1)->UseRealTime();
BENCHMARK(BM_ClientCreate)->Arg(16)->Threads(16)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
