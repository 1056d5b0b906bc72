#pragma once

// The kubectl-dr webhook in the test process: the real server and policies over loopback TLS, on
// certificates made as `kubectl dr install --webhook-url` makes them, so that a kubesim cluster
// with the product installed (`kubectl dr install --webhook-url URL --cert-dir DIR`) calls it
// for real. Its caches start empty, and are fed only when Watch() says from which cluster (the
// transforms policy looks up the recovery an object is labelled with).

#include <memory>
#include <string>
#include <string_view>

#include "admission/cache.h"
#include "admission/metrics.h"
#include "admission/policy.h"
#include "admission/populator.h"
#include "admission/server.h"
#include "admission/transform_engine.h"
#include "admission/webhook.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/status.h"
#include "install/install.h"

namespace kdr::plugin::testing {

class InProcessWebhook {
 public:
  // Writes ca.crt, tls.crt and tls.key for 127.0.0.1 into cert_dir (created), then serves on a
  // free port of 127.0.0.1.
  Status Start(const std::string& cert_dir) {
    install::Options o;
    o.webhook_url = "https://127.0.0.1";
    o.cert_dir = cert_dir;
    KDR_ASSIGN_OR_RETURN(install::Certificates certs, install::MakeCertificates(o));
    KDR_RETURN_IF_ERROR(fs_.MakeDirs(cert_dir, 0700));
    KDR_RETURN_IF_ERROR(fs_.WriteFile(cert_dir + "/ca.crt", certs.ca_cert, 0644));
    KDR_RETURN_IF_ERROR(fs_.WriteFile(cert_dir + "/tls.crt", certs.tls_cert, 0644));
    KDR_RETURN_IF_ERROR(fs_.WriteFile(cert_dir + "/tls.key", certs.tls_key, 0600));
    admission::ServerOptions so;
    so.listen = "127.0.0.1:0";
    so.cert_file = cert_dir + "/tls.crt";
    so.key_file = cert_dir + "/tls.key";
    so.threads = 2;
    server_ = std::make_unique<admission::Server>(so, Env{&clock_, &fs_, &logger_}, &validate_, &mutate_,
                                                  &metrics_, [] { return true; });
    return server_->Start();
  }

  // The URL to give `kubectl dr install --webhook-url`.
  std::string url() const { return "https://127.0.0.1:" + std::to_string(server_->port()); }

  // Feeds the caches from `cluster` as the webhook's Deployment does (list and watch), until
  // Stop. The cluster's client must outlive the webhook.
  void Watch(kube::Client* cluster) {
    populator_ = std::make_unique<admission::CachePopulator>(cluster, &cache_, "kubectl-dr-system", &logger_);
    populator_->Start();
  }
  // True once the caches hold DRRecovery kubectl-dr-system/`name` (see Watch).
  bool KnowsRecovery(std::string_view name) const { return cache_.Recovery("kubectl-dr-system", name) != nullptr; }

  // Stops answering (the configurations stay: the API server's calls then fail).
  void Stop() {
    if (populator_) populator_->Stop();
    if (server_) server_->Stop();
  }

  ~InProcessWebhook() { Stop(); }

 private:
  class Discard final : public LogSink {
   public:
    void Write(LogLevel, std::string_view, const LogFields&) override {}
  };

  RealClock clock_;
  PosixFileSystem fs_;
  Logger logger_{std::make_unique<Discard>()};
  admission::StateCache cache_;
  admission::Metrics metrics_;
  std::unique_ptr<admission::TransformEngine> engine_ = admission::NewResourceModifierEngine();
  std::unique_ptr<admission::Policy> fenced_ = admission::NewFencedPvcPolicy(&cache_, "kubectl-dr-system");
  std::unique_ptr<admission::Policy> spent_ = admission::NewSpentPlanPolicy(&cache_);
  std::unique_ptr<admission::Policy> transforms_ =
      admission::NewTransformsPolicy(&cache_, engine_.get(), "kubectl-dr-system");
  admission::PolicyChain validating_{{fenced_.get(), spent_.get()}};
  admission::Webhook validate_{"validate", &validating_, &metrics_, &logger_, &clock_};
  admission::Webhook mutate_{"mutate", transforms_.get(), &metrics_, &logger_, &clock_};
  std::unique_ptr<admission::Server> server_;
  std::unique_ptr<admission::CachePopulator> populator_;
};

}  // namespace kdr::plugin::testing
