#pragma once

// ServingCert: the webhook's certificate and key, re-read when their files change, so
// cert-manager's rotation (an atomic swap of the Secret volume) takes effect without a restart.
//
// The TLS server asks for Current() on every new handshake; Current() stats both files (two
// cheap syscalls) and reloads when either changed. Connections already established keep the
// certificate they were made with, so in-flight requests are never dropped. A reload that fails
// (a half-written pair, a key that does not match) keeps the previous pair and is retried on the
// next handshake.
//
// Thread-safe.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;

namespace kdr {
class FileSystem;
class Logger;
}  // namespace kdr

namespace kdr::admission {

class ServingCert {
 public:
  // A loaded pair. Immutable; the OpenSSL objects are freed with the last reference.
  struct Pair {
    Pair() = default;
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;
    ~Pair();
    X509* leaf = nullptr;
    std::vector<X509*> chain;  // intermediates after the leaf, in file order
    EVP_PKEY* key = nullptr;
    std::string cert_pem;
    std::string change_key;  // of both files, to detect rotation
  };

  ServingCert(std::string cert_file, std::string key_file, const FileSystem* fs, Logger* logger);

  // Loads the pair. InvalidArgument naming the file when a PEM does not parse or the key does not
  // match the certificate; NotFound/PermissionDenied when a file cannot be read.
  Status Load();
  // The current pair, reloaded first when the files changed. Null before a successful Load().
  std::shared_ptr<const Pair> Current();
  // Seconds until the current certificate expires (negative once expired); 0 when none.
  long long SecondsUntilExpiry();
  // Successful reloads after the first Load (for metrics and tests).
  int reloads() const;

 private:
  Result<std::shared_ptr<const Pair>> Read(const std::string& change_key) const;
  Result<std::string> ChangeKey() const;

  const std::string cert_file_;
  const std::string key_file_;
  const FileSystem* const fs_;
  Logger* const logger_;
  mutable std::mutex mu_;
  std::shared_ptr<const Pair> current_;
  std::string failed_key_;  // change key of a pair that failed to load; not retried until it changes
  int reloads_ = 0;
};

}  // namespace kdr::admission
