#pragma once

// Authentication as kube-apiserver's static token and x509 authenticators do it: a bearer token
// maps to a user (name, uid, groups); a client certificate signed by the cluster CA maps to
// CN = user, O = groups. Every authenticated user also gets "system:authenticated".
// Service-account tokens map to "system:serviceaccount:NS:NAME" with the groups
// system:serviceaccounts and system:serviceaccounts:NS. Thread-safe.

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "admission.h"

namespace kdr::kubesim {

class Authenticator {
 public:
  // persist_path: when set, the issued tokens are loaded from and saved to this JSON file
  // (kubesim --data-dir), so a restarted server still accepts them.
  explicit Authenticator(std::map<std::string, UserInfo> tokens, std::string persist_path = "");

  // The user a bearer token names, or nullopt when unknown.
  std::optional<UserInfo> FromToken(const std::string& token) const;
  // The user of a verified client certificate's subject (cn, organizations).
  static UserInfo FromCertificate(const std::string& common_name,
                                  const std::vector<std::string>& organizations);

  // Registers a new random token for user and returns it.
  std::string Issue(UserInfo user);
  // A new token for the service account ns/name.
  std::string IssueServiceAccount(const std::string& ns, const std::string& name,
                                  const std::string& uid = "");
  // Every token (for --data-dir persistence), token -> user.
  std::map<std::string, UserInfo> tokens() const;

  static UserInfo ServiceAccountUser(const std::string& ns, const std::string& name,
                                     const std::string& uid);

 private:
  void SaveLocked() const;
  mutable std::mutex mu_;
  std::map<std::string, UserInfo> tokens_;
  std::map<std::string, UserInfo> issued_;
  std::string persist_path_;
};

// A random string of n URL-safe characters from the OS entropy source.
std::string RandomToken(size_t n);

}  // namespace kdr::kubesim
