#include "admission/policy.h"

#include "admission/cache.h"
#include "admission/review.h"

namespace kdr::admission {
namespace {

class CacheFreshnessGuard final : public Policy {
 public:
  CacheFreshnessGuard(const Policy* policy, const StateCache* cache)
      : policy_(policy), cache_(cache) {}

  Response Handle(const Request& request) const override {
    Response r = policy_->Handle(request);
    // Checked after the decision: a cache that broke while deciding is still reported.
    const std::string note = UnsyncedCacheNote(*cache_);
    if (note.empty()) return r;
    if (r.allowed) {
      r.warnings.push_back(note);
    } else {
      r.message += r.message.empty() ? note : "; " + note;
    }
    return r;
  }

 private:
  const Policy* const policy_;
  const StateCache* const cache_;
};

}  // namespace

std::unique_ptr<Policy> NewCacheFreshnessGuard(const Policy* policy, const StateCache* cache) {
  return std::make_unique<CacheFreshnessGuard>(policy, cache);
}

std::string UnsyncedCacheNote(const StateCache& cache) {
  const std::vector<StateCache::UnsyncedKind> kinds = cache.UnsyncedKinds();
  if (kinds.empty()) return "";
  std::string what;
  for (const auto& k : kinds) {
    if (!what.empty()) what += "; ";
    what += std::string(CacheKindName(k.kind)) + ": ";
    what += k.listed ? "watch failing" : "not listed yet";
    if (!k.since.empty()) what += " since " + k.since;
    if (!k.why.empty()) what += ": " + k.why;
  }
  return "decided from the webhook's cache while it is out of sync with the API server (" + what +
         "): the cluster may have changed since; retry once the webhook is ready (/readyz)";
}

Response PolicyChain::Handle(const Request& request) const {
  Response answer = Allowed();
  std::vector<std::string> warnings;
  for (const Policy* p : policies_) {
    Response r = p->Handle(request);
    for (auto& w : r.warnings) warnings.push_back(std::move(w));
    if (!r.allowed || !r.patch.empty()) {
      r.warnings = std::move(warnings);
      return r;
    }
    if (answer.policy.empty() && !r.policy.empty()) answer = std::move(r);
  }
  answer.warnings = std::move(warnings);
  return answer;
}

}  // namespace kdr::admission
