// The certificate authority of a deployment's mutual TLS: `equifl certs` makes
// one, and it signs the aggregator's server certificate and every client's
// certificate, all with OpenSSL's API (no openssl command line).
//
// Keys are ECDSA P-256, signatures SHA-256, serial numbers 128 random bits. The
// CA is self-signed (basicConstraints CA:TRUE critical, keyUsage keyCertSign and
// cRLSign). A server certificate names the hosts clients dial (DNS and IP
// subjectAltNames) for serverAuth; a client certificate's subject common name is
// the client id (or a worker pattern, server/client_identity.h) for clientAuth.
// Certificates start 5 minutes in the past, to tolerate clocks a little behind.
// Everything travels as PEM text; the files are `equifl certs`'s business.
#ifndef EQUIFL_SERVER_CERTIFICATE_AUTHORITY_H_
#define EQUIFL_SERVER_CERTIFICATE_AUTHORITY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace equifl::server {

//! A certificate and its private key, PEM-encoded (the key as unencrypted PKCS#8).
struct IssuedCertificate {
  std::string certificate;  //!< "-----BEGIN CERTIFICATE-----" ...
  std::string private_key;  //!< "-----BEGIN PRIVATE KEY-----" ...
};

//! Most days a certificate may be valid for (100 years).
inline constexpr int kMaxCertificateDays = 36500;

class CertificateAuthority {
 public:
  //! A new self-signed CA valid for `days` (1 to kMaxCertificateDays).
  static absl::StatusOr<CertificateAuthority> Create(int days);

  //! A CA from its certificate and private key; InvalidArgument when either does
  //! not parse, the certificate is not a CA or the key is not its key.
  static absl::StatusOr<CertificateAuthority> FromPem(std::string certificate,
                                                      std::string private_key);

  //! A server certificate for `names`: host names (letters, digits, '-' and '.')
  //! and IPv4 or IPv6 addresses, at least one; valid for `days`.
  absl::StatusOr<IssuedCertificate> IssueServerCertificate(const std::vector<std::string>& names,
                                                           int days) const;

  //! A client certificate whose common name is `name`, a client id or a worker
  //! pattern (server::ValidateCertificateName); valid for `days`.
  absl::StatusOr<IssuedCertificate> IssueClientCertificate(absl::string_view name, int days) const;

  const std::string& certificate() const { return authority_.certificate; }  //!< ca.pem
  const std::string& private_key() const { return authority_.private_key; }  //!< ca.key

 private:
  explicit CertificateAuthority(IssuedCertificate authority) : authority_(std::move(authority)) {}

  //! A certificate for `common_name` signed by this CA, for `extended_key_usage`
  //! (serverAuth or clientAuth), with `alternative_names` (may be null) as SANs.
  absl::StatusOr<IssuedCertificate> Issue(absl::string_view common_name, int days,
                                          const char* extended_key_usage,
                                          const std::vector<std::string>* alternative_names) const;

  IssuedCertificate authority_;
};

//! OK when `certificate` (PEM) was signed by the CA `ca_certificate` (PEM) and is
//! valid now; otherwise InvalidArgument with OpenSSL's reason.
absl::Status VerifyCertificate(absl::string_view certificate, absl::string_view ca_certificate);

//! OK when `private_key` (PEM) is the key of `certificate` (PEM).
absl::Status CheckKeyMatchesCertificate(absl::string_view certificate,
                                        absl::string_view private_key);

//! The subject common name of `certificate` (PEM).
absl::StatusOr<std::string> CertificateCommonName(absl::string_view certificate);

}  // namespace equifl::server

#endif  // EQUIFL_SERVER_CERTIFICATE_AUTHORITY_H_
