#include "tls/pem.h"

#include <openssl/err.h>
#include <openssl/pem.h>

namespace kdr::tls {
namespace {

BioPtr MemBio(std::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

}  // namespace

std::string LastOpenSslError() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "unknown error";
  // The reason alone ("certificate verify failed") reads better than the full error string.
  const char* reason = ERR_reason_error_string(e);
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return reason != nullptr ? std::string(reason) : std::string(buf);
}

Result<std::vector<X509Ptr>> ParseCertificates(std::string_view pem, std::string_view what) {
  BioPtr bio = MemBio(pem);
  std::vector<X509Ptr> certs;
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  // Reading stops at the end of the bundle with a "no start line" error: not a failure.
  ERR_clear_error();
  if (certs.empty()) {
    return Status::InvalidArgument(std::string(what) +
                                   ": no PEM certificate found (expected -----BEGIN CERTIFICATE-----)");
  }
  return certs;
}

Result<PkeyPtr> ParsePrivateKey(std::string_view pem, std::string_view what) {
  BioPtr bio = MemBio(pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string(what) + ": no PEM private key found");
  }
  return key;
}

Result<X509StorePtr> NewCertStore(std::string_view pem, std::string_view what) {
  KDR_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCertificates(pem, what));
  X509StorePtr store(X509_STORE_new());
  for (const auto& c : certs) X509_STORE_add_cert(store.get(), c.get());  // adds a reference
  return store;
}

Status UseCertificateAndKey(SSL_CTX* ctx, std::string_view cert_pem, std::string_view key_pem) {
  KDR_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain, ParseCertificates(cert_pem, "certificate"));
  KDR_ASSIGN_OR_RETURN(PkeyPtr key, ParsePrivateKey(key_pem, "key"));
  if (SSL_CTX_use_certificate(ctx, chain[0].get()) != 1) {
    return Status::InvalidArgument("certificate: " + LastOpenSslError());
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    // add0 takes ownership only on success.
    if (SSL_CTX_add0_chain_cert(ctx, chain[i].get()) == 1) chain[i].release();
  }
  if (SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("key does not match the certificate: " + LastOpenSslError());
  }
  return Status::Ok();
}

}  // namespace kdr::tls
