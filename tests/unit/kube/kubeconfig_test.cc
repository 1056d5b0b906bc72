#include "kube/kubeconfig.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "kube/credentials.h"
#include "testutil/testutil.h"

namespace kdr::kube {
namespace {

using testutil::DataPath;
using testutil::ReadData;

class KubeconfigTest : public ::testing::Test {
 protected:
  KubeconfigTest() { env_ = Env{&clock_, &fs_, nullptr}; }

  // Paths with nothing set: tests opt in to KUBECONFIG, HOME or in-cluster.
  ConfigPaths NoPaths() const {
    ConfigPaths p;
    p.in_cluster_dir = tmp_.path() + "/no-serviceaccount";
    return p;
  }

  Result<RestConfig> LoadExplicit(const std::string& fixture, const std::string& context = "",
                                  const std::string& ns = "") {
    ConfigOverrides o;
    o.kubeconfig = DataPath("kubeconfig/" + fixture);
    o.context = context;
    o.namespace_name = ns;
    return LoadRestConfig(o, env_, NoPaths());
  }

  testutil::FakeClock clock_;
  PosixFileSystem fs_;
  Env env_;
  testutil::TempDir tmp_;
};

TEST_F(KubeconfigTest, ResolvesCurrentContextWithCaAndCertFilesRelativeToTheKubeconfig) {
  auto rc = LoadExplicit("basic.yaml");
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->context, "prod-east");
  EXPECT_EQ(rc->cluster_name, "prod-east");
  EXPECT_EQ(rc->user_name, "prod-admin");
  EXPECT_EQ(rc->server, "https://prod-east.example.com:6443");  // trailing slash dropped
  EXPECT_EQ(rc->tls_server_name, "api.prod-east.internal");
  EXPECT_EQ(rc->ca_pem, ReadData("kubeconfig/certs/ca.crt"));
  EXPECT_EQ(rc->client_cert_pem, ReadData("kubeconfig/certs/client.crt"));
  EXPECT_EQ(rc->client_key_pem, ReadData("kubeconfig/certs/client.key"));
  EXPECT_EQ(rc->namespace_name, "default");
  EXPECT_EQ(rc->source, DataPath("kubeconfig/basic.yaml"));
  EXPECT_FALSE(rc->exec.has_value());
  EXPECT_TRUE(rc->bearer_token.empty());
}

TEST_F(KubeconfigTest, ContextFlagSelectsContextWithDataFieldsTokenAndNamespace) {
  auto rc = LoadExplicit("basic.yaml", "dr-west");
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->server, "https://10.0.0.7:6443");
  EXPECT_EQ(rc->ca_pem, ReadData("kubeconfig/certs/ca.crt"));
  EXPECT_EQ(rc->client_cert_pem, ReadData("kubeconfig/certs/client.crt"));
  EXPECT_EQ(rc->client_key_pem, ReadData("kubeconfig/certs/client.key"));
  EXPECT_EQ(rc->bearer_token, "dr-static-token");
  EXPECT_EQ(rc->proxy_url, "http://proxy.example.com:3128");
  EXPECT_EQ(rc->namespace_name, "shop");
}

TEST_F(KubeconfigTest, NamespaceFlagOverridesContextNamespace) {
  auto rc = LoadExplicit("basic.yaml", "dr-west", "payments");
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->namespace_name, "payments");
}

TEST_F(KubeconfigTest, InsecureClusterWithTokenFileResolvesTheFilePath) {
  auto rc = LoadExplicit("basic.yaml", "lab");
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_TRUE(rc->insecure_skip_tls_verify);
  EXPECT_TRUE(rc->ca_pem.empty());
  EXPECT_EQ(rc->token_file, DataPath("kubeconfig/certs/../token"));
  EXPECT_EQ(rc->namespace_name, "sandbox");
}

