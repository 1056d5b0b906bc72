// An inventory as a restore finds it on the inventory volume (inventory/format.h), read by
// Inventory::ListGenerations, Open and ReadObject, and shown by `kubectl dr inventory show
// --inventory-path DIR [-o json]`. Input, in parts separated by kPartSeparator: the `current`
// pointer, index.json, then the object files in the order of the index's entries.
//
// A torn or forged inventory must be refused, so the hashes would stop most mutations at the
// door: an entry whose sha256 is "*" gets its file's real size and hash, and an empty pointer is
// made to name the index with its real hash. The checks themselves are fuzzed through the other
// entries and through the pointer when it is given.

#include <nlohmann/json.hpp>

#include "base/json.h"
#include "fuzz_target.h"
#include "inventory/format.h"
#include "testutil/testutil.h"

namespace kdr::fuzz {

int FuzzInventory(const uint8_t* data, size_t size) {
  const std::vector<std::string_view> parts = SplitParts(AsText(data, size));
  const std::string root = "/inv";
  testutil::MemFileSystem fs;
  std::string index_text = parts.size() > 1 ? std::string(parts[1]) : std::string();
  int64_t generation = 1;
  auto index = ParseJson(index_text, "index");
  if (index.ok() && index->is_object()) {
    if (auto g = index->find("generation"); g != index->end() && g->is_number_integer()) {
      generation = g->get<int64_t>();
    }
    bool fixed = false;
    auto objects = index->find("objects");
    size_t part = 2;
    if (objects != index->end() && objects->is_array()) {
      for (nlohmann::json& entry : *objects) {
        if (part >= parts.size()) break;
        const std::string_view file = parts[part++];
        if (!entry.is_object()) continue;
        if (auto f = entry.find("file"); f != entry.end() && f->is_string() &&
                                         generation > 0 && generation < 100000000) {
          (void)fs.WriteFile(inventory::GenerationDir(root, generation) + "/" +
                                 f->get<std::string>(),
                             file);
        }
        if (entry.value("sha256", nlohmann::json()) == "*") {
          entry["sha256"] = inventory::Sha256Hex(file);
          entry["size"] = file.size();
          fixed = true;
        }
      }
    }
    if (fixed) index_text = index->dump(2);
  }
  if (generation < 1 || generation >= 100000000) generation = 1;
  const std::string index_path = inventory::GenerationDir(root, generation) + "/index.json";
  (void)fs.WriteFile(index_path, index_text);
  std::string pointer(parts[0]);
  if (pointer.empty()) {
    char name[32];
    std::snprintf(name, sizeof name, "generations/%08lld/index.json",
                  static_cast<long long>(generation));
    pointer = nlohmann::json{{"formatVersion", 1},
                             {"generation", generation},
                             {"index", name},
                             {"indexSha256", inventory::Sha256Hex(index_text)}}
                  .dump();
  }
  (void)fs.WriteFile(inventory::LayoutDir(root) + "/current", pointer);

  CheckMessage(inventory::Inventory::ListGenerations(fs, root).status());
  auto inv = inventory::Inventory::Open(fs, root);
  CheckMessage(inv.status());
  if (inv.ok()) {
    for (const inventory::ObjectEntry& entry : inv->index().objects) {
      auto object = inv->ReadObject(entry);
      // The file is the one Open verified: it may fail to parse, never to verify.
      KDR_FUZZ_CHECK(object.ok() || object.status().code() != StatusCode::kFailedPrecondition,
                     "verified at Open, refused now: " + object.status().ToString());
    }
  }
  RunPlugin({"inventory", "show", "--inventory-path", root}, &fs);
  RunPlugin({"inventory", "show", "--inventory-path", root, "-o", "json"}, &fs);
  return 0;
}

}  // namespace kdr::fuzz

KDR_FUZZ_ENTRY(FuzzInventory)
