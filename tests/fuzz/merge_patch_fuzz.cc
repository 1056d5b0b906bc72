// JSON merge patch (transform/merge_patch.h): `mergePatches` of resource modifiers, and the
// minimal patches the plugin computes between two versions of an object.

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "fuzz_target.h"
#include "transform/merge_patch.h"

namespace kdr::fuzz {
namespace {

bool HasNull(const nlohmann::json& v) {
  if (v.is_null()) return true;
  if (v.is_structured()) {
    for (const nlohmann::json& e : v) {
      if (HasNull(e)) return true;
    }
  }
  return false;
}

}  // namespace

int FuzzMergePatch(const uint8_t* data, size_t size) {
  for (const PatchCase& c : PatchCases(AsText(data, size))) {
    nlohmann::json patched = c.doc;
    transform::ApplyMergePatch(&patched, c.patch);
    // The documented property of CreateMergePatch (merge_patch.h), for documents without nulls.
    if (!HasNull(patched) && !HasNull(c.doc)) {
      const nlohmann::json diff = transform::CreateMergePatch(c.doc, patched);
      nlohmann::json again = c.doc;
      transform::ApplyMergePatch(&again, diff);
      KDR_FUZZ_CHECK(again == patched, "CreateMergePatch " + diff.dump() + " does not turn " +
                                           c.doc.dump() + " into " + patched.dump());
    }
  }
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzMergePatch)
