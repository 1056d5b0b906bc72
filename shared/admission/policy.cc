#include "admission/policy.h"

#include "admission/review.h"

namespace kdr::admission {

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