TEST_F(KubeconfigTest, ListsContextNamesAndCurrentContext) {
  ConfigOverrides o;
  o.kubeconfig = DataPath("kubeconfig/basic.yaml");
  auto kc = LoadKubeconfig(o, env_, NoPaths());
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  EXPECT_EQ(kc->ContextNames(), (std::vector<std::string>{"dr-west", "lab", "prod-east"}));
  EXPECT_EQ(kc->current_context, "prod-east");
  EXPECT_EQ(kc->files, (std::vector<std::string>{o.kubeconfig}));
}

TEST_F(KubeconfigTest, KubeconfigListMergesFirstFileWinsAndSkipsMissingFiles) {
  ConfigPaths p = NoPaths();
  p.kubeconfig_env = tmp_.path() + "/missing.yaml:" + DataPath("kubeconfig/merge-first.yaml") +
                     "::" + DataPath("kubeconfig/merge-second.yaml");
  auto kc = LoadKubeconfig({}, env_, p);
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  EXPECT_EQ(kc->files.size(), 2u);
  EXPECT_EQ(kc->current_context, "east");  // merge-second's "west" loses
  EXPECT_EQ(kc->ContextNames(), (std::vector<std::string>{"east", "west"}));

  auto east = ResolveRestConfig(*kc, {}, env_);
  ASSERT_TRUE(east.ok()) << east.status().ToString();
  EXPECT_EQ(east->server, "https://first.example.com");  // whole entries: first file's cluster
  EXPECT_EQ(east->bearer_token, "first-token");
  EXPECT_EQ(east->namespace_name, "first-ns");
  EXPECT_EQ(east->source, DataPath("kubeconfig/merge-first.yaml"));

  ConfigOverrides west;
  west.context = "west";
  auto w = ResolveRestConfig(*kc, west, env_);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->server, "https://only-second.example.com");
  EXPECT_EQ(w->bearer_token, "first-token");  // the user of that name came from the first file
  EXPECT_EQ(w->source, DataPath("kubeconfig/merge-second.yaml"));
}

TEST_F(KubeconfigTest, KubeconfigListOrderDecidesTheWinner) {
  ConfigPaths p = NoPaths();
  p.kubeconfig_env =
      DataPath("kubeconfig/merge-second.yaml") + ":" + DataPath("kubeconfig/merge-first.yaml");
  auto rc = LoadRestConfig({}, env_, p);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->context, "west");
  EXPECT_EQ(rc->bearer_token, "second-token");
}

TEST_F(KubeconfigTest, ExplicitKubeconfigIgnoresKubeconfigList) {
  ConfigPaths p = NoPaths();
  p.kubeconfig_env = DataPath("kubeconfig/merge-first.yaml");
  ConfigOverrides o;
  o.kubeconfig = DataPath("kubeconfig/merge-second.yaml");
  auto rc = LoadRestConfig(o, env_, p);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->context, "west");
  EXPECT_EQ(rc->bearer_token, "second-token");
}

TEST_F(KubeconfigTest, FallsBackToHomeKubeConfigWhenKubeconfigUnset) {
  testutil::TempDir home;
  home.Write(".kube/config", ReadData("kubeconfig/merge-first.yaml"));
  ConfigPaths p = NoPaths();
  p.home = home.path();
  for (std::optional<std::string> kubeconfig_env :
       {std::optional<std::string>(), std::optional<std::string>("")}) {
    p.kubeconfig_env = kubeconfig_env;
    auto rc = LoadRestConfig({}, env_, p);
    ASSERT_TRUE(rc.ok()) << rc.status().ToString();
    EXPECT_EQ(rc->source, home.path() + "/.kube/config");
    EXPECT_EQ(rc->server, "https://first.example.com");
  }
}

TEST_F(KubeconfigTest, KubeconfigListSetShadowsHomeKubeConfig) {
  testutil::TempDir home;
  home.Write(".kube/config", ReadData("kubeconfig/merge-first.yaml"));
  ConfigPaths p = NoPaths();
  p.home = home.path();
  p.kubeconfig_env = DataPath("kubeconfig/merge-second.yaml");
  auto rc = LoadRestConfig({}, env_, p);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->context, "west");
}

