#include "cluster_view.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;

class StoreEvents final : public EventSource {
 public:
  StoreEvents(std::unique_ptr<Watcher> watcher, std::vector<GroupResource> resources)
      : watcher_(std::move(watcher)), resources_(std::move(resources)) {}

  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()));
      auto e = watcher_->Next(left);
      if (!e) return std::nullopt;
      if (e->type == EventType::kBookmark) continue;
      if (resources_.empty() || std::find(resources_.begin(), resources_.end(), e->gr) != resources_.end()) {
        return e;
      }
    }
  }
  bool closed() const override { return watcher_->closed(); }

 private:
  std::unique_ptr<Watcher> watcher_;
  const std::vector<GroupResource> resources_;
};

}  // namespace

Result<json> StoreView::Get(const GroupResource& gr, std::string_view ns, std::string_view name) {
  return store_->Get(gr, ns, name);
}

Result<std::vector<json>> StoreView::List(const GroupResource& gr, std::string_view ns) {
  ListOptions o;
  o.namespace_name = std::string(ns);
  KDR_ASSIGN_OR_RETURN(ListResult r, store_->List(gr, o));
  std::vector<json> out;
  out.reserve(r.items.size());
  for (const auto& p : r.items) out.push_back(*p);
  return out;
}

Result<json> StoreView::Create(const GroupResource& gr, std::string_view ns, const json& object) {
  return store_->Create(gr, ns, object);
}

Result<json> StoreView::Modify(const GroupResource& gr, std::string_view ns, std::string_view name,
                               const std::function<Status(json*)>& mutate, bool status) {
  WriteOptions wo;
  if (status) {
    auto t = store_->registry()->Find(gr);
    if (t && t->status_subresource) wo.subresource = "status";
  }
  return store_->Modify(gr, ns, name, mutate, wo);
}

Status StoreView::Delete(const GroupResource& gr, std::string_view ns, std::string_view name,
                         std::optional<std::string> uid, bool /*now: the Store has no grace periods*/) {
  DeleteOptions o;
  o.precondition_uid = std::move(uid);
  auto r = store_->Delete(gr, ns, name, o);
  return r.ok() ? Status::Ok() : r.status();
}

Result<json> StoreView::CreateSubresource(const GroupResource& gr, std::string_view ns,
                                          std::string_view name, std::string_view subresource,
                                          const json& body) {
  if (!(gr == GroupResource{"", "pods"} && subresource == "binding")) {
    return Status::InvalidArgument("subresource " + gr.String() + "/" + std::string(subresource) +
                                   " is not served in process (pods/binding only)");
  }
  std::string node = body.contains("/target/name"_json_pointer) && body.at("/target/name"_json_pointer).is_string()
                         ? body.at("/target/name"_json_pointer).get<std::string>()
                         : "";
  if (node.empty()) return Status::InvalidArgument("Binding: target.name: Required value");
  auto r = store_->Modify(gr, ns, name, [&](json* pod) {
    std::string have = pod->value("/spec/nodeName"_json_pointer, std::string());
    if (!have.empty() && have != node) {
      return Status::Aborted("Operation cannot be fulfilled on pods/binding \"" + std::string(name) +
                             "\": pod " + std::string(name) + " is already assigned to node \"" + have + "\"");
    }
    (*pod)["spec"]["nodeName"] = node;
    return Status::Ok();
  });
  if (!r.ok()) return r.status();
  return json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Success"}, {"code", 201}};
}

Result<std::unique_ptr<EventSource>> StoreView::Watch(const std::vector<GroupResource>& resources) {
  KDR_ASSIGN_OR_RETURN(auto w, store_->Watch(WatchOptions{}));
  return std::unique_ptr<EventSource>(std::make_unique<StoreEvents>(std::move(w), resources));
}

namespace ctl {

std::vector<json> ListAll(ClusterView* view, const GroupResource& gr, const std::string& ns) {
  auto r = view->List(gr, ns);
  return r.ok() ? std::move(*r) : std::vector<json>{};
}

Status WriteStatus(ClusterView* view, const GroupResource& gr, const std::string& ns,
                   const std::string& name, const json& status, std::string_view read_rv) {
  auto r = view->Modify(
      gr, ns, name,
      [&](json* obj) {
        if (!read_rv.empty() && obj->value("/metadata/resourceVersion"_json_pointer, std::string()) != read_rv) {
          return Status::Aborted(gr.String() + " " + ns + "/" + name + " changed since it was read");
        }
        (*obj)["status"] = status;
        return Status::Ok();
      },
      /*status=*/true);
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace ctl
}  // namespace kdr::kubesim
