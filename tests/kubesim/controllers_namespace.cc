// What every namespace of a real cluster holds without anyone creating it: the `default`
// ServiceAccount (kube-controller-manager's serviceaccount controller) and the
// `kube-root-ca.crt` ConfigMap (its root-ca-cert-publisher), plus the `kubernetes` Service in
// `default` that kube-apiserver maintains. A restore that meets these must be ready for them,
// so kubesim has them too.

#include "base/log.h"
#include "base/strings.h"
#include "controllers_internal.h"

namespace kdr::kubesim {
namespace {

using nlohmann::json;
using namespace ctl;

const GroupResource kNamespaces{"", "namespaces"};
const GroupResource kServiceAccounts{"", "serviceaccounts"};
const GroupResource kConfigMaps{"", "configmaps"};
const GroupResource kServices{"", "services"};
const GroupResource kSecrets{"", "secrets"};
constexpr std::string_view kTokenType = "kubernetes.io/service-account-token";
constexpr std::string_view kSaNameKey = "kubernetes.io/service-account.name";
constexpr std::string_view kSaUidKey = "kubernetes.io/service-account.uid";

class NamespaceController : public Reconciler {
 public:
  NamespaceController(Store* store, const ControllerOptions& options)
      : store_(store), options_(options) {}

  std::string_view name() const override { return "namespaces"; }

  void Observe(const WatchEvent& e) override {
    if (e.gr == kNamespaces || e.gr == kServiceAccounts || e.gr == kConfigMaps || e.gr == kServices ||
        e.gr == kSecrets) {
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
      TokenSecrets(name);
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
  // pkg/controller/serviceaccount/tokens_controller: a Secret of type
  // kubernetes.io/service-account-token whose ServiceAccount is missing, or has another uid than
  // the secret's kubernetes.io/service-account.uid annotation, is deleted (a restored copy of the
  // source's token secret); with its account it gets that uid, the namespace, the cluster CA
  // and, when it has none, a token (a restored one is kept, and authenticates nobody).
  void TokenSecrets(const std::string& ns) {
    for (const auto& secret : ListAll(store_, kSecrets, ns)) {
      if (Deleting(secret) || Str(secret, "/type"_json_pointer) != kTokenType) continue;
      const json annotations = secret.value("/metadata/annotations"_json_pointer, json::object());
      const std::string sa_name = annotations.value(std::string(kSaNameKey), "");
      const std::string want_uid = annotations.value(std::string(kSaUidKey), "");
      auto sa = store_->Get(kServiceAccounts, ns, sa_name);
      if (!sa.ok() || (!want_uid.empty() && want_uid != Uid(*sa))) {
        (void)store_->Delete(kSecrets, ns, Name(secret), {});
        continue;
      }
      const json data = secret.value("data", json::object());
      json next = data.is_object() ? data : json::object();
      if (next.value("token", "").empty()) {
        const std::string token = options_.agent.issue_token ? options_.agent.issue_token(ns, sa_name) : "";
        if (!token.empty()) next["token"] = Base64Encode(token);
      }
      if (!options_.cluster_ca_pem.empty()) next["ca.crt"] = Base64Encode(options_.cluster_ca_pem);
      next["namespace"] = Base64Encode(ns);
      if (next == data && want_uid == Uid(*sa)) continue;
      auto r = store_->Modify(kSecrets, ns, Name(secret), [&](json* o) {
        (*o)["data"] = next;
        (*o)["metadata"]["annotations"][std::string(kSaUidKey)] = Uid(*sa);
        return Status::Ok();
      });
      if (!r.ok() && options_.logger) {
        options_.logger->Warning("token secret", {{"object", ns + "/" + Name(secret)}, {"error", r.status().message()}});
      }
    }
  }

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
