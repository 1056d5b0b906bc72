#include "transform/strategic.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/strings.h"
#include "transform/strategic_schema.h"

namespace kdr::transform {

namespace {

using internal::FieldSchema;
using internal::StructSchema;
using nlohmann::json;

constexpr std::string_view kPatchDirective = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList";

// Go's dynamic types after encoding/json, which apimachinery compares: all numbers are float64.
enum class Category { kNull, kObject, kArray, kString, kNumber, kBool };

Category CategoryOf(const json& v) {
  switch (v.type()) {
    case json::value_t::object: return Category::kObject;
    case json::value_t::array: return Category::kArray;
    case json::value_t::string: return Category::kString;
    case json::value_t::boolean: return Category::kBool;
    case json::value_t::null: return Category::kNull;
    default: return Category::kNumber;
  }
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string ElementPath(const std::string& path, std::string_view merge_key, const json& value) {
  return path + "[" + std::string(merge_key) + "=" +
         (value.is_string() ? value.get<std::string>() : value.dump()) + "]";
}

Status Bad(const std::string& path, const std::string& why) {
  return Status::InvalidArgument("strategic merge patch" +
                                 (path.empty() ? std::string() : " at " + path) + ": " + why);
}

// The value a patch fragment leaves once applied to nothing: maps carrying $patch vanish, other
// directive keys and null members are dropped. apimachinery keeps some of these in its untyped
// result and lets the typed decode discard them; we return what kube-apiserver would store.
bool Clean(json* v) {
  if (v->is_object()) {
    if (v->contains(kPatchDirective)) return false;
    for (auto it = v->begin(); it != v->end();) {
      if (it.value().is_null() || StartsWith(it.key(), "$") || !Clean(&it.value())) {
        it = v->erase(it);
      } else {
        ++it;
      }
    }
  } else if (v->is_array()) {
    json out = json::array();
    for (json& e : *v) {
      if (Clean(&e)) out.push_back(std::move(e));
    }
    *v = std::move(out);
  }
  return true;
}

// Splits "$prefix/key" into key.
std::optional<std::string> DirectiveKey(std::string_view k, std::string_view prefix) {
  if (k.size() <= prefix.size() + 1 || k.substr(0, prefix.size()) != prefix ||
      k[prefix.size()] != '/') {
    return std::nullopt;
  }
  return std::string(k.substr(prefix.size() + 1));
}

const json* MergeKeyOf(const json& v, std::string_view merge_key) {
  if (!v.is_object()) return nullptr;
  auto it = v.find(merge_key);
  return it == v.end() ? nullptr : &*it;
}

// What apimachinery orders a list by: the merge key's value for maps (null when missing, as the
// Go code's nil lookups give), the value itself for primitives.
json IdentityOf(const json& v, std::string_view merge_key, bool maps) {
  if (!maps) return v;
  const json* k = MergeKeyOf(v, merge_key);
  return k != nullptr ? *k : json();
}

long IndexOf(const std::vector<json>& ids, const json& id) {
  auto it = std::find(ids.begin(), ids.end(), id);
  return it == ids.end() ? -1 : static_cast<long>(it - ids.begin());
}

class Merger {
 public:
  // apimachinery mergeMap: *original becomes the merge of patch into it.
  Status MergeMap(json* original, const json& patch, const StructSchema* schema,
                  const std::string& path) {
    if (auto it = patch.find(kPatchDirective); it != patch.end()) {
      if (*it == "replace") {
        json replaced = patch;
        replaced.erase(kPatchDirective);
        Clean(&replaced);
        *original = std::move(replaced);
        return Status::Ok();
      }
      if (*it == "delete") {
        // As apimachinery: the map is emptied, the key stays.
        *original = json::object();
        return Status::Ok();
      }
      if (*it == "merge") {
        return Bad(path, "\"$patch: merge\" is not supported in a map (kube-apiserver rejects it: "
                         "unknown patch type); merging is the default, drop the directive");
      }
      return Bad(path, "unknown $patch value " + it->dump() + " in a map (replace or delete)");
    }
    if (!original->is_object()) *original = json::object();

    KDR_RETURN_IF_ERROR(ApplyRetainKeys(original, patch, path));

    std::vector<std::string> ordered;  // lists already merged by their $setElementOrder
    for (const auto& [key, value] : patch.items()) {
      if (!StartsWith(key, kSetElementOrder)) continue;
      auto list_key = DirectiveKey(key, kSetElementOrder);
      if (!list_key) {
        return Bad(path, "bad directive " + Quote(key) + ": use $setElementOrder/<list field>");
      }
      KDR_RETURN_IF_ERROR(MergeWithElementOrder(original, patch, *list_key, value, schema, path));
      ordered.push_back(*list_key);
    }

    // Deletion lists go last. apimachinery ranges over a Go map, so when a patch both adds and
    // deletes one item the outcome varies from run to run; deleting after merging is what it
    // does most of the time (7 runs in 8 for kubectl 1.32) and lets the deletion win.
    std::vector<json::const_iterator> keys;
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (!StartsWith(it.key(), kDeleteFromPrimitiveList)) keys.push_back(it);
    }
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (StartsWith(it.key(), kDeleteFromPrimitiveList)) keys.push_back(it);
    }
    for (const json::const_iterator& entry : keys) {
      const std::string& raw_key = entry.key();
      const json& patch_value = entry.value();
      if (raw_key == kRetainKeys || StartsWith(raw_key, kSetElementOrder)) continue;
      std::string key = raw_key;
      bool delete_list = false;
      if (StartsWith(raw_key, kDeleteFromPrimitiveList)) {
        auto list_key = DirectiveKey(raw_key, kDeleteFromPrimitiveList);
        if (!list_key) {
          return Bad(path, "bad directive " + Quote(raw_key) +
                               ": use $deleteFromPrimitiveList/<list field>");
        }
        if (!patch_value.is_array()) {
          return Bad(Join(path, raw_key), "must be a list of the values to delete");
        }
        key = *list_key;
        delete_list = true;
      } else if (StartsWith(raw_key, "$")) {
        const std::string name = raw_key.substr(0, raw_key.find('/'));
        return Bad(path, "unknown directive " + Quote(raw_key) +
                             DidYouMean(name, {"$patch", "$retainKeys", "$setElementOrder",
                                               "$deleteFromPrimitiveList"}) +
                             " (Kubernetes field names never start with \"$\")");
      }
      if (!delete_list && std::find(ordered.begin(), ordered.end(), key) != ordered.end()) {
        continue;
      }
      const std::string child = Join(path, key);

      if (patch_value.is_null()) {
        original->erase(key);
        continue;
      }
      auto orig_it = original->find(key);
      if (orig_it == original->end() || CategoryOf(*orig_it) != CategoryOf(patch_value)) {
        // A deletion list for a missing (or non-list) field deletes nothing.
        if (delete_list) continue;
        json taken = patch_value;
        if (Clean(&taken)) {
          (*original)[key] = std::move(taken);
        } else {
          original->erase(key);
        }
        continue;
      }
      const FieldSchema* field = schema != nullptr ? schema->Find(key) : nullptr;
      const StructSchema* sub = field != nullptr ? field->type : nullptr;
      if (orig_it->is_object()) {
        if (field != nullptr && field->replace) {
          json taken = patch_value;
          Clean(&taken);
          *orig_it = std::move(taken);
        } else {
          KDR_RETURN_IF_ERROR(MergeMap(&*orig_it, patch_value, sub, child));
        }
      } else if (orig_it->is_array()) {
        KDR_RETURN_IF_ERROR(MergeSliceHandler(&*orig_it, patch_value, field, delete_list, child));
      } else {
        *orig_it = patch_value;
      }
    }
    return Status::Ok();
  }

