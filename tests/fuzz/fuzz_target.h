#pragma once

// The fuzz targets of kubectl-dr: one function per input that comes from outside, each feeding
// the bytes to the product's own entry point for that input (the functions the plugin, the
// webhook and the drivers call, never a copy of them).
//
// Each target is built twice:
//  - as a libFuzzer binary, <name>_fuzz (KDR_FUZZ=ON with clang; scripts/fuzz): the file's
//    KDR_FUZZ_ENTRY becomes LLVMFuzzerTestOneInput;
//  - into fuzz_test, a gtest of the regular suite that replays every seed and every input a
//    fuzzer once crashed on (tests/fuzz/seeds.txt names them) through the same function, so a
//    fixed finding stays fixed in every build, the sanitized ones included.
//
// A target returns 0 and never throws: an exception escaping, a crash, a sanitizer report or a
// failed KDR_FUZZ_CHECK is a finding. Targets are deterministic: they use a FakeClock and an
// in-memory FileSystem; only http_fuzz talks to a socket (the server's own, on loopback).

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"

namespace kdr {
class FileSystem;
}  // namespace kdr

namespace kdr::fuzz {

int FuzzAdmissionReview(const uint8_t* data, size_t size);
int FuzzExecCredential(const uint8_t* data, size_t size);
int FuzzHttp(const uint8_t* data, size_t size);
int FuzzInventory(const uint8_t* data, size_t size);
int FuzzJson(const uint8_t* data, size_t size);
int FuzzJsonPatch(const uint8_t* data, size_t size);
int FuzzKubeconfig(const uint8_t* data, size_t size);
int FuzzMergePatch(const uint8_t* data, size_t size);
int FuzzModifiers(const uint8_t* data, size_t size);
int FuzzStrategicPatch(const uint8_t* data, size_t size);
int FuzzWsapi(const uint8_t* data, size_t size);
int FuzzYaml(const uint8_t* data, size_t size);

// Inputs made of several files (a document and its patch, an inventory's pointer, index and
// objects) separate them with this line, so that seeds stay readable and the dictionaries can
// offer it to the mutator.
inline constexpr std::string_view kPartSeparator = "\n~~~\n";

inline std::vector<std::string_view> SplitParts(std::string_view input) {
  std::vector<std::string_view> parts;
  for (;;) {
    const size_t at = input.find(kPartSeparator);
    parts.push_back(input.substr(0, at));
    if (at == std::string_view::npos) return parts;
    input.remove_prefix(at + kPartSeparator.size());
  }
}

// A document and a patch to apply to it: "DOC\n~~~\nPATCH" (both JSON), or a test case file of
// tests/data/patches/ (YAML or JSON: an object with object|doc and patch, or an array of them), so
// that those files seed the patch fuzzers as they are.
struct PatchCase {
  nlohmann::json doc;
  nlohmann::json patch;
};
std::vector<PatchCase> PatchCases(std::string_view input);

// Runs `kubectl-dr ARGS...` in process (plugin/cli/cli.h RunPlugin) on `fs` and a FakeClock,
// and returns its exit code. Commands turn an exception that escapes them into "internal error
// ... please report it": that, or an exit code other than 0, 1 and 2, is a finding.
int RunPlugin(std::vector<std::string> args, FileSystem* fs);

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace kdr::fuzz

// An invariant of the product that the input broke: reported and aborted, so libFuzzer saves
// the input (and fuzz_test fails).
#define KDR_FUZZ_CHECK(cond, what)                                                    \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s: %s\n", __FILE__,       \
                   __LINE__, #cond, std::string(what).c_str());                       \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace kdr::fuzz {

// Error messages end up in JSON (reports, -o json, DRRecovery status, AdmissionReview answers):
// one that is not UTF-8 would make nlohmann's dump throw there. base/json.h's PrintableBytes is
// how outside bytes get into a message.
template <typename S>
void CheckMessage(const S& status) {
  KDR_FUZZ_CHECK(IsValidUtf8(status.message()), "message is not UTF-8: " +
                                                    PrintableBytes(status.message()));
}

}  // namespace kdr::fuzz

#ifdef KDR_FUZZ_MAIN
#define KDR_FUZZ_ENTRY(fn)                                                  \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return kdr::fuzz::fn(data, size);                                       \
  }
#else
#define KDR_FUZZ_ENTRY(fn)
#endif
