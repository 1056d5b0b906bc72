#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/yaml.h"
#include "fuzz_target.h"

namespace kdr::fuzz {

std::vector<PatchCase> PatchCases(std::string_view input) {
  std::vector<PatchCase> cases;
  const std::vector<std::string_view> parts = SplitParts(input);
  if (parts.size() >= 2) {
    auto doc = ParseJson(parts[0], "doc");
    auto patch = ParseJson(parts[1], "patch");
    if (doc.ok() && patch.ok()) cases.push_back({std::move(*doc), std::move(*patch)});
    return cases;
  }
  auto file = YamlToJson(input, "case");
  if (!file.ok()) return cases;
  auto add = [&](const nlohmann::json& c) {
    if (!c.is_object() || !c.contains("patch")) return;
    const char* doc_key = c.contains("object") ? "object" : "doc";
    cases.push_back({c.value(doc_key, nlohmann::json()), c["patch"]});
  };
  if (file->is_array()) {
    for (const nlohmann::json& c : *file) add(c);
  } else {
    add(*file);
  }
  return cases;
}

}  // namespace kdr::fuzz
