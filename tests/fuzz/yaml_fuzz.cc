// YAML to JSON (base/yaml.h), as every YAML reader of the product reads its input: kubeconfigs,
// manifests, object files of `transforms apply -f`, modifier files. What it reads must print back
// as YAML that reads back the same (kubectl dr ... -o yaml, then kubectl apply -f).

#include <nlohmann/json.hpp>

#include "base/yaml.h"
#include "fuzz_target.h"

namespace kdr::fuzz {
namespace {

// Past this many values (over all documents), the checks below are left out. Only aliases make
// that many of a fuzzer's few kilobytes (without them a document holds under 3 values a byte of
// text), and within the alias budget (4 times the text plus 1 MiB, yaml.h) they make up to about
// a million, which under ASan take 8 s to read a second time, print and read back (549 bytes
// expanding to 430,000 values), against libFuzzer's 10 s timeout. Such documents are still read,
// and their budget enforced; the printer and the second reader meet the same kinds of values in
// the smaller ones.
constexpr size_t kMaxCheckedValues = 50000;

size_t CountValues(const std::vector<nlohmann::json>& docs) {
  size_t n = 0;
  std::vector<const nlohmann::json*> todo;
  for (const nlohmann::json& d : docs) todo.push_back(&d);
  while (!todo.empty() && n <= kMaxCheckedValues) {
    const nlohmann::json* v = todo.back();
    todo.pop_back();
    ++n;
    if (v->is_structured()) {
      for (const nlohmann::json& child : *v) todo.push_back(&child);
    }
  }
  return n;
}

}  // namespace

int FuzzYaml(const uint8_t* data, size_t size) {
  const std::string_view text = AsText(data, size);
  auto docs = YamlDocumentsToJson(text, "fuzz.yaml");
  if (!docs.ok()) {
    // YamlToJson is the stream reader and a count of its documents: it refuses the same way.
    auto one = YamlToJson(text, "fuzz.yaml");
    KDR_FUZZ_CHECK(!one.ok(), one->dump());
    return 0;
  }
  if (CountValues(*docs) > kMaxCheckedValues) return 0;
  auto one = YamlToJson(text, "fuzz.yaml");
  if (one.ok() && docs->size() == 1) {
    // NaN is unequal to itself (fuzz-seeds/yaml/nan.yaml); its dump ("null" both sides) still
    // compares.
    KDR_FUZZ_CHECK(*one == docs->front() || one->dump() == docs->front().dump(),
                   one->dump() + " read alone, " + docs->front().dump() + " in a stream");
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
