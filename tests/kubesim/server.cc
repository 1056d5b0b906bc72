#include "server.h"

#include <httplib.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api.h"
#include "auth.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/strings.h"
#include "base/yaml.h"
#include "registry.h"
#include "store.h"
#include "tls/pem.h"

namespace kdr::kubesim {

using json = nlohmann::json;

namespace {

const GroupResource kMutating{"admissionregistration.k8s.io", "mutatingwebhookconfigurations"};
const GroupResource kValidating{"admissionregistration.k8s.io", "validatingwebhookconfigurations"};

// Admission reads webhook configurations and namespaces from the store.
class StoreWebhookSource final : public WebhookSource {
 public:
  explicit StoreWebhookSource(Store* store) : store_(store) {}
  std::vector<json> Configurations(WebhookKind kind) const override {
    std::vector<json> out;
    auto r = store_->List(kind == WebhookKind::kMutating ? kMutating : kValidating, {});
    if (!r.ok()) return out;
    for (const auto& o : r->items) out.push_back(*o);
    return out;
  }
  std::optional<json> Namespace(const std::string& name) const override {
    auto r = store_->Get({"", "namespaces"}, "", name);
    if (!r.ok()) return std::nullopt;
    return *r;
  }

 private:
  Store* store_;
};

bool ReadFile(const std::string& path, std::string* out) {
  auto r = PosixFileSystem().ReadFile(path);
  if (!r.ok()) return false;
  *out = std::move(*r);
  return true;
}

Status WriteFile(const std::string& path, const std::string& data, int mode) {
  return PosixFileSystem().WriteFile(path, data, mode);
}

// CN and O entries of a verified peer certificate.
bool PeerIdentity(const SSL* ssl, std::string* cn, std::vector<std::string>* orgs) {
  if (!ssl) return false;
  tls::X509Ptr cert(SSL_get1_peer_certificate(ssl));
  if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return false;
  X509_NAME* subject = X509_get_subject_name(cert.get());
  auto entries = [&](int nid, std::vector<std::string>* out) {
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(subject, nid, idx)) >= 0) {
      ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
      unsigned char* utf8 = nullptr;
      int len = ASN1_STRING_to_UTF8(&utf8, data);
      if (len >= 0) out->emplace_back(reinterpret_cast<char*>(utf8), len);
      OPENSSL_free(utf8);
    }
  };
  std::vector<std::string> cns;
  entries(NID_commonName, &cns);
  entries(NID_organizationName, orgs);
  if (cns.empty()) return false;
  *cn = cns[0];
  return true;
}

}  // namespace

struct Server::Http {
  std::unique_ptr<httplib::SSLServer> server;
};

Result<std::unique_ptr<Server>> Server::Start(Options options) {
  auto s = std::unique_ptr<Server>(new Server());
  KDR_RETURN_IF_ERROR(s->Init(std::move(options)));
  return s;
}

