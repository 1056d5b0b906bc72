#pragma once

// Certificates made with OpenSSL: the CA and serving certificate `kubectl dr install` generates
// for the webhook when cert-manager is not used, and the per-run CAs of kubesim and the tests.
// Keys are ECDSA P-256. All output is PEM.

#include <chrono>
#include <string>
#include <vector>

#include "base/status.h"

namespace kdr::tls {

struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

struct CertRequest {
  std::string common_name;
  std::vector<std::string> organizations;  // client certs: Kubernetes groups
  std::vector<std::string> dns_names;      // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;   // subjectAltName IP entries ("127.0.0.1", "::1")
  std::chrono::hours validity{24 * 365};
  // Backdates notBefore, so a freshly made certificate is valid on a peer whose clock lags.
  std::chrono::minutes backdate{5};
  bool server = true;  // extendedKeyUsage serverAuth
  bool client = false; // extendedKeyUsage clientAuth
};

// A self-signed CA certificate (basicConstraints CA:TRUE, keyCertSign).
Result<KeyPair> MakeCa(const std::string& common_name,
                       std::chrono::hours validity = std::chrono::hours(24 * 365 * 10));

// A leaf certificate signed by `ca`. InvalidArgument when the CA PEM does not parse or an IP
// address is malformed.
Result<KeyPair> MakeLeaf(const KeyPair& ca, const CertRequest& request);

// Seconds until the first certificate in `cert_pem` expires (negative once expired).
Result<long long> SecondsUntilExpiry(const std::string& cert_pem);

// Subject common name of the first certificate in cert_pem.
Result<std::string> CommonName(const std::string& cert_pem);

}  // namespace kdr::tls
