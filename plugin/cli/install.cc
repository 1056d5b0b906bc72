// kubectl dr install|uninstall: the CRDs and the admission webhook on a cluster. What is applied
// is computed by shared/install/ from the manifests embedded at build time; this file validates
// the flags, talks to the cluster and writes --cert-dir.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <ostream>

#include "base/fs.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "install/install.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube/object.h"
#include "kube_context.h"

namespace kdr::plugin {
namespace {

using nlohmann::json;

struct InstallFlags {
  install::Options options;
  bool dry_run = false;
};

struct UninstallFlags {
  bool delete_crds = false;
};

const kube::Gvr kSecrets{"", "v1", "secrets"};
const kube::Gvr kNamespaces{"", "v1", "namespaces"};
const kube::Gvr kPvcs{"", "v1", "persistentvolumeclaims"};

std::string CertPath(const std::string& dir, std::string_view file) {
  return JoinPath(dir, std::string(file));
}

// The three files of --cert-dir: nullopt when none exists, an error when only some do or they
// cannot be read.
Result<std::optional<install::Certificates>> ReadCertDir(const std::string& dir, const FileSystem& fs) {
  Result<FileInfo> info = fs.Stat(dir);
  if (!info.ok()) {
    if (info.status().IsNotFound()) return std::optional<install::Certificates>();
    return Status(info.status().code(), "--cert-dir " + Quote(dir) + ": " + info.status().message());
  }
  if (!info->is_dir) {
    return Status::InvalidArgument("--cert-dir " + Quote(dir) + " is a file, not a directory");
  }
  install::Certificates c;
  int found = 0;
  for (auto [name, field] : {std::pair{install::kCaFile, &c.ca_cert},
                             std::pair{install::kCertFile, &c.tls_cert},
                             std::pair{install::kKeyFile, &c.tls_key}}) {
    Result<std::string> text = fs.ReadFile(CertPath(dir, name));
    if (text.ok()) {
      *field = std::move(*text);
      ++found;
    } else if (!text.status().IsNotFound()) {
      return Status(text.status().code(), "cannot read " + CertPath(dir, name) + ": " + text.status().message());
    }
  }
  if (found == 0) return std::optional<install::Certificates>();
  return std::optional<install::Certificates>(std::move(c));
}

// The CA and serving pair of the Secret an earlier install created, if any.
Result<std::optional<install::Certificates>> ReadTlsSecret(kube::Client& client) {
  Result<json> secret = client.Get(kSecrets, install::kNamespace, install::kTlsSecretName);
  if (!secret.ok()) {
    if (secret.status().IsNotFound()) return std::optional<install::Certificates>();
    return secret.status().WithContext("reading secret " + std::string(install::kNamespace) + "/" +
                                       std::string(install::kTlsSecretName));
  }
  install::Certificates c;
  const json data = secret->value("data", json::object());
  for (auto [key, field] : {std::pair{"ca.crt", &c.ca_cert}, std::pair{"tls.crt", &c.tls_cert},
                            std::pair{"tls.key", &c.tls_key}}) {
    if (!data.contains(key) || !data[key].is_string()) continue;
    Result<std::string> decoded = Base64Decode(data[key].get<std::string>(), key);
    if (decoded.ok()) *field = std::move(*decoded);
  }
  return std::optional<install::Certificates>(std::move(c));
}

// Reuses `existing` when it still serves these options (so a re-run keeps the CA a running
// webhook and the cluster already trust), otherwise makes new certificates.
Result<install::Certificates> ChooseCertificates(const std::optional<install::Certificates>& existing,
                                                 std::string_view where,
                                                 const install::Options& options, std::ostream& err,
                                                 bool* reused) {
  *reused = false;
  if (existing) {
    std::optional<std::string> why = install::WhyNotReusable(*existing, options);
    if (!why) {
      err << "reusing the webhook certificates in " << where << "\n";
      *reused = true;
      return *existing;
    }
    err << "replacing the webhook certificates in " << where << ": " << *why << "\n";
  }
  return install::MakeCertificates(options);
}

Status PrintObjects(const std::vector<json>& objects, const std::string& format, std::ostream& out) {
  json items = json::array();
  for (const json& o : objects) items.push_back(o);
  json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", std::move(items)},
               {"metadata", {{"resourceVersion", ""}}}};
  if (format == "json") {
    out << list.dump(4) << "\n";
  } else {
    out << JsonToYaml(list);
  }
  return Status::Ok();
}

std::string ContextName(const kube::RestConfig& config) {
  return config.context.empty() ? config.server : "context " + Quote(config.context) + " (" + config.server + ")";
}

// A client for the chosen context that has answered /version: nothing is written to a cluster
// that cannot be read.
Result<std::unique_ptr<kube::Client>> ReachableClient(const CommandContext& ctx) {
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ClientFromGlobals(ctx.globals, ctx.env));
  Result<json> version = client->ServerVersion();
  if (!version.ok()) {
    return Status(version.status().code(),
                  "cannot reach the cluster of " + ContextName(client->config()) + ": " +
                      version.status().message() + "; check --context and --kubeconfig");
  }
  return client;
}

