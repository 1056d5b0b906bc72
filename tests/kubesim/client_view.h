#pragma once

// ClientView: the ClusterView of any API server, through our own client (kube::Client), for the
// simulated controllers run as an external process (kubesim-controllers) beside a real
// kube-apiserver, or beside a kubesim reached over HTTPS.
//
//   - GroupResources map to the versions the simulators speak: longhorn.io v1beta2,
//     apiextensions.k8s.io, apps, batch, storage.k8s.io, coordination.k8s.io and the core group
//     v1, dr.kubectl-dr.dev v1alpha1; any other group is InvalidArgument naming it.
//   - Modify reads, mutates and PUTs with the read resourceVersion (the status subresource when
//     asked), retrying up to 10 times on conflict.
//   - Watch polls: every `poll_interval` it lists each resource asked for and turns the
//     differences into ADDED / MODIFIED / DELETED events (by uid and resourceVersion). A list that
//     fails (the server restarting, a CRD not yet served) keeps the last view of that resource
//     and reports nothing for it, so a restart of the API server is ridden out, not seen as
//     every object deleted. Polling rather than a watch stream: a handful of small lists on
//     loopback, and nothing to resume after 410 Gone.
//
// Thread-safe as kube::Client is; each EventSource belongs to one thread. The client must
// outlive the view.

#include <chrono>
#include <memory>
#include <nlohmann/json_fwd.hpp>

#include "cluster_view.h"
#include "kube/object.h"

namespace kdr::kube {
class Client;
}

namespace kdr::kubesim {

// The version served for a group (see above). InvalidArgument for a group the simulators do not
// use.
Result<kube::Gvr> GvrFor(const GroupResource& gr);

class ClientView final : public ClusterView {
 public:
  explicit ClientView(kube::Client* client,
                      std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250))
      : client_(client), poll_interval_(poll_interval) {}

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
  // InvalidArgument when `resources` is empty (a client view cannot watch "everything").
  Result<std::unique_ptr<EventSource>> Watch(const std::vector<GroupResource>& resources) override;

 private:
  kube::Client* const client_;
  const std::chrono::milliseconds poll_interval_;
};

}  // namespace kdr::kubesim