 private:
  // $retainKeys: original keeps only the listed keys, and the patch may set no other key.
  Status ApplyRetainKeys(json* original, const json& patch, const std::string& path) {
    auto it = patch.find(kRetainKeys);
    if (it == patch.end()) return Status::Ok();
    if (!it->is_array()) return Bad(path, "$retainKeys must be a list of field names");
    auto retained = [&](const std::string& k) {
      return std::find(it->begin(), it->end(), json(k)) != it->end();
    };
    for (const auto& [k, v] : patch.items()) {
      if (k == kRetainKeys || v.is_null() || StartsWith(k, kDeleteFromPrimitiveList) ||
          StartsWith(k, kSetElementOrder)) {
        continue;
      }
      if (!retained(k)) {
        return Bad(path, "the patch sets " + Quote(k) + ", which $retainKeys does not list");
      }
    }
    for (auto o = original->begin(); o != original->end();) {
      if (retained(o.key())) {
        ++o;
      } else {
        o = original->erase(o);
      }
    }
    return Status::Ok();
  }

  // alias, when given, receives the live list as apimachinery's $setElementOrder code sees it
  // after the merge (see MergeSlice); it is left alone when the list is replaced.
  Status MergeSliceHandler(json* original, const json& patch, const FieldSchema* field,
                           bool delete_list, const std::string& path,
                           std::vector<json>* alias = nullptr) {
    if ((field != nullptr && field->merge) || delete_list) {
      return MergeSlice(original, patch, field, delete_list, path, alias);
    }
    json taken = patch;
    Clean(&taken);
    *original = std::move(taken);
    return Status::Ok();
  }

