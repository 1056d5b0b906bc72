#include "kube/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "kube/exec_credential.h"
#include "kube/kubeconfig.h"
#include "testutil/testutil.h"

namespace kdr::kube {
namespace {

class CredentialProviderTest : public ::testing::Test {
 protected:
  CredentialProviderTest() { env_ = Env{&clock_, &fs_, nullptr}; }
  testutil::FakeClock clock_;
  testutil::MemFileSystem fs_;
  Env env_;
};

TEST_F(CredentialProviderTest, StaticTokenAndClientCertificate) {
  RestConfig rc;
  rc.bearer_token = "static-token";
  rc.client_cert_pem = "CERT";
  rc.client_key_pem = "KEY";
  auto p = MakeCredentialProvider(rc, env_);
  for (bool force : {false, true}) {
    auto c = p->Get(force);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ(c->bearer_token, "static-token");
    EXPECT_EQ(c->client_cert_pem, "CERT");
    EXPECT_EQ(c->client_key_pem, "KEY");
    EXPECT_FALSE(c->expires.has_value());
  }
}

TEST_F(CredentialProviderTest, NoCredentialsIsAnonymous) {
  auto c = MakeCredentialProvider(RestConfig{}, env_)->Get(false);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->bearer_token.empty());
  EXPECT_TRUE(c->client_cert_pem.empty());
}

TEST_F(CredentialProviderTest, TokenFileIsTrimmedAndRereadWhenItRotates) {
  ASSERT_TRUE(fs_.WriteFile("/sa/token", "token-1\n").ok());
  RestConfig rc;
  rc.token_file = "/sa/token";
  rc.client_cert_pem = "CERT";
  rc.client_key_pem = "KEY";
  auto p = MakeCredentialProvider(rc, env_);
  auto c = p->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "token-1");
  EXPECT_EQ(c->client_cert_pem, "CERT");

  ASSERT_TRUE(fs_.WriteFile("/sa/token", "token-2").ok());  // kubelet rotated it
  c = p->Get(false);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->bearer_token, "token-2");
}

TEST_F(CredentialProviderTest, TokenFileStaticTokenIsTheFallbackWhenFileIsGone) {
  RestConfig rc;
  rc.token_file = "/sa/token";
  rc.bearer_token = "fallback";
  auto c = MakeCredentialProvider(rc, env_)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "fallback");
}

TEST_F(CredentialProviderTest, TokenFileErrorsNameTheFileAndUser) {
  RestConfig rc;
  rc.token_file = "/sa/token";
  rc.user_name = "robot";
  rc.source = "/home/me/.kube/config";
  auto p = MakeCredentialProvider(rc, env_);
  auto c = p->Get(false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("/sa/token"), std::string::npos);
  EXPECT_NE(c.status().message().find("does not exist"), std::string::npos);
  EXPECT_NE(c.status().message().find("user \"robot\""), std::string::npos);

  ASSERT_TRUE(fs_.WriteFile("/sa/token", " \n").ok());
  c = p->Get(true);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(c.status().message().find("is empty"), std::string::npos);
}

// --- exec credential plugins: real processes (shell scripts written per test) ---

constexpr char kV1[] = "client.authentication.k8s.io/v1";
constexpr char kV1beta1[] = "client.authentication.k8s.io/v1beta1";

class ExecCredentialTest : public ::testing::Test {
 protected:
  ExecCredentialTest() { env_ = Env{&clock_, &fs_, nullptr}; }

