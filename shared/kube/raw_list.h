#pragma once

// Raw list pages: a LIST answer kept as the bytes the server sent, with each item's span and the
// few fields a reader decides by (name, namespace, labels, a controller owner, a Secret's type),
// found by one validating scan instead of a parsed nlohmann::json. For callers that store objects
// as they came (the inventory capture), where parsing every object and serializing it again cost
// more than reading it (BENCHMARKS.md, inventory capture).
//
//   KDR_ASSIGN_OR_RETURN(kube::RawListPage page, client.ListRaw(kConfigMaps, "shop", {.limit = 500}));
//   for (const kube::RawListItem& item : page.items) Store(item.name, page.Text(item));
//
// The scan accepts exactly what ParseJson (base/json.h) accepts, with the same limits: strict
// RFC 8259 JSON, well-formed UTF-8, no NUL byte, no number that overflows a double, nested no
// deeper than max_depth (a List's items sit 2 deep, so kMaxJsonDepth + 2 by default). On top,
// the document must be a List: an object whose "items", when present and not null, is an array
// of objects. Repeated keys count as nlohmann counts them (the last one wins).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/status.h"

namespace kdr::kube {

// One item of a page. Strings are decoded (escapes resolved); a field that is absent, null or
// not a string reads as "".
struct RawListItem {
  size_t offset = 0;  // the item's JSON text (an object): RawListPage::Text
  size_t size = 0;
  // Top-level members present (with any value, null included). List items of built-in kinds
  // carry no apiVersion and kind; custom resources' do.
  bool has_api_version = false;
  bool has_kind = false;
  bool has_spec = false;
  std::string name;            // metadata.name
  std::string namespace_name;  // metadata.namespace
  // metadata.labels in document order, a non-string value as "": Label() reads the last.
  std::vector<std::pair<std::string, std::string>> labels;
  // An element of metadata.ownerReferences is an object whose "controller" is true.
  bool controller_owner = false;
  std::string type;  // the top-level "type" (a Secret's)

  // The label's value, or nullopt when the object has no such label.
  std::optional<std::string_view> Label(std::string_view key) const;
};

struct RawListPage {
  std::string body;  // the answer as received
  std::string continue_token;    // metadata.continue; "" on the last page
  std::string resource_version;  // metadata.resourceVersion
  std::optional<int64_t> remaining_item_count;  // metadata.remainingItemCount, when an integer
  std::vector<RawListItem> items;

  // The item's JSON text as the server sent it. REQUIRES: item is one of this page's.
  std::string_view Text(const RawListItem& item) const {
    return std::string_view(body).substr(item.offset, item.size);
  }
};

// Scans `body`, a LIST answer. `what` names it in messages ("the answer to GET ..."). Errors, all
// InvalidArgument: not valid JSON ("<what> is not valid JSON at offset 17: ..."), nested deeper
// than max_depth ("<what> nests deeper than 10002 levels ..."), not a List ("<what> is not a
// List: items[3] is not an object"). Never throws (but for std::bad_alloc); does not recurse.
Result<RawListPage> ScanListPage(std::string body, std::string_view what,
                                 int max_depth = kMaxJsonDepth + 2);

}  // namespace kdr::kube
