#pragma once

// OpenSSL handles owned by std::unique_ptr, and PEM parsing from memory: the one place the
// project turns PEM text into certificates, keys and trust stores.

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kdr::tls {

struct BioFree { void operator()(BIO* b) const { BIO_free_all(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct PkeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };
struct X509StoreFree { void operator()(X509_STORE* s) const { X509_STORE_free(s); } };
struct SslCtxFree { void operator()(SSL_CTX* c) const { SSL_CTX_free(c); } };

using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// The text of the oldest queued OpenSSL error ("unknown error" when none), clearing the queue.
std::string LastOpenSslError();

// Every certificate of a PEM bundle, in order. InvalidArgument "<what>: no PEM certificate found
// ..." when there is none.
Result<std::vector<X509Ptr>> ParseCertificates(std::string_view pem, std::string_view what);

// The first private key (any PEM key format). InvalidArgument "<what>: no PEM private key found".
Result<PkeyPtr> ParsePrivateKey(std::string_view pem, std::string_view what);

// A trust store holding every certificate of the bundle.
Result<X509StorePtr> NewCertStore(std::string_view pem, std::string_view what);

// Installs a serving (or client) certificate chain and its key on ctx: the first certificate is
// the leaf, the rest its chain. InvalidArgument naming the part that does not parse or match.
Status UseCertificateAndKey(SSL_CTX* ctx, std::string_view cert_pem, std::string_view key_pem);

}  // namespace kdr::tls
