#pragma once

// Reading Kubernetes objects the way `kubectl apply -f` does: a file, a directory (its .yaml,
// .yml and .json files, sorted, not recursive) or "-" for stdin; multi-document YAML, JSON, and
// lists (kind: List or any *List with items) flattened into their items.

#include <nlohmann/json_fwd.hpp>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/status.h"

namespace kdr::plugin {

struct SourcedObject {
  std::string source;  // "deploy.yaml", "deploy.yaml (document 2)", "list.json (item 3)"
  std::shared_ptr<nlohmann::json> object;  // never null; a pointer only to keep json.hpp out
};

// Errors: NotFound for a missing path, InvalidArgument for malformed YAML/JSON (naming the file,
// line and column), for a document that is not a mapping, and for a directory without object
// files. Empty documents are skipped.
Result<std::vector<SourcedObject>> ReadObjects(const std::string& path, const FileSystem& fs,
                                               std::istream& in);

// Parses one file's text (what names it in messages and in SourcedObject::source).
Result<std::vector<SourcedObject>> ParseObjects(std::string_view text, const std::string& what);

// "Deployment shop/web", "Namespace shop", "Deployment web" for messages.
std::string DescribeObject(const nlohmann::json& object);

}  // namespace kdr::plugin
