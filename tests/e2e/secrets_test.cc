// No secret in any log: clusters holding Secrets (opaque credentials, a service-account token,
// a TLS client key, registry credentials), reached through kubeconfigs holding tokens and client
// keys, and (on kubesim) an HPE Alletra pair whose WSAPI password sits in a Secret, go through a
// failover and the webhook. Then every line the product wrote is searched for each of those
// values, raw and base64-encoded: the plugin's stdout and stderr at its highest verbosity, the
// webhook's log at its own, the Events of both clusters, the DRPlans' and DRRecoveries' status,
// the failover's report and `kubectl dr status`. None may appear. kubesim's and alletra-sim's
// logs are the simulators', not the product's, and are not searched; nor is the inventory, whose
// job is to carry the Secrets to the DR site.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/strings.h"
#include "base/yaml.h"
#include "e2e/harness.h"
#include "e2e/webhook_fixture.h"
#include "testutil/testutil.h"
#include "tls/certs.h"

namespace kdr::e2e {
namespace {

using nlohmann::json;
using testutil::CommandResult;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A value no output would hold by chance.
std::string Canary(const std::string& what) {
  static std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return "kdr-canary-" + what + "-" + buf;
}

// A secret value as searched for: single-line values whole; multi-line ones (PEM) by each line
// long enough to be unique, armour lines aside.
std::vector<std::string> Needles(const std::string& value) {
  std::vector<std::string> out;
  if (value.find('\n') == std::string::npos) {
    if (value.size() >= 12) out.push_back(value);
    return out;
  }
  for (const std::string& line : Split(value, '\n')) {
    std::string l(TrimSpace(line));
    if (l.size() >= 40 && l.rfind("-----", 0) != 0) out.push_back(l);
  }
  return out;
}

class SecretsE2eTest : public WebhookE2eTest {
 protected:
  SecretsE2eTest() { webhook_args_ = {"-v", "10"}; }

  void SetUp() override {
    WebhookE2eTest::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    inventory_ = dir_.path() + "/inventory";
  }

  // kubectl dr at its highest verbosity, its output kept for the search.
  CommandResult Dr(const std::string& args, const Cluster* cluster = nullptr) {
    const Cluster& c = cluster != nullptr ? *cluster : target();
    const std::string command = "kubectl dr -v 10 --context " + c.context() + " " + args;
    CommandResult r = token_kubeconfig_.empty()
                          ? pair_->Shell(command)
                          : testutil::RunCommand("PATH=" + testutil::BinaryDir() + ":$PATH KUBECONFIG=" +
                                                 token_kubeconfig_ + " " + command + " 2>&1");
    Record("kubectl dr " + args, r.output);
    return r;
  }
  void Record(const std::string& what, const std::string& text) {
    written_.push_back({what, text});
  }

  // The shop's Secrets on the source, with fresh values, whose every value (as the cluster holds
  // them: a token controller may add its own) becomes a needle.
  void MakeSecrets() {
    tls::KeyPair ca = *tls::MakeCa("shop-client-ca");
    tls::CertRequest req;
    req.common_name = "shop-client";
    req.server = false;
    req.client = true;
    auto client = tls::MakeLeaf(ca, req);
    ASSERT_TRUE(client.ok());
    const std::string password = Canary("db-password");
    json secrets = json::array({
        {{"apiVersion", "v1"}, {"kind", "Secret"},
         {"metadata", {{"name", "db-credentials"}, {"namespace", "shop"}}},
         {"stringData", {{"username", "shop"}, {"password", password},
                         {"url", "postgres://shop:" + password + "@db:5432/shop"},
                         {"api-key", Canary("api-key")}}}},
        {{"apiVersion", "v1"}, {"kind", "ServiceAccount"},
         {"metadata", {{"name", "web"}, {"namespace", "shop"}}}},
        {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "kubernetes.io/service-account-token"},
         {"metadata", {{"name", "web-token"}, {"namespace", "shop"},
                       {"annotations", {{"kubernetes.io/service-account.name", "web"}}}}},
         {"stringData", {{"token", Canary("sa-token")}}}},
        {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "kubernetes.io/tls"},
         {"metadata", {{"name", "client-tls"}, {"namespace", "shop"}}},
         {"stringData", {{"tls.crt", client->cert_pem}, {"tls.key", client->key_pem}}}},
        {{"apiVersion", "v1"}, {"kind", "Secret"}, {"type", "kubernetes.io/dockerconfigjson"},
         {"metadata", {{"name", "registry"}, {"namespace", "shop"}}},
         {"stringData",
          {{".dockerconfigjson",
            json({{"auths", {{"registry.example.com",
                              {{"auth", Base64Encode("shop:" + Canary("registry-password"))}}}}}})
                .dump()}}}},
    });
    const std::string file = dir_.path() + "/secrets.yaml";
    {
      std::ofstream out(file);
      for (const json& s : secrets) out << "---\n" << s.dump() << "\n";
    }
    CommandResult applied = pair_->Kubectl(pair_->source(), "apply -f " + file);
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
    CommandResult held = pair_->Kubectl(pair_->source(), "-n shop get secrets -o json");
    ASSERT_EQ(held.exit_code, 0) << held.output;
    const json list = json::parse(held.output);
    for (const json& s : list["items"]) {
      const json data = s.value("data", json::object());
      for (const auto& [key, value] : data.items()) {
        // Certificates and the namespace name are public.
        if (key == "ca.crt" || key == "tls.crt" || key == "namespace") continue;
        auto raw = Base64Decode(value.get<std::string>(), key);
        ASSERT_TRUE(raw.ok());
        AddSecret("Secret shop/" + s["metadata"]["name"].get<std::string>() + " " + key, *raw);
      }
    }
  }

