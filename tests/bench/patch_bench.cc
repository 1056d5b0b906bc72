// Cost of the patch primitives on a realistic ~10 KB Deployment, next to the parse+serialize the
// transform engine pays anyway. Run: build/tests/patch_bench (not part of ctest).

#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>

#include "transform/json_patch.h"
#include "transform/merge_patch.h"
#include "transform/strategic.h"

namespace {

using nlohmann::json;

json MakeDeployment() {
  json containers = json::array();
  for (int c = 0; c < 4; ++c) {
    json env = json::array();
    for (int e = 0; e < 20; ++e) {
      env.push_back({{"name", "VAR_" + std::to_string(e)}, {"value", "value-" + std::to_string(e)}});
    }
    containers.push_back({{"name", "c" + std::to_string(c)},
                          {"image", "registry.example.com/team/app-" + std::to_string(c) + ":1.2.3"},
                          {"env", env},
                          {"ports", {{{"containerPort", 8080 + c}, {"name", "http"}}}},
                          {"volumeMounts", {{{"name", "data"}, {"mountPath", "/data/" + std::to_string(c)}}}},
                          {"resources", {{"limits", {{"cpu", "1"}, {"memory", "1Gi"}}}}}});
  }
  json labels = json::object();
  for (int i = 0; i < 10; ++i) labels["label-" + std::to_string(i)] = "v" + std::to_string(i);
  json doc = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}};
  doc["metadata"] = {{"name", "web"}, {"namespace", "shop"}, {"labels", labels},
                     {"annotations", labels}, {"finalizers", {"a", "b"}}};
  doc["spec"]["replicas"] = 3;
  doc["spec"]["selector"]["matchLabels"]["app"] = "web";
  doc["spec"]["template"]["metadata"]["labels"] = labels;
  doc["spec"]["template"]["spec"]["containers"] = containers;
  json volume = {{"name", "data"}};
  volume["persistentVolumeClaim"]["claimName"] = "web";
  doc["spec"]["template"]["spec"]["volumes"] = json::array({volume});
  return doc;
}

const json& Deployment() {
  static const json* const kDoc = new json(MakeDeployment());
  return *kDoc;
}

void BM_ParseSerialize(benchmark::State& state) {
  const std::string text = Deployment().dump();
  state.counters["bytes"] = static_cast<double>(text.size());
  for (auto _ : state) {
    json doc = json::parse(text);
    benchmark::DoNotOptimize(doc.dump());
  }
}
BENCHMARK(BM_ParseSerialize);

void BM_Copy(benchmark::State& state) {
  for (auto _ : state) {
    json doc = Deployment();
    benchmark::DoNotOptimize(doc);
  }
}
BENCHMARK(BM_Copy);

const json& Ops() {
  static const json* const kOps = new json(json::parse(R"([
    {"op": "test", "path": "/spec/replicas", "value": 3},
    {"op": "replace", "path": "/spec/replicas", "value": 1},
    {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "dr.example.com/app:1"},
    {"op": "add", "path": "/metadata/labels/dr", "value": "restored"},
    {"op": "add", "path": "/spec/template/spec/containers/1/env/-", "value": {"name": "DR", "value": "true"}},
    {"op": "remove", "path": "/metadata/annotations/label-3"}])"));
  return *kOps;
}

// Copy + apply of a compiled patch (the copy stands for the object the engine owns).
void BM_JsonPatchCompiledApply(benchmark::State& state) {
  auto patch = kdr::transform::JsonPatch::Compile(Ops());
  for (auto _ : state) {
    json doc = Deployment();
    benchmark::DoNotOptimize(patch->Apply(&doc).ok());
  }
}
BENCHMARK(BM_JsonPatchCompiledApply);

void BM_JsonPatchCompileEveryTime(benchmark::State& state) {
  for (auto _ : state) {
    json doc = Deployment();
    benchmark::DoNotOptimize(kdr::transform::ApplyJsonPatch(&doc, Ops()).ok());
  }
}
BENCHMARK(BM_JsonPatchCompileEveryTime);

void BM_MergePatch(benchmark::State& state) {
  const json patch = json::parse(
      R"({"metadata": {"labels": {"dr": "restored", "label-1": null}}, "spec": {"replicas": 1}})");
  for (auto _ : state) {
    json doc = Deployment();
    kdr::transform::ApplyMergePatch(&doc, patch);
    benchmark::DoNotOptimize(doc);
  }
}
BENCHMARK(BM_MergePatch);

void BM_StrategicMergePatch(benchmark::State& state) {
  const json patch = json::parse(R"({"spec": {"replicas": 1, "template": {"spec": {"containers": [
      {"name": "c1", "image": "dr.example.com/app:1", "env": [{"name": "VAR_3", "value": "dr"}]},
      {"name": "c2", "$patch": "delete"}]}}}})");
  for (auto _ : state) {
    json doc = Deployment();
    benchmark::DoNotOptimize(
        kdr::transform::ApplyStrategicMergePatch(&doc, patch, "apps/v1", "Deployment").ok());
  }
}
BENCHMARK(BM_StrategicMergePatch);

}  // namespace

BENCHMARK_MAIN();