  // A plugin script in the temp dir; `body` runs under /bin/sh with $DIR set to the temp dir. Each
  // run appends a line to $DIR/count.
  std::string WritePlugin(const std::string& name, const std::string& body) {
    return tmp_.Write(
        name, "#!/bin/sh\nDIR='" + tmp_.path() + "'\necho run >> \"$DIR/count\"\n" + body, 0755);
  }
  // A plugin printing an ExecCredential whose token is "token-<run number>".
  std::string WriteTokenPlugin(const std::string& api_version, const std::string& expiry = "") {
    std::string extra;
    if (!expiry.empty()) extra = ",\"expirationTimestamp\":\"" + expiry + "\"";
    return WritePlugin("plugin.sh",
                       "n=$(wc -l < \"$DIR/count\" | tr -d ' ')\n"
                       "printf '{\"apiVersion\":\"" +
                           api_version +
                           "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"token-%s\"" +
                           extra + "}}' \"$n\"\n");
  }
  int Runs() const {
    auto r = fs_.ReadFile(tmp_.path() + "/count");
    return r.ok() ? static_cast<int>(Split(*r, '\n').size()) - 1 : 0;
  }
  RestConfig Config(const std::string& command, const std::string& api_version = kV1) {
    RestConfig rc;
    rc.server = "https://127.0.0.1:6443";
    rc.user_name = "sso";
    rc.source = "/home/me/.kube/config";
    ExecConfig x;
    x.api_version = api_version;
    x.command = command;
    x.interactive_mode = "IfAvailable";
    rc.exec = x;
    return rc;
  }
  ExecRunOptions Options() const {
    ExecRunOptions o;
    o.environment = {"PATH=" + tmp_.path() + ":/usr/bin:/bin", "HOME=" + tmp_.path()};
    return o;
  }
  std::unique_ptr<CredentialProvider> Provider(const RestConfig& rc) {
    return MakeExecCredentialProvider(rc, &clock_, Options());
  }

  testutil::FakeClock clock_;
  PosixFileSystem fs_;
  Env env_;
  testutil::TempDir tmp_;
};

TEST_F(ExecCredentialTest, BothApiVersionsRunOnceAndCacheWithoutExpiry) {
  for (const char* api : {kV1, kV1beta1}) {
    SCOPED_TRACE(api);
    static_cast<void>(fs_.Remove(tmp_.path() + "/count"));  // absent on the first pass
    auto p = Provider(Config(WriteTokenPlugin(api), api));
    for (int i = 0; i < 3; ++i) {
      auto c = p->Get(false);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      EXPECT_EQ(c->bearer_token, "token-1");
      EXPECT_FALSE(c->expires.has_value());
    }
    clock_.Advance(std::chrono::hours(1000));
    EXPECT_EQ(p->Get(false)->bearer_token, "token-1");
    EXPECT_EQ(Runs(), 1);
  }
}

TEST_F(ExecCredentialTest, ReRunsOnlyOnceExpired) {
  // FakeClock starts at 2026-01-01T00:00:00Z.
  auto p = Provider(Config(WriteTokenPlugin(kV1, "2026-01-01T01:00:00Z")));
  auto c = p->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "token-1");
  ASSERT_TRUE(c->expires.has_value());
  EXPECT_EQ(FormatRfc3339(*c->expires), "2026-01-01T01:00:00Z");

  clock_.Advance(std::chrono::minutes(59));
  EXPECT_EQ(p->Get(false)->bearer_token, "token-1");
  EXPECT_EQ(Runs(), 1);

  clock_.Advance(std::chrono::minutes(2));
  EXPECT_EQ(p->Get(false)->bearer_token, "token-2");  // the plugin still says 01:00: expired
  EXPECT_EQ(p->Get(false)->bearer_token, "token-3");
  EXPECT_EQ(Runs(), 3);
}