  // The Go code requires every element of both lists to share one type, not a list.
  static Status CheckElementTypes(const json& a, const json& b, const std::string& path,
                                  std::optional<Category>* out) {
    std::optional<Category> seen;
    for (const json* list : {&a, &b}) {
      for (const json& e : *list) {
        Category c = CategoryOf(e);
        if (c == Category::kArray) return Bad(path, "lists of lists cannot be merged");
        if (c == Category::kNull) return Bad(path, "a merging list cannot hold null");
        if (seen && *seen != c) return Bad(path, "list elements are not all of the same type");
        seen = c;
      }
    }
    *out = seen;
    return Status::Ok();
  }

  Status MergeSlice(json* original, const json& patch, const FieldSchema* field, bool delete_list,
                    const std::string& path, std::vector<json>* alias) {
    if (original->empty() && patch.empty()) return Status::Ok();
    std::optional<Category> elem;
    KDR_RETURN_IF_ERROR(CheckElementTypes(*original, patch, path, &elem));
    const bool maps = elem == Category::kObject;
    const std::string_view merge_key = field != nullptr ? field->merge_key : std::string_view();

    if (!maps) {
      if (delete_list) {
        json kept = json::array();
        for (json& v : *original) {
          if (std::find(patch.begin(), patch.end(), v) == patch.end()) kept.push_back(std::move(v));
        }
        *original = std::move(kept);
        return Status::Ok();
      }
      std::vector<json> merged;
      for (const json* list : {static_cast<const json*>(original), &patch}) {
        for (const json& v : *list) {
          if (std::find(merged.begin(), merged.end(), v) == merged.end()) merged.push_back(v);
        }
      }
      std::vector<json> server_ids(original->begin(), original->end());
      std::vector<json> patch_ids(patch.begin(), patch.end());
      return Finish(original, std::move(merged), patch_ids, server_ids, {}, false, path);
    }

    if (delete_list) {
      return Bad(path, "$deleteFromPrimitiveList applies to lists of primitives; delete an "
                       "element of this list with {<merge key>: ..., $patch: delete}");
    }
    if (merge_key.empty()) return Bad(path, "cannot merge a list of objects without a merge key");

    // Special elements first: {$patch: delete} removes by key, {$patch: replace} replaces.
    //
    // `live` mirrors (by identity) the Go slice's backing array, because apimachinery's
    // $setElementOrder code orders by that array after this merge has edited it in place: a
    // deletion shifts the tail left (leaving a stale copy of the last element) and additions then
    // fill the freed slots. Emulating it is what makes our order match kube-apiserver's.
    std::vector<json> live;
    live.reserve(original->size());
    for (const json& e : *original) live.push_back(IdentityOf(e, merge_key, true));
    size_t live_len = live.size();
    // *original is rebuilt below, so its elements can be moved out.
    std::vector<json> base(std::make_move_iterator(original->begin()),
                           std::make_move_iterator(original->end()));
    std::vector<const json*> patch_items;
    bool replace = false;
    for (size_t i = 0; i < patch.size(); ++i) {
      const json& v = patch[i];
      auto d = v.find(kPatchDirective);
      if (d == v.end()) {
        patch_items.push_back(&v);
        continue;
      }
      if (*d == "delete") {
        const json* key = MergeKeyOf(v, merge_key);
        if (key == nullptr) {
          return Bad(path, "element " + std::to_string(i) + " of the patch has $patch: delete "
                           "but no merge key " + Quote(merge_key));
        }
        std::erase_if(base, [&](const json& e) {
          const json* k = MergeKeyOf(e, merge_key);
          return k != nullptr && *k == *key;
        });
        for (size_t j = 0; j < live_len;) {
          if (live[j] == *key) {
            // Copy, not move: the last slot keeps its old value, as in Go.
            std::copy(live.begin() + j + 1, live.begin() + live_len, live.begin() + j);
            --live_len;
          } else {
            ++j;
          }
        }
      } else if (*d == "replace") {
        replace = true;
      } else if (*d == "merge") {
        return Bad(path, "\"$patch: merge\" is not supported in a list (kube-apiserver: merging "
                         "lists cannot yet be specified in the patch); merging is the default");
      } else {
        return Bad(path, "unknown $patch value " + d->dump() + " in a list (replace or delete)");
      }
    }
    if (replace) {
      base.clear();
      for (const json* v : patch_items) {
        base.push_back(*v);
        Clean(&base.back());
      }
      patch_items.clear();
    }
    std::vector<json> server_ids;
    for (const json& e : base) server_ids.push_back(IdentityOf(e, merge_key, true));

    std::vector<json> merged = std::move(base);
    std::vector<json> patch_ids;
    for (size_t i = 0; i < patch_items.size(); ++i) {
      const json& v = *patch_items[i];
      const json* key = MergeKeyOf(v, merge_key);
      if (key == nullptr) {
        return Bad(path, "element " + std::to_string(i) + " of the patch has no merge key " +
                             Quote(merge_key));
      }
      patch_ids.push_back(*key);
      auto found = std::find_if(merged.begin(), merged.end(), [&](const json& e) {
        const json* k = MergeKeyOf(e, merge_key);
        return k != nullptr && *k == *key;
      });
      if (found != merged.end()) {
        KDR_RETURN_IF_ERROR(MergeMap(&*found, v, field->type,
                                     ElementPath(path, merge_key, *key)));
      } else {
        if (!replace && merged.size() < live.size()) live[merged.size()] = *key;
        json added = v;
        Clean(&added);
        merged.push_back(std::move(added));
      }
    }
    if (alias != nullptr) *alias = std::move(live);
    return Finish(original, std::move(merged), patch_ids, server_ids, merge_key, true, path);
  }

