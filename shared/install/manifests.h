#pragma once

// The install manifests (manifests/ in the repo) as the plugin carries them: embedded at build
// time by shared/install/embed_manifests.cmake, so `kubectl dr install` works from a krew
// install with no repo beside it, and built into objects the way `kubectl kustomize` builds them.

#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr::install {

struct ManifestFile {
  std::string_view path;     // relative to manifests/: "base/webhooks.yaml"
  std::string_view content;  // the file's bytes
};

// Every *.yaml file under manifests/ when the plugin was built, sorted by path. Generated.
std::span<const ManifestFile> EmbeddedManifests();

// The objects of the kustomization in directory `dir` of `files` ("base",
// "overlays/cert-manager"), in resource order, as `kubectl kustomize` builds them for the subset
// of kustomize manifests/ uses: `resources` (YAML files, and directories holding a
// kustomization.yaml, resolved relative to the kustomization, "../" allowed) and `patches` with
// `path` and a `target` (group, version, kind, name), applied as merge patches to the matching
// objects. Any other kustomization field, a missing file, or a patch matching nothing is
// InvalidArgument naming the kustomization and the field, so a manifest change that needs more
// of kustomize fails the build's tests instead of installing something else.
Result<std::vector<nlohmann::json>> BuildKustomization(std::span<const ManifestFile> files,
                                                        std::string_view dir);

}  // namespace kdr::install
