// What every namespace of a real cluster holds without anyone creating it: the `default`
// ServiceAccount (kube-controller-manager's serviceaccount controller) and the
// `kube-root-ca.crt` ConfigMap (its root-ca-cert-publisher), plus the `kubernetes` Service in
// `default` that kube-apiserver maintains. A restore that meets these must be ready for them,
// so kubesim has them too.

#include "base/log.h"
#include "controllers_internal.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

const GroupResource kNamespaces{"", "namespaces"};
const GroupResource kServiceAccounts{"", "serviceaccounts"};
const GroupResource kConfigMaps{"", "configmaps"};
const GroupResource kServices{"", "services"};

class NamespaceController : public Reconciler {
 public:
  NamespaceController(Store* store, const ControllerOptions& options)
      : store_(store), options_(options) {}

  std::string_view name() const override { return "namespaces"; }

  void Observe(const WatchEvent& e) override {
    if (e.gr == kNamespaces || e.gr == kServiceAccounts || e.gr == kConfigMaps || e.gr == kServices) {
      dirty_ = true;
    }
  }

  void Resync() override { dirty_ = true; }

  void Reconcile() override {
    if (!dirty_) return;
    dirty_ = false;
    for (const auto& ns : ListAll(store_, kNamespaces, "")) {
      if (Deleting(ns) || Str(ns, "/status/phase"_json_pointer) == "Terminating") continue;
      const std::string name = Name(ns);
      Ensure(kServiceAccounts, name,
             {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", {{"name", "default"}}}});
      if (!options_.cluster_ca_pem.empty()) RootCa(name);
      if (name == "default") {
        Ensure(kServices, name,
               {{"apiVersion", "v1"},
                {"kind", "Service"},
                {"metadata",
                 {{"name", "kubernetes"},
                  {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                {"spec",
                 {{"type", "ClusterIP"},
                  {"ports", json::array({{{"name", "https"}, {"port", 443}, {"protocol", "TCP"},
                                          {"targetPort", 6443}}})}}}});
      }
    }
  }

 private:
  // pkg/controller/certificates/rootcacertpublisher: kube-root-ca.crt holds exactly the cluster CA
  // and its description annotation; any other data (a restored copy of the source's, an edit) is
  // written back at once, other labels and annotations are kept.
  void RootCa(const std::string& ns) {
    static constexpr std::string_view kDescriptionKey = "kubernetes.io/description";
    static constexpr std::string_view kDescription =
        "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints "
        "such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across "
        "distributions of Kubernetes clusters.";
    const json data = {{"ca.crt", options_.cluster_ca_pem}};
    auto current = store_->Get(kConfigMaps, ns, "kube-root-ca.crt");
    if (!current.ok()) {
      Ensure(kConfigMaps, ns,
             {{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", "kube-root-ca.crt"}, {"annotations", {{kDescriptionKey, kDescription}}}}},
              {"data", data}});
      return;
    }
    if (Deleting(*current) || (current->value("data", json()) == data &&
                               !Str(*current, "/metadata/annotations/kubernetes.io~1description"_json_pointer).empty())) {
      return;
    }
    auto r = store_->Modify(kConfigMaps, ns, "kube-root-ca.crt", [&](json* o) {
      (*o)["data"] = data;
      (*o)["metadata"]["annotations"][std::string(kDescriptionKey)] = kDescription;
      return Status::Ok();
    });
    if (!r.ok() && options_.logger) {
      options_.logger->Warning("namespace defaults", {{"object", ns + "/kube-root-ca.crt"},
                                                      {"error", r.status().message()}});
    }
  }

  void Ensure(const GroupResource& gr, const std::string& ns, const json& object) {
    const std::string obj_name = Name(object);
    if (store_->Get(gr, ns, obj_name).ok()) return;
    auto r = store_->Create(gr, ns, object);
    // AlreadyExists: someone created it meanwhile, which is what we wanted.
    if (!r.ok() && !r.status().IsAlreadyExists() && options_.logger) {
      options_.logger->Warning("namespace defaults", {{"object", ns + "/" + obj_name},
                                                      {"error", r.status().message()}});
    }
  }

  Store* const store_;
  const ControllerOptions options_;
  bool dirty_ = true;
};

}  // namespace

std::unique_ptr<Reconciler> NewNamespaceController(Store* store, const ControllerOptions& options) {
  return std::make_unique<NamespaceController>(store, options);
}

}  // namespace kdr::kubesim