  // apimachinery's ordering: items named by the patch (or by $setElementOrder) in that order,
  // the server-only items in their live order, interleaved where both orders know the items.
  // patch_ids and server_ids hold identities (IdentityOf).
  Status Finish(json* out, std::vector<json> merged, const std::vector<json>& patch_ids,
                const std::vector<json>& server_ids, std::string_view merge_key, bool maps,
                const std::string& path) {
    struct Item {
      json value;
      long patch_index;
      long server_index;
    };
    std::vector<Item> patch_items, server_only;
    for (size_t i = 0; i < merged.size(); ++i) {
      if (maps && MergeKeyOf(merged[i], merge_key) == nullptr) {
        return Bad(path, "element " + std::to_string(i) + " has no merge key " + Quote(merge_key));
      }
      const json id = IdentityOf(merged[i], merge_key, maps);
      Item item{std::move(merged[i]), IndexOf(patch_ids, id), IndexOf(server_ids, id)};
      (item.patch_index >= 0 ? patch_items : server_only).push_back(std::move(item));
    }
    std::stable_sort(patch_items.begin(), patch_items.end(),
                     [](const Item& a, const Item& b) { return a.patch_index < b.patch_index; });
    std::stable_sort(server_only.begin(), server_only.end(), [](const Item& a, const Item& b) {
      return a.server_index >= 0 && b.server_index >= 0 && a.server_index < b.server_index;
    });

    json result = json::array();
    size_t i = 0, j = 0;
    while (i < server_only.size() || j < patch_items.size()) {
      bool take_server;
      if (j >= patch_items.size()) {
        take_server = true;
      } else if (i >= server_only.size()) {
        take_server = false;
      } else {
        long li = server_only[i].server_index;
        long ri = patch_items[j].server_index;
        take_server = li >= 0 && ri >= 0 && li < ri;
      }
      if (take_server) {
        result.push_back(std::move(server_only[i++].value));
      } else {
        result.push_back(std::move(patch_items[j++].value));
      }
    }
    *out = std::move(result);
    return Status::Ok();
  }

