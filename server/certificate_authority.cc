#include "server/certificate_authority.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/client_identity.h"

namespace equifl::server {
namespace {

template <auto Free>
struct OpenSslFree {
  template <typename T>
  void operator()(T* pointer) const {
    Free(pointer);
  }
};
using Certificate = std::unique_ptr<X509, OpenSslFree<X509_free>>;
using Key = std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>>;
using Bio = std::unique_ptr<BIO, OpenSslFree<BIO_free>>;
using BigNumber = std::unique_ptr<BIGNUM, OpenSslFree<BN_free>>;
using Integer = std::unique_ptr<ASN1_INTEGER, OpenSslFree<ASN1_INTEGER_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, OpenSslFree<X509_EXTENSION_free>>;
using Names = std::unique_ptr<GENERAL_NAMES, OpenSslFree<GENERAL_NAMES_free>>;
using Store = std::unique_ptr<X509_STORE, OpenSslFree<X509_STORE_free>>;
using StoreContext = std::unique_ptr<X509_STORE_CTX, OpenSslFree<X509_STORE_CTX_free>>;

constexpr int kBackdateSeconds = 5 * 60;

// OpenSSL's queued errors, oldest first, and clears the queue.
std::string OpenSslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char line[256];
    ERR_error_string_n(code, line, sizeof line);
    absl::StrAppend(&text, text.empty() ? "" : "; ", line);
  }
  return text.empty() ? "no further detail from OpenSSL" : text;
}

absl::Status OpenSslFailure(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

absl::Status ValidateDays(int days) {
  if (days < 1 || days > kMaxCertificateDays) {
    return absl::InvalidArgumentError(absl::StrCat("a certificate is valid for ", days,
                                                   " days; allowed: 1 to ", kMaxCertificateDays));
  }
  return absl::OkStatus();
}

absl::StatusOr<Certificate> ParseCertificate(absl::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (certificate == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a PEM certificate (", OpenSslErrors(), ")"));
  }
  return certificate;
}

absl::StatusOr<Key> ParsePrivateKey(absl::string_view pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Key key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an unencrypted PEM private key (", OpenSslErrors(), ")"));
  }
  return key;
}

std::string MemoryText(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(size));
}

absl::StatusOr<IssuedCertificate> ToPem(X509* certificate, EVP_PKEY* key) {
  Bio certificate_text(BIO_new(BIO_s_mem()));
  Bio key_text(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(certificate_text.get(), certificate) != 1 ||
      PEM_write_bio_PrivateKey(key_text.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslFailure("encoding the certificate as PEM");
  }
  return IssuedCertificate{MemoryText(certificate_text.get()), MemoryText(key_text.get())};
}

absl::StatusOr<Key> NewKey() {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslFailure("generating a P-256 key");
  return key;
}

// A certificate for `key` with a random 128-bit serial, X.509 v3, valid from a
// few minutes ago for `days`, subject O=equifl, CN=`common_name`. Not signed yet.
absl::StatusOr<Certificate> NewCertificate(EVP_PKEY* key, absl::string_view common_name, int days) {
  Certificate certificate(X509_new());
  unsigned char serial_bytes[16];
  if (certificate == nullptr || RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
    return OpenSslFailure("starting a certificate");
  }
  serial_bytes[0] |= 0x80;  // exactly 128 bits: never zero, always positive (unsigned input)
  BigNumber serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  Integer serial_number(serial ? BN_to_ASN1_INTEGER(serial.get(), nullptr) : nullptr);
  X509_NAME* subject = X509_get_subject_name(certificate.get());
  if (serial_number == nullptr || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(certificate.get(), serial_number.get()) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -kBackdateSeconds) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(certificate.get()), days, 0, nullptr) == nullptr ||
      X509_set_pubkey(certificate.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>("equifl"), -1, -1,
                                 0) != 1 ||
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.data()),
                                 static_cast<int>(common_name.size()), -1, 0) != 1) {
    return OpenSslFailure("filling in a certificate");
  }
  return certificate;
}