TEST_F(ExecCredentialTest, ForceRefreshReRunsEvenWhenValid) {
  auto p = Provider(Config(WriteTokenPlugin(kV1beta1), kV1beta1));
  EXPECT_EQ(p->Get(false)->bearer_token, "token-1");
  EXPECT_EQ(p->Get(true)->bearer_token, "token-2");  // after a 401
  EXPECT_EQ(p->Get(false)->bearer_token, "token-2");
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialTest, ConcurrentCallersShareOneRun) {
  // The plugin blocks until the test opens the gate, which it does only once every other caller
  // is waiting on the run under way.
  std::string gate = tmp_.path() + "/gate";
  RestConfig rc = Config(WritePlugin(
      "slow.sh", "while [ ! -f '" + gate +
                     "' ]; do sleep 0.01; done\n"
                     "echo '{\"apiVersion\":\"" +
                     std::string(kV1) +
                     "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"shared\"}}'\n"));
  std::atomic<int> shared{0};
  ExecRunOptions o = Options();
  o.on_share_run = [&] { ++shared; };
  auto p = MakeExecCredentialProvider(rc, &clock_, o);
  constexpr int kCallers = 8;
  std::vector<std::string> tokens(kCallers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      auto c = p->Get(/*force_refresh=*/true);
      tokens[i] = c.ok() ? c->bearer_token : c.status().ToString();
    });
  }
  while (shared.load() < kCallers - 1) std::this_thread::yield();
  ASSERT_TRUE(fs_.WriteFile(gate, "open").ok());
  for (auto& t : threads) t.join();
  EXPECT_EQ(Runs(), 1);
  for (const std::string& t : tokens) EXPECT_EQ(t, "shared");
}

TEST_F(ExecCredentialTest, PassesArgsEnvAndExecInfoWithClusterWhenAsked) {
  RestConfig rc = Config(WritePlugin("info.sh",
                                     "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$DIR/info.json\"\n"
                                     "echo '{\"apiVersion\":\"" +
                                         std::string(kV1) +
                                         "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"'"
                                         "\"$1-$2-$REGION-$HOME\"'\"}}'\n"));
  rc.exec->args = {"--profile", "prod"};
  rc.exec->env = {{"REGION", "eu"}, {"HOME", "/override"}};
  rc.exec->provide_cluster_info = true;
  rc.exec->cluster_config_json = R"({"audience":"kdr"})";
  rc.ca_pem = "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n";
  rc.tls_server_name = "api.internal";
  rc.proxy_url = "http://proxy:3128";
  auto c = Provider(rc)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "--profile-prod-eu-/override");  // exec.env overrides the base env

  auto info = nlohmann::json::parse(*fs_.ReadFile(tmp_.path() + "/info.json"));
  EXPECT_EQ(info["apiVersion"], kV1);
  EXPECT_EQ(info["kind"], "ExecCredential");
  EXPECT_EQ(info["spec"]["interactive"], false);
  EXPECT_EQ(info["spec"]["cluster"]["server"], "https://127.0.0.1:6443");
  EXPECT_EQ(info["spec"]["cluster"]["tls-server-name"], "api.internal");
  EXPECT_EQ(info["spec"]["cluster"]["proxy-url"], "http://proxy:3128");
  EXPECT_EQ(info["spec"]["cluster"]["certificate-authority-data"], Base64Encode(rc.ca_pem));
  EXPECT_EQ(info["spec"]["cluster"]["config"]["audience"], "kdr");
}

TEST_F(ExecCredentialTest, ExecInfoHasNoClusterWithoutProvideClusterInfo) {
  RestConfig rc =
      Config(WritePlugin("info.sh",
                         "printf '%s' \"$KUBERNETES_EXEC_INFO\" > \"$DIR/info.json\"\n"
                         "echo '{\"apiVersion\":\"" +
                             std::string(kV1beta1) +
                             "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"t\"}}'\n"),
             kV1beta1);
  ASSERT_TRUE(Provider(rc)->Get(false).ok());
  auto info = nlohmann::json::parse(*fs_.ReadFile(tmp_.path() + "/info.json"));
  EXPECT_EQ(info, nlohmann::json::parse(R"({"apiVersion":"client.authentication.k8s.io/v1beta1",
      "kind":"ExecCredential","spec":{"interactive":false}})"));
}

