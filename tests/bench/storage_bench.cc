// Time to fail over one consistency group of 1, 10 and 100 volumes with each storage driver on
// its simulator: Longhorn on two kubesims sharing a backup store (activating every DR volume and
// waiting until each is active), Alletra on alletra-sim over TLS (reading the Secret, logging in
// to the target array, checking its name, stopping and failing over the remote-copy group).
// Each iteration starts from a fresh, replicating world, built outside the measurement; the
// driver under measurement uses the real clock and the product's client settings.
//
//   build-*/tests/storage_bench   (results: BENCHMARKS.md)

#include <benchmark/benchmark.h>

#include <memory>

#include "base/clock.h"
#include "storage/registry.h"
#include "unit/storage/rigs.h"

namespace {

using namespace kdr;
using namespace kdr::storage;

// A client as the plugin makes one (client-side limit 50 qps, burst 100), on the real clock.
std::unique_ptr<kube::Client> ProductClient(const kubesim::Server& server, const Env& env) {
  kube::RestConfig c;
  c.server = server.url();
  c.ca_pem = server.ca_pem();
  c.bearer_token = server.admin_token();
  auto client = kube::Client::Create(c, env);
  return client.ok() ? std::move(*client) : nullptr;
}

// args: volumes in the CG, the driver's poll interval (ms).
void BM_LonghornFailover(benchmark::State& state) {
  const int volumes = static_cast<int>(state.range(0));
  RealClock clock;
  Env env{&clock, nullptr, nullptr};
  for (auto _ : state) {
    state.PauseTiming();
    auto rig = std::make_unique<kdr::storage::testing::LonghornRig>();
    rig->Start(volumes);
    auto cgs = rig->driver().Discover(rig->plan(), rig->map(), rig->Long());
    if (!cgs.ok()) {
      state.SkipWithError(cgs.status().ToString().c_str());
      break;
    }
    auto source = ProductClient(rig->source_server(), env);
    auto target = ProductClient(rig->target_server(), env);
    DriverOptions o{env, source.get(), target.get()};
    o.poll_interval = std::chrono::milliseconds(state.range(1));
    auto driver = NewDriver(rig->plan(), o);
    state.ResumeTiming();

    Status s = (*driver)->Failover((*cgs)[1], Deadline::After(clock, std::chrono::minutes(10)));

    state.PauseTiming();
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    driver->reset();
    source.reset();
    target.reset();
    rig.reset();
    state.ResumeTiming();
  }
  state.counters["volumes"] = volumes;
}

void BM_AlletraFailover(benchmark::State& state) {
  const int volumes = static_cast<int>(state.range(0));
  RealClock clock;
  Env env{&clock, nullptr, nullptr};
  for (auto _ : state) {
    state.PauseTiming();
    auto rig = std::make_unique<kdr::storage::testing::AlletraRig>();
    rig->Start(volumes);
    auto cgs = rig->driver().Discover(rig->plan(), rig->map(), rig->Long());
    if (!cgs.ok()) {
      state.SkipWithError(cgs.status().ToString().c_str());
      break;
    }
    auto target = ProductClient(rig->server(), env);
    DriverOptions o{env, nullptr, target.get()};
    auto driver = NewDriver(rig->plan(), o);
    state.ResumeTiming();

    Status s = (*driver)->Failover((*cgs)[1], Deadline::After(clock, std::chrono::minutes(10)));

    state.PauseTiming();
    if (!s.ok()) state.SkipWithError(s.ToString().c_str());
    driver->reset();
    target.reset();
    rig.reset();
    state.ResumeTiming();
  }
  state.counters["volumes"] = volumes;
}

BENCHMARK(BM_LonghornFailover)
    ->ArgNames({"volumes", "poll_ms"})
    ->Args({1, 1000})
    ->Args({10, 1000})
    ->Args({100, 1000})
    ->Args({1, 50})
    ->Args({10, 50})
    ->Args({100, 50})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(BM_AlletraFailover)
    ->ArgNames({"volumes"})
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