Status Server::Init(Options options) {
  options_ = std::move(options);
  Clock* clock = options_.clock;
  if (!clock) {
    own_clock_ = std::make_unique<RealClock>();
    clock = own_clock_.get();
  }
  const std::string& dir = options_.data_dir;
  if (!dir.empty() && mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Internal("creating data dir " + dir + ": " + std::strerror(errno));
  }
  // CA: given, saved in the data dir, or new.
  ca_ = options_.ca;
  if (ca_.cert_pem.empty() && !dir.empty()) {
    ReadFile(dir + "/ca.crt", &ca_.cert_pem);
    ReadFile(dir + "/ca.key", &ca_.key_pem);
  }
  if (ca_.cert_pem.empty() || ca_.key_pem.empty()) {
    KDR_ASSIGN_OR_RETURN(ca_, tls::MakeCa("kubesim-ca"));
    if (!dir.empty()) {
      KDR_RETURN_IF_ERROR(WriteFile(dir + "/ca.crt", ca_.cert_pem, 0644));
      KDR_RETURN_IF_ERROR(WriteFile(dir + "/ca.key", ca_.key_pem, 0600));
    }
  }
  tls::CertRequest serving;
  serving.common_name = "kube-apiserver";
  serving.dns_names = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"};
  serving.ip_addresses = {"127.0.0.1"};
  KDR_ASSIGN_OR_RETURN(serving_, tls::MakeLeaf(ca_, serving));
  tls::CertRequest admin;
  admin.common_name = "kubernetes-admin";
  admin.organizations = {"system:masters"};
  admin.server = false;
  admin.client = true;
  KDR_ASSIGN_OR_RETURN(admin_cert_, tls::MakeLeaf(ca_, admin));

  std::map<std::string, UserInfo> tokens = options_.tokens;
  if (!dir.empty()) ReadFile(dir + "/admin.token", &admin_token_);
  admin_token_ = std::string(TrimSpace(admin_token_));
  if (admin_token_.empty()) {
    admin_token_ = RandomToken(48);
    if (!dir.empty()) KDR_RETURN_IF_ERROR(WriteFile(dir + "/admin.token", admin_token_, 0600));
  }
  UserInfo admin_user;
  admin_user.username = "kubernetes-admin";
  admin_user.groups = {"system:masters"};
  tokens[admin_token_] = admin_user;
  auth_ = std::make_unique<Authenticator>(std::move(tokens), dir.empty() ? "" : dir + "/tokens.json");

  registry_ = std::make_unique<Registry>();
  Store::Options so;
  so.clock = clock;
  so.watch_history = options_.watch_history;
  so.data_dir = dir.empty() ? "" : dir + "/state";
  KDR_ASSIGN_OR_RETURN(store_, Store::Open(registry_.get(), so));
  if (options_.admission) {
    webhook_source_ = std::make_unique<StoreWebhookSource>(store_.get());
    Admission::Options ao;
    ao.service_endpoints = options_.service_endpoints;
    ao.logger = options_.logger;
    admission_ = std::make_unique<Admission>(webhook_source_.get(), ao);
  }
  if (options_.controllers) {
    ControllerOptions co = *options_.controllers;
    if (!co.clock) co.clock = clock;
    if (!co.logger) co.logger = options_.logger;
    if (co.cluster_ca_pem.empty()) co.cluster_ca_pem = ca_.cert_pem;
    // Agent pods reach this server; the port is known once bound, before any pod can exist.
    if (!co.agent.api_port) co.agent.api_port = [this] { return port_; };
    if (!co.agent.issue_token) {
      co.agent.issue_token = [this](const std::string& ns, const std::string& name) {
        return IssueServiceAccountToken(ns, name);
      };
    }
    if (co.agent.work_dir.empty() && !dir.empty()) co.agent.work_dir = dir + "/node";
    // Volumes' contents survive a restart with the objects that name them.
    if (co.longhorn_data_dir.empty() && !dir.empty()) co.longhorn_data_dir = dir + "/longhorn";
    KDR_ASSIGN_OR_RETURN(controllers_, Controllers::Start(store_.get(), co));
    quota_controller_ = QuotaController::Start(store_.get(), co.logger);
  }
  Api::Options api;
  api.store = store_.get();
  api.registry = registry_.get();
  api.clock = clock;
  api.authenticator = auth_.get();
  api.admission = admission_.get();
  api.bookmark_interval = options_.bookmark_interval;
  api.stopping = &stopping_;
  api_ = std::make_unique<Api>(api);

  // TLS: the serving pair, and client certificates verified against the CA when offered.
  const std::string cert_pem = serving_.cert_pem, key_pem = serving_.key_pem, ca_pem = ca_.cert_pem;
  http_ = std::make_unique<Http>();
  http_->server = std::make_unique<httplib::SSLServer>([cert_pem, key_pem, ca_pem](SSL_CTX& ctx) {
    auto cas = tls::ParseCertificates(ca_pem, "cluster CA");
    if (!cas.ok() || !tls::UseCertificateAndKey(&ctx, cert_pem, key_pem).ok()) return false;
    X509* ca = cas->front().get();
    X509_STORE_add_cert(SSL_CTX_get_cert_store(&ctx), ca);  // adds a reference
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    SSL_CTX_set_client_CA_list(&ctx, names);
    // Request a client certificate but do not require one (bearer tokens are fine too); a
    // presented certificate that does not verify fails the handshake, as on kube-apiserver.
    SSL_CTX_set_verify(&ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
    return true;
  });
  httplib::SSLServer& svr = *http_->server;
  if (!svr.is_valid()) return Status::Internal("kubesim: cannot set up TLS with the generated certificates");
  const size_t threads = options_.threads;
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_keep_alive_max_count(100000);
  // An idle keep-alive connection holds a worker until this runs out, and stop() waits for the
  // workers: a short one keeps restarts quick (clients reconnect, as they do to any server that
  // closes idle connections).
  svr.set_keep_alive_timeout(2);
  svr.set_read_timeout(30);
  svr.set_write_timeout(30);
  svr.set_tcp_nodelay(true);

  Logger* logger = options_.logger;
  auto handler = [this, logger](const httplib::Request& hreq, httplib::Response& hres) {
    ApiRequest req;
    req.method = hreq.method;
    req.path = hreq.path;
    for (const auto& [k, v] : hreq.params) req.query.emplace(k, v);
    req.accept = hreq.get_header_value("Accept");
    req.content_type = hreq.get_header_value("Content-Type");
    req.user_agent = hreq.get_header_value("User-Agent");
    req.body = hreq.body;
    ApiResponse resp;
    bool authenticated = false;
    std::string authz = hreq.get_header_value("Authorization");
    if (authz.rfind("Bearer ", 0) == 0) {
      if (auto u = auth_->FromToken(std::string(TrimSpace(authz.substr(7))))) {
        req.user = *u;
        authenticated = true;
      }
    } else {
      std::string cn;
      std::vector<std::string> orgs;
      if (PeerIdentity(hreq.ssl, &cn, &orgs)) {
        req.user = Authenticator::FromCertificate(cn, orgs);
        authenticated = true;
      }
    }
    const bool public_path = req.path == "/version" || req.path == "/healthz" || req.path == "/livez" ||
                             req.path == "/readyz";
    if (!authenticated && !public_path) {
      resp.status = 401;
      resp.body = json({{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", json::object()},
                        {"status", "Failure"}, {"message", "Unauthorized"}, {"reason", "Unauthorized"},
                        {"code", 401}}).dump();
    } else {
      resp = api_->Handle(req);
    }
    if (logger && logger->Enabled(LogLevel::kDebug)) {
      logger->Debug("request", {{"method", req.method}, {"path", req.path}, {"user", req.user.username},
                                {"code", std::to_string(resp.status)}});
    }
    hres.status = resp.status;
    for (const auto& [k, v] : resp.headers) hres.set_header(k, v);
    hres.set_header("Cache-Control", "no-cache, private");
    if (resp.stream) {
      auto stream = resp.stream;
      hres.set_chunked_content_provider(resp.content_type, [stream](size_t, httplib::DataSink& sink) {
        stream([&sink](std::string_view chunk) {
          return sink.is_writable() && sink.write(chunk.data(), chunk.size());
        });
        sink.done();
        return true;
      });
    } else {
      hres.set_content(resp.body, resp.content_type);
    }
  };
  svr.Get(".*", handler);
  svr.Post(".*", handler);
  svr.Put(".*", handler);
  svr.Patch(".*", handler);
  svr.Delete(".*", handler);

  size_t colon = options_.listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("--listen " + options_.listen + ": expected HOST:PORT, e.g. 127.0.0.1:0");
  }
  host_ = options_.listen.substr(0, colon);
  int want = std::atoi(options_.listen.substr(colon + 1).c_str());
  if (want == 0) {
    port_ = svr.bind_to_any_port(host_);
  } else {
    port_ = svr.bind_to_port(host_, want) ? want : -1;
  }
  if (port_ <= 0) {
    return Status::Unavailable("kubesim: cannot listen on " + options_.listen +
                               " (address in use or not local); pick another port or use port 0");
  }
  auto loop_done = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([this, loop_done] {
    http_->server->listen_after_bind();
    *loop_done = true;
  });
  // httplib's stop() is a no-op until the accept loop runs: wait for it, so a server stopped
  // right after Start() (a test's early failure) cannot hang its destructor.
  while (!http_->server->is_running() && !*loop_done) std::this_thread::yield();
  return Status::Ok();
}

Server::~Server() { Stop(); }

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  if (controllers_) controllers_->Stop();
  if (quota_controller_) quota_controller_->Stop();
  if (store_) store_->CloseWatchers();
  if (http_ && http_->server) http_->server->stop();
  if (thread_.joinable()) thread_.join();
}