TEST_F(ExecCredentialTest, BareCommandIsFoundOnPath) {
  WriteTokenPlugin(kV1);
  auto c = Provider(Config("plugin.sh"))->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "token-1");
}

TEST_F(ExecCredentialTest, ClientCertificateFromPluginReplacesTheConfigs) {
  RestConfig rc = Config(WritePlugin(
      "cert.sh",
      "printf '%s' '{\"apiVersion\":\"" + std::string(kV1) +
          "\",\"kind\":\"ExecCredential\",\"status\":{"
          "\"clientCertificateData\":\"-----BEGIN "
          "CERTIFICATE-----\\nX\",\"clientKeyData\":\"-----BEGIN PRIVATE KEY-----\\nY\"}}'\n"));
  rc.client_cert_pem = "CONFIG CERT";
  rc.client_key_pem = "CONFIG KEY";
  auto c = Provider(rc)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->client_cert_pem, "-----BEGIN CERTIFICATE-----\nX");
  EXPECT_EQ(c->client_key_pem, "-----BEGIN PRIVATE KEY-----\nY");
  EXPECT_TRUE(c->bearer_token.empty());
}

TEST_F(ExecCredentialTest, TokenOnlyPluginKeepsTheConfigClientCertificate) {
  RestConfig rc = Config(WriteTokenPlugin(kV1));
  rc.client_cert_pem = "CONFIG CERT";
  rc.client_key_pem = "CONFIG KEY";
  auto c = Provider(rc)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "token-1");
  EXPECT_EQ(c->client_cert_pem, "CONFIG CERT");
}

TEST_F(ExecCredentialTest, FailedRunIsNotCached) {
  auto p = Provider(Config(WritePlugin(
      "flaky.sh",
      "if [ \"$(wc -l < \"$DIR/count\")\" -lt 2 ]; then echo 'idp down' >&2; exit 1; fi\n"
      "echo '{\"apiVersion\":\"" +
          std::string(kV1) + "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"ok\"}}'\n")));
  auto c = p->Get(false);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("idp down"), std::string::npos);
  c = p->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "ok");
  EXPECT_EQ(Runs(), 2);
}

TEST_F(ExecCredentialTest, MakeCredentialProviderRunsExecWithTheProcessEnvironment) {
  RestConfig rc = Config(WriteTokenPlugin(kV1));  // absolute path: no dependence on PATH
  rc.token_file = "/ignored";                     // exec wins over the other sources
  rc.bearer_token = "ignored";
  auto p = MakeCredentialProvider(rc, env_);
  auto c = p->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "token-1");
}

TEST_F(ExecCredentialTest, KubeconfigExecEntryRunsRelativeToTheKubeconfigsDirectory) {
  testutil::TempDir conf;
  conf.Write("bin/plugin.sh",
             "#!/bin/sh\nprintf '%s' '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\","
             "\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-kubeconfig-plugin\"}}'\n",
             0755);
  std::string path = conf.Write("config", R"(
apiVersion: v1
kind: Config
current-context: sso
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
users:
- name: sso
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: ./bin/plugin.sh}
contexts:
- {name: sso, context: {cluster: c, user: sso}}
)");
  ConfigOverrides o;
  o.kubeconfig = path;
  auto rc = LoadRestConfig(o, env_, ConfigPaths{});
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  auto c = MakeCredentialProvider(*rc, env_)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bearer_token, "from-kubeconfig-plugin");
}

// Keeps every line a Logger writes.
class CaptureSink final : public LogSink {
 public:
  explicit CaptureSink(std::ostringstream* out) : out_(out) {}
  void Write(LogLevel level, std::string_view message, const LogFields& fields) override {
    *out_ << LogLevelName(level) << " " << message;
    for (const auto& [k, v] : fields) *out_ << " " << k << "=" << v;
    *out_ << "\n";
  }

 private:
  std::ostringstream* out_;
};