Status RunInstall(const InstallFlags& f, CommandContext& ctx) {
  const install::Options& o = f.options;
  KDR_RETURN_IF_ERROR(install::Validate(o));
  const std::string& format = ctx.globals.output;
  if (!format.empty() && format != "yaml" && format != "json") {
    return Status::InvalidArgument("-o " + Quote(format) + " is not supported by install: use -o yaml or -o json");
  }
  if (!format.empty() && !f.dry_run) {
    return Status::InvalidArgument("-o " + format + " prints what would be applied and needs --dry-run");
  }
  if (ctx.env.fs == nullptr) return Status::Internal("no file system in the environment");
  std::ostream& out = *ctx.streams.out;
  std::ostream& err = *ctx.streams.err;

  std::optional<install::Certificates> from_dir;
  if (!o.cert_dir.empty()) {
    KDR_ASSIGN_OR_RETURN(from_dir, ReadCertDir(o.cert_dir, *ctx.env.fs));
  }

  if (f.dry_run) {
    // Offline: nothing is read from or written to the cluster or --cert-dir.
    std::optional<install::Certificates> certs;
    bool reused = false;
    if (!o.cert_manager) {
      KDR_ASSIGN_OR_RETURN(certs, ChooseCertificates(from_dir, o.cert_dir, o, err, &reused));
    }
    KDR_ASSIGN_OR_RETURN(std::vector<json> objects, install::Render(o, certs ? &*certs : nullptr));
    if (!format.empty()) {
      KDR_RETURN_IF_ERROR(PrintObjects(objects, format, out));
    } else {
      for (const json& obj : objects) out << install::ObjectRef(obj) << " serverside-applied (dry run)\n";
    }
    err << "dry run: nothing was applied";
    if (!o.cert_dir.empty() && !reused) err << " and nothing was written to " << o.cert_dir;
    err << "\n";
    return Status::Ok();
  }

  // Everything is checked before the first write: the cluster answers, every kind is served,
  // existing certificates are read.
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ReachableClient(ctx));
  const std::string where_cluster = ContextName(client->config());
  std::optional<install::Certificates> certs;
  bool reused = false;
  if (!o.cert_manager) {
    if (!o.webhook_url.empty()) {
      KDR_ASSIGN_OR_RETURN(certs, ChooseCertificates(from_dir, o.cert_dir, o, err, &reused));
    } else {
      KDR_ASSIGN_OR_RETURN(std::optional<install::Certificates> in_cluster, ReadTlsSecret(*client));
      KDR_ASSIGN_OR_RETURN(certs, ChooseCertificates(in_cluster,
                                                     "secret " + std::string(install::kNamespace) + "/" +
                                                         std::string(install::kTlsSecretName),
                                                     o, err, &reused));
    }
  }
  KDR_ASSIGN_OR_RETURN(std::vector<json> objects, install::Render(o, certs ? &*certs : nullptr));
  std::vector<kube::ApiResource> resources;
  for (const json& obj : objects) {
    Result<kube::ApiResource> r = client->mapper().ForObject(obj);
    if (!r.ok()) {
      if (o.cert_manager && StartsWith(obj.value("apiVersion", ""), "cert-manager.io/")) {
        return Status::FailedPrecondition(
            "--cert-manager: the cluster of " + where_cluster + " does not serve " +
            obj.value("apiVersion", "") + " " + kube::Kind(obj) +
            ": install cert-manager first (https://cert-manager.io/docs/installation/) or drop "
            "--cert-manager to have kubectl dr generate the certificates");
      }
      return r.status().WithContext("checking " + install::ObjectRef(obj));
    }
    resources.push_back(*r);
  }

  if (!o.cert_dir.empty() && !reused) {
    KDR_RETURN_IF_ERROR(ctx.env.fs->MakeDirs(o.cert_dir, 0700));
    for (auto [name, pem, mode] : {std::tuple{install::kCaFile, &certs->ca_cert, 0644},
                                   std::tuple{install::kCertFile, &certs->tls_cert, 0644},
                                   std::tuple{install::kKeyFile, &certs->tls_key, 0600}}) {
      Status s = ctx.env.fs->WriteFile(CertPath(o.cert_dir, name), *pem, mode);
      if (!s.ok()) return s.WithContext("writing " + CertPath(o.cert_dir, name));
    }
    err << "wrote " << install::kCaFile << ", " << install::kCertFile << " and "
        << install::kKeyFile << " to " << o.cert_dir << "\n";
  }

  kube::PatchOptions apply;
  apply.field_manager = std::string(install::kFieldManager);
  apply.force = true;  // install owns these objects: take over fields another manager set
  for (size_t i = 0; i < objects.size(); ++i) {
    const kube::ApiResource& r = resources[i];
    std::string ns = r.namespaced ? kube::Namespace(objects[i]) : "";
    Result<json> applied = client->Apply(r.gvr, ns, objects[i], apply);
    if (!applied.ok()) {
      return applied.status().WithContext(
          "applying " + install::ObjectRef(objects[i]) + " (" + std::to_string(i) + " of " +
          std::to_string(objects.size()) + " applied; re-run kubectl dr install once fixed)");
    }
    out << install::ObjectRef(objects[i]) << " serverside-applied\n";
  }

  err << "kubectl-dr installed on " << where_cluster << "\n";
  if (!o.webhook_url.empty()) {
    Result<install::WebhookUrl> url = install::ParseWebhookUrl(o.webhook_url);
    std::string listen = url->host_is_ip ? (url->host.find(':') != std::string::npos ? "[" + url->host + "]"
                                                                                      : url->host)
                                         : "0.0.0.0";
    err << "the webhook configurations call " << url->base << "/validate and " << url->base
        << "/mutate; start the webhook there (failurePolicy is Fail):\n"
        << "  kubectl-dr-webhook --listen " << listen << ":" << url->port << " --tls-cert "
        << CertPath(o.cert_dir, install::kCertFile) << " --tls-key "
        << CertPath(o.cert_dir, install::kKeyFile) << " --kubeconfig KUBECONFIG_OF_THIS_CLUSTER\n";
  } else {
    err << "watch the webhook start: kubectl -n " << install::kNamespace << " rollout status deployment/"
        << install::kWebhookName << "\n";
  }
  return Status::Ok();
}

