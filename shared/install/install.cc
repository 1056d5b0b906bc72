#include "install/install.h"

#include "tls/pem.h"

#include <arpa/inet.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "kube/object.h"
#include "tls/certs.h"

namespace kdr::install {
namespace {

using nlohmann::json;

// A serving certificate this close to expiry is replaced rather than reused.
constexpr long long kRenewBeforeSeconds = 30LL * 24 * 3600;
constexpr std::string_view kCaCommonName = "kubectl-dr-ca";

Status BadUrl(std::string_view url, std::string_view why) {
  return Status::InvalidArgument("--webhook-url " + Quote(url) + " " + std::string(why) +
                                 ": use https://HOST[:PORT], e.g. https://127.0.0.1:8443");
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (const std::string& label : Split(host, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
    }
  }
  return true;
}

using tls::PkeyPtr;
using tls::X509Ptr;

X509Ptr ReadCert(const std::string& pem) {
  auto certs = tls::ParseCertificates(pem, "certificate");
  return certs.ok() ? std::move(certs->front()) : nullptr;
}

PkeyPtr ReadKey(const std::string& pem) {
  auto key = tls::ParsePrivateKey(pem, "key");
  return key.ok() ? std::move(*key) : nullptr;
}

// Apply order by kind: what others refer to first, the webhook configurations last.
int KindRank(const json& o) {
  static constexpr std::string_view kOrder[] = {
      "Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole",
      "ClusterRoleBinding", "Role", "RoleBinding", "Issuer", "Certificate", "Secret", "ConfigMap",
      "Service", "Deployment", "PodDisruptionBudget"};
  std::string kind = kube::Kind(o);
  if (kind == "MutatingWebhookConfiguration") return 100;
  if (kind == "ValidatingWebhookConfiguration") return 101;
  for (size_t i = 0; i < std::size(kOrder); ++i) {
    if (kOrder[i] == kind) return static_cast<int>(i);
  }
  return 50;  // anything else a future manifest adds: after the basics, before the webhooks
}

void SortForApply(std::vector<json>* objects) {
  std::stable_sort(objects->begin(), objects->end(),
                   [](const json& a, const json& b) { return KindRank(a) < KindRank(b); });
}

bool IsWebhookConfiguration(const json& o) {
  std::string kind = kube::Kind(o);
  return kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration";
}

bool IsInClusterServer(const json& o) {
  std::string kind = kube::Kind(o);
  return (kind == "Deployment" || kind == "Service" || kind == "PodDisruptionBudget") &&
         kube::Name(o) == kWebhookName && kube::Namespace(o) == kNamespace;
}

json SecretStub(std::string_view name) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", {{"name", name}, {"namespace", kNamespace}}}};
}

}  // namespace

Result<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!StartsWith(url, kScheme)) {
    return BadUrl(url, StartsWith(url, "http://") ? "is plain HTTP (the API server calls webhooks over HTTPS only)"
                                                  : "does not start with https://");
  }
  if (url.find_first_of("?#") != std::string_view::npos) return BadUrl(url, "has a query or fragment");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos) return BadUrl(url, "has user info");
  WebhookUrl out;
  std::string_view port_text;
  if (StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "has an unclosed [IPv6] host");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return BadUrl(url, "has text after the [IPv6] host");
      port_text = after.substr(1);
      if (port_text.empty()) return BadUrl(url, "has an empty port");
    }
    if (!IsIp(out.host) || out.host.find(':') == std::string::npos) {
      return BadUrl(url, "has an invalid IPv6 address");
    }
  } else {
    size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return BadUrl(url, "has an empty port");
    }
    if (out.host.empty()) return BadUrl(url, "has no host");
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos) {
      return BadUrl(url, "has an invalid port " + Quote(port_text));
    }
    out.port = std::stoi(std::string(port_text));
    if (out.port < 1 || out.port > 65535) return BadUrl(url, "has a port outside 1-65535");
  }
  out.host_is_ip = IsIp(out.host);
  if (!out.host_is_ip && !IsDnsName(out.host)) {
    return BadUrl(url, "has an invalid host " + Quote(out.host));
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  out.base = std::string(kScheme) + std::string(authority) + std::string(path);
  return out;
}

