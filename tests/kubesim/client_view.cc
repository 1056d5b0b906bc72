#include "client_view.h"

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/strings.h"
#include "kube/client.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

std::string Field(const json& o, const char* pointer) {
  json::json_pointer p(pointer);
  return o.contains(p) && o.at(p).is_string() ? o.at(p).get<std::string>() : "";
}

// Lists every resource asked for each poll interval and reports what changed since the last.
class PollingEvents final : public EventSource {
 public:
  PollingEvents(ClientView* view, std::vector<GroupResource> resources, std::chrono::milliseconds interval)
      : view_(view), resources_(std::move(resources)), interval_(interval) {}

  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (queue_.empty()) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next_poll_) {
        Poll();
        next_poll_ = std::chrono::steady_clock::now() + interval_;
        continue;
      }
      if (now >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::min(next_poll_, deadline) - now);
    }
    WatchEvent e = std::move(queue_.front());
    queue_.pop_front();
    return e;
  }
  bool closed() const override { return false; }

 private:
  void Poll() {
    for (const auto& gr : resources_) {
      auto items = view_->List(gr, "");
      if (!items.ok()) continue;  // keep the last view: the server may be restarting
      auto& known = seen_[gr];
      std::map<std::string, ObjectPtr> now;
      for (auto& item : *items) {
        std::string key = Field(item, "/metadata/namespace") + "/" + Field(item, "/metadata/name");
        auto obj = std::make_shared<const json>(std::move(item));
        auto it = known.find(key);
        if (it == known.end() || Field(*it->second, "/metadata/uid") != Field(*obj, "/metadata/uid")) {
          if (it != known.end()) queue_.push_back({EventType::kDeleted, gr, it->second, nullptr, 0});
          queue_.push_back({EventType::kAdded, gr, obj, nullptr, 0});
        } else if (Field(*it->second, "/metadata/resourceVersion") != Field(*obj, "/metadata/resourceVersion")) {
          queue_.push_back({EventType::kModified, gr, obj, it->second, 0});
        }
        now.emplace(std::move(key), std::move(obj));
      }
      for (const auto& [key, old] : known) {
        if (!now.count(key)) queue_.push_back({EventType::kDeleted, gr, old, nullptr, 0});
      }
      known = std::move(now);
    }
  }

  ClientView* const view_;
  const std::vector<GroupResource> resources_;
  const std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point next_poll_{};
  std::deque<WatchEvent> queue_;
  std::map<GroupResource, std::map<std::string, ObjectPtr>> seen_;
};

}  // namespace

Result<kube::Gvr> GvrFor(const GroupResource& gr) {
  static constexpr std::pair<std::string_view, std::string_view> kVersions[] = {
      {"", "v1"},
      {"apps", "v1"},
      {"batch", "v1"},
      {"storage.k8s.io", "v1"},
      {"coordination.k8s.io", "v1"},
      {"apiextensions.k8s.io", "v1"},
      {"authentication.k8s.io", "v1"},
      {"longhorn.io", "v1beta2"},
      {"dr.kubectl-dr.dev", "v1alpha1"},
  };
  for (const auto& [group, version] : kVersions) {
    if (gr.group == group) return kube::Gvr{gr.group, std::string(version), gr.resource};
  }
  return Status::InvalidArgument("the simulators do not use API group " + Quote(gr.group) + " (resource " +
                                 Quote(gr.String()) + ")");
}

Result<json> ClientView::Get(const GroupResource& gr, std::string_view ns, std::string_view name) {
  KDR_ASSIGN_OR_RETURN(kube::Gvr gvr, GvrFor(gr));
  return client_->Get(gvr, ns, name);
}

Result<std::vector<json>> ClientView::List(const GroupResource& gr, std::string_view ns) {
  KDR_ASSIGN_OR_RETURN(kube::Gvr gvr, GvrFor(gr));
  KDR_ASSIGN_OR_RETURN(json list, client_->ListAll(gvr, ns));
  std::vector<json> out;
  if (list.contains("items") && list["items"].is_array()) {
    const std::string kind = list.value("kind", "");
    for (auto& item : list["items"]) {
      // List items carry no apiVersion/kind; the Store's objects do, and controllers copy them.
      if (!item.contains("apiVersion")) item["apiVersion"] = gvr.ApiVersion();
      if (!item.contains("kind") && EndsWith(kind, "List")) item["kind"] = kind.substr(0, kind.size() - 4);
      out.push_back(std::move(item));
    }
  }
  return out;
}

Result<json> ClientView::Create(const GroupResource& gr, std::string_view ns, const json& object) {
  KDR_ASSIGN_OR_RETURN(kube::Gvr gvr, GvrFor(gr));
  return client_->Create(gvr, ns, object);
}

Result<json> ClientView::Modify(const GroupResource& gr, std::string_view ns, std::string_view name,
                                const std::function<Status(json*)>& mutate, bool status) {
  KDR_ASSIGN_OR_RETURN(kube::Gvr gvr, GvrFor(gr));
  Status last;
  for (int attempt = 0; attempt < 10; ++attempt) {
    KDR_ASSIGN_OR_RETURN(json obj, client_->Get(gvr, ns, name));
    const json before = obj;
    KDR_RETURN_IF_ERROR(mutate(&obj));
    if (obj == before) return obj;  // nothing to write: no request, as the Store's no-op update
    auto r = status ? client_->UpdateStatus(gvr, ns, obj) : client_->Update(gvr, ns, obj);
    if (r.ok() || r.status().code() != StatusCode::kAborted) return r;
    last = r.status();
  }
  return last;
}

Status ClientView::Delete(const GroupResource& gr, std::string_view ns, std::string_view name,
                          std::optional<std::string> uid, bool now) {
  KDR_ASSIGN_OR_RETURN(kube::Gvr gvr, GvrFor(gr));
  kube::DeleteOptions o;
  if (uid) o.precondition_uid = *uid;
  if (now) o.grace_period_seconds = 0;
  auto r = client_->Delete(gvr, ns, name, o);
  return r.ok() ? Status::Ok() : r.status();
}

Result<json> ClientView::CreateSubresource(const GroupResource& gr, std::string_view ns, std::string_view name,
                                           std::string_view subresource, const json& body) {
  KDR_ASSIGN_OR_RETURN(kube::Gvr gvr, GvrFor(gr));
  // POST .../NAME/SUBRESOURCE: the client's Create posts to a collection, so the subresource
  // rides in the resource's path segment as "NAME/SUBRESOURCE".
  kube::Gvr sub = gvr;
  sub.resource = gvr.resource + "/" + std::string(name) + "/" + std::string(subresource);
  return client_->Create(sub, ns, body);
}

Result<std::unique_ptr<EventSource>> ClientView::Watch(const std::vector<GroupResource>& resources) {
  if (resources.empty()) return Status::InvalidArgument("a client view watches named resources only");
  for (const auto& gr : resources) KDR_RETURN_IF_ERROR(GvrFor(gr).status());
  return std::unique_ptr<EventSource>(std::make_unique<PollingEvents>(this, resources, poll_interval_));
}

}  // namespace kdr::kubesim