  void AddSecret(const std::string& what, const std::string& value) {
    for (const std::string& n : Needles(value)) {
      needles_.push_back({what, n});
      if (value.find('\n') == std::string::npos) needles_.push_back({what + " (base64)", Base64Encode(n)});
    }
  }

  // The credentials kubectl and the plugin use: tokens, passwords and client keys of both
  // clusters' kubeconfigs (inline or in files), and the webhook's serving key.
  void AddKubeconfigCredentials() {
    for (const std::string& file : Split(pair_->merged_kubeconfig(), ':')) {
      AddCredentialsOf(file);
      if (HasFatalFailure()) return;
    }
    for (const auto& f : std::filesystem::directory_iterator(certs_)) {
      if (f.path().extension() == ".key") AddSecret("webhook " + f.path().filename().string(), ReadAll(f.path()));
    }
  }
  void AddCredentialsOf(const std::string& kubeconfig) {
    auto config = YamlToJson(ReadAll(kubeconfig), kubeconfig);
    ASSERT_TRUE(config.ok()) << config.status().message();
    ASSERT_TRUE(config->is_object() && (*config)["users"].is_array()) << kubeconfig;
    for (const json& u : (*config)["users"]) {
      const json user = u.value("user", json::object());
      const std::string name = "kubeconfig user " + u.value("name", "");
      if (user.contains("token")) AddSecret(name + " token", user["token"].get<std::string>());
      if (user.contains("password")) AddSecret(name + " password", user["password"].get<std::string>());
      if (user.contains("client-key-data")) {
        auto key = Base64Decode(user["client-key-data"].get<std::string>(), "client-key-data");
        ASSERT_TRUE(key.ok());
        AddSecret(name + " client key", *key);
      }
      if (user.contains("client-key")) {
        AddSecret(name + " client key", ReadAll(user["client-key"].get<std::string>()));
      }
    }
  }

