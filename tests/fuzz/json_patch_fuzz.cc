// JSON patch (transform/json_patch.h) in both readings the product applies: RFC 6902, and
// evanphx/json-patch's, which Velero's resource modifiers (the `patches` of a rule) follow.
// All or nothing: a patch that fails leaves the document exactly as it was.

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "fuzz_target.h"
#include "transform/json_patch.h"

namespace kdr::fuzz {

int FuzzJsonPatch(const uint8_t* data, size_t size) {
  for (const PatchCase& c : PatchCases(AsText(data, size))) {
    for (auto dialect : {transform::JsonPatchDialect::kRfc6902,
                         transform::JsonPatchDialect::kEvanphx}) {
      auto patch = transform::JsonPatch::Compile(c.patch, dialect);
      if (!patch.ok()) continue;
      nlohmann::json doc = c.doc;
      size_t failed = 0;
      Status st = patch->Apply(&doc, &failed);
      if (!st.ok()) {
        KDR_FUZZ_CHECK(doc == c.doc, "a failed patch changed the document: " + st.ToString());
        KDR_FUZZ_CHECK(failed < patch->operations().size(), st.ToString());
      }
    }
    nlohmann::json doc = c.doc;
    (void)transform::ApplyJsonPatch(&doc, c.patch);
  }
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzJsonPatch)
