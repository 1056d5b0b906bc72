#pragma once

// RunListWatch: client-go's reflector. Lists a collection, then watches it from the list's
// resourceVersion (with bookmarks), delivering a full snapshot first and every change after, so
// a caller keeps an up-to-date cache without an API call per lookup (the webhook's caches).
//
//   list ──> on_replace(items, rv) ──> watch from rv ──> on_event(type, object) ...
//     ^                                   │ server ended the watch (timeoutSeconds): watch again
//     │                                   │   from the last resourceVersion seen (bookmarks too)
//     └── 410 Gone / connection lost ─────┘ (after a backoff through the Clock)
//
// Every relist calls on_replace with the complete set, which replaces what the caller holds
// (objects deleted while disconnected disappear that way).

#include <chrono>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"
#include "kube/object.h"

namespace kdr::kube {

class Client;

struct ListWatchOptions {
  Gvr gvr;
  std::string namespace_name;  // "" = all namespaces (or a cluster-scoped resource)
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  std::chrono::seconds watch_timeout{300};  // each watch call's timeoutSeconds
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

struct ListWatchHandler {
  // The complete collection (a JSON array of objects) at resource_version. Required.
  std::function<void(const nlohmann::json& items, const std::string& resource_version)> on_replace;
  // ADDED, MODIFIED or DELETED with the object. Required.
  std::function<void(std::string_view type, const nlohmann::json& object)> on_event;
  // Told of each failure before the retry (optional; for logs and metrics).
  std::function<void(const Status& status)> on_error;
};

// Runs until stop is requested (then Ok). Transient failures (kUnavailable, kDeadlineExceeded,
// kResourceExhausted, 410 Gone, 5xx) are retried with exponential backoff slept through the
// client's Clock. Returns at once on failures a retry cannot fix: kPermissionDenied,
// kUnauthenticated, kNotFound (the resource is not served), kInvalidArgument (a bad selector).
// REQUIRES: handler.on_replace and handler.on_event are set; client outlives the call.
Status RunListWatch(Client& client, const ListWatchOptions& options, const ListWatchHandler& handler,
                    std::stop_token stop);

}  // namespace kdr::kube