  // $setElementOrder/<key>: merge the list (if the patch has it) and order the result by the
  // directive, then by the live order for items it does not name.
  Status MergeWithElementOrder(json* original, const json& patch, const std::string& key,
                               const json& order, const StructSchema* schema,
                               const std::string& map_path) {
    const std::string path = Join(map_path, key);
    if (!order.is_array()) return Bad(path, "$setElementOrder/" + key + " must be a list");
    auto orig_it = original->find(key);
    auto patch_it = patch.find(key);
    const bool found_original = orig_it != original->end();
    const bool found_patch = patch_it != patch.end();
    if (found_original && !orig_it->is_array()) return Bad(path, "is not a list");
    if (found_patch && !patch_it->is_array()) return Bad(path, "the patch value is not a list");
    const FieldSchema* field = schema != nullptr ? schema->Find(key) : nullptr;
    const std::string_view merge_key = field != nullptr ? field->merge_key : std::string_view();
    const json empty = json::array();
    const json& orig_list = found_original ? *orig_it : empty;
    const json& patch_list = found_patch ? *patch_it : empty;

    if (!found_original && !found_patch) return Status::Ok();
    if (orig_list.empty() && patch_list.empty()) {
      // apimachinery cannot tell the element type of two empty lists and fails.
      return Bad(path, "$setElementOrder/" + key + " orders an empty list (kube-apiserver: no "
                       "elements in any of the given slices); drop the directive");
    }
    std::optional<Category> elem;
    KDR_RETURN_IF_ERROR(CheckElementTypes(orig_list, patch_list, path, &elem));
    const bool maps = elem == Category::kObject;
    if (maps && merge_key.empty()) {
      return Bad(path, "$setElementOrder needs a list of primitives or a list with a merge key");
    }
    for (const json& o : order) {
      if (maps ? MergeKeyOf(o, merge_key) == nullptr : (o.is_object() || o.is_array())) {
        return Bad(path, "$setElementOrder/" + key + " has an element without the merge key " +
                             Quote(merge_key));
      }
    }
    KDR_RETURN_IF_ERROR(ValidateOrder(patch_list, order, merge_key, maps, path));

    json merged;
    if (found_original && !found_patch) {
      merged = orig_list;
    } else if (!found_original && found_patch) {
      merged = patch_list;
      Clean(&merged);
    } else if (found_original && found_patch) {
      merged = orig_list;  // merged below, once server_ids exists
    } else {
      return Status::Ok();
    }
    std::vector<json> server_ids;
    for (const json& e : orig_list) server_ids.push_back(IdentityOf(e, merge_key, maps));
    if (found_original && found_patch) {
      KDR_RETURN_IF_ERROR(MergeSliceHandler(&merged, patch_list, field, false, path, &server_ids));
    }
    std::vector<json> order_ids;
    for (const json& o : order) order_ids.push_back(IdentityOf(o, merge_key, maps));
    std::vector<json> items(std::make_move_iterator(merged.begin()),
                            std::make_move_iterator(merged.end()));
    json result;
    KDR_RETURN_IF_ERROR(
        Finish(&result, std::move(items), order_ids, server_ids, merge_key, maps, path));
    (*original)[key] = std::move(result);
    return Status::Ok();
  }