// Adds the extension `nid` = `value` (OpenSSL's configuration syntax) with
// `issuer` as the issuing certificate (for the key identifiers).
absl::Status AddExtension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  Extension extension(X509V3_EXT_nconf_nid(nullptr, &context, nid, value));
  if (extension == nullptr || X509_add_ext(certificate, extension.get(), -1) != 1) {
    return OpenSslFailure(absl::StrCat("adding the extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

// A host name: labels of letters, digits and '-', 1-63 each, joined by '.'.
bool IsHostName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      if (label == 0 || label > 63) return false;
      label = 0;
      continue;
    }
    const char c = name[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    ++label;
  }
  return true;
}

bool IsIpAddress(const std::string& name) {
  unsigned char address[16];
  return inet_pton(AF_INET, name.c_str(), address) == 1 ||
         inet_pton(AF_INET6, name.c_str(), address) == 1;
}

absl::Status AddSubjectAltNames(X509* certificate, const std::vector<std::string>& names) {
  Names general_names(sk_GENERAL_NAME_new_null());
  for (const std::string& name : names) {
    GENERAL_NAME* general_name = GENERAL_NAME_new();
    if (general_name == nullptr) return OpenSslFailure("adding a subjectAltName");
    if (IsIpAddress(name)) {
      ASN1_OCTET_STRING* address = a2i_IPADDRESS(name.c_str());
      if (address == nullptr) {
        GENERAL_NAME_free(general_name);
        return OpenSslFailure(absl::StrCat("encoding the address ", name));
      }
      GENERAL_NAME_set0_value(general_name, GEN_IPADD, address);
    } else {
      ASN1_IA5STRING* host = ASN1_IA5STRING_new();
      if (host == nullptr ||
          ASN1_STRING_set(host, name.data(), static_cast<int>(name.size())) != 1) {
        ASN1_IA5STRING_free(host);
        GENERAL_NAME_free(general_name);
        return OpenSslFailure(absl::StrCat("encoding the name ", name));
      }
      GENERAL_NAME_set0_value(general_name, GEN_DNS, host);
    }
    sk_GENERAL_NAME_push(general_names.get(), general_name);
  }
  if (X509_add1_ext_i2d(certificate, NID_subject_alt_name, general_names.get(), 0,
                        X509V3_ADD_DEFAULT) != 1) {
    return OpenSslFailure("adding the subjectAltNames");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(int days) {
  EQUIFL_RETURN_IF_ERROR(ValidateDays(days));
  EQUIFL_ASSIGN_OR_RETURN(Key key, NewKey());
  EQUIFL_ASSIGN_OR_RETURN(Certificate certificate,
                          NewCertificate(key.get(), "equifl certificate authority", days));
  X509* self = certificate.get();
  if (X509_set_issuer_name(self, X509_get_subject_name(self)) != 1) {
    return OpenSslFailure("naming the CA's issuer");
  }
  EQUIFL_RETURN_IF_ERROR(AddExtension(self, self, NID_basic_constraints, "critical,CA:TRUE"));
  EQUIFL_RETURN_IF_ERROR(AddExtension(self, self, NID_key_usage, "critical,keyCertSign,cRLSign"));
  EQUIFL_RETURN_IF_ERROR(AddExtension(self, self, NID_subject_key_identifier, "hash"));
  if (X509_sign(self, key.get(), EVP_sha256()) == 0) return OpenSslFailure("signing the CA");
  EQUIFL_ASSIGN_OR_RETURN(IssuedCertificate pem, ToPem(self, key.get()));
  return CertificateAuthority(std::move(pem));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(std::string certificate,
                                                                   std::string private_key) {
  absl::StatusOr<Certificate> parsed = ParseCertificate(certificate);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the CA certificate is ", parsed.status().message()));
  }
  if (X509_check_ca(parsed->get()) != 1) {
    return absl::InvalidArgumentError("the CA certificate is not a certificate authority's");
  }
  EQUIFL_RETURN_IF_ERROR(CheckKeyMatchesCertificate(certificate, private_key));
  return CertificateAuthority({std::move(certificate), std::move(private_key)});
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::IssueServerCertificate(
    const std::vector<std::string>& names, int days) const {
  EQUIFL_RETURN_IF_ERROR(ValidateDays(days));
  if (names.empty()) {
    return absl::InvalidArgumentError(
        "a server certificate needs at least one host name or address clients dial");
  }
  for (const std::string& name : names) {
    if (!IsIpAddress(name) && !IsHostName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the server name '", name,
          "' is neither a host name (letters, digits, '-' and '.') nor an IPv4 or IPv6 address"));
    }
  }
  return Issue("equifl aggregator", days, "serverAuth", &names);
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::IssueClientCertificate(
    absl::string_view name, int days) const {
  EQUIFL_RETURN_IF_ERROR(ValidateDays(days));
  EQUIFL_RETURN_IF_ERROR(ValidateCertificateName(name));
  return Issue(name, days, "clientAuth", nullptr);
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::Issue(
    absl::string_view common_name, int days, const char* extended_key_usage,
    const std::vector<std::string>* alternative_names) const {
  EQUIFL_ASSIGN_OR_RETURN(Certificate issuer, ParseCertificate(authority_.certificate));
  EQUIFL_ASSIGN_OR_RETURN(Key issuer_key, ParsePrivateKey(authority_.private_key));
  EQUIFL_ASSIGN_OR_RETURN(Key key, NewKey());
  EQUIFL_ASSIGN_OR_RETURN(Certificate certificate, NewCertificate(key.get(), common_name, days));
  X509* issued = certificate.get();
  if (X509_set_issuer_name(issued, X509_get_subject_name(issuer.get())) != 1) {
    return OpenSslFailure("naming the issuer");
  }
  EQUIFL_RETURN_IF_ERROR(
      AddExtension(issued, issuer.get(), NID_basic_constraints, "critical,CA:FALSE"));
  EQUIFL_RETURN_IF_ERROR(
      AddExtension(issued, issuer.get(), NID_key_usage, "critical,digitalSignature"));
  EQUIFL_RETURN_IF_ERROR(AddExtension(issued, issuer.get(), NID_ext_key_usage, extended_key_usage));
  EQUIFL_RETURN_IF_ERROR(AddExtension(issued, issuer.get(), NID_subject_key_identifier, "hash"));
  EQUIFL_RETURN_IF_ERROR(
      AddExtension(issued, issuer.get(), NID_authority_key_identifier, "keyid:always"));
  if (alternative_names != nullptr) {
    EQUIFL_RETURN_IF_ERROR(AddSubjectAltNames(issued, *alternative_names));
  }
  if (X509_sign(issued, issuer_key.get(), EVP_sha256()) == 0) {
    return OpenSslFailure("signing the certificate");
  }
  return ToPem(issued, key.get());
}

absl::Status VerifyCertificate(absl::string_view certificate, absl::string_view ca_certificate) {
  absl::StatusOr<Certificate> leaf = ParseCertificate(certificate);
  if (!leaf.ok()) return leaf.status();
  absl::StatusOr<Certificate> authority = ParseCertificate(ca_certificate);
  if (!authority.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the CA certificate is ", authority.status().message()));
  }
  Store store(X509_STORE_new());
  StoreContext context(X509_STORE_CTX_new());
  if (store == nullptr || context == nullptr ||
      X509_STORE_add_cert(store.get(), authority->get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), leaf->get(), nullptr) != 1) {
    return OpenSslFailure("setting up the verification");
  }
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "the certificate does not verify against the CA: ", X509_verify_cert_error_string(error)));
  }
  return absl::OkStatus();
}

absl::Status CheckKeyMatchesCertificate(absl::string_view certificate,
                                        absl::string_view private_key) {
  EQUIFL_ASSIGN_OR_RETURN(Certificate parsed, ParseCertificate(certificate));
  absl::StatusOr<Key> key = ParsePrivateKey(private_key);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("the key is ", key.status().message()));
  }
  if (X509_check_private_key(parsed.get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("the private key is not the certificate's key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CertificateCommonName(absl::string_view certificate) {
  EQUIFL_ASSIGN_OR_RETURN(Certificate parsed, ParseCertificate(certificate));
  X509_NAME* subject = X509_get_subject_name(parsed.get());
  const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return absl::InvalidArgumentError("the certificate's subject has no common name");
  unsigned char* text = nullptr;
  const int length =
      ASN1_STRING_to_UTF8(&text, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  if (length < 0) return OpenSslFailure("reading the certificate's common name");
  std::string name(reinterpret_cast<const char*>(text), static_cast<size_t>(length));
  OPENSSL_free(text);
  return name;
}

}  // namespace equifl::server
