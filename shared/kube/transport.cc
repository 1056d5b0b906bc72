#include "kube/transport.h"

#include "base/strings.h"

namespace kdr::kube {

std::string_view HeaderValue(const Headers& headers, std::string_view name) {
  std::string want = ToLower(name);
  for (const auto& [k, v] : headers) {
    if (ToLower(k) == want) return v;
  }
  return {};
}

bool IsConnectionRefused(const Status& status) {
  return status.code() == StatusCode::kUnavailable &&
         EndsWith(status.message(), ": connection refused");
}

bool IsCertificateFailure(const Status& status) {
  return status.code() == StatusCode::kUnavailable &&
         status.message().find("tls: failed to verify certificate") != std::string::npos;
}

}  // namespace kdr::kube
