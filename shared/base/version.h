#pragma once

#include <string_view>

namespace kdr {

// The product version ("0.1.0"), set by the build from CMake's project version.
std::string_view Version();

// "kubectl-dr/0.1.0 (linux/amd64)": the User-Agent of every request we send.
std::string_view UserAgent();

}  // namespace kdr
