// Strategic merge patch (transform/strategic.h): `strategicPatches` of resource modifiers, on
// every kind the built-in schema knows. All or nothing: a patch that fails leaves the document as
// it was.

#include <nlohmann/json.hpp>

#include "fuzz_target.h"
#include "transform/strategic.h"

namespace kdr::fuzz {

int FuzzStrategicPatch(const uint8_t* data, size_t size) {
  for (const PatchCase& c : PatchCases(AsText(data, size))) {
    std::string api_version = "v1";
    std::string kind = "Pod";
    if (c.doc.is_object()) {
      if (auto it = c.doc.find("apiVersion"); it != c.doc.end() && it->is_string()) {
        api_version = it->get<std::string>();
      }
      if (auto it = c.doc.find("kind"); it != c.doc.end() && it->is_string()) {
        kind = it->get<std::string>();
      }
    }
    nlohmann::json doc = c.doc;
    Status st = transform::ApplyStrategicMergePatch(&doc, c.patch, api_version, kind);
    if (!st.ok()) KDR_FUZZ_CHECK(doc == c.doc, "a failed patch changed the document");
  }
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzStrategicPatch)
