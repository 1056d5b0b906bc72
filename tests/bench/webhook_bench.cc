// The webhook's per-request work without the network: decoding an AdmissionReview, and a whole
// Webhook::Serve (decode, policy, encode, metrics, decision log line) on the validate and mutate
// paths with the state of tests/data/admission/bench-objects.yaml. Bodies are shaped like
// ../shared/bench/make-review.py's: a ~9 KB Pod CREATE, a restored Ingress CREATE.
//
//   build-*/tests/webhook_bench   (results: BENCHMARKS.md, webhook section)

#include <benchmark/benchmark.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/populator.h"
#include "admission/review.h"
#include "admission/transform_engine.h"
#include "admission/webhook.h"
#include "base/clock.h"
#include "base/json.h"
#include "base/log.h"
#include "testutil/testutil.h"

namespace {

using nlohmann::json;
using namespace kdr::admission;

json Review(json object, const std::string& group, const std::string& kind,
            const std::string& resource) {
  return {{"apiVersion", "admission.k8s.io/v1"},
          {"kind", "AdmissionReview"},
          {"request",
           {{"uid", "7f0b2c1e-0000-4000-8000-000000000001"},
            {"kind", {{"group", group}, {"version", "v1"}, {"kind", kind}}},
            {"resource", {{"group", group}, {"version", "v1"}, {"resource", resource}}},
            {"name", object["metadata"]["name"]},
            {"namespace", "shop"},
            {"operation", "CREATE"},
            {"userInfo", {{"username", "alice"}, {"groups", {"system:authenticated"}}}},
            {"object", object},
            {"dryRun", false}}}};
}

std::string PodReview() {
  json containers = json::array();
  for (int i = 0; i < 3; ++i) {
    json env = json::array();
    for (int k = 0; k < 12; ++k) {
      env.push_back({{"name", "ENV_" + std::to_string(k)},
                     {"value", "value-" + std::to_string(k) + "-" + std::string(20, 'x')}});
    }
    containers.push_back(
        {{"name", "app-" + std::to_string(i)},
         {"image", "registry.example.com/shop/app:1.4." + std::to_string(i)},
         {"args", {"--port=8080", "--log-level=info"}},
         {"ports", {{{"name", "http"}, {"containerPort", 8080 + i}, {"protocol", "TCP"}}}},
         {"env", env},
         {"resources", {{"requests", {{"cpu", "250m"}, {"memory", "256Mi"}}}}},
         {"volumeMounts", {{{"name", "data"}, {"mountPath", "/var/lib/app"}},
                           {{"name", "config"}, {"mountPath", "/etc/app"}, {"readOnly", true}}}}});
  }
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", "web-0"}, {"namespace", "shop"}, {"labels", {{"app", "web"}}}}},
              {"spec",
               {{"containers", containers},
                {"volumes", {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", "data"}}}},
                             {{"name", "config"}, {"configMap", {{"name", "web"}}}}}}}}};
  return Review(pod, "", "Pod", "pods").dump();
}

std::string IngressReview() {
  json ingress = {
      {"apiVersion", "networking.k8s.io/v1"},
      {"kind", "Ingress"},
      {"metadata",
       {{"name", "shop"},
        {"namespace", "shop"},
        {"labels", {{"dr.kubectl-dr.dev/recovery", "shop-failover"}}},
        {"annotations", {{"nginx.ingress.kubernetes.io/rewrite-target", "/"},
                         {"nginx.ingress.kubernetes.io/ssl-redirect", "true"},
                         {"nginx.ingress.kubernetes.io/proxy-body-size", "8m"}}}}},
      {"spec", {{"rules", {{{"host", "shop.example.com"},
                            {"http", {{"paths", {{{"path", "/"}, {"pathType", "Prefix"},
                                                  {"backend", {{"service", {{"name", "web"},
                                                  {"port", {{"number", 80}}}}}}}}}}}}}}}}}};
  return Review(ingress, "networking.k8s.io", "Ingress", "ingresses").dump();
}

// The parse alone: nlohmann's DOM parser, and base/json.h's bounded one that replaced it in
// DecodeReview (the same builder, plus a depth count).
void BM_ParseReviewNlohmann(benchmark::State& state) {
  const std::string body = PodReview();
  for (auto _ : state) {
    json doc = json::parse(body, nullptr, false);
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseReviewNlohmann);

void BM_ParseReviewBounded(benchmark::State& state) {
  const std::string body = PodReview();
  for (auto _ : state) {
    kdr::Result<json> doc = kdr::ParseJson(body, "request body", kMaxReviewDepth);
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ParseReviewBounded);

void BM_DecodeReview(benchmark::State& state) {
  const std::string body = PodReview();
  for (auto _ : state) {
    Request req;
    kdr::Status st = DecodeReview(body, &req);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DecodeReview);

// The webhook as kubectl-dr-webhook wires it, logging decisions to memory.
struct Wired {
  Wired() {
    kdr::Status st = SeedCache(&cache, kdr::testutil::ReadData("admission/bench-objects.yaml"),
                               "bench-objects.yaml");
    if (!st.ok()) abort();
  }
  kdr::RealClock clock;
  std::ostringstream log_text;
  kdr::Logger logger{std::make_unique<kdr::JsonLogSink>(&log_text, &clock)};
  StateCache cache;
  Metrics metrics;
  std::unique_ptr<TransformEngine> engine = NewResourceModifierEngine();
  std::unique_ptr<Policy> fenced = NewFencedPvcPolicy(&cache, "kubectl-dr-system");
  std::unique_ptr<Policy> spent = NewSpentPlanPolicy(&cache);
  std::unique_ptr<Policy> transforms = NewTransformsPolicy(&cache, engine.get(), "kubectl-dr-system");
  PolicyChain validating{{fenced.get(), spent.get()}};
  Webhook validate{"validate", &validating, &metrics, &logger, &clock};
  Webhook mutate{"mutate", transforms.get(), &metrics, &logger, &clock};
};

void Serve(benchmark::State& state, bool mutating) {
  Wired w;
  const std::string body = mutating ? IngressReview() : PodReview();
  const Webhook& hook = mutating ? w.mutate : w.validate;
  for (auto _ : state) {
    HttpReply reply = hook.Serve("application/json", body, false);
    if (reply.status != 200) state.SkipWithError(reply.body.c_str());
    benchmark::DoNotOptimize(reply);
    if (w.log_text.tellp() > (1 << 20)) w.log_text.str("");
  }
}
void BM_ServeValidate(benchmark::State& state) { Serve(state, false); }
void BM_ServeMutate(benchmark::State& state) { Serve(state, true); }
BENCHMARK(BM_ServeValidate);
BENCHMARK(BM_ServeMutate);

}  // namespace

BENCHMARK_MAIN();
