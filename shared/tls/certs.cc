#include "tls/certs.h"

#include "tls/pem.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

namespace kdr::tls {
namespace {

struct ExtFree { void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); } };

std::string OpenSslError(std::string_view what) { return std::string(what) + ": " + LastOpenSslError(); }

PkeyPtr NewKey() { return PkeyPtr(EVP_EC_gen("P-256")); }

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Result<std::string> KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return Status::Internal(OpenSslError("cannot encode private key"));
  }
  return BioString(bio.get());
}

Result<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) {
    return Status::Internal(OpenSslError("cannot encode certificate"));
  }
  return BioString(bio.get());
}

Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return Status::InvalidArgument(OpenSslError("invalid certificate extension " + value));
  if (!X509_add_ext(cert, ext.get(), -1)) return Status::Internal(OpenSslError("cannot add extension"));
  return Status::Ok();
}

void SetSerial(X509* cert) {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  bytes[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(bytes, sizeof bytes, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
}

X509Ptr NewCert(EVP_PKEY* key, const std::string& cn, const std::vector<std::string>& orgs,
                std::chrono::hours validity, std::chrono::minutes backdate) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  SetSerial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()),
                  -static_cast<long>(std::chrono::seconds(backdate).count()));
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  static_cast<long>(std::chrono::seconds(validity).count()));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& o : orgs) {
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(o.c_str()), -1, -1, 0);
  }
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return cert;
}

Result<X509Ptr> ParseCert(const std::string& pem) {
  KDR_ASSIGN_OR_RETURN(std::vector<X509Ptr> certs, ParseCertificates(pem, "cannot parse certificate PEM"));
  return std::move(certs.front());
}

}  // namespace

Result<KeyPair> MakeCa(const std::string& common_name, std::chrono::hours validity) {
  PkeyPtr key = NewKey();
  if (!key) return Status::Internal(OpenSslError("cannot generate key"));
  X509Ptr cert = NewCert(key.get(), common_name, {}, validity, std::chrono::minutes(5));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  KDR_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  KDR_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_key_usage,
                             "critical,keyCertSign,cRLSign,digitalSignature"));
  KDR_RETURN_IF_ERROR(AddExt(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (!X509_sign(cert.get(), key.get(), EVP_sha256())) {
    return Status::Internal(OpenSslError("cannot sign CA certificate"));
  }
  KeyPair out;
  KDR_ASSIGN_OR_RETURN(out.cert_pem, CertPem(cert.get()));
  KDR_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  return out;
}

Result<KeyPair> MakeLeaf(const KeyPair& ca, const CertRequest& req) {
  KDR_ASSIGN_OR_RETURN(X509Ptr ca_cert, ParseCert(ca.cert_pem));
  KDR_ASSIGN_OR_RETURN(PkeyPtr ca_key, ParsePrivateKey(ca.key_pem, "cannot parse CA private key PEM"));

  PkeyPtr key = NewKey();
  if (!key) return Status::Internal(OpenSslError("cannot generate key"));
  X509Ptr cert = NewCert(key.get(), req.common_name, req.organizations, req.validity, req.backdate);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
  KDR_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  KDR_RETURN_IF_ERROR(
      AddExt(cert.get(), ca_cert.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment"));
  std::string eku;
  if (req.server) eku = "serverAuth";
  if (req.client) eku += eku.empty() ? "clientAuth" : ",clientAuth";
  if (!eku.empty()) KDR_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_ext_key_usage, eku));
  std::string san;
  for (const auto& d : req.dns_names) san += (san.empty() ? "DNS:" : ",DNS:") + d;
  for (const auto& ip : req.ip_addresses) san += (san.empty() ? "IP:" : ",IP:") + ip;
  if (!san.empty()) KDR_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_subject_alt_name, san));
  KDR_RETURN_IF_ERROR(AddExt(cert.get(), ca_cert.get(), NID_authority_key_identifier, "keyid:always"));
  if (!X509_sign(cert.get(), ca_key.get(), EVP_sha256())) {
    return Status::Internal(OpenSslError("cannot sign certificate"));
  }
  KeyPair out;
  KDR_ASSIGN_OR_RETURN(out.cert_pem, CertPem(cert.get()));
  KDR_ASSIGN_OR_RETURN(out.key_pem, KeyPem(key.get()));
  return out;
}

Result<long long> SecondsUntilExpiry(const std::string& cert_pem) {
  KDR_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  int days = 0, secs = 0;
  if (!ASN1_TIME_diff(&days, &secs, nullptr, X509_get0_notAfter(cert.get()))) {
    return Status::InvalidArgument("certificate has an unreadable notAfter");
  }
  return static_cast<long long>(days) * 86400 + secs;
}

Result<std::string> CommonName(const std::string& cert_pem) {
  KDR_ASSIGN_OR_RETURN(X509Ptr cert, ParseCert(cert_pem));
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buf, sizeof buf);
  return std::string(buf);
}

}  // namespace kdr::tls
