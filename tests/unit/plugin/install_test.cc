// kubectl dr install|uninstall: the rendering library (shared/install/) offline, and the
// commands in-process against a kubesim API server.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "cli/cli.h"
#include "install/install.h"
#include "install/manifests.h"
#include "kube/client.h"
#include "kube/discovery.h"
#include "kube_context.h"
#include "kubesim/server.h"
#include "cli_fixture.h"
#include "testutil/testutil.h"

namespace kdr {
namespace {

using nlohmann::json;

// Options as the flags set them (designated initializers would leave -Wextra unhappy).
install::Options Opts(std::string url = "", std::string dir = "", std::string image = "",
                      bool cert_manager = false) {
  install::Options o;
  o.webhook_url = std::move(url);
  o.cert_dir = std::move(dir);
  o.image = std::move(image);
  o.cert_manager = cert_manager;
  return o;
}

// ---- the embedded manifests ------------------------------------------------------------------

TEST(EmbeddedManifestsTest, AreExactlyTheRepoFiles) {
  testutil::CommandResult ls = testutil::RunCommand(
      "cd " + testutil::SourcePath("manifests") + " && find . -name '*.yaml' | sed 's|^./||' | sort");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  std::vector<std::string> repo;
  for (const std::string& p : Split(TrimSpace(ls.output), '\n')) repo.push_back(p);
  std::vector<std::string> embedded;
  PosixFileSystem fs;
  for (const install::ManifestFile& f : install::EmbeddedManifests()) {
    embedded.emplace_back(f.path);
    auto text = fs.ReadFile(testutil::SourcePath("manifests/" + std::string(f.path)));
    ASSERT_TRUE(text.ok()) << f.path;
    EXPECT_EQ(*text, f.content) << f.path << " differs from the build's copy: rebuild";
  }
  EXPECT_EQ(embedded, repo);
}

std::vector<std::string> Canonical(std::vector<json> objects) {
  std::vector<std::string> out;
  for (const json& o : objects) out.push_back(o.dump());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(EmbeddedManifestsTest, BuildLikeKubectlKustomize) {
  if (testutil::RunCommand("command -v kubectl").exit_code != 0) GTEST_SKIP() << "no kubectl";
  for (const char* dir : {"base", "overlays/cert-manager", "crds"}) {
    SCOPED_TRACE(dir);
    testutil::CommandResult r =
        testutil::RunCommand("kubectl kustomize " + testutil::SourcePath("manifests/" + std::string(dir)));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto want = YamlDocumentsToJson(r.output, "kubectl kustomize");
    ASSERT_TRUE(want.ok()) << want.status().message();
    auto got = install::BuildKustomization(install::EmbeddedManifests(), dir);
    ASSERT_TRUE(got.ok()) << got.status().message();
    EXPECT_EQ(Canonical(*got), Canonical(*want));
  }
}

TEST(BuildKustomizationTest, RefusesWhatItDoesNotImplement) {
  constexpr std::string_view kObj = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
  constexpr std::string_view kPatch = "metadata: {annotations: {x: y}}\n";
  struct Case {
    const char* name;
    std::vector<install::ManifestFile> files;
    const char* dir;
    const char* want;
  };
  const Case cases[] = {
      {"unsupported field",
       {{"k/kustomization.yaml", "resources: [a.yaml]\nnamePrefix: x-\n"}, {"k/a.yaml", kObj}},
       "k", "field \"namePrefix\" is not supported"},
      {"missing resource", {{"k/kustomization.yaml", "resources: [b.yaml]\n"}}, "k",
       "resource \"b.yaml\" is neither a file nor a kustomization directory"},
      {"no kustomization", {}, "k", "manifests/k/kustomization.yaml does not exist"},
      {"escapes the tree", {{"k/kustomization.yaml", "resources: [../../x.yaml]\n"}}, "k",
       "leaves manifests/"},
      {"patch matches nothing",
       {{"k/kustomization.yaml",
         "resources: [a.yaml]\npatches:\n- path: p.yaml\n  target: {kind: Secret}\n"},
        {"k/a.yaml", kObj},
        {"k/p.yaml", kPatch}},
       "k", "patch \"k/p.yaml\" matches no resource"},
      {"patch without target",
       {{"k/kustomization.yaml", "resources: [a.yaml]\npatches:\n- path: p.yaml\n"},
        {"k/a.yaml", kObj},
        {"k/p.yaml", kPatch}},
       "k", "each patch needs exactly a path and a target"},
      {"document without kind", {{"k/kustomization.yaml", "resources: [a.yaml]\n"}, {"k/a.yaml", "a: 1\n"}},
       "k", "every document must be an object with a kind"},
      {"cycle", {{"k/kustomization.yaml", "resources: [.]\n"}}, "k", "nest too deep"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = install::BuildKustomization(c.files, c.dir);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), std::string::npos) << r.status().message();
  }
}

TEST(BuildKustomizationTest, PatchesTheTargetsWhateverThePatchNamesItself) {
  std::vector<install::ManifestFile> files = {
      {"k/kustomization.yaml",
       "resources: [a.yaml]\npatches:\n- path: p.yaml\n  target: {kind: ConfigMap}\n"},
      {"k/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n"},
      {"k/p.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: other, annotations: {x: z}}\n"}};
  auto r = install::BuildKustomization(files, "k");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  for (const json& o : *r) {
    EXPECT_EQ(o["kind"], "ConfigMap");
    EXPECT_EQ(o["metadata"]["annotations"]["x"], "z");
  }
  EXPECT_EQ((*r)[1]["metadata"]["name"], "b");
}

// ---- flags -----------------------------------------------------------------------------------

TEST(WebhookUrlTest, ParsesHostsPortsAndPaths) {
  struct Case {
    const char* url;
    const char* base;
    const char* host;
    bool ip;
    int port;
  };
  const Case cases[] = {
      {"https://127.0.0.1:8443", "https://127.0.0.1:8443", "127.0.0.1", true, 8443},
      {"https://127.0.0.1:8443/", "https://127.0.0.1:8443", "127.0.0.1", true, 8443},
      {"https://webhook.example.com", "https://webhook.example.com", "webhook.example.com", false, 443},
      {"https://[::1]:9443/dr/", "https://[::1]:9443/dr", "::1", true, 9443},
      {"https://localhost:1/a/b", "https://localhost:1/a/b", "localhost", false, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    auto u = install::ParseWebhookUrl(c.url);
    ASSERT_TRUE(u.ok()) << u.status().message();
    EXPECT_EQ(u->base, c.base);
    EXPECT_EQ(u->host, c.host);
    EXPECT_EQ(u->host_is_ip, c.ip);
    EXPECT_EQ(u->port, c.port);
  }
}

TEST(WebhookUrlTest, RefusesWhatTheApiServerCannotCall) {
  struct Case {
    const char* url;
    const char* want;
  };
  const Case cases[] = {
      {"http://127.0.0.1:8443", "is plain HTTP"},
      {"127.0.0.1:8443", "does not start with https://"},
      {"https://", "has no host"},
      {"https://:8443", "has no host"},
      {"https://127.0.0.1:", "has an empty port"},
      {"https://127.0.0.1:0", "outside 1-65535"},
      {"https://127.0.0.1:70000", "outside 1-65535"},
      {"https://127.0.0.1:84x3", "invalid port"},
      {"https://127.0.0.1:8443/validate?x=1", "query or fragment"},
      {"https://user:pw@127.0.0.1", "user info"},
      {"https://[::1", "unclosed"},
      {"https://[nope]:8443", "invalid IPv6"},
      {"https://bad_host:8443", "invalid host"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.url);
    auto u = install::ParseWebhookUrl(c.url);
    ASSERT_FALSE(u.ok());
    EXPECT_EQ(u.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(u.status().message().find(c.want), std::string::npos) << u.status().message();
    EXPECT_NE(u.status().message().find("--webhook-url"), std::string::npos);
  }
}

TEST(InstallOptionsTest, RefusesContradictoryFlags) {
  struct Case {
    const char* name;
    install::Options options;
    const char* want;
  };
  const Case cases[] = {
      {"url without cert dir", Opts("https://127.0.0.1:8443"), "--webhook-url needs --cert-dir"},
      {"cert dir without url", Opts("", "/tmp/x"), "--cert-dir is only used with --webhook-url"},
      {"image with url",
       Opts("https://127.0.0.1:8443", "/tmp/x", "reg/img:1"),
       "--image sets the in-cluster Deployment's image"},
      {"cert-manager with url",
       Opts("https://127.0.0.1:8443", "/tmp/x", "", true),
       "--cert-manager issues the certificate into the cluster"},
      {"bad url", Opts("ftp://x", "/tmp/x"), "--webhook-url \"ftp://x\""},
      {"image with space", Opts("", "", "reg/img :1"), "is not an image reference"},
      {"image ending in colon", Opts("", "", "reg/img:"), "is not an image reference"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Status s = install::Validate(c.options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find(c.want), std::string::npos) << s.message();
  }
  EXPECT_TRUE(install::Validate({}).ok());
  EXPECT_TRUE(install::Validate(Opts("", "", "ghcr.io/x/y@sha256:abc")).ok());
}

// ---- certificates ----------------------------------------------------------------------------

TEST(InstallCertificatesTest, ServeTheServiceNamesOrTheUrlHost) {
  struct Case {
    install::Options options;
    std::vector<std::string> dns;
    std::vector<std::string> ips;
  };
  const Case cases[] = {
      {{},
       {"kubectl-dr-webhook.kubectl-dr-system.svc", "kubectl-dr-webhook.kubectl-dr-system.svc.cluster.local",
        "kubectl-dr-webhook.kubectl-dr-system", "kubectl-dr-webhook"},
       {}},
      {Opts("https://127.0.0.1:8443", "d"), {}, {"127.0.0.1"}},
      {Opts("https://[::1]:8443", "d"), {}, {"::1"}},
      {Opts("https://dr-webhook.lab:8443", "d"), {"dr-webhook.lab"}, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.options.webhook_url);
    install::ServingNames n = install::ServingNamesFor(c.options);
    EXPECT_EQ(n.dns_names, c.dns);
    EXPECT_EQ(n.ip_addresses, c.ips);
    auto certs = install::MakeCertificates(c.options);
    ASSERT_TRUE(certs.ok()) << certs.status().message();
    EXPECT_EQ(install::WhyNotReusable(*certs, c.options), std::nullopt);
  }
}

TEST(InstallCertificatesTest, SaysWhyExistingOnesCannotBeReused) {
  install::Options ip = Opts("https://127.0.0.1:8443", "d");
  auto a = install::MakeCertificates(ip);
  auto b = install::MakeCertificates(ip);
  ASSERT_TRUE(a.ok() && b.ok());
  struct Case {
    const char* name;
    install::Certificates certs;
    install::Options options;
    const char* want;
  };
  const Case cases[] = {
      {"other host", *a, Opts("https://127.0.0.2:8443", "d"),
       "not valid for 127.0.0.2"},
      {"service names", *a, {}, "not valid for kubectl-dr-webhook.kubectl-dr-system.svc"},
      {"key of another pair", {a->ca_cert, a->tls_cert, b->tls_key}, ip, "tls.key does not match tls.crt"},
      {"other CA", {b->ca_cert, a->tls_cert, a->tls_key}, ip, "not signed by ca.crt"},
      {"garbage", {"x", a->tls_cert, a->tls_key}, ip, "ca.crt is not a PEM certificate"},
      {"no key", {a->ca_cert, a->tls_cert, ""}, ip, "tls.key is not a PEM private key"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto why = install::WhyNotReusable(c.certs, c.options);
    ASSERT_TRUE(why.has_value());
    EXPECT_NE(why->find(c.want), std::string::npos) << *why;
  }
}

// ---- rendering -------------------------------------------------------------------------------

const json* FindObject(const std::vector<json>& objects, const std::string& kind, const std::string& name) {
  for (const json& o : objects) {
    if (o.value("kind", "") == kind && o["metadata"].value("name", "") == name) return &o;
  }
  return nullptr;
}

std::vector<const json*> Webhooks(const std::vector<json>& objects) {
  std::vector<const json*> out;
  for (const json& o : objects) {
    if (o.value("kind", "").find("WebhookConfiguration") == std::string::npos) continue;
    for (const json& w : o["webhooks"]) out.push_back(&w);
  }
  return out;
}

TEST(InstallRenderTest, InClusterAddsTheTlsSecretAndTrustsItsCa) {
  install::Options o = Opts("", "", "registry.example/kdr/webhook:v9");
  auto certs = install::MakeCertificates(o);
  ASSERT_TRUE(certs.ok());
  auto objects = install::Render(o, &*certs);
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  const json* secret = FindObject(*objects, "Secret", "kubectl-dr-webhook-tls");
  ASSERT_NE(secret, nullptr);
  EXPECT_EQ((*secret)["type"], "kubernetes.io/tls");
  EXPECT_EQ((*secret)["metadata"]["namespace"], "kubectl-dr-system");
  EXPECT_EQ(*Base64Decode((*secret)["data"]["tls.key"].get<std::string>(), "k"), certs->tls_key);
  EXPECT_EQ(*Base64Decode((*secret)["data"]["ca.crt"].get<std::string>(), "k"), certs->ca_cert);
  auto hooks = Webhooks(*objects);
  ASSERT_EQ(hooks.size(), 5u);
  for (const json* w : hooks) {
    SCOPED_TRACE((*w)["name"].get<std::string>());
    EXPECT_EQ((*w)["clientConfig"]["caBundle"], Base64Encode(certs->ca_cert));
    EXPECT_EQ((*w)["clientConfig"]["service"]["name"], "kubectl-dr-webhook");
    EXPECT_FALSE((*w)["clientConfig"].contains("url"));
  }
  const json* d = FindObject(*objects, "Deployment", "kubectl-dr-webhook");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/kdr/webhook:v9");
  EXPECT_NE(FindObject(*objects, "Service", "kubectl-dr-webhook"), nullptr);
  EXPECT_NE(FindObject(*objects, "PodDisruptionBudget", "kubectl-dr-webhook"), nullptr);
  // Namespace first, CRDs next, webhook configurations last.
  EXPECT_EQ(objects->front()["kind"], "Namespace");
  EXPECT_EQ((*objects)[1]["kind"], "CustomResourceDefinition");
  EXPECT_EQ(objects->back()["kind"], "ValidatingWebhookConfiguration");
  EXPECT_EQ((*objects)[objects->size() - 2]["kind"], "MutatingWebhookConfiguration");
}

TEST(InstallRenderTest, WebhookUrlPointsEveryWebhookOutsideAndDeploysNothing) {
  install::Options o = Opts("https://127.0.0.1:18443/", "d");
  auto certs = install::MakeCertificates(o);
  ASSERT_TRUE(certs.ok());
  auto objects = install::Render(o, &*certs);
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  for (const char* kind : {"Deployment", "Service", "PodDisruptionBudget", "Secret"}) {
    EXPECT_EQ(FindObject(*objects, kind, kind == std::string("Secret") ? "kubectl-dr-webhook-tls"
                                                                        : "kubectl-dr-webhook"),
              nullptr)
        << kind;
  }
  EXPECT_NE(FindObject(*objects, "CustomResourceDefinition", "drplans.dr.kubectl-dr.dev"), nullptr);
  std::set<std::string> urls;
  for (const json* w : Webhooks(*objects)) {
    EXPECT_FALSE((*w)["clientConfig"].contains("service"));
    EXPECT_EQ((*w)["clientConfig"]["caBundle"], Base64Encode(certs->ca_cert));
    urls.insert((*w)["clientConfig"]["url"].get<std::string>());
  }
  EXPECT_EQ(urls, (std::set<std::string>{"https://127.0.0.1:18443/validate", "https://127.0.0.1:18443/mutate"}));
}

TEST(InstallRenderTest, CertManagerLeavesCertificatesToIt) {
  auto objects = install::Render(Opts("", "", "", true), nullptr);
  ASSERT_TRUE(objects.ok()) << objects.status().message();
  EXPECT_EQ(FindObject(*objects, "Secret", "kubectl-dr-webhook-tls"), nullptr);
  EXPECT_NE(FindObject(*objects, "Certificate", "kubectl-dr-webhook"), nullptr);
  for (const char* kind : {"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"}) {
    const json* c = FindObject(*objects, kind, "kubectl-dr-webhook");
    ASSERT_NE(c, nullptr) << kind;
    EXPECT_EQ((*c)["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
              "kubectl-dr-system/kubectl-dr-webhook");
  }
  for (const json* w : Webhooks(*objects)) EXPECT_FALSE((*w)["clientConfig"].contains("caBundle"));
}

TEST(InstallRenderTest, UninstallRemovesTheWebhookConfigurationsFirstAndKeepsCrdsUnlessAsked) {
  auto keep = install::UninstallObjects(false);
  ASSERT_TRUE(keep.ok()) << keep.status().message();
  ASSERT_GE(keep->size(), 3u);
  EXPECT_EQ((*keep)[0]["kind"], "ValidatingWebhookConfiguration");
  EXPECT_EQ((*keep)[1]["kind"], "MutatingWebhookConfiguration");
  EXPECT_EQ(FindObject(*keep, "CustomResourceDefinition", "drplans.dr.kubectl-dr.dev"), nullptr);
  EXPECT_EQ(FindObject(*keep, "Namespace", "kubectl-dr-system"), nullptr);
  EXPECT_NE(FindObject(*keep, "Secret", "kubectl-dr-webhook-tls"), nullptr);
  EXPECT_NE(FindObject(*keep, "Certificate", "kubectl-dr-webhook"), nullptr);
  EXPECT_NE(FindObject(*keep, "Deployment", "kubectl-dr-webhook"), nullptr);
  auto all = install::UninstallObjects(true);
  ASSERT_TRUE(all.ok());
  EXPECT_NE(FindObject(*all, "CustomResourceDefinition", "drplans.dr.kubectl-dr.dev"), nullptr);
  EXPECT_EQ(FindObject(*all, "Namespace", "kubectl-dr-system"), nullptr);
  EXPECT_EQ((*all)[0]["kind"], "ValidatingWebhookConfiguration");
}

// ---- the commands against kubesim ------------------------------------------------------------

using plugin::testing::CliRun;

class InstallCliTest : public plugin::testing::PluginOnKubesimTest {
 protected:
  Result<json> Get(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    return client_->Get(gvr, ns, name);
  }
  bool Exists(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    return Get(gvr, ns, name).ok();
  }
  std::string CaBundle(const std::string& kind_resource) {
    auto c = Get({"admissionregistration.k8s.io", "v1", kind_resource}, "", "kubectl-dr-webhook");
    EXPECT_TRUE(c.ok()) << kind_resource;
    return c.ok() ? (*c)["webhooks"][0]["clientConfig"].value("caBundle", "") : "";
  }

  const kube::Gvr kSecrets{"", "v1", "secrets"};
  const kube::Gvr kNamespaces{"", "v1", "namespaces"};
  const kube::Gvr kDeployments{"apps", "v1", "deployments"};
  const kube::Gvr kCrds{"apiextensions.k8s.io", "v1", "customresourcedefinitions"};
  const kube::Gvr kValidating{"admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"};
  const kube::Gvr kMutating{"admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations"};

};

TEST_F(InstallCliTest, InstallsInClusterAndReRunsKeepingTheCa) {
  CliRun r = Run({"install", "--image", "registry.example/kdr/webhook:v9"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("namespace/kubectl-dr-system serverside-applied"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("secret/kubectl-dr-webhook-tls serverside-applied"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("rollout status deployment/kubectl-dr-webhook"), std::string::npos) << r.err;
  auto secret = Get(kSecrets, "kubectl-dr-system", "kubectl-dr-webhook-tls");
  ASSERT_TRUE(secret.ok());
  std::string ca = (*secret)["data"]["ca.crt"];
  EXPECT_EQ(CaBundle("validatingwebhookconfigurations"), ca);
  EXPECT_EQ(CaBundle("mutatingwebhookconfigurations"), ca);
  auto d = Get(kDeployments, "kubectl-dr-system", "kubectl-dr-webhook");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)["spec"]["template"]["spec"]["containers"][0]["image"], "registry.example/kdr/webhook:v9");
  EXPECT_TRUE(Exists(kCrds, "", "drrecoveries.dr.kubectl-dr.dev"));

  CliRun again = Run({"install"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("reusing the webhook certificates in secret kubectl-dr-system/kubectl-dr-webhook-tls"),
            std::string::npos)
      << again.err;
  EXPECT_EQ(CaBundle("validatingwebhookconfigurations"), ca);
  EXPECT_EQ((*Get(kSecrets, "kubectl-dr-system", "kubectl-dr-webhook-tls"))["data"]["ca.crt"], ca);
}

TEST_F(InstallCliTest, WebhookUrlWritesTheCertDirAndPointsTheConfigurationsAtIt) {
  std::string certs = dir_.path() + "/certs";
  CliRun r = Run({"install", "--webhook-url", "https://127.0.0.1:18443", "--cert-dir", certs});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("kubectl-dr-webhook --listen 127.0.0.1:18443 --tls-cert " + certs + "/tls.crt --tls-key " +
                       certs + "/tls.key"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out.find("deployment"), std::string::npos) << r.out;
  EXPECT_FALSE(Exists(kDeployments, "kubectl-dr-system", "kubectl-dr-webhook"));
  EXPECT_FALSE(Exists(kSecrets, "kubectl-dr-system", "kubectl-dr-webhook-tls"));
  struct stat st{};
  ASSERT_EQ(::stat((certs + "/tls.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto ca = fs_.ReadFile(certs + "/ca.crt");
  auto cert = fs_.ReadFile(certs + "/tls.crt");
  auto key = fs_.ReadFile(certs + "/tls.key");
  ASSERT_TRUE(ca.ok() && cert.ok() && key.ok());
  install::Options o = Opts("https://127.0.0.1:18443", certs);
  EXPECT_EQ(install::WhyNotReusable({*ca, *cert, *key}, o), std::nullopt);
  EXPECT_EQ(CaBundle("validatingwebhookconfigurations"), Base64Encode(*ca));
  auto v = Get(kValidating, "", "kubectl-dr-webhook");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ((*v)["webhooks"][0]["clientConfig"]["url"], "https://127.0.0.1:18443/validate");
  auto m = Get(kMutating, "", "kubectl-dr-webhook");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)["webhooks"][0]["clientConfig"]["url"], "https://127.0.0.1:18443/mutate");

  // Idempotent: the files a running webhook uses are kept.
  CliRun again = Run({"install", "--webhook-url", "https://127.0.0.1:18443", "--cert-dir", certs});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.err.find("reusing the webhook certificates in " + certs), std::string::npos) << again.err;
  EXPECT_EQ(*fs_.ReadFile(certs + "/tls.key"), *key);

  // Another host needs another certificate.
  CliRun moved = Run({"install", "--webhook-url", "https://127.0.0.2:18443", "--cert-dir", certs});
  ASSERT_EQ(moved.code, 0) << moved.err;
  EXPECT_NE(moved.err.find("replacing the webhook certificates in " + certs +
                           ": the serving certificate is not valid for 127.0.0.2"),
            std::string::npos)
      << moved.err;
  EXPECT_NE(*fs_.ReadFile(certs + "/ca.crt"), *ca);
  EXPECT_EQ(CaBundle("validatingwebhookconfigurations"), Base64Encode(*fs_.ReadFile(certs + "/ca.crt")));
}

TEST_F(InstallCliTest, DryRunPrintsTheObjectsAndChangesNothing) {
  std::string certs = dir_.path() + "/certs";
  CliRun r = Run({"install", "--dry-run", "-o", "yaml", "--webhook-url", "https://127.0.0.1:18443",
                  "--cert-dir", certs});
  ASSERT_EQ(r.code, 0) << r.err;
  auto list = YamlToJson(r.out, "output");
  ASSERT_TRUE(list.ok()) << list.status().message();
  EXPECT_EQ((*list)["kind"], "List");
  EXPECT_GE((*list)["items"].size(), 8u);
  EXPECT_EQ((*list)["items"].back()["kind"], "ValidatingWebhookConfiguration");
  EXPECT_NE(r.err.find("nothing was applied and nothing was written to " + certs), std::string::npos) << r.err;
  EXPECT_FALSE(fs_.Exists(certs));
  EXPECT_FALSE(Exists(kNamespaces, "", "kubectl-dr-system"));

  CliRun lines = Run({"install", "--dry-run"});
  ASSERT_EQ(lines.code, 0) << lines.err;
  EXPECT_NE(lines.out.find("deployment.apps/kubectl-dr-webhook serverside-applied (dry run)"), std::string::npos)
      << lines.out;
  CliRun as_json = Run({"install", "--dry-run", "--cert-manager", "-o", "json"});
  ASSERT_EQ(as_json.code, 0) << as_json.err;
  EXPECT_EQ(json::parse(as_json.out)["kind"], "List");
  EXPECT_FALSE(Exists(kNamespaces, "", "kubectl-dr-system"));
}

TEST_F(InstallCliTest, BadFlagsExitTwoBeforeAnyWrite) {
  std::string certs = dir_.path() + "/certs";
  std::string file = dir_.Write("not-a-dir", "x");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* want;
  };
  const Case cases[] = {
      {"url without cert dir", {"install", "--webhook-url", "https://127.0.0.1:1"}, "--webhook-url needs --cert-dir"},
      {"plain http", {"install", "--webhook-url", "http://127.0.0.1:1", "--cert-dir", certs}, "is plain HTTP"},
      {"image with url",
       {"install", "--webhook-url", "https://127.0.0.1:1", "--cert-dir", certs, "--image", "a/b:c"},
       "--image sets the in-cluster Deployment's image"},
      {"cert dir alone", {"install", "--cert-dir", certs}, "--cert-dir is only used with --webhook-url"},
      {"output without dry run", {"install", "-o", "yaml"}, "needs --dry-run"},
      {"table output", {"install", "--dry-run", "-o", "wide"}, "use -o yaml or -o json"},
      {"cert dir is a file", {"install", "--webhook-url", "https://127.0.0.1:1", "--cert-dir", file},
       "is a file, not a directory"},
      {"uninstall output", {"uninstall", "-o", "yaml"}, "-o is not supported by uninstall"},
      {"unknown flag", {"install", "--webhook", "x"}, "--webhook"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CliRun r = Run(c.args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  EXPECT_FALSE(fs_.Exists(certs));
  EXPECT_FALSE(Exists(kNamespaces, "", "kubectl-dr-system"));
}

TEST_F(InstallCliTest, CertManagerMissingFailsBeforeAnyWrite) {
  CliRun r = Run({"install", "--cert-manager"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("--cert-manager: the cluster of context \"sim\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not serve cert-manager.io/v1 Issuer: install cert-manager first"), std::string::npos)
      << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(Exists(kNamespaces, "", "kubectl-dr-system"));
}

TEST_F(InstallCliTest, UnreachableClusterFailsBeforeAnyWrite) {
  server_->Stop();
  std::string certs = dir_.path() + "/certs";
  CliRun r = Run({"install", "--webhook-url", "https://127.0.0.1:18443", "--cert-dir", certs});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("cannot reach the cluster of context \"sim\""), std::string::npos) << r.err;
  EXPECT_FALSE(fs_.Exists(certs));
  CliRun u = Run({"uninstall"});
  EXPECT_EQ(u.code, 1);
  EXPECT_NE(u.err.find("cannot reach the cluster"), std::string::npos) << u.err;
}

TEST_F(InstallCliTest, UninstallRemovesTheWebhookFirstAndKeepsPlansUnlessAsked) {
  ASSERT_EQ(Run({"install"}).code, 0);
  CliRun r = Run({"uninstall"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> lines = Split(TrimSpace(r.out), '\n');
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], "validatingwebhookconfiguration.admissionregistration.k8s.io/kubectl-dr-webhook deleted");
  EXPECT_EQ(lines[1], "mutatingwebhookconfiguration.admissionregistration.k8s.io/kubectl-dr-webhook deleted");
  EXPECT_NE(r.out.find("deployment.apps/kubectl-dr-webhook deleted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("secret/kubectl-dr-webhook-tls deleted"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("kept the DRPlan and DRRecovery CRDs"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--delete-crds"), std::string::npos) << r.err;
  EXPECT_FALSE(Exists(kValidating, "", "kubectl-dr-webhook"));
  EXPECT_FALSE(Exists(kDeployments, "kubectl-dr-system", "kubectl-dr-webhook"));
  EXPECT_TRUE(Exists(kCrds, "", "drplans.dr.kubectl-dr.dev"));
  EXPECT_TRUE(Exists(kNamespaces, "", "kubectl-dr-system"));

  CliRun again = Run({"uninstall"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(again.out.empty()) << again.out;

  ASSERT_EQ(Run({"uninstall", "--delete-crds"}).code, 0);
  CliRun gone = Run({"uninstall"});
  EXPECT_EQ(gone.code, 0) << gone.err;
  EXPECT_NE(gone.err.find("(0 objects deleted)\n"), std::string::npos) << gone.err;
  EXPECT_EQ(gone.err.find("kept the DRPlan"), std::string::npos) << gone.err;
}

TEST_F(InstallCliTest, UninstallDeleteCrdsKeepsANamespaceHoldingPvcs) {
  ASSERT_EQ(Run({"install"}).code, 0);
  json pvc = {{"apiVersion", "v1"},
              {"kind", "PersistentVolumeClaim"},
              {"metadata", {{"name", "shop-inventory"}, {"namespace", "kubectl-dr-system"}}},
              {"spec",
               {{"accessModes", {"ReadWriteOnce"}}, {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}};
  ASSERT_TRUE(client_->Create({"", "v1", "persistentvolumeclaims"}, "kubectl-dr-system", pvc).ok());
  CliRun r = Run({"uninstall", "--delete-crds"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("customresourcedefinition.apiextensions.k8s.io/drplans.dr.kubectl-dr.dev deleted"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("kept namespace kubectl-dr-system: it holds 1 PersistentVolumeClaim"), std::string::npos)
      << r.err;
  EXPECT_FALSE(Exists(kCrds, "", "drplans.dr.kubectl-dr.dev"));
  EXPECT_TRUE(Exists(kNamespaces, "", "kubectl-dr-system"));

  ASSERT_TRUE(client_->Delete({"", "v1", "persistentvolumeclaims"}, "kubectl-dr-system", "shop-inventory").ok());
  // The claim carries kubernetes.io/pvc-protection (StorageObjectInUseProtection); with no
  // controllers in this cluster, lift it as kube-controller-manager's pvc-protection controller
  // does for a claim no pod uses, so the claim is gone.
  ASSERT_TRUE(client_->Patch({"", "v1", "persistentvolumeclaims"}, "kubectl-dr-system", "shop-inventory",
                             kube::PatchType::kMergePatch, {{"metadata", {{"finalizers", nullptr}}}})
                  .ok());
  CliRun again = Run({"uninstall", "--delete-crds"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("namespace/kubectl-dr-system deleted"), std::string::npos) << again.out;
}

}  // namespace
}  // namespace kdr
