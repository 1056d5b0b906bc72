// The bounded JSON reader (base/json.h) every JSON input goes through: AdmissionReviews, API
// server answers, inventory files, WSAPI answers, exec-credential output, `-f file.json`.

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "fuzz_target.h"

namespace kdr::fuzz {

int FuzzJson(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  auto doc = ParseJson(text, "fuzz.json");
  KDR_FUZZ_CHECK(IsValidUtf8(text) || !doc.ok(), "accepted invalid UTF-8");
  (void)PrintableBytes(text.substr(0, 64));
  if (!doc.ok()) return 0;
  KDR_FUZZ_CHECK(!NestsDeeperThan(*doc, kMaxJsonDepth), "accepted past kMaxJsonDepth");
  // What was read prints and reads back (the product dumps what it read: patches, reports).
  const std::string printed = doc->dump();
  auto again = ParseJson(printed, "printed");
  KDR_FUZZ_CHECK(again.ok(), again.status().ToString());
  KDR_FUZZ_CHECK(again->dump() == printed, printed);
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzJson)