TEST_F(KubeconfigTest, EmptyDocumentIsAnEmptyConfig) {
  for (const std::string& text :
       std::vector<std::string>{"", "# nothing\n", ReadData("kubeconfig/empty.yaml")}) {
    auto kc = ParseKubeconfig(text, "/x/config");
    ASSERT_TRUE(kc.ok()) << kc.status().ToString();
    EXPECT_TRUE(kc->empty());
  }
}

TEST_F(KubeconfigTest, ExecEntryIsParsedWithPathsAndClusterExtension) {
  std::string yaml = R"(
clusters:
- name: c
  cluster:
    server: https://c.example.com
    insecure-skip-tls-verify: true
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: kubectl-dr, region: eu}
users:
- name: u
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: ./bin/get-token
      args: [--cluster, c]
      env:
      - {name: AWS_PROFILE, value: prod}
      installHint: install it
      provideClusterInfo: true
contexts:
- {name: x, context: {cluster: c, user: u}}
current-context: x
)";
  auto kc = ParseKubeconfig(yaml, "/etc/kdr/config");
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  auto rc = ResolveRestConfig(*kc, {}, env_);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  ASSERT_TRUE(rc->exec.has_value());
  EXPECT_EQ(rc->exec->api_version, "client.authentication.k8s.io/v1beta1");
  EXPECT_EQ(rc->exec->command, "/etc/kdr/./bin/get-token");
  EXPECT_EQ(rc->exec->args, (std::vector<std::string>{"--cluster", "c"}));
  ASSERT_EQ(rc->exec->env.size(), 1u);
  EXPECT_EQ(rc->exec->env[0], (std::pair<std::string, std::string>{"AWS_PROFILE", "prod"}));
  EXPECT_TRUE(rc->exec->provide_cluster_info);
  EXPECT_EQ(rc->exec->interactive_mode, "IfAvailable");  // v1beta1's default
  EXPECT_EQ(rc->exec->install_hint, "install it");
  EXPECT_EQ(rc->exec->cluster_config_json, R"({"audience":"kubectl-dr","region":"eu"})");
}

TEST_F(KubeconfigTest, BareExecCommandIsLeftForPathLookup) {
  std::string yaml = R"(
users:
- name: u
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: gke-gcloud-auth-plugin, interactiveMode: Never}
)";
  auto kc = ParseKubeconfig(yaml, "/etc/kdr/config");
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  EXPECT_EQ(kc->users.at("u").exec->command, "gke-gcloud-auth-plugin");
  EXPECT_TRUE(kc->users.at("u").exec_error.empty());
}

// Every way of failing, each with its code and the words the user needs.
struct ErrorCase {
  const char* name;
  std::string fixture;  // under tests/data/kubeconfig/
  std::string context;
  StatusCode code;
  std::vector<std::string> want;
};

