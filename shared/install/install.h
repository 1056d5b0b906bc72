#pragma once

// What `kubectl dr install` applies and `kubectl dr uninstall` deletes, computed without a
// cluster so it is testable: the embedded manifests (base, or the cert-manager overlay) adapted
// to the options, the serving certificates when cert-manager is not used, and the apply order.
//
//   KDR_RETURN_IF_ERROR(install::Validate(opts));
//   KDR_ASSIGN_OR_RETURN(install::Certificates certs, install::MakeCertificates(opts));
//   KDR_ASSIGN_OR_RETURN(std::vector<json> objects, install::Render(opts, &certs));

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "install/manifests.h"

namespace kdr::install {

inline constexpr std::string_view kFieldManager = "kubectl-dr";
inline constexpr std::string_view kNamespace = "kubectl-dr-system";
// The Deployment, Service, PDB and both webhook configurations share this name.
inline constexpr std::string_view kWebhookName = "kubectl-dr-webhook";
inline constexpr std::string_view kTlsSecretName = "kubectl-dr-webhook-tls";
// Files written into --cert-dir.
inline constexpr std::string_view kCaFile = "ca.crt";
inline constexpr std::string_view kCertFile = "tls.crt";
inline constexpr std::string_view kKeyFile = "tls.key";

struct Options {
  bool cert_manager = false;  // cert-manager issues the serving certificate and injects the CA
  std::string image;          // the webhook image; "" keeps the manifests' image
  std::string webhook_url;    // a webhook running outside the cluster; "" = the in-cluster Service
  std::string cert_dir;       // with webhook_url: where ca.crt, tls.crt and tls.key are written
};

// A --webhook-url: https://HOST[:PORT][/PATH], HOST a DNS name, an IPv4 address or a bracketed
// IPv6 address. No user info, query or fragment (the API server rejects them).
struct WebhookUrl {
  std::string base;  // the URL without a trailing '/': "/validate" and "/mutate" are appended
  std::string host;  // "127.0.0.1", "::1" (no brackets), "webhook.example.com"
  bool host_is_ip = false;
  int port = 443;
};

// InvalidArgument naming --webhook-url and what is wrong with it.
Result<WebhookUrl> ParseWebhookUrl(std::string_view url);

// Checks the options together before anything is done: --webhook-url well formed and given with
// --cert-dir (and --cert-dir only with it), --image and --cert-manager not with --webhook-url, a
// well-formed --image. InvalidArgument naming the flags.
Status Validate(const Options& options);

// PEM: the CA the webhook configurations trust (their caBundle) and the serving pair it signed.
struct Certificates {
  std::string ca_cert;
  std::string tls_cert;
  std::string tls_key;
};

// The DNS names and IP addresses the serving certificate must hold: the Service's names
// (kubectl-dr-webhook.kubectl-dr-system.svc and .svc.cluster.local, ...), or the --webhook-url
// host. REQUIRES: Validate(options) is Ok.
struct ServingNames {
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};
ServingNames ServingNamesFor(const Options& options);

// A new CA ("kubectl-dr-ca", 10 years) and a serving certificate (1 year) for ServingNamesFor.
Result<Certificates> MakeCertificates(const Options& options);

// Why `existing` cannot serve these options ("the serving certificate is not valid for
// 127.0.0.1", "it expires in 12 days", "tls.key does not match tls.crt", ...), or nullopt when
// it can be reused: re-running install keeps the CA the cluster and a running webhook already
// trust.
std::optional<std::string> WhyNotReusable(const Certificates& existing, const Options& options);

// The objects install applies, in apply order (namespace, CRDs, RBAC, certificates or Secret,
// Service, Deployment, PDB, then the webhook configurations last, once what they call exists).
//   - cert_manager: the cert-manager overlay as built by kustomize; certs unused (may be null).
//   - otherwise the base with the Secret kubectl-dr-webhook-tls (type kubernetes.io/tls, with
//     ca.crt) and caBundle filled in every webhook; certs REQUIRED.
//   - webhook_url: no Deployment, Service, PDB or Secret; every webhook's clientConfig is
//     {url: base + "/validate" or "/mutate", caBundle}.
//   - image: the webhook container's image.
// InvalidArgument when the manifests do not have the shape this relies on.
Result<std::vector<nlohmann::json>> Render(const Options& options, const Certificates* certs,
                                           std::span<const ManifestFile> files = EmbeddedManifests());

// What uninstall deletes, in order: both webhook configurations first (so nothing is blocked
// meanwhile), then the rest of what any install mode creates, in reverse apply order (including
// the cert-manager objects and both TLS Secrets). The namespace is never in the list (it may hold
// plans' inventory PVCs: the caller decides); the CRDs only with delete_crds (deleting them
// deletes every DRPlan and DRRecovery).
Result<std::vector<nlohmann::json>> UninstallObjects(
    bool delete_crds, std::span<const ManifestFile> files = EmbeddedManifests());

// "customresourcedefinition.apiextensions.k8s.io/drplans.dr.kubectl-dr.dev", "namespace/x":
// kubectl's way to name an object in apply and delete output.
std::string ObjectRef(const nlohmann::json& object);

}  // namespace kdr::install
