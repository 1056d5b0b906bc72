// Watch: a chunked stream of JSON events, one per line, as kube-apiserver's watch cache serves
// it: resume from a resourceVersion (or the current state as ADDED events), selectors, Table
// events for kubectl get -w, BOOKMARKs when allowed, sendInitialEvents, timeoutSeconds, and a
// 410 Expired ERROR event for a resourceVersion older than the kept history.

#include <nlohmann/json.hpp>

#include "api_internal.h"
#include "base/clock.h"

namespace kdr::kubesim {

using json = nlohmann::json;

ApiResponse Api::Watch(const ApiRequest& req, const Target& t) const {
  WatchOptions wo;
  wo.gr = t.type.gr();
  wo.namespace_name = t.namespace_name;
  wo.label_selector = QueryValue(req, "labelSelector");
  wo.field_selector = QueryValue(req, "fieldSelector");
  if (!t.name.empty()) {
    wo.field_selector = "metadata.name=" + t.name + (wo.field_selector.empty() ? "" : "," + wo.field_selector);
  }
  const std::string rv = QueryValue(req, "resourceVersion");
  if (!rv.empty()) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(rv.c_str(), &end, 10);
    if (!end || *end != '\0') {
      return BadRequest("invalid resource version: " + rv);
    }
    wo.resource_version = v;
  }
  const bool send_initial = QueryValue(req, "sendInitialEvents") == "true";
  const bool bookmarks = QueryBool(req, "allowWatchBookmarks");
  if (send_initial && (!bookmarks || QueryValue(req, "resourceVersionMatch") != "NotOlderThan")) {
    return StatusResponse(422, "Invalid",
                          "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: "
                          "sendInitialEvents is forbidden for watch unless the WatchList feature gate is "
                          "enabled and allowWatchBookmarks is set and resourceVersionMatch is NotOlderThan");
  }
  if (send_initial && wo.resource_version && *wo.resource_version != 0) {
    // Initial events are the state at or after rv: current state serves.
    wo.resource_version = std::nullopt;
  }
  std::chrono::seconds timeout = options_.default_watch_timeout;
  if (std::string ts = QueryValue(req, "timeoutSeconds"); !ts.empty()) timeout = std::chrono::seconds(std::atoll(ts.c_str()));
  const bool table = WantsTable(req);
  std::string include = QueryValue(req, "includeObject");
  if (include.empty()) include = "Metadata";

  auto w = options_.store->Watch(wo);
  ApiResponse resp;
  // kube-apiserver sends plain application/json; the parameter keeps httplib from gzipping the
  // stream (its compressor would hold events back until a buffer fills). Clients parse the media
  // type, so both read the same.
  resp.content_type = table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json;stream=watch";
  if (!w.ok()) {
    if (w.status().code() != StatusCode::kFailedPrecondition) return BadRequest(w.status().message());
    json status = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()}, {"status", "Failure"},
                   {"message", w.status().message()}, {"reason", "Expired"}, {"code", 410}};
    std::string line = json({{"type", "ERROR"}, {"object", status}}).dump() + "\n";
    resp.stream = [line](const std::function<bool(std::string_view)>& write) { write(line); };
    return resp;
  }
  std::shared_ptr<Watcher> watcher(std::move(*w));
  const ResourceType type = t.type;
  const std::string version = t.version;
  const Options opts = options_;
  resp.stream = [watcher, type, version, opts, timeout, bookmarks, send_initial, table, include](
                    const std::function<bool(std::string_view)>& write) {
    Clock* clock = opts.clock;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto last_bookmark = std::chrono::steady_clock::now();
    size_t initial_left = send_initial ? watcher->initial_events() : 0;
    bool first_table = true;
    auto bookmark = [&](uint64_t at, bool initial_end) {
      json meta = {{"resourceVersion", std::to_string(at)}};
      if (initial_end) meta["annotations"] = {{"k8s.io/initial-events-end", "true"}};
      json obj = {{"kind", type.kind}, {"apiVersion", type.GroupVersion(version)}, {"metadata", meta}};
      return write(json({{"type", "BOOKMARK"}, {"object", obj}}).dump() + "\n");
    };
    if (send_initial && initial_left == 0 && !bookmark(watcher->start_version(), true)) return;
    while (!(opts.stopping && opts.stopping->load())) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return;
      auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now, std::chrono::milliseconds(200));
      auto ev = watcher->Next(std::chrono::duration_cast<std::chrono::milliseconds>(wait));
      if (ev) {
        json obj = ForVersion(type, version, *ev->object);
        json out_obj;
        if (table) {
          out_obj = MakeTable(type, {&obj}, obj["metadata"].value("resourceVersion", ""), include, clock->Now(),
                              first_table);
          first_table = false;
        } else {
          out_obj = std::move(obj);
        }
        std::string line = "{\"type\":\"" + std::string(EventTypeName(ev->type)) + "\",\"object\":" +
                           out_obj.dump() + "}\n";
        if (!write(line)) return;
        if (initial_left > 0 && --initial_left == 0 && !bookmark(watcher->start_version(), true)) return;
        continue;
      }
      if (watcher->closed()) return;
      if (bookmarks && std::chrono::steady_clock::now() - last_bookmark >= opts.bookmark_interval) {
        if (auto at = watcher->ProgressVersion()) {
          if (!bookmark(*at, false)) return;
          last_bookmark = std::chrono::steady_clock::now();
        }
      }
    }
  };
  return resp;
}

}  // namespace kdr::kubesim