Status Validate(const Options& o) {
  if (!o.webhook_url.empty()) {
    KDR_RETURN_IF_ERROR(ParseWebhookUrl(o.webhook_url).status());
    if (o.cert_dir.empty()) {
      return Status::InvalidArgument(
          "--webhook-url needs --cert-dir DIR: the webhook running at the URL must be started with "
          "the certificate install generates (DIR/tls.crt, DIR/tls.key)");
    }
    if (!o.image.empty()) {
      return Status::InvalidArgument(
          "--image sets the in-cluster Deployment's image, which --webhook-url does not install: "
          "drop one of them");
    }
    if (o.cert_manager) {
      return Status::InvalidArgument(
          "--cert-manager issues the certificate into the cluster, but --webhook-url serves from "
          "outside it with the certificate written to --cert-dir: drop one of them");
    }
  } else if (!o.cert_dir.empty()) {
    return Status::InvalidArgument(
        "--cert-dir is only used with --webhook-url (in the cluster the certificate goes into the "
        "Secret " + std::string(kTlsSecretName) + ")");
  }
  if (!o.image.empty()) {
    const std::string& i = o.image;
    bool bad = i.front() == '-' || i.front() == '/' || i.back() == ':' || i.back() == '@' ||
               i.back() == '/' ||
               std::any_of(i.begin(), i.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; });
    if (bad) {
      return Status::InvalidArgument("--image " + Quote(i) +
                                     " is not an image reference: use REGISTRY/NAME:TAG or "
                                     "REGISTRY/NAME@sha256:DIGEST");
    }
  }
  return Status::Ok();
}

ServingNames ServingNamesFor(const Options& o) {
  ServingNames n;
  if (!o.webhook_url.empty()) {
    Result<WebhookUrl> url = ParseWebhookUrl(o.webhook_url);
    if (url.ok()) (url->host_is_ip ? n.ip_addresses : n.dns_names).push_back(url->host);
    return n;
  }
  std::string svc(kWebhookName), ns(kNamespace);
  n.dns_names = {svc + "." + ns + ".svc", svc + "." + ns + ".svc.cluster.local", svc + "." + ns, svc};
  return n;
}

Result<Certificates> MakeCertificates(const Options& o) {
  KDR_ASSIGN_OR_RETURN(tls::KeyPair ca, tls::MakeCa(std::string(kCaCommonName)));
  ServingNames names = ServingNamesFor(o);
  tls::CertRequest req;
  req.common_name = !names.dns_names.empty() ? names.dns_names.front() : names.ip_addresses.front();
  req.dns_names = names.dns_names;
  req.ip_addresses = names.ip_addresses;
  req.server = true;
  KDR_ASSIGN_OR_RETURN(tls::KeyPair leaf, tls::MakeLeaf(ca, req));
  return Certificates{ca.cert_pem, leaf.cert_pem, leaf.key_pem};
}

std::optional<std::string> WhyNotReusable(const Certificates& c, const Options& o) {
  X509Ptr ca = ReadCert(c.ca_cert);
  if (!ca) return "ca.crt is not a PEM certificate";
  X509Ptr leaf = ReadCert(c.tls_cert);
  if (!leaf) return "tls.crt is not a PEM certificate";
  PkeyPtr key = ReadKey(c.tls_key);
  if (!key) return "tls.key is not a PEM private key";
  if (X509_check_private_key(leaf.get(), key.get()) != 1) return "tls.key does not match tls.crt";
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  if (ca_key == nullptr || X509_verify(leaf.get(), ca_key) != 1) return "tls.crt is not signed by ca.crt";
  ServingNames names = ServingNamesFor(o);
  for (const std::string& d : names.dns_names) {
    if (X509_check_host(leaf.get(), d.c_str(), d.size(), 0, nullptr) != 1) {
      return "the serving certificate is not valid for " + d;
    }
  }
  for (const std::string& ip : names.ip_addresses) {
    if (X509_check_ip_asc(leaf.get(), ip.c_str(), 0) != 1) {
      return "the serving certificate is not valid for " + ip;
    }
  }
  for (const std::string* pem : {&c.ca_cert, &c.tls_cert}) {
    Result<long long> left = tls::SecondsUntilExpiry(*pem);
    if (!left.ok()) return left.status().message();
    if (*left < kRenewBeforeSeconds) {
      return std::string(pem == &c.ca_cert ? "the CA" : "the serving certificate") +
             (*left <= 0 ? " has expired" : " expires in " + std::to_string(*left / 86400) + " days");
    }
  }
  return std::nullopt;
}

