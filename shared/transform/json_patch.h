#pragma once

// RFC 6902 JSON Patch and RFC 6901 JSON Pointer, used by the transform engine (Velero `patches`),
// by kubesim (PATCH application/json-patch+json) and anywhere an object is edited by path.

#include <nlohmann/json_fwd.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr::transform {

// "/a/b~1c/0" -> {"a", "b/c", "0"}; "" -> {} (the whole document); "/" -> {""} (the member named
// ""). InvalidArgument when the pointer does not start with '/' or has a bad escape ("~2", a
// trailing "~").
Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer);

// The value at pointer, or nullptr when any part of the path is missing (never an error). Array
// tokens must be RFC 6901 indexes: digits without a leading zero, below the size ("-" names no
// element, so it resolves to nullptr).
const nlohmann::json* ResolvePointer(const nlohmann::json& doc, const std::vector<std::string>& tokens);

enum class JsonPatchOp { kAdd, kRemove, kReplace, kMove, kCopy, kTest };

// Whose reading of RFC 6902 a `test` follows when its path does not lead to a value. The other
// operations behave the same in both.
enum class JsonPatchDialect {
  // The RFC as written: the tested value must exist, and any path that does not resolve is a
  // failed test (FailedPrecondition), like a value that differs.
  kRfc6902,
  // github.com/evanphx/json-patch/v5 (v5.9.0, which Velero's resource modifiers apply),
  // Patch.test: a missing member of an existing object reads as null, so a test of null passes
  // and a test of any other value fails (ErrTestFailed, FailedPrecondition here). A path that
  // cannot be resolved is an error, not a failed test (InvalidArgument here): a parent that is
  // missing or not an object or array (findObject fails: ErrMissing "test operation does not
  // apply"), or a last token that is not an in-range index of an existing array
  // (partialArray.get: ErrInvalidIndex, or strconv's error for a non-number).
  kEvanphx,
};

// A patch parsed and checked once (ops known, pointers parsed, required members present) and then
// applied to many documents without re-parsing.
class JsonPatch {
 public:
  struct Operation {
    JsonPatchOp op;
    std::string path;   // as written, for messages
    std::vector<std::string> path_tokens;
    std::string from;   // move/copy
    std::vector<std::string> from_tokens;
    // add/replace/test: the value, held as serialized JSON so this header needs no json.hpp.
    std::string value_json;
    // The same value parsed once at Compile (null for remove/move/copy), so Apply never
    // re-parses. Shared and immutable: copies of a JsonPatch share it.
    std::shared_ptr<const nlohmann::json> value;
  };

  // ops: a JSON array of operation objects. InvalidArgument naming the operation index and what
  // is wrong ("operation 1: unknown op \"rename\"", "operation 0: missing path"): not an array,
  // an operation that is not an object, an unknown or missing op, a missing or non-string
  // path/from, a missing value (add, replace, test; an explicit null is a value), a bad pointer,
  // a move whose from is a proper prefix of its path. Members other than op/path/from/value are
  // ignored, as RFC 6902 requires. `dialect` decides how Apply treats a test of a missing path.
  static Result<JsonPatch> Compile(const nlohmann::json& ops,
                                   JsonPatchDialect dialect = JsonPatchDialect::kRfc6902);

  // Applies every operation, or none: on any error *doc is left exactly as it was (an undo log
  // restores it; the document is not copied). Thread-safe: a compiled patch is immutable and may
  // be applied to different documents from several threads at once.
  // Errors: InvalidArgument "operation 2 (remove /spec/x): path not found" for a missing target
  // of remove/replace/move/copy, a bad array index, or an add under a missing parent;
  // FailedPrecondition "operation 0 (test /spec/replicas): value differs" for a failed test
  // (Velero then skips the whole rule). A tested path that does not exist is a failed test in
  // kRfc6902; in kEvanphx see JsonPatchDialect: a missing member of an existing object is
  // compared as null, and a path that cannot be resolved is InvalidArgument
  // "operation 0 (test /metadata/annotations/team): path not found (/metadata has no member
  // \"annotations\")". On error, *failed_operation (when given) is set to the index of the
  // operation that failed.
  Status Apply(nlohmann::json* doc, size_t* failed_operation = nullptr) const;

  const std::vector<Operation>& operations() const { return ops_; }
  JsonPatchDialect dialect() const { return dialect_; }

 private:
  std::vector<Operation> ops_;
  JsonPatchDialect dialect_ = JsonPatchDialect::kRfc6902;
};

// One-shot: Compile then Apply.
Status ApplyJsonPatch(nlohmann::json* doc, const nlohmann::json& ops);

}  // namespace kdr::transform