TEST_F(KubeconfigTest, BrokenConfigsFailWithOneLineErrorsNamingTheCulprit) {
  const std::string errors = DataPath("kubeconfig/errors.yaml");
  const ErrorCase cases[] = {
      {"missing explicit kubeconfig",
       "no-such-file.yaml",
       "",
       StatusCode::kNotFound,
       {DataPath("kubeconfig/no-such-file.yaml"), "--kubeconfig", "does not exist"}},
      {"kubeconfig is a directory",
       "certs",
       "",
       StatusCode::kInvalidArgument,
       {"cannot read kubeconfig", DataPath("kubeconfig/certs"), "is a directory"}},
      {"malformed yaml",
       "malformed.yaml",
       "",
       StatusCode::kInvalidArgument,
       {DataPath("kubeconfig/malformed.yaml"), "line 7, column 4"}},
      {"list of the wrong type",
       "wrong-type.yaml",
       "",
       StatusCode::kInvalidArgument,
       {DataPath("kubeconfig/wrong-type.yaml"), "clusters", "must be a list"}},
      {"duplicate context",
       "duplicate-context.yaml",
       "",
       StatusCode::kInvalidArgument,
       {"two entries named \"prod\""}},
      {"no current context",
       "no-current-context.yaml",
       "",
       StatusCode::kInvalidArgument,
       {"no current context", DataPath("kubeconfig/no-current-context.yaml"), "dr-west, prod-east",
        "--context"}},
      {"unknown context suggests nearest",
       "basic.yaml",
       "prod-eats",
       StatusCode::kNotFound,
       {"context \"prod-eats\" not found", DataPath("kubeconfig/basic.yaml"),
        "did you mean \"prod-east\"?"}},
      {"unknown context far from any",
       "basic.yaml",
       "staging",
       StatusCode::kNotFound,
       {"context \"staging\" not found"}},
      {"context without cluster",
       "errors.yaml",
       "no-cluster",
       StatusCode::kInvalidArgument,
       {"context \"no-cluster\"", errors, "names no cluster"}},
      {"context naming a missing cluster",
       "errors.yaml",
       "missing-cluster",
       StatusCode::kInvalidArgument,
       {"context \"missing-cluster\"", "cluster \"prod-east\"", "not defined", errors}},
      {"context naming a missing user",
       "errors.yaml",
       "missing-user",
       StatusCode::kInvalidArgument,
       {"user \"okk\"", "not defined", "did you mean \"ok\"?"}},
      {"bad base64 in certificate-authority-data",
       "errors.yaml",
       "bad-ca-base64",
       StatusCode::kInvalidArgument,
       {"certificate-authority-data", "cluster \"bad-ca-base64\"", errors, "not valid base64"}},
      {"certificate-authority-data not PEM",
       "errors.yaml",
       "ca-not-pem",
       StatusCode::kInvalidArgument,
       {"certificate-authority-data", "ca-not-pem", "PEM"}},
      {"missing CA file",
       "errors.yaml",
       "missing-ca-file",
       StatusCode::kNotFound,
       {"cluster \"missing-ca-file\"", DataPath("kubeconfig/certs/no-such-ca.crt"),
        "does not exist"}},
      {"cluster without server",
       "errors.yaml",
       "no-server",
       StatusCode::kInvalidArgument,
       {"cluster \"no-server\"", "has no server"}},
      {"insecure with a CA",
       "errors.yaml",
       "insecure-with-ca",
       StatusCode::kInvalidArgument,
       {"insecure-skip-tls-verify", "certificate authority"}},
      {"bad base64 in client-certificate-data",
       "errors.yaml",
       "bad-cert-base64",
       StatusCode::kInvalidArgument,
       {"client-certificate-data", "user \"bad-cert-base64\"", "not valid base64"}},
      {"bad base64 in client-key-data",
       "errors.yaml",
       "bad-key-base64",
       StatusCode::kInvalidArgument,
       {"client-key-data", "user \"bad-key-base64\"", "base64"}},
      {"missing client certificate file",
       "errors.yaml",
       "missing-cert-file",
       StatusCode::kNotFound,
       {"user \"missing-cert-file\"", DataPath("kubeconfig/certs/missing.crt"), "does not exist"}},
      {"missing client key file",
       "errors.yaml",
       "missing-key-file",
       StatusCode::kNotFound,
       {"client-key", "/nonexistent/dir/client.key", "does not exist"}},
      {"certificate without key",
       "errors.yaml",
       "cert-without-key",
       StatusCode::kInvalidArgument,
       {"user \"cert-without-key\"", "without its key"}},
      {"missing token file",
       "errors.yaml",
       "missing-token-file",
       StatusCode::kNotFound,
       {"tokenFile", DataPath("kubeconfig/secrets/token"), "does not exist"}},
      {"basic auth",
       "errors.yaml",
       "basic-auth",
       StatusCode::kInvalidArgument,
       {"user \"basic-auth\"", "basic auth", "exec credential plugin"}},
      {"gcp auth-provider",
       "errors.yaml",
       "gcp",
       StatusCode::kInvalidArgument,
       {"auth-provider \"gcp\"", "gke-gcloud-auth-plugin"}},
      {"azure auth-provider",
       "errors.yaml",
       "azure",
       StatusCode::kInvalidArgument,
       {"auth-provider \"azure\"", "kubelogin"}},
      {"oidc auth-provider",
       "errors.yaml",
       "oidc",
       StatusCode::kInvalidArgument,
       {"auth-provider \"oidc\"", "kubectl oidc-login"}},
      {"exec v1alpha1",
       "errors.yaml",
       "exec-alpha",
       StatusCode::kInvalidArgument,
       {"user \"exec-alpha\"", "v1alpha1", "not supported", "client.authentication.k8s.io/v1"}},
      {"exec without command",
       "errors.yaml",
       "exec-no-command",
       StatusCode::kInvalidArgument,
       {"exec.command is empty"}},
      {"exec v1 without interactiveMode",
       "errors.yaml",
       "exec-v1-no-interactive-mode",
       StatusCode::kInvalidArgument,
       {"interactiveMode is required"}},
  };
  for (const ErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    auto rc = LoadExplicit(c.fixture, c.context);
    ASSERT_FALSE(rc.ok());
    EXPECT_EQ(rc.status().code(), c.code) << rc.status().ToString();
    for (const std::string& w : c.want) {
      EXPECT_NE(rc.status().message().find(w), std::string::npos)
          << "want \"" << w << "\" in: " << rc.status().message();
    }
    EXPECT_EQ(rc.status().message().find('\n'), std::string::npos) << rc.status().message();
  }
}