Result<std::vector<json>> Render(const Options& o, const Certificates* certs,
                                 std::span<const ManifestFile> files) {
  KDR_RETURN_IF_ERROR(Validate(o));
  if (!o.cert_manager && certs == nullptr) {
    return Status::Internal("install without cert-manager needs certificates to render");
  }
  KDR_ASSIGN_OR_RETURN(std::vector<json> objects,
                       BuildKustomization(files, o.cert_manager ? "overlays/cert-manager" : "base"));
  std::optional<WebhookUrl> url;
  if (!o.webhook_url.empty()) {
    KDR_ASSIGN_OR_RETURN(url, ParseWebhookUrl(o.webhook_url));
    std::erase_if(objects, IsInClusterServer);
  }

  try {
    if (!o.image.empty()) {
      bool set = false;
      for (json& obj : objects) {
        if (kube::Kind(obj) != "Deployment" || kube::Name(obj) != kWebhookName) continue;
        for (json& c : obj.at("spec").at("template").at("spec").at("containers")) {
          if (c.value("name", "") == "webhook") {
            c["image"] = o.image;
            set = true;
          }
        }
      }
      if (!set) {
        return Status::InvalidArgument("the manifests have no Deployment " + std::string(kWebhookName) +
                                       " with a container named webhook to set --image on");
      }
    }

    int webhooks = 0;
    for (json& obj : objects) {
      if (!IsWebhookConfiguration(obj)) continue;
      for (json& w : obj.at("webhooks")) {
        json& cc = w["clientConfig"];
        if (url) {
          std::string path = cc.contains("service") ? cc["service"].value("path", "") : "";
          if (path.empty()) {
            return Status::InvalidArgument("webhook " + Quote(w.value("name", "")) +
                                           " in the manifests has no clientConfig.service.path");
          }
          cc.erase("service");
          cc["url"] = url->base + path;
        }
        if (!o.cert_manager) cc["caBundle"] = Base64Encode(certs->ca_cert);
        ++webhooks;
      }
    }
    if (webhooks == 0) return Status::InvalidArgument("the manifests hold no webhook configuration");
  } catch (const json::exception& e) {
    return Status::InvalidArgument(std::string("the manifests do not have the expected shape: ") + e.what());
  }

  if (!o.cert_manager && !url) {
    json secret = SecretStub(kTlsSecretName);
    secret["metadata"]["labels"] = {{"app.kubernetes.io/name", "kubectl-dr"},
                                    {"app.kubernetes.io/component", "webhook"}};
    secret["type"] = "kubernetes.io/tls";
    secret["data"] = {{"ca.crt", Base64Encode(certs->ca_cert)},
                      {"tls.crt", Base64Encode(certs->tls_cert)},
                      {"tls.key", Base64Encode(certs->tls_key)}};
    objects.push_back(std::move(secret));
  }
  SortForApply(&objects);
  return objects;
}

Result<std::vector<json>> UninstallObjects(bool delete_crds, std::span<const ManifestFile> files) {
  KDR_ASSIGN_OR_RETURN(std::vector<json> all, BuildKustomization(files, "overlays/cert-manager"));
  all.push_back(SecretStub(kTlsSecretName));
  all.push_back(SecretStub("kubectl-dr-ca"));  // cert-manager's CA, left behind by its Certificate
  std::erase_if(all, [&](const json& o) {
    std::string kind = kube::Kind(o);
    return kind == "Namespace" || (!delete_crds && kind == "CustomResourceDefinition");
  });
  SortForApply(&all);
  std::vector<json> out;
  for (auto it = all.rbegin(); it != all.rend(); ++it) out.push_back(std::move(*it));
  // Validating first: it is the one that blocks writes.
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return IsWebhookConfiguration(a) && !IsWebhookConfiguration(b);
  });
  return out;
}

std::string ObjectRef(const json& o) {
  std::string ref = ToLower(kube::Kind(o));
  Result<kube::Gvk> gvk = kube::GvkOf(o);
  if (gvk.ok() && !gvk->group.empty()) ref += "." + gvk->group;
  return ref + "/" + kube::Name(o);
}

}  // namespace kdr::install
