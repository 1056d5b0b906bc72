#include "auth.h"

#include "base/fs.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace kdr::kubesim {

std::string RandomToken(size_t n) {
  static constexpr std::string_view kChars =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < n; ++i) out.push_back(kChars[rd() % kChars.size()]);
  return out;
}

namespace {

void AddAuthenticated(UserInfo* u) {
  if (std::find(u->groups.begin(), u->groups.end(), "system:authenticated") == u->groups.end()) {
    u->groups.push_back("system:authenticated");
  }
}

}  // namespace

Authenticator::Authenticator(std::map<std::string, UserInfo> tokens, std::string persist_path)
    : tokens_(std::move(tokens)), persist_path_(std::move(persist_path)) {
  if (persist_path_.empty()) return;
  std::ifstream in(persist_path_);
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  auto doc = nlohmann::json::parse(ss.str(), nullptr, false);
  if (!doc.is_object()) return;
  for (const auto& [token, u] : doc.items()) {
    UserInfo user;
    user.username = u.value("username", "");
    user.uid = u.value("uid", "");
    for (const auto& g : u.value("groups", nlohmann::json::array())) user.groups.push_back(g.get<std::string>());
    issued_[token] = user;
    tokens_[token] = user;
  }
}

void Authenticator::SaveLocked() const {
  if (persist_path_.empty()) return;
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [token, u] : issued_) {
    doc[token] = {{"username", u.username}, {"uid", u.uid}, {"groups", u.groups}};
  }
  // Bearer tokens: owner-only. A failed save only costs the tokens' survival of a restart.
  (void)PosixFileSystem().WriteFile(persist_path_, doc.dump(), 0600);
}

std::optional<UserInfo> Authenticator::FromToken(const std::string& token) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end()) return std::nullopt;
  UserInfo u = it->second;
  AddAuthenticated(&u);
  return u;
}

UserInfo Authenticator::FromCertificate(const std::string& common_name,
                                        const std::vector<std::string>& organizations) {
  UserInfo u;
  u.username = common_name;
  u.groups = organizations;
  AddAuthenticated(&u);
  return u;
}

std::string Authenticator::Issue(UserInfo user) {
  std::string token = RandomToken(48);
  std::lock_guard lock(mu_);
  issued_[token] = user;
  tokens_[token] = std::move(user);
  SaveLocked();
  return token;
}

UserInfo Authenticator::ServiceAccountUser(const std::string& ns, const std::string& name,
                                           const std::string& uid) {
  UserInfo u;
  u.username = "system:serviceaccount:" + ns + ":" + name;
  u.uid = uid;
  u.groups = {"system:serviceaccounts", "system:serviceaccounts:" + ns};
  return u;
}

std::string Authenticator::IssueServiceAccount(const std::string& ns, const std::string& name,
                                               const std::string& uid) {
  return Issue(ServiceAccountUser(ns, name, uid));
}

std::map<std::string, UserInfo> Authenticator::tokens() const {
  std::lock_guard lock(mu_);
  return tokens_;
}

}  // namespace kdr::kubesim
