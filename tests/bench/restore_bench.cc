// Restore throughput: inventory::Restore of 1,000 and 10,000 mixed captured objects into an
// in-process kubesim (no controllers: the API server alone), beside a raw parallel create of the
// same objects, sanitized beforehand, on the same 16 connections (namespaces and the CRD first,
// then everything else). Target (issue 9): restore >= 0.9x raw and >= 500 objects/s.
//
// The mix, per 100 objects of a namespace: 10 each of ConfigMaps, Secrets, ServiceAccounts,
// Services (with the source's clusterIP), Deployments, Roles, RoleBindings, NetworkPolicies,
// PodDisruptionBudgets and Widgets (a custom resource whose CRD is restored first); plus the
// Namespace objects and the CRD. Each object carries what a source server returns (uid,
// resourceVersion, managedFields, status).
//
//   KDR_BUILD_DIR=build-restore scripts/build restore_bench && build-restore/tests/restore_bench
//   (results: BENCHMARKS.md)

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/fs.h"
#include "inventory/restore.h"
#include "inventory/sanitize.h"
#include "kube/client.h"
#include "kube/object.h"
#include "kubesim/server.h"

namespace {

using nlohmann::json;
using namespace kdr;

constexpr int kConnections = 16;

json Meta(const std::string& name, const std::string& ns, int i) {
  json m = {{"name", name},
            {"uid", "00000000-0000-4000-8000-" + std::to_string(100000000000 + i)},
            {"resourceVersion", std::to_string(50000 + i)},
            {"creationTimestamp", "2026-03-02T09:14:07Z"},
            {"labels", {{"app", name}}},
            {"managedFields", {{{"manager", "kubectl"}, {"operation", "Update"}, {"apiVersion", "v1"},
                                {"fieldsType", "FieldsV1"}, {"fieldsV1", {{"f:metadata", {{"f:labels", json::object()}}}}}}}}};
  if (!ns.empty()) m["namespace"] = ns;
  return m;
}

// n objects: the CRD, one Namespace per 100, and the kinds above in turn.
std::vector<json> MixedObjects(int n) {
  std::vector<json> out;
  out.push_back({{"apiVersion", "apiextensions.k8s.io/v1"},
                 {"kind", "CustomResourceDefinition"},
                 {"metadata", Meta("widgets.example.com", "", 0)},
                 {"spec",
                  {{"group", "example.com"},
                   {"scope", "Namespaced"},
                   {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}}},
                   {"versions", {{{"name", "v1"}, {"served", true}, {"storage", true},
                                  {"schema", {{"openAPIV3Schema", {{"type", "object"},
                                                                   {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}},
                 {"status", {{"conditions", {{{"type", "Established"}, {"status", "True"}}}}}}});
  int i = 1;
  for (int ns_index = 0; static_cast<int>(out.size()) < n; ++ns_index) {
    const std::string ns = "app-" + std::to_string(ns_index);
    out.push_back({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", Meta(ns, "", i++)},
                   {"status", {{"phase", "Active"}}}});
    for (int k = 0; k < 100 && static_cast<int>(out.size()) < n; ++k, ++i) {
      const std::string name = "obj-" + std::to_string(k);
      json labels = {{"app", name}};
      json o;
      switch (k % 10) {
        case 0:
          o = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"data", {{"app.yaml", std::string(400, 'c')}}}};
          break;
        case 1:
          o = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "Opaque"}, {"data", {{"password", "czNjcjN0"}}}};
          break;
        case 2:
          o = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}};
          break;
        case 3:
          o = {{"apiVersion", "v1"},
               {"kind", "Service"},
               {"spec", {{"clusterIP", "10.43.0." + std::to_string(k)}, {"clusterIPs", {"10.43.0." + std::to_string(k)}},
                         {"selector", labels}, {"ports", {{{"port", 80}, {"protocol", "TCP"}, {"targetPort", 8080}}}}}},
               {"status", {{"loadBalancer", json::object()}}}};
          break;
        case 4:
          o = {{"apiVersion", "apps/v1"},
               {"kind", "Deployment"},
               {"spec", {{"replicas", 2}, {"selector", {{"matchLabels", labels}}},
                         {"template", {{"metadata", {{"labels", labels}}},
                                       {"spec", {{"containers", {{{"name", "app"}, {"image", "registry.example.com/app:1.0"},
                                                                  {"ports", {{{"containerPort", 8080}}}}}}}}}}}}},
               {"status", {{"replicas", 2}, {"readyReplicas", 2}}}};
          break;
        case 5:
          o = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "Role"},
               {"rules", {{{"apiGroups", {""}}, {"resources", {"configmaps"}}, {"verbs", {"get", "list"}}}}}};
          break;
        case 6:
          o = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
               {"kind", "RoleBinding"},
               {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "Role"}, {"name", "obj-5"}}},
               {"subjects", {{{"kind", "ServiceAccount"}, {"name", "obj-2"}, {"namespace", ns}}}}};
          break;
        case 7:
          o = {{"apiVersion", "networking.k8s.io/v1"},
               {"kind", "NetworkPolicy"},
               {"spec", {{"podSelector", {{"matchLabels", labels}}}, {"policyTypes", {"Ingress"}}}}};
          break;
        case 8:
          o = {{"apiVersion", "policy/v1"},
               {"kind", "PodDisruptionBudget"},
               {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", labels}}}}}};
          break;
        default:
          o = {{"apiVersion", "example.com/v1"}, {"kind", "Widget"}, {"spec", {{"size", k}}}, {"status", {{"phase", "Ready"}}}};
          break;
      }
      o["metadata"] = Meta(name, ns, i);
      out.push_back(std::move(o));
    }
  }
  return out;
}

