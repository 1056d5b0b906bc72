#pragma once

// kubesim::Server: an in-memory Kubernetes API server on loopback HTTPS, for tests (in-process)
// and for the `kubesim` binary (main.cc). Real kubectl 1.32 and the project's client drive it.
//
//   kubesim::Server::Options o;                 // listen 127.0.0.1:0, in memory, fresh CA
//   KDR_ASSIGN_OR_RETURN(auto server, kubesim::Server::Start(o));
//   server->url();                              // "https://127.0.0.1:41234"
//   server->WriteKubeconfig(dir + "/kubeconfig", "source");   // admin client certificate
//   server->store();                            // in-process access (controllers; see store.h)
//
// Authentication: bearer tokens (Options::tokens, the generated admin token, tokens issued by
// IssueToken/IssueServiceAccountToken or by the TokenRequest API: POST
// serviceaccounts/NAME/token) and client certificates signed by the CA (CN = user, O = groups).
// No authorization: every authenticated user may do everything (RBAC objects are stored only).
// /version, /healthz, /livez and /readyz also answer anonymous requests, as on a cluster.
//
// With data_dir the objects, the resourceVersion counter, CRDs, the CA and the issued tokens
// survive a restart (Stop, then Start with the same data_dir; pass the old port in `listen` to
// keep kubeconfigs valid). Without it everything lives in memory.
//
// Thread-safe. Stop() (or the destructor) ends open watches and waits for request threads.

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <thread>

#include "admission.h"
#include "base/status.h"
#include "controllers.h"
#include "quota.h"
#include "tls/certs.h"

namespace kdr {
class Clock;
class Logger;
}  // namespace kdr

namespace kdr::kubesim {

class Api;
class Authenticator;
class Registry;
class Store;

class Server {
 public:
  struct Options {
    std::string listen = "127.0.0.1:0";  // host:port; port 0 picks a free one
    std::string data_dir;                 // "" = in memory
    // The cluster CA (signs the serving certificate and accepted client certificates). Empty:
    // loaded from data_dir when there, else generated (and saved to data_dir).
    tls::KeyPair ca;
    // Extra static bearer tokens -> users.
    std::map<std::string, UserInfo> tokens;
    // Admission webhook service map: "NS/NAME:PORT" -> "127.0.0.1:PORT".
    std::map<std::string, std::string> service_endpoints;
    bool admission = true;                // call registered admission webhooks
    Clock* clock = nullptr;               // null: the real clock
    Logger* logger = nullptr;             // null: silent
    size_t threads = 128;                 // HTTP worker threads (each open watch holds one)
    size_t watch_history = 10000;         // events kept for watch resumption (410 beyond)
    std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
    // Simulated controllers (controllers.h): nullopt = none (a bare API server, what most
    // kubesim tests want); set = started over the store with these options (clock and logger
    // default to the server's). The kubesim binary starts them all unless told otherwise.
    std::optional<ControllerOptions> controllers;
  };

  // Binds, starts serving and returns. Errors: Unavailable when the address cannot be bound,
  // InvalidArgument/Internal when the data dir or certificates cannot be read.
  static Result<std::unique_ptr<Server>> Start(Options options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops serving; idempotent.
  void Stop();

  std::string url() const;  // "https://127.0.0.1:PORT"
  int port() const { return port_; }
  const std::string& ca_pem() const { return ca_.cert_pem; }
  // The CA key pair, e.g. to sign more client certificates in tests.
  const tls::KeyPair& ca() const { return ca_; }
  // Credentials of the cluster admin (user "kubernetes-admin", group "system:masters").
  const std::string& admin_token() const { return admin_token_; }
  const tls::KeyPair& admin_client_cert() const { return admin_cert_; }

  // A kubeconfig (YAML) with one cluster, user and context named `context_name`, authenticating
  // with the admin client certificate (or with `token` when given).
  std::string Kubeconfig(const std::string& context_name, const std::string& token = "") const;
  // Writes Kubeconfig() to path (mode 0600). Internal naming the path when it cannot.
  Status WriteKubeconfig(const std::string& path, const std::string& context_name,
                         const std::string& token = "") const;

  // Registers a bearer token for user and returns it.
  std::string IssueToken(const UserInfo& user);
  // A token for system:serviceaccount:NS:NAME (the service account need not exist).
  std::string IssueServiceAccountToken(const std::string& ns, const std::string& name);

  Store* store() const { return store_.get(); }
  Registry* registry() const { return registry_.get(); }
  Admission* admission() const { return admission_.get(); }
  Controllers* controllers() const { return controllers_.get(); }

 private:
  Server() = default;
  struct Http;
  Status Init(Options options);

  Options options_;
  std::unique_ptr<Clock> own_clock_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<WebhookSource> webhook_source_;
  std::unique_ptr<Admission> admission_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Controllers> controllers_;
  std::unique_ptr<QuotaController> quota_controller_;  // with the controllers
  std::unique_ptr<Http> http_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  tls::KeyPair ca_;
  tls::KeyPair serving_;
  tls::KeyPair admin_cert_;
  std::string admin_token_;
  std::string host_;
  int port_ = 0;
};

}  // namespace kdr::kubesim