  // From now on the plugin authenticates to both clusters with bearer tokens of a service account
  // (TokenRequest), the way an in-cluster agent or a CI job does, instead of client certificates:
  // the tokens become needles, and every request carries one in its Authorization header.
  void UseTokens() {
    std::string files;
    for (const Cluster* c : {&pair_->source(), &target()}) {
      const std::string ns = "kube-system";
      const json objects = json::array(
          {{{"apiVersion", "v1"}, {"kind", "ServiceAccount"},
            {"metadata", {{"name", "dr-operator"}, {"namespace", ns}}}},
           {{"apiVersion", "rbac.authorization.k8s.io/v1"}, {"kind", "ClusterRoleBinding"},
            {"metadata", {{"name", "dr-operator"}}},
            {"roleRef", {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", "cluster-admin"}}},
            {"subjects", json::array({{{"kind", "ServiceAccount"}, {"name", "dr-operator"}, {"namespace", ns}}})}}});
      for (const json& o : objects) {
        const std::string file = dir_.Write(c->context() + "-" + o["kind"].get<std::string>() + ".json", o.dump());
        CommandResult made = pair_->Kubectl(*c, "apply -f " + file);
        ASSERT_EQ(made.exit_code, 0) << made.output;
      }
      CommandResult token = pair_->Kubectl(*c, "-n " + ns + " create token dr-operator --duration=1h");
      ASSERT_EQ(token.exit_code, 0) << token.output;
      const std::string value(TrimSpace(token.output));
      AddSecret(c->context() + " service-account token", value);
      auto config = YamlToJson(ReadAll(c->kubeconfig()), c->kubeconfig());
      ASSERT_TRUE(config.ok()) << config.status().message();
      for (json& u : (*config)["users"]) u["user"] = {{"token", value}};
      const std::string file = dir_.Write(c->context() + "-token.kubeconfig", config->dump(), 0600);
      files += (files.empty() ? "" : ":") + file;
    }
    token_kubeconfig_ = files;
  }

  // What the product wrote besides the commands' output: the webhook's log, the Events of both
  // clusters, the plans' and recoveries' status.
  void RecordClusterState() {
    Record("webhook log", ReadAll(dir_.path() + "/webhook.log"));
    for (const Cluster* c : {&pair_->source(), &target()}) {
      const std::string site = c == &target() ? "target" : "source";
      Record(site + " events", pair_->Kubectl(*c, "get events -A -o json").output);
      Record(site + " drplans and drrecoveries",
             pair_->Kubectl(*c, "-n kubectl-dr-system get drplans,drrecoveries -o json").output);
    }
  }

  // Every needle absent from everything recorded; the test fails naming each one found, where.
  void ExpectNoSecretWritten() {
    ASSERT_GE(needles_.size(), 8u) << "the test holds too few secrets to prove anything";
    // The search itself finds them where they are: in the restored Secrets on the DR site.
    const std::string restored = Kubectl("-n shop get secret db-credentials web-token registry -o json").output;
    int control = 0;
    for (const auto& [secret, needle] : needles_) control += restored.find(needle) != std::string::npos;
    EXPECT_GE(control, 3) << "the search does not find the Secrets' values even in the Secrets:\n" << restored;
    int found = 0;
    for (const auto& [what, text] : written_) {
      for (const auto& [secret, needle] : needles_) {
        const size_t at = text.find(needle);
        if (at == std::string::npos) continue;
        ++found;
        ADD_FAILURE() << secret << " appears in " << what << ": ..."
                      << text.substr(at > 200 ? at - 200 : 0, 400) << "...";
      }
    }
    size_t bytes = 0;
    for (const auto& w : written_) bytes += w.second.size();
    std::printf("[secrets] %zu values searched for in %zu outputs (%zu bytes): %d found\n",
                needles_.size(), written_.size(), bytes, found);
  }

  // Real pairs have no kubelet: restored pods never run there, so readiness is not waited for.
  std::string WaitFlag() const { return target().simulated() ? "" : " --no-wait"; }

  std::string inventory_;
  std::string token_kubeconfig_;  // set by UseTokens
  std::vector<std::pair<std::string, std::string>> needles_;   // {what, value}
  std::vector<std::pair<std::string, std::string>> written_;  // {what, text}
};

TEST_F(SecretsE2eTest, AFailoverWritesNoSecretInAnyLogEventStatusOrReport) {
  CommandResult shop = pair_->Kubectl(pair_->source(), "apply -f " + testutil::DataPath("e2e/failover/shop.yaml"));
  ASSERT_EQ(shop.exit_code, 0) << shop.output;
  MakeSecrets();
  if (HasFatalFailure()) return;
  AddKubeconfigCredentials();
  if (HasFatalFailure()) return;
  UseTokens();
  if (HasFatalFailure()) return;
  ASSERT_EQ(Kubectl("apply -f " + Data("plan.yaml")).exit_code, 0);

  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0)
      << written_.back().second;
  Dr("inventory show --inventory-path " + inventory_);
  // Secrets go through the webhook's transforms too: a rule labels them, another fails on one.
  CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr --resource-modifiers " +
                              testutil::DataPath("e2e/secrets/modifiers.yaml"));
  ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
  WaitForCache("drrecoveries", 1);
  WaitForCache("configmaps", 2);
  Dr("plan check shop-to-dr --inventory-path " + inventory_);

  CommandResult failover =
      Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes" + WaitFlag());
  ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log();
  CommandResult report = Dr("status shop-failover -o json");
  EXPECT_EQ(report.exit_code, 0) << report.output;
  Dr("recovery describe shop-failover");
  Dr("plan describe shop-to-dr");

  // The Secrets arrived, transformed by the webhook on the way in.
  EXPECT_EQ(Kubectl("-n shop get secret db-credentials -o 'jsonpath={.metadata.labels.example\\.com/restored}'").output,
            "true");
  EXPECT_EQ(Kubectl("-n shop get secret db-credentials -o jsonpath={.data.password}").output,
            pair_->Kubectl(pair_->source(), "-n shop get secret db-credentials -o jsonpath={.data.password}").output);

