// kubesim admission cost per write: no webhooks registered, webhooks registered but not matching,
// and one matching validating webhook called over real TLS on loopback (a new connection per
// call, as kubesim makes). Client and webhook share the machine.
//
//   build-*/tests/admission_bench   (results: BENCHMARKS.md)

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

#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "kubesim/admission.h"
#include "tls/certs.h"
#include "tls/pem.h"

namespace {

using json = nlohmann::json;
using namespace kdr::kubesim;

class Source : public WebhookSource {
 public:
  std::vector<json> Configurations(WebhookKind kind) const override {
    return kind == WebhookKind::kValidating ? validating : std::vector<json>{};
  }
  std::optional<json> Namespace(const std::string&) const override {
    return json{{"metadata", {{"name", "shop"}, {"labels", json::object()}}}};
  }
  std::vector<json> validating;
};

// An allow-all webhook on 127.0.0.1:0.
class Webhook {
 public:
  Webhook() {
    ca_ = *kdr::tls::MakeCa("bench-ca");
    kdr::tls::CertRequest req;
    req.common_name = "bench";
    req.ip_addresses = {"127.0.0.1"};
    auto leaf = *kdr::tls::MakeLeaf(ca_, req);
    auto cert = kdr::tls::ParseCertificates(leaf.cert_pem, "webhook certificate");
    auto key = kdr::tls::ParsePrivateKey(leaf.key_pem, "webhook key");
    server_ = std::make_unique<httplib::SSLServer>(cert->front().get(), key->get());  // copies refs
    server_->Post("/v", [](const httplib::Request& req, httplib::Response& res) {
      json review = json::parse(req.body);
      json out = {{"apiVersion", "admission.k8s.io/v1"},
                  {"kind", "AdmissionReview"},
                  {"response", {{"uid", review["request"]["uid"]}, {"allowed", true}}}};
      res.set_content(out.dump(), "application/json");
    });
    server_->set_tcp_nodelay(true);  // as a webhook serving kube-apiserver should
    port_ = server_->bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    while (!server_->is_running()) std::this_thread::yield();
  }
  ~Webhook() {
    server_->stop();
    thread_.join();
  }
  json Hook(const std::string& name, const std::string& resource) const {
    return {{"name", name},
            {"clientConfig",
             {{"url", "https://127.0.0.1:" + std::to_string(port_) + "/v"},
              {"caBundle", kdr::Base64Encode(ca_.cert_pem)}}},
            {"rules", json::array({{{"operations", {"*"}},
                                    {"apiGroups", {""}},
                                    {"apiVersions", {"v1"}},
                                    {"resources", {resource}}}})},
            {"sideEffects", "None"},
            {"admissionReviewVersions", {"v1"}}};
  }

 private:
  kdr::tls::KeyPair ca_;
  std::unique_ptr<httplib::SSLServer> server_;
  int port_ = 0;
  std::thread thread_;
};

json ConfigMap() {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "cfg"}, {"namespace", "shop"}, {"labels", {{"app", "web"}}}}},
          {"data", {{"k", std::string(512, 'x')}}}};
}

void Run(benchmark::State& state, const Source& source) {
  Admission admission(&source, {});
  json obj = ConfigMap();
  AdmissionRequest r;
  r.kind = {"", "v1", "ConfigMap"};
  r.resource = {"", "v1", "configmaps"};
  r.name = "cfg";
  r.namespace_name = "shop";
  r.user = {"admin", "", {"system:masters"}, {}};
  r.object = &obj;
  for (auto _ : state) {
    AdmissionResult res = admission.Admit(r);
    if (!res.allowed) state.SkipWithError(res.message.c_str());
    benchmark::DoNotOptimize(res);
  }
}

void BM_AdmitNoWebhooks(benchmark::State& state) {
  Source source;
  Run(state, source);
}
BENCHMARK(BM_AdmitNoWebhooks);

void BM_AdmitThreeNonMatchingWebhooks(benchmark::State& state) {
  Webhook hook;
  Source source;
  source.validating.push_back({{"metadata", {{"name", "v"}}},
                               {"webhooks", {hook.Hook("a.example.com", "pods"),
                                             hook.Hook("b.example.com", "secrets"),
                                             hook.Hook("c.example.com", "persistentvolumeclaims")}}});
  Run(state, source);
}
BENCHMARK(BM_AdmitThreeNonMatchingWebhooks);

void BM_AdmitOneValidatingWebhookTls(benchmark::State& state) {
  Webhook hook;
  Source source;
  source.validating.push_back(
      {{"metadata", {{"name", "v"}}}, {"webhooks", {hook.Hook("v.example.com", "configmaps")}}});
  Run(state, source);
}
BENCHMARK(BM_AdmitOneValidatingWebhookTls)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
