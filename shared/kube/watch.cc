#include "kube/watch.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "kube/client.h"

namespace kdr::kube {

using nlohmann::json;

namespace {

bool Fatal(const Status& s) {
  switch (s.code()) {
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
    case StatusCode::kNotFound:
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnimplemented:
      return true;
    default:
      return false;
  }
}

}  // namespace

Status RunListWatch(Client& client, const ListWatchOptions& o, const ListWatchHandler& handler,
                    std::stop_token stop) {
  Clock* clock = client.env().clock;
  std::chrono::milliseconds backoff = o.min_backoff;
  // Sleeps after a failure; false when stopped meanwhile.
  auto fail = [&](const Status& s) {
    if (handler.on_error) handler.on_error(s);
    bool slept = clock->SleepFor(backoff, stop);
    backoff = std::min(backoff * 2, o.max_backoff);
    return slept;
  };
  while (!stop.stop_requested()) {
    ListOptions lo;
    lo.label_selector = o.label_selector;
    lo.field_selector = o.field_selector;
    lo.limit = o.page_size;
    auto list = client.ListAll(o.gvr, o.namespace_name, lo);
    if (!list.ok()) {
      if (list.status().code() == StatusCode::kCancelled) break;
      if (Fatal(list.status())) return list.status().WithContext("listing " + o.gvr.GroupResource());
      if (!fail(list.status())) break;
      continue;
    }
    std::string rv;
    if ((*list).contains("metadata") && (*list)["metadata"].is_object()) {
      rv = (*list)["metadata"].value("resourceVersion", "");
    }
    handler.on_replace((*list)["items"], rv);
    backoff = o.min_backoff;

    // Watch from rv until the watch fails in a way that needs a relist.
    while (!stop.stop_requested()) {
      WatchOptions wo;
      wo.label_selector = o.label_selector;
      wo.field_selector = o.field_selector;
      wo.resource_version = rv;
      wo.allow_bookmarks = true;
      wo.timeout = o.watch_timeout;
      Status s = client.Watch(
          o.gvr, o.namespace_name, wo,
          [&](std::string_view type, const json& object) {
            std::string object_rv = ResourceVersion(object);
            if (!object_rv.empty()) rv = object_rv;
            if (type != "BOOKMARK") handler.on_event(type, object);
            return true;
          },
          stop);
      if (s.ok()) continue;  // the server ended the watch: resume from rv
      if (s.code() == StatusCode::kCancelled) return Status::Ok();
      if (Fatal(s)) return s.WithContext("watching " + o.gvr.GroupResource());
      // 410 Gone (too old resourceVersion): relist now, nothing is wrong with the server.
      if (s.code() == StatusCode::kFailedPrecondition) {
        if (handler.on_error) handler.on_error(s);
        break;
      }
      // A lost connection, 5xx: relist after a backoff.
      if (!fail(s)) return Status::Ok();
      break;
    }
  }
  return Status::Ok();
}

}  // namespace kdr::kube