TEST_F(KubeconfigTest, DanglingCurrentContextSaysHowToFixIt) {
  auto kc = ParseKubeconfig("current-context: gone\ncontexts: []\n", "/x/config");
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  auto rc = ResolveRestConfig(*kc, {}, env_);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(
      rc.status().message(),
      "current-context \"gone\" not found in kubeconfig /x/config; fix it with kubectl config "
      "use-context NAME");
}

TEST_F(KubeconfigTest, AGoodContextStillResolvesBesideBrokenOnes) {
  ConfigOverrides o;
  o.kubeconfig = DataPath("kubeconfig/errors.yaml");
  o.context = "fine";
  auto kc = LoadKubeconfig(o, env_, NoPaths());
  ASSERT_TRUE(kc.ok()) << kc.status().ToString();
  EXPECT_EQ(kc->contexts.size(), 22u);
  // Unlike kubectl, which refuses the whole file over one bad base64 field, only the broken
  // contexts fail: a DR tool must still reach the cluster that works.
  auto rc = ResolveRestConfig(*kc, o, env_);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->bearer_token, "ok-token");
  EXPECT_EQ(rc->ca_pem, ReadData("kubeconfig/certs/ca.crt"));
}

TEST_F(KubeconfigTest, BrokenFileInKubeconfigListIsAnErrorNamingIt) {
  ConfigPaths p = NoPaths();
  p.kubeconfig_env =
      DataPath("kubeconfig/merge-first.yaml") + ":" + DataPath("kubeconfig/malformed.yaml");
  auto kc = LoadKubeconfig({}, env_, p);
  ASSERT_FALSE(kc.ok());
  EXPECT_EQ(kc.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(kc.status().message().find(DataPath("kubeconfig/malformed.yaml")), std::string::npos);
}

TEST_F(KubeconfigTest, UnreadableKubeconfigIsPermissionDenied) {
  if (::geteuid() == 0)
    GTEST_SKIP() << "root reads any file; PermissionDeniedOnKubeconfig... covers it";
  std::string path = tmp_.Write("config", ReadData("kubeconfig/merge-first.yaml"), 0000);
  ConfigOverrides o;
  o.kubeconfig = path;
  auto rc = LoadRestConfig(o, env_, NoPaths());
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(rc.status().message().find(path), std::string::npos);
}

// A FileSystem refusing to read one path, as a 0600 file of another user does (tests may run as
// root, which reads anything).
class DenyingFileSystem final : public FileSystem {
 public:
  explicit DenyingFileSystem(std::string denied) : denied_(std::move(denied)) {}
  Result<std::string> ReadFile(const std::string& path) const override {
    if (path == denied_)
      return Status::PermissionDenied("cannot read " + path + ": Permission denied");
    return real_.ReadFile(path);
  }
  Status WriteFile(const std::string& path, std::string_view data, int mode) override {
    return real_.WriteFile(path, data, mode);
  }
  Result<FileInfo> Stat(const std::string& path) const override { return real_.Stat(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) const override {
    return real_.ListDir(path);
  }
  Status MakeDirs(const std::string& path, int mode) override { return real_.MakeDirs(path, mode); }
  Status Remove(const std::string& path) override { return real_.Remove(path); }

 private:
  PosixFileSystem real_;
  std::string denied_;
};

TEST_F(KubeconfigTest, PermissionDeniedOnKubeconfigOrReferencedFileNamesTheFile) {
  struct Case {
    const char* name;
    std::string denied;
    std::string kubeconfig_env;  // KUBECONFIG list
    std::string context;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"kubeconfig in the list",
       DataPath("kubeconfig/merge-second.yaml"),
       DataPath("kubeconfig/merge-first.yaml") + ":" + DataPath("kubeconfig/merge-second.yaml"),
       "",
       {"cannot read kubeconfig", DataPath("kubeconfig/merge-second.yaml"), "Permission denied"}},
      {"CA file",
       DataPath("kubeconfig/certs/ca.crt"),
       DataPath("kubeconfig/basic.yaml"),
       "",
       {"cluster \"prod-east\"", "cannot read certificate-authority",
        DataPath("kubeconfig/certs/ca.crt"), "Permission denied"}},
      {"client key file",
       DataPath("kubeconfig/certs/client.key"),
       DataPath("kubeconfig/basic.yaml"),
       "",
       {"user \"prod-admin\"", "cannot read client-key", "Permission denied"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    DenyingFileSystem fs(c.denied);
    Env env{&clock_, &fs, nullptr};
    ConfigPaths p = NoPaths();
    p.kubeconfig_env = c.kubeconfig_env;
    ConfigOverrides o;
    o.context = c.context;
    auto rc = LoadRestConfig(o, env, p);
    ASSERT_FALSE(rc.ok());
    EXPECT_EQ(rc.status().code(), StatusCode::kPermissionDenied) << rc.status().ToString();
    for (const std::string& w : c.want) {
      EXPECT_NE(rc.status().message().find(w), std::string::npos)
          << "want \"" << w << "\" in: " << rc.status().message();
    }
  }
}

TEST_F(KubeconfigTest, NothingConfiguredIsNotFoundSayingWhatWasTried) {
  ConfigPaths p = NoPaths();
  p.home = tmp_.path();
  auto rc = LoadRestConfig({}, env_, p);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kNotFound);
  EXPECT_NE(rc.status().message().find(tmp_.path() + "/.kube/config does not exist"),
            std::string::npos)
      << rc.status().message();
  EXPECT_NE(rc.status().message().find("--kubeconfig"), std::string::npos);

  p.kubeconfig_env = tmp_.path() + "/a:" + tmp_.path() + "/b";
  rc = LoadRestConfig({}, env_, p);
  ASSERT_FALSE(rc.ok());
  EXPECT_NE(rc.status().message().find("KUBECONFIG=" + *p.kubeconfig_env), std::string::npos)
      << rc.status().message();
}

// --- in-cluster ---

class InClusterTest : public KubeconfigTest {
 protected:
  ConfigPaths PodPaths() {
    ConfigPaths p = NoPaths();
    p.in_cluster_dir = sa_.path();
    p.service_host = "10.96.0.1";
    p.service_port = "443";
    return p;
  }
  void WriteServiceAccount(const std::string& ns = "shop\n") {
    sa_.Write("token", "sa-token-1\n");
    sa_.Write("ca.crt", ReadData("kubeconfig/certs/ca.crt"));
    if (!ns.empty()) sa_.Write("namespace", ns);
  }
  testutil::TempDir sa_;
};

TEST_F(InClusterTest, UsesServiceAccountWhenNoKubeconfig) {
  WriteServiceAccount();
  auto rc = LoadRestConfig({}, env_, PodPaths());
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->server, "https://10.96.0.1:443");
  EXPECT_EQ(rc->source, "in-cluster");
  EXPECT_EQ(rc->token_file, sa_.path() + "/token");
  EXPECT_EQ(rc->ca_pem, ReadData("kubeconfig/certs/ca.crt"));
  EXPECT_EQ(rc->namespace_name, "shop");
}

TEST_F(InClusterTest, ServiceAccountTokenIsRereadWhenTheKubeletRotatesIt) {
  WriteServiceAccount();
  auto rc = LoadRestConfig({}, env_, PodPaths());
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  auto provider = MakeCredentialProvider(*rc, env_);
  auto c = provider->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "sa-token-1");
  EXPECT_EQ(provider->Get(false)->bearer_token, "sa-token-1");

  sa_.Write("token", "sa-token-2-longer\n");  // replaced by rename, as the kubelet does
  c = provider->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "sa-token-2-longer");
}

