#include "install/manifests.h"

#include <nlohmann/json.hpp>
#include <string>

#include "base/strings.h"
#include "base/yaml.h"
#include "kube/object.h"
#include "transform/merge_patch.h"

namespace kdr::install {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 8;  // kustomizations including kustomizations; a cycle ends here

// "overlays/cert-manager" + "../../base" -> "base". Empty parts and "." are dropped.
Result<std::string> Resolve(std::string_view dir, std::string_view relative) {
  std::vector<std::string> parts;
  for (std::string_view piece : {dir, relative}) {
    for (const std::string& p : Split(piece, '/')) {
      if (p.empty() || p == ".") continue;
      if (p == "..") {
        if (parts.empty()) {
          return Status::InvalidArgument(Quote(relative) + " leaves manifests/ (from " +
                                         Quote(dir) + ")");
        }
        parts.pop_back();
        continue;
      }
      parts.push_back(p);
    }
  }
  return Join(parts, "/");
}

const ManifestFile* Find(std::span<const ManifestFile> files, std::string_view path) {
  for (const ManifestFile& f : files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

Result<std::vector<json>> Documents(const ManifestFile& f) {
  KDR_ASSIGN_OR_RETURN(std::vector<json> docs,
                       YamlDocumentsToJson(f.content, "manifests/" + std::string(f.path)));
  for (const json& d : docs) {
    if (!d.is_object() || !d.contains("kind")) {
      return Status::InvalidArgument("manifests/" + std::string(f.path) +
                                     ": every document must be an object with a kind");
    }
  }
  return docs;
}

std::string StringAt(const json& o, const char* key) {
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : "";
}

// Whether `object` is what a patch target names (empty fields match anything).
bool Matches(const json& target, const json& object) {
  Result<kube::Gvk> gvk = kube::GvkOf(object);
  if (!gvk.ok()) return false;
  std::string group = StringAt(target, "group"), version = StringAt(target, "version"),
              kind = StringAt(target, "kind"), name = StringAt(target, "name");
  return (!target.contains("group") || group == gvk->group) &&
         (version.empty() || version == gvk->version) && (kind.empty() || kind == gvk->kind) &&
         (name.empty() || name == kube::Name(object));
}

Result<std::vector<json>> Build(std::span<const ManifestFile> files, const std::string& dir,
                                int depth) {
  const std::string where = "manifests/" + dir + "/kustomization.yaml";
  if (depth > kMaxDepth) return Status::InvalidArgument(where + ": resources nest too deep (a cycle?)");
  const ManifestFile* k = Find(files, dir + "/kustomization.yaml");
  if (k == nullptr) return Status::InvalidArgument(where + " does not exist");
  KDR_ASSIGN_OR_RETURN(json kust, YamlToJson(k->content, where));
  if (!kust.is_object()) return Status::InvalidArgument(where + " is not a mapping");
  for (const auto& [key, value] : kust.items()) {
    if (key != "apiVersion" && key != "kind" && key != "resources" && key != "patches") {
      return Status::InvalidArgument(where + ": field " + Quote(key) +
                                     " is not supported by kubectl dr install's embedded builder "
                                     "(resources and patches are)");
    }
  }

  std::vector<json> objects;
  if (kust.contains("resources")) {
    if (!kust["resources"].is_array()) return Status::InvalidArgument(where + ": resources must be a list");
    for (const json& r : kust["resources"]) {
      if (!r.is_string()) return Status::InvalidArgument(where + ": resources must be paths");
      KDR_ASSIGN_OR_RETURN(std::string path, Resolve(dir, r.get<std::string>()));
      std::vector<json> more;
      if (const ManifestFile* f = Find(files, path)) {
        KDR_ASSIGN_OR_RETURN(more, Documents(*f));
      } else if (Find(files, path + "/kustomization.yaml") != nullptr) {
        KDR_ASSIGN_OR_RETURN(more, Build(files, path, depth + 1));
      } else {
        return Status::InvalidArgument(where + ": resource " + Quote(r.get<std::string>()) +
                                       " is neither a file nor a kustomization directory");
      }
      for (json& o : more) objects.push_back(std::move(o));
    }
  }

  if (kust.contains("patches")) {
    if (!kust["patches"].is_array()) return Status::InvalidArgument(where + ": patches must be a list");
    for (const json& p : kust["patches"]) {
      if (!p.is_object() || !p.contains("path") || !p["path"].is_string() || !p.contains("target") ||
          !p["target"].is_object() || p.size() != 2) {
        return Status::InvalidArgument(where + ": each patch needs exactly a path and a target");
      }
      KDR_ASSIGN_OR_RETURN(std::string path, Resolve(dir, p["path"].get<std::string>()));
      const ManifestFile* f = Find(files, path);
      if (f == nullptr) return Status::InvalidArgument(where + ": patch " + Quote(path) + " does not exist");
      KDR_ASSIGN_OR_RETURN(json patch, YamlToJson(f->content, "manifests/" + path));
      if (!patch.is_object()) return Status::InvalidArgument("manifests/" + path + " is not a mapping");
      // With a target, kustomize patches the targets whatever the patch names itself.
      patch.erase("apiVersion");
      patch.erase("kind");
      if (patch.contains("metadata") && patch["metadata"].is_object()) {
        patch["metadata"].erase("name");
        patch["metadata"].erase("namespace");
      }
      int matched = 0;
      for (json& o : objects) {
        if (!Matches(p["target"], o)) continue;
        transform::ApplyMergePatch(&o, patch);
        ++matched;
      }
      if (matched == 0) {
        return Status::InvalidArgument(where + ": patch " + Quote(path) + " matches no resource");
      }
    }
  }
  return objects;
}

}  // namespace

Result<std::vector<json>> BuildKustomization(std::span<const ManifestFile> files,
                                             std::string_view dir) {
  try {
    KDR_ASSIGN_OR_RETURN(std::string d, Resolve("", dir));
    return Build(files, d, 0);
  } catch (const json::exception& e) {
    return Status::InvalidArgument("manifests/" + std::string(dir) + ": " + e.what());
  }
}

}  // namespace kdr::install
