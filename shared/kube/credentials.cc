#include "kube/credentials.h"

#include <mutex>
#include <optional>

#include "base/fs.h"
#include "base/strings.h"
#include "kube/exec_credential.h"

namespace kdr::kube {
namespace {

// A token and/or client certificate fixed in the kubeconfig.
class StaticProvider final : public CredentialProvider {
 public:
  explicit StaticProvider(const RestConfig& config) {
    creds_.bearer_token = config.bearer_token;
    creds_.client_cert_pem = config.client_cert_pem;
    creds_.client_key_pem = config.client_key_pem;
  }
  Result<Credentials> Get(bool /*force_refresh*/) override { return creds_; }

 private:
  Credentials creds_;
};

// tokenFile / the service-account token: re-read whenever the file changes (kubelet rotates
// projected tokens by replacing the file) or on force_refresh.
class TokenFileProvider final : public CredentialProvider {
 public:
  TokenFileProvider(const RestConfig& config, FileSystem* fs) : fs_(fs), path_(config.token_file) {
    base_.bearer_token = config.bearer_token;  // kubectl's fallback when the file cannot be read
    base_.client_cert_pem = config.client_cert_pem;
    base_.client_key_pem = config.client_key_pem;
    what_ = "token file " + path_;
    if (!config.user_name.empty()) what_ += " of user " + Quote(config.user_name);
    if (!config.source.empty()) what_ += " in " + config.source;
  }

  Result<Credentials> Get(bool force_refresh) override {
    std::lock_guard lock(mu_);
    auto info = fs_->Stat(path_);
    if (info.ok() && !force_refresh && token_ && info->change_key == change_key_) {
      return WithToken(*token_);
    }
    auto data = info.ok() ? fs_->ReadFile(path_) : Result<std::string>(info.status());
    if (!data.ok()) {
      if (!base_.bearer_token.empty()) return base_;
      if (data.status().code() == StatusCode::kNotFound) {
        return Status::Unauthenticated(what_ + " does not exist");
      }
      return Status::Unauthenticated("cannot read " + what_ + ": " + data.status().message());
    }
    std::string token(TrimSpace(*data));
    if (token.empty()) return Status::Unauthenticated(what_ + " is empty");
    token_ = token;
    change_key_ = info->change_key;
    return WithToken(token);
  }

 private:
  Credentials WithToken(const std::string& token) const {
    Credentials c = base_;
    c.bearer_token = token;
    return c;
  }

  FileSystem* const fs_;
  const std::string path_;
  Credentials base_;
  std::string what_;

  std::mutex mu_;
  std::optional<std::string> token_;
  std::string change_key_;
};

}  // namespace

std::unique_ptr<CredentialProvider> MakeCredentialProvider(const RestConfig& config,
                                                           const Env& env) {
  if (config.exec) {
    return MakeExecCredentialProvider(config, env.clock, ExecRunOptions::FromProcess(env.logger));
  }
  if (!config.token_file.empty()) return std::make_unique<TokenFileProvider>(config, env.fs);
  return std::make_unique<StaticProvider>(config);
}

}  // namespace kdr::kube