TEST_F(InClusterTest, NamespaceFlagWinsAndMissingNamespaceFileMeansDefault) {
  WriteServiceAccount("");
  auto rc = LoadRestConfig({}, env_, PodPaths());
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->namespace_name, "default");
  ConfigOverrides o;
  o.namespace_name = "payments";
  rc = LoadRestConfig(o, env_, PodPaths());
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->namespace_name, "payments");
}

TEST_F(InClusterTest, Ipv6ServiceHostIsBracketed) {
  WriteServiceAccount();
  ConfigPaths p = PodPaths();
  p.service_host = "fd00::1";
  auto rc = LoadRestConfig({}, env_, p);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->server, "https://[fd00::1]:443");
}

TEST_F(InClusterTest, EmptyKubeconfigFallsBackToInCluster) {
  WriteServiceAccount();
  ConfigOverrides o;
  o.kubeconfig = DataPath("kubeconfig/empty.yaml");
  auto rc = LoadRestConfig(o, env_, PodPaths());
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->source, "in-cluster");
}

TEST_F(InClusterTest, ContextFlagIsNotSatisfiedByInCluster) {
  WriteServiceAccount();
  ConfigOverrides o;
  o.context = "prod";
  auto rc = LoadRestConfig(o, env_, PodPaths());
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kNotFound);
  EXPECT_NE(rc.status().message().find("context \"prod\" not found"), std::string::npos);
}

