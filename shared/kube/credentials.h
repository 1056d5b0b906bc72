#pragma once

// Credentials for requests to one API server: a bearer token and/or a client certificate, from a
// static kubeconfig entry, a token file (re-read when it changes, for rotated service-account
// tokens) or an exec credential plugin (run once per process, re-run only when its credential
// expires or the server answers 401).

#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/env.h"
#include "base/status.h"
#include "kube/rest_config.h"

namespace kdr::kube {

// The complete client identity to present: the client certificate is the exec plugin's pair when
// it returned one, else the kubeconfig's (so a caller needs nothing else from RestConfig).
struct Credentials {
  std::string bearer_token;    // empty: none
  std::string client_cert_pem;  // both empty: none (exec plugins may return a pair)
  std::string client_key_pem;
  std::optional<Clock::WallTime> expires;  // exec credentials' expirationTimestamp
};

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // The credentials to send now. force_refresh (after a 401) re-runs the exec plugin or re-reads
  // the token file even when the cached value looks valid. Errors name the source: the exec
  // command and its stderr, or the token file. Thread-safe; concurrent callers share one run of
  // an exec plugin. Codes: exec_credential.h lists the exec plugin's; a token file that is missing,
  // unreadable or empty is Unauthenticated (unless the kubeconfig also has a static token, which
  // is then used, as kubectl does).
  virtual Result<Credentials> Get(bool force_refresh) = 0;
};

// The provider for a resolved config: exec when config.exec is set, else token_file, else the
// static token and client certificate. env supplies the clock (expiry) and file system.
// Exec plugins run with the process environment and PATH (exec_credential.h has the injectable
// form for tests). REQUIRES: env.clock and env.fs outlive the provider.
std::unique_ptr<CredentialProvider> MakeCredentialProvider(const RestConfig& config, const Env& env);

}  // namespace kdr::kube