struct Env {
  RealClock clock;
  PosixFileSystem fs;
  kdr::Env env{&clock, &fs, nullptr};
};

std::unique_ptr<kube::Client> NewClient(const kubesim::Server& server, const kdr::Env& env) {
  kube::RestConfig c;
  c.server = server.url();
  c.ca_pem = server.ca_pem();
  c.bearer_token = server.admin_token();
  c.qps = 0;  // the engine and the server, not the client's limiter
  c.max_connections = kConnections;
  auto client = kube::Client::Create(c, env);
  if (!client.ok()) return nullptr;
  // Open the 16 connections before the measurement, for both benchmarks: 16 simultaneous
  // connects overflow the listen backlog of kubesim's HTTP server (cpp-httplib's default of 5),
  // and the dropped SYNs cost a 1 s retransmission that would dwarf 1,000 creates.
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back([&] { (void)(*client)->ServerVersion(); });
  }
  for (auto& t : threads) t.join();
  return std::move(client).value();
}

// One restore into a fresh kubesim; seconds, or an error. The input is a copy made before the
// measurement (the agent owns what ReadRestoreInput returned and moves it in).
Result<double> RunRestore(inventory::RestoreInput input, const kdr::Env& env, int parallel = kConnections) {
  const size_t n = input.objects.size();
  auto server = kubesim::Server::Start({});
  if (!server.ok()) return server.status();
  auto client = NewClient(**server, env);
  if (client == nullptr) return Status::Internal("cannot build the client");
  inventory::RestoreOptions options;
  options.recovery = "bench";
  options.parallel = parallel;
  const auto start = std::chrono::steady_clock::now();
  inventory::RestoreResult r = inventory::Restore(*client, std::move(input), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.status.ok()) return r.status;
  if (r.counts.failed != 0 || r.counts.created != static_cast<int64_t>(n)) {
    return Status::Internal(std::to_string(r.counts.failed) + " failed, " + std::to_string(r.counts.created) +
                            " created" + (r.failures.empty() ? "" : ": " + r.failures[0].object.ToString() + " " +
                                                                        r.failures[0].status.ToString()));
  }
  return seconds;
}

// The same objects sanitized outside the measurement, in batches created one after the other,
// each by 16 threads over the 16 connections.
struct RawBatches {
  std::vector<std::vector<json>> batches;
};

// tiered: one batch per restore tier, in tier order, as the engine must write them; otherwise the
// Namespaces and the CRD first (what everything else needs), then all the rest at once.
RawBatches Sanitized(const std::vector<json>& objects, bool tiered) {
  inventory::SanitizeOptions so;
  so.recovery = "bench";
  inventory::RestoreSet set(objects, {});
  RawBatches out;
  out.batches.resize(inventory::kTierCount);
  for (json o : objects) {
    inventory::Sanitize(so, set, nullptr, &o);
    const std::string kind = kube::Kind(o);
    Result<kube::GroupVersion> gv = kube::ParseApiVersion(kube::StringField(o, {"apiVersion"}));
    int batch = static_cast<int>(inventory::TierOf(gv.ok() ? gv->group : "", kind));
    if (!tiered) batch = kind == "Namespace" || kind == "CustomResourceDefinition" ? 0 : 1;
    out.batches[batch].push_back(std::move(o));
  }
  return out;
}