Status RunUninstall(const UninstallFlags& f, CommandContext& ctx) {
  if (!ctx.globals.output.empty()) {
    return Status::InvalidArgument("-o is not supported by uninstall");
  }
  std::ostream& out = *ctx.streams.out;
  std::ostream& err = *ctx.streams.err;
  KDR_ASSIGN_OR_RETURN(std::unique_ptr<kube::Client> client, ReachableClient(ctx));
  KDR_ASSIGN_OR_RETURN(std::vector<json> objects, install::UninstallObjects(f.delete_crds));

  // Kinds the cluster does not serve (cert-manager's, when it is absent) hold nothing to delete.
  std::vector<std::pair<const json*, kube::ApiResource>> targets;
  for (const json& obj : objects) {
    Result<kube::ApiResource> r = client->mapper().ForObject(obj);
    if (r.ok()) {
      targets.emplace_back(&obj, *r);
    } else if (!r.status().IsNotFound()) {
      return r.status().WithContext("checking " + install::ObjectRef(obj));
    }
  }
  int deleted = 0;
  for (const auto& [obj, r] : targets) {
    std::string ns = r.namespaced ? kube::Namespace(*obj) : "";
    Result<json> gone = client->Delete(r.gvr, ns, kube::Name(*obj));
    if (gone.ok()) {
      out << install::ObjectRef(*obj) << " deleted\n";
      ++deleted;
    } else if (!gone.status().IsNotFound()) {
      return gone.status().WithContext("deleting " + install::ObjectRef(*obj) +
                                       " (the webhook configurations are gone; re-run kubectl dr "
                                       "uninstall once fixed)");
    }
  }

  const std::string ns(install::kNamespace);
  if (f.delete_crds) {
    // The namespace may hold plans' inventory PVCs: those are the disaster-recovery data.
    Result<json> pvcs = client->List(kPvcs, ns);
    size_t held = pvcs.ok() ? pvcs->value("items", json::array()).size() : 0;
    if (!pvcs.ok() && !pvcs.status().IsNotFound()) return pvcs.status().WithContext("listing PVCs in " + ns);
    if (held > 0) {
      err << "kept namespace " << ns << ": it holds " << held
          << " PersistentVolumeClaim(s) (inventory volumes?); delete it yourself once they are not "
             "needed: kubectl delete namespace "
          << ns << "\n";
    } else {
      Result<json> gone = client->Delete(kNamespaces, "", ns);
      if (gone.ok()) {
        out << "namespace/" << ns << " deleted\n";
        ++deleted;
      } else if (!gone.status().IsNotFound()) {
        return gone.status().WithContext("deleting namespace " + ns);
      }
    }
    err << "kubectl-dr uninstalled from " << ContextName(client->config()) << " (" << deleted
        << " objects deleted), including the DRPlan and DRRecovery CRDs and every plan and recovery\n";
  } else {
    err << "kubectl-dr uninstalled from " << ContextName(client->config()) << " (" << deleted
        << " objects deleted)";
    const kube::Gvr crds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
    if (client->Get(crds, "", "drplans.dr.kubectl-dr.dev").ok()) {
      err << "; kept the DRPlan and DRRecovery CRDs, their plans and recoveries, and namespace " << ns
          << ": kubectl dr uninstall --delete-crds removes them too";
    }
    err << "\n";
  }
  return Status::Ok();
}

}  // namespace