TEST_F(InClusterTest, KubeconfigWinsOverInCluster) {
  WriteServiceAccount();
  ConfigPaths p = PodPaths();
  p.kubeconfig_env = DataPath("kubeconfig/merge-first.yaml");
  auto rc = LoadRestConfig({}, env_, p);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(rc->server, "https://first.example.com");
}

TEST_F(InClusterTest, NotPossibleWithoutServiceEnvOrToken) {
  WriteServiceAccount();
  ConfigPaths p = PodPaths();
  p.service_port = "";
  EXPECT_FALSE(InClusterPossible(env_, p));
  auto rc = InClusterRestConfig({}, env_, p);
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kNotFound);
  EXPECT_NE(rc.status().message().find("KUBERNETES_SERVICE_PORT"), std::string::npos);

  testutil::TempDir empty_sa;
  p = PodPaths();
  p.in_cluster_dir = empty_sa.path();
  EXPECT_FALSE(InClusterPossible(env_, p));
  rc = InClusterRestConfig({}, env_, p);
  ASSERT_FALSE(rc.ok());
  EXPECT_NE(rc.status().message().find(empty_sa.path() + "/token"), std::string::npos);
}

TEST_F(InClusterTest, MissingCaIsAnErrorNamingTheFile) {
  sa_.Write("token", "t");
  auto rc = LoadRestConfig({}, env_, PodPaths());
  ASSERT_FALSE(rc.ok());
  EXPECT_EQ(rc.status().code(), StatusCode::kNotFound);
  EXPECT_NE(rc.status().message().find(sa_.path() + "/ca.crt"), std::string::npos)
      << rc.status().message();
}

