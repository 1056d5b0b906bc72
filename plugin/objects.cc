#include "objects.h"

#include <istream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/strings.h"
#include "base/yaml.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

bool IsList(const json& doc) {
  if (!doc.is_object()) return false;
  auto kind = doc.find("kind");
  auto items = doc.find("items");
  return kind != doc.end() && kind->is_string() &&
         EndsWith(kind->get_ref<const std::string&>(), "List") && items != doc.end() &&
         items->is_array();
}

bool IsObjectFile(const std::string& name) {
  return EndsWith(name, ".yaml") || EndsWith(name, ".yml") || EndsWith(name, ".json");
}

}  // namespace

std::string DescribeObject(const nlohmann::json& object) {
  if (!object.is_object()) return "object";
  auto str = [&](const json& o, const char* k) -> std::string {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string kind = str(object, "kind");
  std::string out = kind.empty() ? "object" : kind;
  auto md = object.find("metadata");
  if (md != object.end() && md->is_object()) {
    std::string ns = str(*md, "namespace");
    std::string name = str(*md, "name");
    if (name.empty()) name = str(*md, "generateName") + "*";
    out += " " + (ns.empty() ? name : ns + "/" + name);
  }
  return out;
}

Result<std::vector<SourcedObject>> ParseObjects(std::string_view text, const std::string& what) {
  std::vector<json> docs;
  std::string_view trimmed = TrimSpace(text);
  if (!trimmed.empty() && (trimmed.front() == '{' || trimmed.front() == '[')) {
    // JSON: nlohmann is stricter and faster than going through YAML.
    KDR_ASSIGN_OR_RETURN(json doc, ParseJson(text, what));
    docs.push_back(std::move(doc));
  } else {
    KDR_ASSIGN_OR_RETURN(docs, YamlDocumentsToJson(text, what));
  }
  std::vector<SourcedObject> out;
  for (size_t i = 0; i < docs.size(); ++i) {
    std::string source = docs.size() > 1 ? what + " (document " + std::to_string(i + 1) + ")" : what;
    json& doc = docs[i];
    if (doc.is_array()) {
      // A bare JSON array of objects reads like a List.
      doc = json{{"kind", "List"}, {"items", std::move(doc)}};
    }
    if (!doc.is_object()) {
      return Status::InvalidArgument(source + ": expected a Kubernetes object (a mapping with "
                                              "apiVersion, kind and metadata)");
    }
    if (IsList(doc)) {
      json& items = doc["items"];
      for (size_t j = 0; j < items.size(); ++j) {
        std::string item_source = source + " (item " + std::to_string(j + 1) + ")";
        if (!items[j].is_object()) {
          return Status::InvalidArgument(item_source + ": expected a Kubernetes object");
        }
        out.push_back({item_source, std::make_shared<json>(std::move(items[j]))});
      }
      continue;
    }
    out.push_back({source, std::make_shared<json>(std::move(doc))});
  }
  return out;
}

Result<std::vector<SourcedObject>> ReadObjects(const std::string& path, const FileSystem& fs,
                                               std::istream& in) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return ParseObjects(text, "stdin");
  }
  auto info = fs.Stat(path);
  if (!info.ok()) {
    return Status(info.status().code(), "cannot read objects from " + Quote(path) + ": " +
                                            info.status().message());
  }
  if (!info->is_dir) {
    KDR_ASSIGN_OR_RETURN(std::string text, fs.ReadFile(path));
    return ParseObjects(text, path);
  }
  KDR_ASSIGN_OR_RETURN(auto names, fs.ListDir(path));
  std::vector<SourcedObject> out;
  bool any = false;
  for (const auto& name : names) {
    if (!IsObjectFile(name)) continue;
    std::string file = JoinPath(path, name);
    auto st = fs.Stat(file);
    if (!st.ok() || st->is_dir) continue;
    any = true;
    KDR_ASSIGN_OR_RETURN(std::string text, fs.ReadFile(file));
    KDR_ASSIGN_OR_RETURN(auto objects, ParseObjects(text, file));
    for (auto& o : objects) out.push_back(std::move(o));
  }
  if (!any) {
    return Status::InvalidArgument("directory " + Quote(path) +
                                   " has no .yaml, .yml or .json files to read objects from");
  }
  return out;
}

}  // namespace kdr::plugin