std::string Server::url() const { return "https://" + host_ + ":" + std::to_string(port_); }

std::string Server::Kubeconfig(const std::string& context_name, const std::string& token) const {
  json user = json::object();
  if (token.empty()) {
    user["client-certificate-data"] = Base64Encode(admin_cert_.cert_pem);
    user["client-key-data"] = Base64Encode(admin_cert_.key_pem);
  } else {
    user["token"] = token;
  }
  json cfg = {{"apiVersion", "v1"},
              {"kind", "Config"},
              {"clusters", json::array({{{"name", context_name},
                                         {"cluster", {{"server", url()},
                                                      {"certificate-authority-data", Base64Encode(ca_.cert_pem)}}}}})},
              {"users", json::array({{{"name", context_name}, {"user", user}}})},
              {"contexts", json::array({{{"name", context_name},
                                         {"context", {{"cluster", context_name}, {"user", context_name},
                                                      {"namespace", "default"}}}}})},
              {"current-context", context_name},
              {"preferences", json::object()}};
  return JsonToYaml(cfg);
}

Status Server::WriteKubeconfig(const std::string& path, const std::string& context_name,
                               const std::string& token) const {
  return WriteFile(path, Kubeconfig(context_name, token), 0600);
}

std::string Server::IssueToken(const UserInfo& user) { return auth_->Issue(user); }

std::string Server::IssueServiceAccountToken(const std::string& ns, const std::string& name) {
  std::string uid;
  if (auto sa = store_->Get({"", "serviceaccounts"}, ns, name); sa.ok()) {
    uid = (*sa)["metadata"].value("uid", "");
  }
  return auth_->IssueServiceAccount(ns, name, uid);
}

}  // namespace kdr::kubesim