TEST_F(ExecCredentialTest, SuccessfulPluginsStderrIsLoggedRedacted) {
  std::ostringstream logged;
  Logger logger(std::make_unique<CaptureSink>(&logged), LogLevel::kDebug);
  RestConfig rc = Config(
      WritePlugin("chatty.sh",
                  "echo 'warning: cached login expires soon' >&2\n"
                  "echo 'Authorization: Bearer abc.def.ghi' >&2\n"
                  "printf '%s' '{\"apiVersion\":\"" +
                      std::string(kV1) +
                      "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"abc.def.ghi\"}}'\n"));
  ExecRunOptions o = Options();
  o.logger = &logger;
  auto c = MakeExecCredentialProvider(rc, &clock_, o)->Get(false);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(logged.str().find("warning: cached login expires soon"), std::string::npos)
      << logged.str();
  EXPECT_NE(logged.str().find("reason=first use"), std::string::npos) << logged.str();
  EXPECT_EQ(logged.str().find("abc.def.ghi"), std::string::npos) << logged.str();
}

struct ExecErrorCase {
  const char* name;
  std::string script;  // body; "" = no plugin file (command not found)
  std::string command;
  StatusCode code;
  std::vector<std::string> want;
};

TEST_F(ExecCredentialTest, FailingPluginsGiveOneLineErrorsNamingThePlugin) {
  auto cred = [](const std::string& api, const std::string& kind, const std::string& status) {
    return "echo '{\"apiVersion\":\"" + api + "\",\"kind\":\"" + kind + "\"" +
           (status.empty() ? "" : ",\"status\":" + status) + "}'\n";
  };
  const ExecErrorCase cases[] = {
      {"not on PATH",
       "",
       "kdr-test-no-such-plugin",
       StatusCode::kNotFound,
       {"exec credential plugin \"kdr-test-no-such-plugin\"", "user \"sso\"", "not found", "PATH",
        "install with: gcloud components install gke-gcloud-auth-plugin"}},
      {"absolute path missing",
       "",
       "/nonexistent/bin/aws",
       StatusCode::kNotFound,
       {"/nonexistent/bin/aws", "not found"}},
      {"exits non-zero",
       "echo 'error: token expired,' >&2\necho 'run: sso login' >&2\nexit 3\n",
       "p.sh",
       StatusCode::kUnauthenticated,
       {"\"p.sh\"", "exit code 3", "error: token expired,; run: sso login"}},
      {"killed by a signal",
       "kill -9 $$\n",
       "p.sh",
       StatusCode::kUnauthenticated,
       {"exit code 137"}},
      {"invalid json",
       "echo 'Please log in at https://sso.example.com'\n",
       "p.sh",
       StatusCode::kInvalidArgument,
       {"\"p.sh\"", "invalid JSON", "Please log in"}},
      {"empty output", "true\n", "p.sh", StatusCode::kInvalidArgument, {"empty output"}},
      // A plugin that prints a bare token (an access-token command where an ExecCredential is
      // expected), or a broken ExecCredential: the token is not echoed (see BareTokensAreNotEchoed).
      {"a bare token",
       "echo 'ya29.a0AfB_byC9kdrCanaryAccessToken0123456789abcdefghijklmnopqrstuvwxyz'\n",
       "p.sh",
       StatusCode::kInvalidArgument,
       {"\"p.sh\"", "invalid JSON", "characters not shown"}},
      {"a truncated ExecCredential",
       "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"status\":{\"token\":\"kdrCanary'\n",
       "p.sh",
       StatusCode::kInvalidArgument,
       {"invalid JSON", "\"token\":\"<redacted>\""}},
      {"exits non-zero with a token on stderr",
       "echo 'refresh failed for Bearer kdrCanaryStderrToken0123456789' >&2\nexit 1\n",
       "p.sh",
       StatusCode::kUnauthenticated,
       {"exit code 1", "refresh failed for Bearer <redacted>"}},
      {"wrong apiVersion",
       cred(kV1beta1, "ExecCredential", R"({"token":"t"})"),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"apiVersion \"client.authentication.k8s.io/v1beta1\"",
        "expected \"client.authentication.k8s.io/v1\""}},
      {"wrong kind",
       cred(kV1, "Status", R"({"token":"t"})"),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"kind \"Status\"", "ExecCredential"}},
      {"no status",
       cred(kV1, "ExecCredential", ""),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"without status"}},
      {"no credential",
       cred(kV1, "ExecCredential", "{}"),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"neither status.token nor"}},
      {"cert without key",
       cred(kV1, "ExecCredential", R"({"clientCertificateData":"C"})"),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"clientCertificateData without clientKeyData"}},
      {"bad expiry",
       cred(kV1, "ExecCredential", R"({"token":"t","expirationTimestamp":"tomorrow"})"),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"expirationTimestamp \"tomorrow\"", "RFC 3339"}},
      {"token of the wrong type",
       cred(kV1, "ExecCredential", R"({"token":42})"),
       "p.sh",
       StatusCode::kInvalidArgument,
       {"status.token", "not a string"}},
  };
  for (const ExecErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    testutil::TempDir dir;
    if (!c.script.empty()) dir.Write(c.command, "#!/bin/sh\n" + c.script, 0755);
    RestConfig rc = Config(c.command);
    rc.exec->install_hint = "install with:\n  gcloud components install gke-gcloud-auth-plugin\n";
    ExecRunOptions o;
    o.environment = {"PATH=" + dir.path() + ":/usr/bin:/bin"};
    auto got = MakeExecCredentialProvider(rc, &clock_, o)->Get(false);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), c.code) << got.status().ToString();
    for (const std::string& w : c.want) {
      EXPECT_NE(got.status().message().find(w), std::string::npos)
          << "want \"" << w << "\" in: " << got.status().message();
    }
    EXPECT_EQ(got.status().message().find('\n'), std::string::npos) << got.status().message();
    // BareTokensAreNotEchoed: nothing the plugin printed as a credential is in the error.
    EXPECT_EQ(got.status().message().find("kdrCanary"), std::string::npos) << got.status().message();
  }
}

