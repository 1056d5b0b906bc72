// Inventory capture of 10,000 objects (6,000 ConfigMaps and 4,000 Secrets, 512 data bytes each, in
// one namespace) from an in-process kubesim over loopback TLS, beside a raw paginated list of the
// same objects on the same client (the floor: what reading them costs). The capture also discovers
// every resource, lists the empty ones, writes one file per object with its sha256 and commits the
// generation. Target: capture >= 0.9x the raw list's objects/s.
//
//   build-*/tests/capture_bench   (results: BENCHMARKS.md)

#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/clock.h"
#include "base/fs.h"
#include "inventory/capture.h"
#include "kube/client.h"
#include "kubesim/server.h"
#include "testutil/testutil.h"

namespace {

using nlohmann::json;

const kdr::kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kdr::kube::Gvr kConfigMaps{"", "v1", "configmaps"};
const kdr::kube::Gvr kSecrets{"", "v1", "secrets"};
constexpr int kConfigMapCount = 6000;
constexpr int kSecretCount = 4000;
constexpr int kObjects = kConfigMapCount + kSecretCount;
constexpr int64_t kPageSize = 500;

// A FileSystem whose buffered writes are WriteFile's (temp file, fsync, rename): what a capture
// would cost without WriteFileBuffered and one syncfs.
class FsyncEachFileSystem final : public kdr::FileSystem {
 public:
  kdr::Result<std::string> ReadFile(const std::string& p) const override { return real_.ReadFile(p); }
  kdr::Status WriteFile(const std::string& p, std::string_view d, int m) override {
    return real_.WriteFile(p, d, m);
  }
  kdr::Result<kdr::FileInfo> Stat(const std::string& p) const override { return real_.Stat(p); }
  kdr::Result<std::vector<std::string>> ListDir(const std::string& p) const override {
    return real_.ListDir(p);
  }
  kdr::Status MakeDirs(const std::string& p, int m) override { return real_.MakeDirs(p, m); }
  kdr::Status Remove(const std::string& p) override { return real_.Remove(p); }
  kdr::Status CreateExclusive(const std::string& p, std::string_view d, int m) override {
    return real_.CreateExclusive(p, d, m);
  }

 private:
  kdr::PosixFileSystem real_;
};

struct Shared {
  kdr::RealClock clock;
  kdr::PosixFileSystem fs;
  kdr::Env env{&clock, &fs, nullptr};
  std::unique_ptr<kdr::kubesim::Server> server;
  std::unique_ptr<kdr::kube::Client> client;
  std::string error;

  kdr::kube::Client* Client() {
    if (client || !error.empty()) return client.get();
    auto s = kdr::kubesim::Server::Start({});
    if (!s.ok()) return error = s.status().ToString(), nullptr;
    server = std::move(s).value();
    kdr::kube::RestConfig config;
    config.server = server->url();
    config.ca_pem = server->ca_pem();
    config.bearer_token = server->admin_token();
    config.qps = 0;  // measure the capture and the server, not the limiter
    auto c = kdr::kube::Client::Create(config, env);
    if (!c.ok()) return error = c.status().ToString(), nullptr;
    client = std::move(c).value();
    json ns = {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "shop"}}}};
    if (auto r = client->Create(kNamespaces, "", ns); !r.ok()) return error = r.status().ToString(), nullptr;
    const std::string value(512, 'x');
    for (int i = 0; i < kObjects; ++i) {
      const bool secret = i >= kConfigMapCount;
      json obj = {{"apiVersion", "v1"},
                  {"kind", secret ? "Secret" : "ConfigMap"},
                  {"metadata", {{"name", "obj-" + std::to_string(i)}, {"labels", {{"app", "shop"}}}}},
                  {"data", {{"value", secret ? std::string(684, 'A') : value}}}};
      auto r = client->Create(secret ? kSecrets : kConfigMaps, "shop", obj);
      if (!r.ok()) return error = r.status().ToString(), nullptr;
    }
    return client.get();
  }
};

// CPU time of the whole process (client, TLS on both ends, kubesim's handlers): on a shared
// machine the figure that does not depend on the load.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void ReportProcessCpu(benchmark::State& state, double start) {
  state.counters["process_cpu_ms"] =
      benchmark::Counter((ProcessCpuSeconds() - start) * 1000 / static_cast<double>(state.iterations()));
}

Shared& State() {
  static Shared shared;  // benchmark process only
  return shared;
}

void BM_RawPaginatedList(benchmark::State& state) {
  kdr::kube::Client* client = State().Client();
  if (client == nullptr) return state.SkipWithError(State().error.c_str());
  const double cpu = ProcessCpuSeconds();
  for (auto _ : state) {
    size_t n = 0;
    for (const kdr::kube::Gvr& gvr : {kConfigMaps, kSecrets}) {
      kdr::kube::ListOptions lo;
      lo.limit = kPageSize;
      for (;;) {
        auto page = client->List(gvr, "shop", lo);
        if (!page.ok()) return state.SkipWithError(page.status().ToString().c_str());
        n += (*page)["items"].size();
        lo.continue_token = (*page)["metadata"].value("continue", "");
        if (lo.continue_token.empty()) break;
      }
    }
    if (n != kObjects) return state.SkipWithError("listed the wrong number of objects");
  }
  ReportProcessCpu(state, cpu);
  state.SetItemsProcessed(state.iterations() * kObjects);
}
BENCHMARK(BM_RawPaginatedList)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);

// arg 0: an in-memory FileSystem; 1: the real one in a temp dir (one syncfs per capture);
// 2: the real one with an fsync per object file.
void BM_Capture(benchmark::State& state) {
  kdr::kube::Client* client = State().Client();
  if (client == nullptr) return state.SkipWithError(State().error.c_str());
  kdr::testutil::TempDir dir;
  kdr::testutil::MemFileSystem mem;
  FsyncEachFileSystem fsync_each;
  kdr::FileSystem* fs = state.range(0) == 0 ? static_cast<kdr::FileSystem*>(&mem)
                        : state.range(0) == 1 ? static_cast<kdr::FileSystem*>(&State().fs)
                                              : static_cast<kdr::FileSystem*>(&fsync_each);
  kdr::Env env{&State().clock, fs, nullptr};
  kdr::inventory::CaptureOptions o;
  o.plan = {"kubectl-dr-system", "shop-to-dr"};
  o.namespaces = {"shop"};
  o.page_size = kPageSize;
  o.keep = 1;  // each iteration replaces the last: the folder stays one generation big
  const std::string root = state.range(0) == 0 ? std::string("/inventory") : dir.path();
  const double cpu = ProcessCpuSeconds();
  for (auto _ : state) {
    auto index = kdr::inventory::Capture(*client, env, root, o);
    if (!index.ok()) return state.SkipWithError(index.status().ToString().c_str());
    // The namespace and the default objects kubesim makes are captured too.
    if (index->objects.size() < kObjects) return state.SkipWithError("captured too few objects");
  }
  ReportProcessCpu(state, cpu);
  state.SetItemsProcessed(state.iterations() * kObjects);
}
BENCHMARK(BM_Capture)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(3);
BENCHMARK(BM_Capture)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
