#pragma once

// ClusterView: what a simulated controller needs of an API server, so the same controller code
// runs inside kubesim (StoreView, over its Store) and as an external process against any API
// server (ClientView in client_view.h, over kube::Client): get, list, create, read-modify-write
// (main resource or status), delete, POST to a subresource, and a stream of changes.
//
// Objects are nlohmann::json of the resource's served version (longhorn.io: v1beta2, built-in
// types: their v1). Errors are kdr::Status with the server's codes: NotFound, AlreadyExists,
// Aborted (conflict), InvalidArgument, PermissionDenied, Unavailable.
//
// Thread safety: a view may be used from several controller threads at once (the Store and
// kube::Client both are); an EventSource belongs to the thread that reads it.

#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "registry.h"
#include "store.h"

namespace kdr::kubesim {

// A stream of ADDED / MODIFIED (with the old object) / DELETED events for the resources a watch
// was asked for, starting with ADDED for every object that exists when it begins.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // The next event, waiting up to `timeout`; nullopt on timeout or once closed.
  virtual std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) = 0;
  // True once the stream ended for good (the server closed it): start a new one.
  virtual bool closed() const = 0;
};

class ClusterView {
 public:
  virtual ~ClusterView() = default;

  virtual Result<nlohmann::json> Get(const GroupResource& gr, std::string_view ns,
                                     std::string_view name) = 0;
  // Every object of gr in ns ("" = all namespaces). NotFound when the type is not served (a CRD
  // not yet established).
  virtual Result<std::vector<nlohmann::json>> List(const GroupResource& gr, std::string_view ns) = 0;
  // Returns the stored object. AlreadyExists when the name is taken.
  virtual Result<nlohmann::json> Create(const GroupResource& gr, std::string_view ns,
                                        const nlohmann::json& object) = 0;
  // Read-modify-write, retried on conflict: mutate edits a copy of the current object (an error
  // aborts and is returned) and the result is written back, through the status subresource when
  // `status` is true and the type has one. mutate may run more than once.
  virtual Result<nlohmann::json> Modify(const GroupResource& gr, std::string_view ns,
                                        std::string_view name,
                                        const std::function<Status(nlohmann::json*)>& mutate,
                                        bool status = false) = 0;
  // Deletes ns/name; with `uid`, only that incarnation (Aborted otherwise). `now`: grace period
  // 0, as a kubelet confirms a pod's deletion. NotFound when absent.
  virtual Status Delete(const GroupResource& gr, std::string_view ns, std::string_view name,
                        std::optional<std::string> uid = std::nullopt, bool now = false) = 0;
  // POST of `body` to a subresource of ns/name (pods/NAME/binding,
  // serviceaccounts/NAME/token); the server's answer.
  virtual Result<nlohmann::json> CreateSubresource(const GroupResource& gr, std::string_view ns,
                                                   std::string_view name,
                                                   std::string_view subresource,
                                                   const nlohmann::json& body) = 0;
  // Changes to `resources` (every resource for an in-process Store view that is given none).
  virtual Result<std::unique_ptr<EventSource>> Watch(const std::vector<GroupResource>& resources) = 0;
};

// The in-process view: kubesim's Store, written directly (as its controllers always did: no
// admission). Subresources: pods/binding only (sets spec.nodeName of a pod that has none, as
// kube-apiserver's binding registry does; Aborted when it has another); others InvalidArgument.
class StoreView final : public ClusterView {
 public:
  explicit StoreView(Store* store) : store_(store) {}

  Result<nlohmann::json> Get(const GroupResource& gr, std::string_view ns,
                             std::string_view name) override;
  Result<std::vector<nlohmann::json>> List(const GroupResource& gr, std::string_view ns) override;
  Result<nlohmann::json> Create(const GroupResource& gr, std::string_view ns,
                                const nlohmann::json& object) override;
  Result<nlohmann::json> Modify(const GroupResource& gr, std::string_view ns, std::string_view name,
                                const std::function<Status(nlohmann::json*)>& mutate,
                                bool status = false) override;
  Status Delete(const GroupResource& gr, std::string_view ns, std::string_view name,
                std::optional<std::string> uid = std::nullopt, bool now = false) override;
  Result<nlohmann::json> CreateSubresource(const GroupResource& gr, std::string_view ns,
                                           std::string_view name, std::string_view subresource,
                                           const nlohmann::json& body) override;
  Result<std::unique_ptr<EventSource>> Watch(const std::vector<GroupResource>& resources) override;

  Store* store() const { return store_; }

 private:
  Store* const store_;
};

namespace ctl {

// Every object of gr in ns ("" = all namespaces); a type not served lists nothing.
std::vector<nlohmann::json> ListAll(ClusterView* view, const GroupResource& gr,
                                    const std::string& ns);
// Sets status (through the status subresource when the type has one). Conflicts are retried,
// unless `read_rv` names the resourceVersion the status was computed from: then an object changed
// since is left alone (Aborted), as a real controller's update conflicts and it reconciles the
// newer object on its event, instead of writing over a change with what it computed before it.
Status WriteStatus(ClusterView* view, const GroupResource& gr, const std::string& ns,
                   const std::string& name, const nlohmann::json& status, std::string_view read_rv = {});

}  // namespace ctl
}  // namespace kdr::kubesim
