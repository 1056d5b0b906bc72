// YAML to JSON (base/yaml.h), as every YAML reader of the product reads its input: kubeconfigs,
// manifests, object files of `transforms apply -f`, modifier files. What it reads must print back
// as YAML that reads back the same (kubectl dr ... -o yaml, then kubectl apply -f).

#include <nlohmann/json.hpp>

#include "base/yaml.h"
#include "fuzz_target.h"

namespace kdr::fuzz {

int FuzzYaml(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  auto docs = YamlDocumentsToJson(text, "fuzz.yaml");
  auto one = YamlToJson(text, "fuzz.yaml");
  if (!docs.ok()) return 0;
  if (one.ok() && docs->size() == 1) {
    KDR_FUZZ_CHECK(*one == docs->front(), one->dump());
  }
  for (const nlohmann::json& doc : *docs) {
    const std::string printed = JsonToYaml(doc);
    auto again = YamlToJson(printed, "printed");
    KDR_FUZZ_CHECK(again.ok(), again.status().ToString() + "\n" + printed);
    // NaN is unequal to itself; its dump ("null" both sides) still compares.
    KDR_FUZZ_CHECK(*again == doc || again->dump() == doc.dump(),
                   doc.dump() + " printed as\n" + printed + "reads back as " + again->dump());
  }
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzYaml)