TEST_F(ExecCredentialTest, InteractiveAlwaysIsRefusedWithoutRunning) {
  RestConfig rc = Config(WriteTokenPlugin(kV1));
  rc.exec->interactive_mode = "Always";
  auto c = Provider(rc)->Get(false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("interactiveMode: Always"), std::string::npos);
  EXPECT_EQ(Runs(), 0);
}

TEST_F(ExecCredentialTest, HungPluginIsKilledAtTheTimeout) {
  // The plugin's child (sleep) holds stdout open: killing the process group is what ends it.
  RestConfig rc = Config(WritePlugin("hang.sh", "sleep 600\n"));
  ExecRunOptions o = Options();
  o.timeout = std::chrono::milliseconds(200);
  auto c = MakeExecCredentialProvider(rc, &clock_, o)->Get(false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(c.status().message().find("hang.sh"), std::string::npos);
  EXPECT_NE(c.status().message().find("200ms"), std::string::npos);
}

TEST(ExecLookPathTest, FindsFirstExecutableAndSkipsOthers) {
  testutil::TempDir a, b;
  a.Write("tool", "not executable", 0644);
  std::string want = b.Write("tool", "#!/bin/sh\n", 0755);
  auto p = LookPath("tool", a.path() + ":" + b.path());
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, want);
  EXPECT_EQ(LookPath("tool", a.path()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(LookPath(a.path(), "/usr/bin").status().code(), StatusCode::kNotFound);  // a directory
}

TEST(ExecRunProcessTest, CapturesStdoutStderrAndExitCode) {
  auto r =
      RunProcess("/bin/sh", {"-c", "echo out; echo err >&2; exit 7"}, {}, std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->exit_code, 7);
}

}  // namespace
}  // namespace kdr::kube
