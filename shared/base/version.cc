#include "base/version.h"

#ifndef KDR_VERSION
#define KDR_VERSION "0.0.0-dev"
#endif

namespace kdr {

std::string_view Version() { return KDR_VERSION; }

std::string_view UserAgent() {
#if defined(__x86_64__)
  return "kubectl-dr/" KDR_VERSION " (linux/amd64)";
#elif defined(__aarch64__)
  return "kubectl-dr/" KDR_VERSION " (linux/arm64)";
#else
  return "kubectl-dr/" KDR_VERSION " (linux)";
#endif
}

}  // namespace kdr