  // A Secret the webhook refuses (a rule that cannot apply): the denial names the rule and why,
  // never the data.
  CommandResult refused = Kubectl("apply -f " + testutil::DataPath("e2e/secrets/refused-secret.yaml"));
  Record("kubectl apply of a Secret the webhook refuses", refused.output);
  EXPECT_NE(refused.exit_code, 0) << refused.output;
  EXPECT_NE(refused.output.find("denied the request"), std::string::npos) << refused.output;
  AddSecret("Secret shop/refused password", "kdr-canary-refused-0123456789abcdef");

  RecordClusterState();
  ExpectNoSecretWritten();
}

// The WSAPI credentials of an Alletra pair, wrong and then right: the arrays' password (from the
// plan's credentials Secret) appears nowhere, not even in the readiness report of a refused login.
class AlletraSecretsE2eTest : public SecretsE2eTest {
 protected:
  AlletraSecretsE2eTest() {
    std::string config = testutil::ReadData("e2e/storage/alletra-pair.yaml");
    const size_t at = config.find("password: 3pardata");
    EXPECT_NE(at, std::string::npos);
    password_ = Canary("wsapi-password");
    config.replace(at, 18, "password: " + password_);
    pair_options_.alletra_config = dir_.Write("alletra-pair.yaml", config);
  }

  void SetUp() override {
    if (!ClusterPair::RunsSimulators()) {
      GTEST_SKIP() << "needs alletra-sim and the HPE CSI rule (--hpe-array), which clusters given by "
                      "KDR_E2E_*_KUBECONFIG do not run; the failover without storage "
                      "(AFailoverWritesNoSecretInAnyLogEventStatusOrReport) runs there";
    }
    SecretsE2eTest::SetUp();
  }

  // The plan's credentials Secret on the target, with this password.
  void ArraysSecret(const std::string& password) {
    CommandResult made =
        Kubectl(AlletraArraysSecretArgs(*pair_->alletra(), /*reversed=*/false, password, "--dry-run=client -o yaml"));
    ASSERT_EQ(made.exit_code, 0) << made.output;
    const std::string file = dir_.Write("shop-arrays.yaml", made.output);
    CommandResult applied = Kubectl("apply -f " + file);
    ASSERT_EQ(applied.exit_code, 0) << applied.output;
  }

  std::string password_;
};

TEST_F(AlletraSecretsE2eTest, AnAlletraFailoverWritesNoWsapiPassword) {
  ASSERT_NE(pair_->alletra(), nullptr);
  const std::string storage = testutil::DataPath("e2e/storage/");
  CommandResult shop = pair_->Kubectl(pair_->source(), "apply -f " + storage + "alletra-shop.yaml");
  ASSERT_EQ(shop.exit_code, 0) << shop.output;
  CommandResult bound =
      pair_->Kubectl(pair_->source(), "-n shop wait --for=jsonpath={.status.phase}=Bound pvc --all --timeout=60s");
  ASSERT_EQ(bound.exit_code, 0) << bound.output;
  MakeSecrets();
  if (HasFatalFailure()) return;
  AddKubeconfigCredentials();
  if (HasFatalFailure()) return;
  AddSecret("WSAPI password", password_);
  const std::string wrong = Canary("wrong-wsapi-password");
  AddSecret("wrong WSAPI password", wrong);
  ASSERT_EQ(Kubectl("apply -f " + storage + "alletra-plan.yaml").exit_code, 0);

  ASSERT_EQ(Dr("inventory capture --plan shop-to-dr --agent local --inventory-path " + inventory_).exit_code, 0)
      << written_.back().second;
  CommandResult recovery = Dr("recovery create shop-failover --plan shop-to-dr --resource-modifiers " +
                              testutil::DataPath("e2e/secrets/modifiers.yaml"));
  ASSERT_EQ(recovery.exit_code, 0) << recovery.output;
  WaitForCache("drrecoveries", 1);

  // A wrong password: the arrays refuse the login, and the plugin says so without the password.
  ArraysSecret(wrong);
  if (HasFatalFailure()) return;
  CommandResult refused = Dr("plan check shop-to-dr --inventory-path " + inventory_);
  EXPECT_NE(refused.exit_code, 0) << refused.output;

  // The right one: the failover goes through.
  ArraysSecret(password_);
  if (HasFatalFailure()) return;
  CommandResult failover =
      Dr("failover shop-failover --agent local --inventory-path " + inventory_ + " --yes --timeout 2m");
  ASSERT_EQ(failover.exit_code, 0) << failover.output << webhook_->Log();
  Dr("status shop-failover -o yaml");
  EXPECT_EQ(Kubectl("-n shop get secret db-credentials -o 'jsonpath={.metadata.labels.example\\.com/restored}'").output,
            "true");

  RecordClusterState();
  ExpectNoSecretWritten();
}

}  // namespace
}  // namespace kdr::e2e
