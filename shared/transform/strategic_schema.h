#pragma once

// The patch metadata of the built-in Kubernetes types that strategic merge patch needs: for each
// struct, the fields whose Go tags carry patchStrategy / patchMergeKey (k8s.io/api 1.32), and the
// fields leading to such structs. A field not listed behaves as apimachinery treats a field without
// tags: objects merge recursively, lists are replaced. Internal to shared/transform; the tables are
// immutable constants.

#include <span>
#include <string_view>

namespace kdr::transform::internal {

struct StructSchema;

struct FieldSchema {
  std::string_view name = {};          // JSON name
  bool merge = false;                  // patchStrategy "merge": lists merge (by merge_key, or union)
  bool replace = false;                // patchStrategy "replace"
  bool retain_keys = false;            // patchStrategy "retainKeys" (honoured via $retainKeys)
  std::string_view merge_key = {};     // patchMergeKey; empty for primitive lists
  const StructSchema* type = nullptr;  // the struct of the value, or of a list's elements
};

struct StructSchema {
  std::string_view name;  // Go type name, for messages ("PodSpec")
  std::span<const FieldSchema> fields;

  // The field with this JSON name, or nullptr (unknown: maps merge, lists replace).
  const FieldSchema* Find(std::string_view json_name) const;
};

// The schema of a built-in kind ("apps/v1", "Deployment"), or nullptr when it is not known.
const StructSchema* LookupKindSchema(std::string_view api_version, std::string_view kind);

}  // namespace kdr::transform::internal