// Conformance: what real kubectl resolves (`kubectl config view --minify`) is what we resolve.
TEST_F(KubeconfigTest, ResolvesTheSameContextClusterUserAndNamespaceAsRealKubectl) {
  const std::string kubectl = "/usr/bin/kubectl";
  if (!fs_.Exists(kubectl)) GTEST_SKIP() << "no kubectl at " << kubectl;
  const std::string first = DataPath("kubeconfig/merge-first.yaml");
  const std::string second = DataPath("kubeconfig/merge-second.yaml");
  struct Case {
    std::string explicit_path;
    std::string kubeconfig_env;
    std::string context;
  };
  const Case cases[] = {
      {DataPath("kubeconfig/basic.yaml"), "", ""},
      {DataPath("kubeconfig/basic.yaml"), "", "dr-west"},
      {DataPath("kubeconfig/basic.yaml"), "", "lab"},
      {"", first + ":" + second, ""},
      {"", first + ":" + second, "west"},
      {"", second + ":" + first, ""},
      {"", second + ":" + first, "east"},
      {"", tmp_.path() + "/missing:" + second, "east"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.explicit_path + " KUBECONFIG=" + c.kubeconfig_env + " --context=" + c.context);
    std::string cmd = "env -i HOME=" + tmp_.path() + " KUBECONFIG=" + c.kubeconfig_env + " " +
                      kubectl + " config view --minify --raw -o json";
    if (!c.explicit_path.empty()) cmd += " --kubeconfig " + c.explicit_path;
    if (!c.context.empty()) cmd += " --context " + c.context;
    std::string out;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
    ASSERT_EQ(::pclose(pipe), 0) << cmd;
    nlohmann::json want = nlohmann::json::parse(out);

    ConfigOverrides o;
    o.kubeconfig = c.explicit_path;
    o.context = c.context;
    ConfigPaths p = NoPaths();
    p.kubeconfig_env = c.kubeconfig_env;
    auto rc = LoadRestConfig(o, env_, p);
    ASSERT_TRUE(rc.ok()) << rc.status().ToString();

    const nlohmann::json& ctx = want["contexts"][0];
    const nlohmann::json& cluster = want["clusters"][0];
    const nlohmann::json& user = want["users"][0];
    EXPECT_EQ(rc->context, want["current-context"].get<std::string>());
    EXPECT_EQ(rc->cluster_name, ctx["context"]["cluster"].get<std::string>());
    EXPECT_EQ(rc->user_name, ctx["context"]["user"].get<std::string>());
    EXPECT_EQ(rc->namespace_name, ctx["context"].value("namespace", "default"));
    std::string server = cluster["cluster"]["server"];
    if (server.back() == '/') server.pop_back();
    EXPECT_EQ(rc->server, server);
    EXPECT_EQ(rc->tls_server_name, cluster["cluster"].value("tls-server-name", ""));
    EXPECT_EQ(rc->insecure_skip_tls_verify,
              cluster["cluster"].value("insecure-skip-tls-verify", false));
    EXPECT_EQ(rc->bearer_token, user["user"].value("token", ""));
  }
}

TEST(KubeconfigPathsTest, FromEnvironmentReadsTheProcessEnvironment) {
  ConfigPaths p = ConfigPaths::FromEnvironment();
  const char* home = std::getenv("HOME");
  EXPECT_EQ(p.home, home ? home : "");
  EXPECT_EQ(p.in_cluster_dir, ConfigPaths::kDefaultInClusterDir);
}

// kubesim's node runs agent pods as local processes: the token cannot be where a kubelet mounts it.
TEST(KubeconfigPathsTest, ServiceAccountDirectoryCanBeNamedInTheEnvironment) {
  ASSERT_EQ(setenv("KUBECTL_DR_SERVICEACCOUNT_DIR", "/tmp/pod-1/serviceaccount", 1), 0);
  ConfigPaths p = ConfigPaths::FromEnvironment();
  unsetenv("KUBECTL_DR_SERVICEACCOUNT_DIR");
  EXPECT_EQ(p.in_cluster_dir, "/tmp/pod-1/serviceaccount");
}

}  // namespace
}  // namespace kdr::kube
