// The transform engine against the parse+serialize it rides on: a realistic 10-rule modifier file
// (tests/data/transforms/bench/modifiers.yaml) applied to ~10 KB Deployments, Ingresses and PVCs.
// Every benchmark reports objects/s over the same object texts.

#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "testutil/testutil.h"
#include "transform/apply.h"
#include "transform/rules.h"

namespace kdr {
namespace {

using nlohmann::json;

json Metadata(const std::string& kind, int i, json extra_annotations) {
  json labels = {{"app", "shop"}, {"tier", i % 2 ? "frontend" : "backend"},
                 {"app.kubernetes.io/part-of", "shop"}, {"app.kubernetes.io/version", "2.7.0"}};
  json annotations = std::move(extra_annotations);
  // Last-applied configurations and tool annotations make real objects big.
  annotations["kubectl.kubernetes.io/last-applied-configuration"] =
      std::string(4800, 'x') + kind + std::to_string(i);
  for (int a = 0; a < 8; ++a) {
    annotations["example.com/note-" + std::to_string(a)] = std::string(60, 'a' + a);
  }
  return {{"name", "shop-" + kind + "-" + std::to_string(i) + (i % 3 ? "-web" : "-worker")},
          {"namespace", i % 2 ? "shop" : "team-blue"},
          {"uid", "6a1f7c2e-4b1d-4c3a-9e0f-" + std::to_string(100000000000 + i)},
          {"resourceVersion", std::to_string(4242 + i)},
          {"labels", labels},
          {"annotations", annotations}};
}

json Deployment(int i) {
  json env = json::array();
  for (int e = 0; e < 40; ++e) {
    env.push_back({{"name", "SETTING_" + std::to_string(e)}, {"value", std::string(40, 'v')}});
  }
  json container = {{"name", "app"},
                    {"image", "registry.example.com/shop/app:2.7.0"},
                    {"ports", {{{"containerPort", 8080}, {"name", "http"}}}},
                    {"env", env},
                    {"resources", {{"requests", {{"cpu", "250m"}, {"memory", "256Mi"}}},
                                   {"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}},
                    {"volumeMounts", {{{"name", "data"}, {"mountPath", "/data"}}}}};
  json sidecar = {{"name", "envoy"}, {"image", "envoyproxy/envoy:v1.30.1"},
                  {"args", {"--config-path", "/etc/envoy/envoy.yaml", "--log-level", "info"}}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", Metadata("deploy", i, json::object())},
          {"spec",
           {{"replicas", 3},
            {"strategy", {{"type", i % 4 ? "RollingUpdate" : "Recreate"}}},
            {"selector", {{"matchLabels", {{"app", "shop"}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "shop"}}}}},
              {"spec",
               {{"containers", {container, sidecar}},
                {"volumes", {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data"}}}}}}}}}}}}};
}

json Ingress(int i) {
  json rules = json::array();
  rules.push_back({{"host", "shop.example.com"}, {"http", {{"paths", json::array()}}}});
  for (int r = 0; r < 30; ++r) {
    rules[0]["http"]["paths"].push_back(
        {{"path", "/api/v1/resource-" + std::to_string(r)},
         {"pathType", "Prefix"},
         {"backend", {{"service", {{"name", "shop-api-" + std::to_string(r)},
                                   {"port", {{"number", 8080}}}}}}}});
  }
  return {{"apiVersion", "networking.k8s.io/v1"},
          {"kind", "Ingress"},
          {"metadata", Metadata("ingress", i,
                                {{"nginx.ingress.kubernetes.io/rewrite-target", "/"},
                                 {"nginx.ingress.kubernetes.io/proxy-body-size", "64m"}})},
          {"spec", {{"ingressClassName", "nginx"}, {"rules", rules},
                    {"tls", {{{"hosts", {"shop.example.com"}}, {"secretName", "shop-tls"}}}}}}};
}

json Pvc(int i) {
  json md = Metadata("pvc", i, {{"volume.beta.kubernetes.io/storage-provisioner", "ebs.csi.aws.com"},
                                {"volume.kubernetes.io/selected-node", "ip-10-0-1-23"}});
  md["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = std::string(8800, 'p');
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", md},
          {"spec", {{"storageClassName", "fast-ssd"},
                    {"accessModes", {"ReadWriteOnce"}},
                    {"resources", {{"requests", {{"storage", "100Gi"}}}}},
                    {"volumeName", "pvc-" + std::to_string(i)}}},
          {"status", {{"phase", "Bound"}}}};
}

struct Corpus {
  std::vector<std::string> texts;
  std::vector<json> objects;
  size_t bytes = 0;
  transform::ResourceModifiers modifiers;
};

const Corpus& GetCorpus() {
  static const Corpus corpus = [] {
    Corpus c;
    for (int i = 0; i < 90; ++i) {
      json o = i % 3 == 0 ? Deployment(i) : i % 3 == 1 ? Ingress(i) : Pvc(i);
      c.texts.push_back(o.dump());
      c.bytes += c.texts.back().size();
      c.objects.push_back(std::move(o));
    }
    auto m = transform::ResourceModifiers::Parse(
        testutil::ReadData("transforms/bench/modifiers.yaml"), "modifiers.yaml");
    if (!m.ok()) {
      fprintf(stderr, "%s\n", m.status().message().c_str());
      std::abort();
    }
    c.modifiers = std::move(m).value();
    return c;
  }();
  return corpus;
}

void Report(benchmark::State& state, const Corpus& c) {
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * c.texts.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.bytes));
  state.counters["avg_object_bytes"] = static_cast<double>(c.bytes) / c.texts.size();
}

// The baseline every transform rides on: parse the object's JSON and serialize it again.
void BM_ParseSerialize(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  for (auto _ : state) {
    for (const auto& text : c.texts) {
      json o = json::parse(text);
      std::string out = o.dump();
      benchmark::DoNotOptimize(out);
    }
  }
  Report(state, c);
}
BENCHMARK(BM_ParseSerialize);

// The same with the 10-rule file applied in between.
void BM_ParseTransformSerialize(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  transform::TransformOptions options{&c.modifiers, std::nullopt, nullptr};
  for (auto _ : state) {
    for (const auto& text : c.texts) {
      json o = json::parse(text);
      Status s = transform::TransformObject(options, &o);
      if (!s.ok()) state.SkipWithError(s.message().c_str());
      std::string out = o.dump();
      benchmark::DoNotOptimize(out);
    }
  }
  Report(state, c);
}
BENCHMARK(BM_ParseTransformSerialize);

// The transform alone on parsed objects (each iteration transforms a fresh copy, so the copy is
// included; BM_CopyOnly measures it).
void BM_TransformOnly(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  transform::TransformOptions options{&c.modifiers, std::nullopt, nullptr};
  for (auto _ : state) {
    for (const auto& obj : c.objects) {
      json o = obj;
      Status s = transform::TransformObject(options, &o);
      benchmark::DoNotOptimize(s);
    }
  }
  Report(state, c);
}
BENCHMARK(BM_TransformOnly);

void BM_CopyOnly(benchmark::State& state) {
  const Corpus& c = GetCorpus();
  for (auto _ : state) {
    for (const auto& obj : c.objects) {
      json o = obj;
      benchmark::DoNotOptimize(o);
    }
  }
  Report(state, c);
}
BENCHMARK(BM_CopyOnly);

// Loading (parsing and compiling) the modifier file, which happens once per recovery.
void BM_LoadModifiers(benchmark::State& state) {
  std::string text = testutil::ReadData("transforms/bench/modifiers.yaml");
  for (auto _ : state) {
    auto m = transform::ResourceModifiers::Parse(text, "modifiers.yaml");
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_LoadModifiers);

}  // namespace
}  // namespace kdr

BENCHMARK_MAIN();