  // The patch's items (deletions aside) must appear in the directive, in the same order.
  static Status ValidateOrder(const json& patch_list, const json& order, std::string_view merge_key,
                              bool maps, const std::string& path) {
    if (patch_list.empty() || order.empty()) return Status::Ok();
    std::vector<const json*> items;
    for (const json& v : patch_list) {
      if (maps && v.is_object() && v.value(kPatchDirective, json()) == "delete") continue;
      items.push_back(&v);
    }
    // As apimachinery: other directive elements are skipped only while the order list lasts, so
    // a trailing {$patch: replace} after the last ordered item is a mismatch.
    size_t pi = 0, oi = 0;
    while (pi < items.size() && oi < order.size()) {
      const json& p = *items[pi];
      if (p.is_object() && p.contains(kPatchDirective)) {
        ++pi;
        continue;
      }
      bool equal;
      if (maps) {
        const json* pk = MergeKeyOf(p, merge_key);
        if (pk == nullptr) {
          return Bad(path, "an element of the patch list has no merge key " + Quote(merge_key));
        }
        equal = *pk == *MergeKeyOf(order[oi], merge_key);
      } else {
        equal = p == order[oi];
      }
      if (equal) ++pi;
      ++oi;
    }
    if (pi < items.size()) {
      return Bad(path, "the order of the patch list does not match $setElementOrder (every "
                       "patched item must be listed there, in the same relative order)");
    }
    return Status::Ok();
  }
};

}  // namespace

bool IsStrategicMergeKnownKind(std::string_view api_version, std::string_view kind) {
  return internal::LookupKindSchema(api_version, kind) != nullptr;
}

Status ApplyStrategicMergePatch(nlohmann::json* doc, const nlohmann::json& patch,
                                std::string_view api_version, std::string_view kind) {
  const StructSchema* schema = internal::LookupKindSchema(api_version, kind);
  if (schema == nullptr) {
    return Status::Unimplemented("strategic merge patch is not supported for " +
                                 std::string(api_version) + ", Kind=" + std::string(kind) +
                                 "; use a JSON merge patch");
  }
  if (!patch.is_object()) {
    return Status::InvalidArgument("strategic merge patch must be a JSON object, not " +
                                   std::string(patch.type_name()));
  }
  if (!doc->is_object()) {
    return Status::InvalidArgument("strategic merge patch applies to an object, not " +
                                   std::string(doc->type_name()));
  }
  if (auto it = patch.find(kPatchDirective); it != patch.end() && *it == "delete") {
    return Status::InvalidArgument(
        "strategic merge patch: \"$patch: delete\" at the root would delete the whole object; "
        "delete the object instead");
  }
  // Merge into a copy so that an error half way leaves *doc untouched.
  json result = *doc;
  Merger merger;
  KDR_RETURN_IF_ERROR(merger.MergeMap(&result, patch, schema, ""));
  *doc = std::move(result);
  return Status::Ok();
}

}  // namespace kdr::transform
