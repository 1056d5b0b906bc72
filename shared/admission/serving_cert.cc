#include "admission/serving_cert.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "base/fs.h"
#include "base/log.h"
#include "tls/certs.h"

namespace kdr::admission {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "no PEM data";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace

ServingCert::Pair::~Pair() {
  X509_free(leaf);
  for (X509* c : chain) X509_free(c);
  EVP_PKEY_free(key);
}

ServingCert::ServingCert(std::string cert_file, std::string key_file, const FileSystem* fs,
                         Logger* logger)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)), fs_(fs),
      logger_(logger) {}

Result<std::string> ServingCert::ChangeKey() const {
  KDR_ASSIGN_OR_RETURN(FileInfo cert, fs_->Stat(cert_file_));
  KDR_ASSIGN_OR_RETURN(FileInfo key, fs_->Stat(key_file_));
  return cert.change_key + "|" + key.change_key;
}

Result<std::shared_ptr<const ServingCert::Pair>> ServingCert::Read(
    const std::string& change_key) const {
  KDR_ASSIGN_OR_RETURN(std::string cert_pem, fs_->ReadFile(cert_file_));
  KDR_ASSIGN_OR_RETURN(std::string key_pem, fs_->ReadFile(key_file_));
  auto pair = std::make_shared<Pair>();
  pair->change_key = change_key;
  BioPtr cert_bio(BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())));
  pair->leaf = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr);
  if (pair->leaf == nullptr) {
    return Status::InvalidArgument("--tls-cert " + cert_file_ + ": not a PEM certificate (" +
                                   OpenSslError() + ")");
  }
  while (X509* c = PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)) {
    pair->chain.push_back(c);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  BioPtr key_bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  pair->key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr);
  if (pair->key == nullptr) {
    return Status::InvalidArgument("--tls-key " + key_file_ + ": not a PEM private key (" +
                                   OpenSslError() + ")");
  }
  if (X509_check_private_key(pair->leaf, pair->key) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("--tls-key " + key_file_ + " does not match the certificate "
                                   "in " + cert_file_ + "; give the key of that certificate");
  }
  pair->cert_pem = std::move(cert_pem);
  return std::shared_ptr<const Pair>(std::move(pair));
}

Status ServingCert::Load() {
  KDR_ASSIGN_OR_RETURN(std::string change_key, ChangeKey());
  KDR_ASSIGN_OR_RETURN(auto pair, Read(change_key));
  std::lock_guard lock(mu_);
  current_ = std::move(pair);
  return Status::Ok();
}

std::shared_ptr<const ServingCert::Pair> ServingCert::Current() {
  std::lock_guard lock(mu_);
  Result<std::string> key = ChangeKey();
  // A missing file mid-rotation, or the same files: keep serving what we have.
  if (!key.ok() || current_ == nullptr || *key == current_->change_key || *key == failed_key_) {
    return current_;
  }
  Result<std::shared_ptr<const Pair>> fresh = Read(*key);
  if (!fresh.ok()) {
    failed_key_ = *key;
    logger_->Warning("serving certificate changed but cannot be loaded; keeping the previous one",
                     {{"error", fresh.status().message()}});
    return current_;
  }
  current_ = std::move(fresh).value();
  ++reloads_;
  logger_->Info("serving certificate reloaded", {{"cert", cert_file_}});
  return current_;
}

long long ServingCert::SecondsUntilExpiry() {
  std::shared_ptr<const Pair> pair = Current();
  if (pair == nullptr) return 0;
  Result<long long> s = tls::SecondsUntilExpiry(pair->cert_pem);
  return s.ok() ? *s : 0;
}

int ServingCert::reloads() const {
  std::lock_guard lock(mu_);
  return reloads_;
}

}  // namespace kdr::admission
