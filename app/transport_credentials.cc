#include "app/transport_credentials.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "server/certificate_authority.h"

namespace equifl::app {
namespace {

// Ephemeral certificates outlive any simulation.
constexpr int kEphemeralDays = 30;

absl::Status BothFlags(const std::string& command) {
  return absl::InvalidArgumentError(
      absl::StrCat(command, ": --certs and --insecure exclude each other; pass one"));
}

absl::Status NeitherFlag(const std::string& command, const std::string& folder) {
  return absl::InvalidArgumentError(absl::StrCat(
      command, " uses mutual TLS: run `equifl certs --out DIR` and pass --certs ", folder,
      ", or pass --insecure for plaintext without client authentication on a trusted network"));
}

// Checks that `material` from `folder` fits together: the certificate was signed
// by the CA and the key is its key.
absl::Status CheckMaterial(const protocol::TlsMaterial& material, const std::string& folder,
                           const char* certificate_file, const char* key_file) {
  const std::filesystem::path path(folder);
  if (absl::Status status =
          server::VerifyCertificate(material.certificate, material.ca_certificate);
      !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat((path / certificate_file).string(), ": ",
                                                   status.message(), " in ",
                                                   (path / "ca.pem").string()));
  }
  if (absl::Status status =
          server::CheckKeyMatchesCertificate(material.certificate, material.private_key);
      !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat((path / key_file).string(), ": ",
                                                   status.message(), " (",
                                                   (path / certificate_file).string(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace

void AddTlsFlags(CLI::App& command, TlsFlags& flags, const std::string& certs_help) {
  command.add_option("--certs", flags.certs,
                     certs_help + " (made by `equifl certs`); mutual TLS is the default");
  command.add_flag("--insecure", flags.insecure,
                   "plaintext gRPC without client authentication, only for a trusted network");
}

std::vector<std::string> DefaultServerNames() { return {"localhost", "127.0.0.1", "::1"}; }

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsFlags& flags, const std::string& command) {
  if (flags.insecure && !flags.certs.empty()) return BothFlags(command);
  if (flags.insecure) return grpc::InsecureServerCredentials();
  if (flags.certs.empty()) return NeitherFlag(command, "DIR/server");
  EQUIFL_ASSIGN_OR_RETURN(protocol::TlsMaterial material,
                          protocol::LoadTlsMaterial(flags.certs, protocol::TlsRole::kServer));
  EQUIFL_RETURN_IF_ERROR(CheckMaterial(material, flags.certs, "server.pem", "server.key"));
  return protocol::MutualTlsServerCredentials(material);
}

absl::StatusOr<ClientCredentials> ClientCredentialsFor(const TlsFlags& flags,
                                                       const std::string& command,
                                                       const std::string& folder_hint) {
  if (flags.insecure && !flags.certs.empty()) return BothFlags(command);
  if (flags.insecure) return ClientCredentials{grpc::InsecureChannelCredentials(), ""};
  if (flags.certs.empty()) return NeitherFlag(command, folder_hint);
  EQUIFL_ASSIGN_OR_RETURN(protocol::TlsMaterial material,
                          protocol::LoadTlsMaterial(flags.certs, protocol::TlsRole::kClient));
  EQUIFL_RETURN_IF_ERROR(CheckMaterial(material, flags.certs, "client.pem", "client.key"));
  EQUIFL_ASSIGN_OR_RETURN(std::string name, server::CertificateCommonName(material.certificate));
  return ClientCredentials{protocol::MutualTlsChannelCredentials(material), std::move(name)};
}

absl::StatusOr<EphemeralTls> MakeEphemeralTls(const std::vector<std::string>& server_names,
                                              const std::string& client_name) {
  EQUIFL_ASSIGN_OR_RETURN(server::CertificateAuthority authority,
                          server::CertificateAuthority::Create(kEphemeralDays));
  EQUIFL_ASSIGN_OR_RETURN(server::IssuedCertificate server_certificate,
                          authority.IssueServerCertificate(server_names, kEphemeralDays));
  EQUIFL_ASSIGN_OR_RETURN(server::IssuedCertificate client_certificate,
                          authority.IssueClientCertificate(client_name, kEphemeralDays));
  return EphemeralTls{
      {authority.certificate(), server_certificate.certificate, server_certificate.private_key},
      {authority.certificate(), client_certificate.certificate, client_certificate.private_key}};
}

}  // namespace equifl::app
