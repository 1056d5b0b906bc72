// AdmissionReviews as kube-apiserver POSTs them, through the webhook wired as
// kubectl-dr-webhook's main() wires it: /validate (fenced-PVC then spent-plan policies) and
// /mutate (the transforms policy with the real transform engine), each behind Webhook::Serve
// (content checks, DecodeReview, the panic guard, EncodeReview). The state the policies decide
// from is tests/data/admission/deep-review-state.yaml plus the modifier file of
// ingress-modifiers.yaml; an input may add objects after kPartSeparator (YAML or JSON, as the
// watch caches are seeded: SeedCache), which then are input too.
//
// Every answer must be an AdmissionReview that kube-apiserver accepts: JSON, the request's uid
// echoed when it had one, allowed a bool, and a patch that is base64 of a JSON patch applying
// to the request's object.

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/populator.h"
#include "admission/review.h"
#include "admission/transform_engine.h"
#include "admission/webhook.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "fuzz_target.h"
#include "testutil/testutil.h"
#include "transform/json_patch.h"

namespace kdr::fuzz {
namespace {

constexpr char kDrNamespace[] = "kubectl-dr-system";

std::string BaseState() {
  std::string modifiers = testutil::ReadData("admission/ingress-modifiers.yaml");
  std::string indented;
  for (const std::string& line : Split(modifiers, '\n')) indented += "    " + line + "\n";
  return testutil::ReadData("admission/deep-review-state.yaml") +
         "---\n"
         "apiVersion: v1\n"
         "kind: ConfigMap\n"
         "metadata: {name: deep-modifiers, namespace: kubectl-dr-system, resourceVersion: \"7\"}\n"
         "data:\n"
         "  modifiers.yaml: |\n" +
         indented;
}

// One webhook process: its cache, policies and the two Webhooks.
struct Wiring {
  explicit Wiring(std::string_view extra_state) {
    std::string state = BaseState();
    if (!extra_state.empty()) state += "---\n" + std::string(extra_state);
    seeded = SeedCache(&cache, state, "fuzz state");
  }
  Status seeded;
  testutil::FakeClock clock;
  std::ostringstream log;
  Logger logger{std::make_unique<JsonLogSink>(&log, nullptr)};
  admission::StateCache cache;
  admission::Metrics metrics;
  std::unique_ptr<admission::TransformEngine> engine = admission::NewResourceModifierEngine();
  std::unique_ptr<admission::Policy> fenced = admission::NewFencedPvcPolicy(&cache, kDrNamespace);
  std::unique_ptr<admission::Policy> spent = admission::NewSpentPlanPolicy(&cache);
  std::unique_ptr<admission::Policy> transforms =
      admission::NewTransformsPolicy(&cache, engine.get(), kDrNamespace);
  admission::PolicyChain validating{{fenced.get(), spent.get()}};
  admission::Webhook validate{"validate", &validating, &metrics, &logger, &clock};
  admission::Webhook mutate{"mutate", transforms.get(), &metrics, &logger, &clock};
};

void Check(const admission::HttpReply& reply, std::string_view body) {
  auto review = ParseJson(reply.body, "answer");
  KDR_FUZZ_CHECK(review.ok(), reply.body);
  KDR_FUZZ_CHECK(review->value("kind", "") == "AdmissionReview", reply.body);
  const nlohmann::json& response = (*review)["response"];
  KDR_FUZZ_CHECK(response.is_object() && response["allowed"].is_boolean(), reply.body);
  admission::Request request;
  if (!DecodeReview(body, &request).ok()) {
    KDR_FUZZ_CHECK(reply.status != 200, reply.body);
    return;
  }
  KDR_FUZZ_CHECK(reply.status == 200, reply.body);
  KDR_FUZZ_CHECK(response.value("uid", "") == request.uid, reply.body);
  if (!response.contains("patch")) return;
  KDR_FUZZ_CHECK(response.value("patchType", "") == "JSONPatch", reply.body);
  auto patch_text = Base64Decode(response["patch"].get<std::string>(), "patch");
  KDR_FUZZ_CHECK(patch_text.ok(), reply.body);
  auto ops = ParseJson(*patch_text, "patch");
  KDR_FUZZ_CHECK(ops.ok(), *patch_text);
  nlohmann::json object = request.object();
  Status applied = transform::ApplyJsonPatch(&object, *ops);
  KDR_FUZZ_CHECK(applied.ok(), applied.ToString() + ": " + *patch_text);
}

}  // namespace

int FuzzAdmissionReview(const uint8_t* data, size_t size) {
  static Wiring* const base = new Wiring("");  // one webhook for the inputs without state
  KDR_FUZZ_CHECK(base->seeded.ok(), base->seeded.ToString());
  const std::vector<std::string_view> parts = SplitParts(AsText(data, size));
  std::unique_ptr<Wiring> own;
  const Wiring* w = base;
  if (parts.size() > 1) {
    own = std::make_unique<Wiring>(parts[1]);
    w = own.get();
  }
  const std::string_view body = parts[0];
  Check(w->validate.Serve("application/json", body, false), body);
  Check(w->mutate.Serve("application/json; charset=utf-8", body, false), body);
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzAdmissionReview)