void RegisterInstall(const Registrar& r) {
  auto iflags = std::make_shared<InstallFlags>();
  CLI::App* install = r.root->add_subcommand(
      "install", "Install the DRPlan/DRRecovery CRDs and the admission webhook on a cluster");
  install->add_flag("--cert-manager", iflags->options.cert_manager,
                    "Let cert-manager issue the webhook's certificate and inject its CA (default: "
                    "kubectl dr generates them)");
  install->add_option("--image", iflags->options.image, "The webhook image to run")->type_name("IMAGE");
  install->add_option("--webhook-url", iflags->options.webhook_url,
                      "Call a webhook running outside the cluster at this https:// URL instead of "
                      "deploying it (development, tests); needs --cert-dir")
      ->type_name("URL");
  install->add_option("--cert-dir", iflags->options.cert_dir,
                      "With --webhook-url: write ca.crt, tls.crt and tls.key here for that webhook")
      ->type_name("DIR");
  install->add_flag("--dry-run", iflags->dry_run,
                    "Print what would be applied (-o yaml|json for the objects); change nothing");
  install->callback([r, iflags] { *r.action = [r, iflags] { return RunInstall(*iflags, *r.context); }; });

  auto uflags = std::make_shared<UninstallFlags>();
  CLI::App* uninstall = r.root->add_subcommand(
      "uninstall",
      "Remove the admission webhook (its configurations first); keep the CRDs and their objects "
      "unless --delete-crds");
  uninstall->add_flag("--delete-crds", uflags->delete_crds,
                      "Also delete the DRPlan and DRRecovery CRDs, which deletes every plan and "
                      "recovery, and the DR namespace when it holds no PVCs");
  uninstall->callback([r, uflags] { *r.action = [r, uflags] { return RunUninstall(*uflags, *r.context); }; });
}

}  // namespace kdr::plugin
