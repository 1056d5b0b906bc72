#pragma once

// WsapiClient: the HPE Alletra / Primera / 3PAR Web Services API (WSAPI 1.x) of one array, over
// HTTPS through kube::HttpsTransport (TLS verified against the configured CA, or the system
// trust store when none is given; not verified at all only when insecure_skip_tls_verify).
//
// Sessions: the first call logs in (POST /api/v1/credentials {"user","password"} -> 201
// {"key"}); every call then carries the key in X-HP3PAR-WSAPI-SessionKey. A call answered "invalid
// session key" (403, code 6: the array dropped an idle key after fifteen minutes, or restarted)
// logs in again once and is repeated once. Close() ends the session (DELETE
// /api/v1/credentials/<key>).
//
// Errors:
//   kUnauthenticated  the array refused the user or password (401, or 403 code 5): the message
//                     names the Secret and the keys the credentials came from
//   kFailedPrecondition  a state refusal (403 with a remote-copy code: 215-225), or the array's
//                     certificate failed verification (the message names the CA's Secret key)
//   kNotFound (404), kInvalidArgument (400), kAlreadyExists (409), kUnimplemented (501),
//   kPermissionDenied (other 403), kUnavailable (5xx, connection refused or lost)
//   kDeadlineExceeded the Deadline passed
// Every array answer that is an error carries "code N SYMBOL: desc" (the array's code and
// description, and the symbol the WSAPI guide gives it when kubectl-dr knows it).
//
// GETs are retried twice on a lost connection or a 5xx (sleeping through the Clock); actions are
// never retried except after a re-login (the array rejected the key before looking at the call).
// Thread-compatible: one call at a time.

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "base/env.h"
#include "base/status.h"
#include "storage/deadline.h"

namespace kdr::kube {
class Transport;
}

namespace kdr::storage {

struct WsapiEndpoint {
  std::string label;  // "source array", for messages
  std::string url;    // "https://10.0.0.5:443"
  std::string ca_pem;  // "" = the system trust store
  bool insecure_skip_tls_verify = false;
  std::string user;
  std::string password;
  // Where the settings came from, for messages: the Secret "ns/name" and the keys read.
  std::string secret;
  std::string url_key;
  std::string ca_key;
  std::string user_key;
  std::string password_key;
};

// The WSAPI's symbol for an error code ("INV_USER_PASS"), or "" when kubectl-dr does not know it.
// The codes of remote-copy refusals are those alletra-sim uses; keep them in this one table so a
// capture from a real array can correct them.
std::string_view WsapiErrorSymbol(int code);

class WsapiClient {
 public:
  // InvalidArgument naming the Secret key when the URL is not https://host[:port] or the CA does
  // not parse. Connects lazily. REQUIRES: env.clock is set.
  static Result<std::unique_ptr<WsapiClient>> Create(WsapiEndpoint endpoint, const Env& env);
  // For tests that wrap the transport (fault injection).
  WsapiClient(WsapiEndpoint endpoint, std::unique_ptr<kube::Transport> transport, const Env& env);
  ~WsapiClient();
  WsapiClient(const WsapiClient&) = delete;
  WsapiClient& operator=(const WsapiClient&) = delete;

  const WsapiEndpoint& endpoint() const { return endpoint_; }

  // GET /api/v1/<path> ("system", "remotecopygroups/g1").
  Result<nlohmann::json> Get(std::string_view path, const Deadline& deadline);
  // PUT / POST a JSON body to /api/v1/<path>; the answer's body (null when empty).
  Result<nlohmann::json> Put(std::string_view path, const nlohmann::json& body,
                             const Deadline& deadline);
  Result<nlohmann::json> Post(std::string_view path, const nlohmann::json& body,
                              const Deadline& deadline);
  Status Delete(std::string_view path, const Deadline& deadline);

  // Logs out when logged in. Ok when there is no session; the key is forgotten either way.
  Status Close(const Deadline& deadline);

  bool logged_in() const { return !key_.empty(); }
  int logins() const { return logins_; }  // for tests

 private:
  Result<nlohmann::json> Call(std::string_view method, std::string_view path,
                              const nlohmann::json* body, const Deadline& deadline);
  struct Answer;
  Result<Answer> Send(std::string_view method, const std::string& path, const std::string& body,
                      bool with_key, const Deadline& deadline);
  Status Login(const Deadline& deadline);
  Status ErrorOf(const Answer& answer, std::string_view method, std::string_view path) const;
  Status TransportError(const Status& s) const;
  std::string Where() const;  // "source array (https://...)"

  const WsapiEndpoint endpoint_;
  std::unique_ptr<kube::Transport> transport_;
  Env env_;
  std::string key_;
  int logins_ = 0;
};

}  // namespace kdr::storage