Result<double> RunRaw(const RawBatches& raw, const kdr::Env& env) {
  static const std::map<std::string, kube::Gvr> kGvrs = {  // immutable
      {"CustomResourceDefinition", {"apiextensions.k8s.io", "v1", "customresourcedefinitions"}},
      {"Namespace", {"", "v1", "namespaces"}},
      {"ConfigMap", {"", "v1", "configmaps"}},
      {"Secret", {"", "v1", "secrets"}},
      {"ServiceAccount", {"", "v1", "serviceaccounts"}},
      {"Service", {"", "v1", "services"}},
      {"Deployment", {"apps", "v1", "deployments"}},
      {"Role", {"rbac.authorization.k8s.io", "v1", "roles"}},
      {"RoleBinding", {"rbac.authorization.k8s.io", "v1", "rolebindings"}},
      {"NetworkPolicy", {"networking.k8s.io", "v1", "networkpolicies"}},
      {"PodDisruptionBudget", {"policy", "v1", "poddisruptionbudgets"}},
      {"Widget", {"example.com", "v1", "widgets"}},
  };
  auto server = kubesim::Server::Start({});
  if (!server.ok()) return server.status();
  auto client = NewClient(**server, env);
  if (client == nullptr) return Status::Internal("cannot build the client");
  std::atomic<int> failed{0};
  const auto start = std::chrono::steady_clock::now();
  for (const std::vector<json>& batch : raw.batches) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kConnections; ++t) {
      threads.emplace_back([&] {
        for (size_t i; (i = next.fetch_add(1)) < batch.size();) {
          const json& o = batch[i];
          if (!client->Create(kGvrs.at(kube::Kind(o)), kube::Namespace(o), o).ok()) ++failed;
        }
      });
    }
    for (auto& t : threads) t.join();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed != 0) return Status::Internal(std::to_string(failed.load()) + " creates failed");
  return seconds;
}

void BM_Restore(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Env env;
  inventory::RestoreInput input;
  input.objects = MixedObjects(n);
  for (auto _ : state) {
    Result<double> s = RunRestore(input, env.env);
    if (!s.ok()) {
      state.SkipWithError(s.status().ToString().c_str());
      break;
    }
    state.SetIterationTime(*s);
  }
  state.counters["objects_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
}

// range(1) = 1: tiered batches (see Sanitized).
void BM_RawCreate(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Env env;
  RawBatches raw = Sanitized(MixedObjects(n), state.range(1) != 0);
  for (auto _ : state) {
    Result<double> s = RunRaw(raw, env.env);
    if (!s.ok()) {
      state.SkipWithError(s.status().ToString().c_str());
      break;
    }
    state.SetIterationTime(*s);
  }
  state.counters["objects_per_s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
}

// Restore and raw create alternately, so that a machine shared with other work loads both alike;
// the time reported is the restore's, `ratio` is restore objects/s over raw. range(1) = 1: the
// raw create is tiered (see Sanitized); range(2): the restore's parallel (the raw create always
// runs 16 threads; both use 16 connections).
void BM_RestoreVsRaw(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Env env;
  inventory::RestoreInput input;
  input.objects = MixedObjects(n);
  RawBatches raw = Sanitized(input.objects, state.range(1) != 0);
  const int parallel = static_cast<int>(state.range(2));
  double restore_total = 0;
  double raw_total = 0;
  int turn = 0;
  for (auto _ : state) {
    Result<double> a = Status::Internal("not run");
    Result<double> b = Status::Internal("not run");
    if (turn++ % 2 == 0) {
      a = RunRestore(input, env.env, parallel);
      b = RunRaw(raw, env.env);
    } else {
      b = RunRaw(raw, env.env);
      a = RunRestore(input, env.env, parallel);
    }
    if (!a.ok() || !b.ok()) {
      state.SkipWithError((a.ok() ? b : a).status().ToString().c_str());
      break;
    }
    restore_total += *a;
    raw_total += *b;
    state.SetIterationTime(*a);
  }
  const double iterations = static_cast<double>(state.iterations());
  state.counters["restore_per_s"] = restore_total > 0 ? n * iterations / restore_total : 0;
  state.counters["raw_per_s"] = raw_total > 0 ? n * iterations / raw_total : 0;
  state.counters["ratio"] = restore_total > 0 ? raw_total / restore_total : 0;
}

BENCHMARK(BM_RawCreate)->Args({1000, 0})->Args({10000, 0})->Args({1000, 1})->Args({10000, 1})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);
BENCHMARK(BM_Restore)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(3);
BENCHMARK(BM_RestoreVsRaw)->Args({1000, 0, 16})->Args({10000, 0, 16})->Args({10000, 1, 16})->Args({10000, 0, 8})
    ->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(6);

}  // namespace

BENCHMARK_MAIN();
