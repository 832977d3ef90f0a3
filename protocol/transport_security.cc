#include "protocol/transport_security.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "protocol/file_io.h"

namespace equifl::protocol {
namespace {

// A certificate or key is a few KiB; a larger file is refused before it is read.
constexpr uint64_t kMaxPemBytes = uint64_t{1} << 20;

// The contents of `folder`/`name`, which must hold a PEM block whose label ends
// with `label` ("CERTIFICATE", "PRIVATE KEY").
absl::StatusOr<std::string> ReadPem(const std::filesystem::path& folder, const char* name,
                                    const char* label, const char* role_files) {
  const std::filesystem::path path = folder / name;
  absl::StatusOr<std::string> text = ReadRegularFile(path.string(), kMaxPemBytes);
  if (!text.ok()) {
    std::error_code ignored;
    if (!std::filesystem::is_directory(folder, ignored)) {
      return absl::NotFoundError(absl::StrCat(
          "the certificate folder '", folder.string(), "' does not exist; give the folder `equifl ",
          "certs --out DIR` wrote for this party (", role_files, ")"));
    }
    return absl::Status(text.status().code(),
                        absl::StrCat(text.status().message(), "; the folder must hold ", role_files,
                                     " as `equifl certs` writes them"));
  }
  if (!absl::StrContains(*text, absl::StrCat(label, "-----"))) {
    return absl::InvalidArgumentError(
        absl::StrCat(path.string(), " holds no PEM ", absl::AsciiStrToLower(label)));
  }
  return *std::move(text);
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTlsMaterial(const std::string& folder, TlsRole role) {
  const bool server = role == TlsRole::kServer;
  const char* files = server ? "ca.pem, server.pem, server.key" : "ca.pem, client.pem, client.key";
  TlsMaterial material;
  EQUIFL_ASSIGN_OR_RETURN(material.ca_certificate, ReadPem(folder, "ca.pem", "CERTIFICATE", files));
  EQUIFL_ASSIGN_OR_RETURN(
      material.certificate,
      ReadPem(folder, server ? "server.pem" : "client.pem", "CERTIFICATE", files));
  EQUIFL_ASSIGN_OR_RETURN(
      material.private_key,
      ReadPem(folder, server ? "server.key" : "client.key", "PRIVATE KEY", files));
  return material;
}

std::shared_ptr<grpc::ServerCredentials> MutualTlsServerCredentials(const TlsMaterial& material) {
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = material.ca_certificate;
  options.pem_key_cert_pairs.push_back({material.private_key, material.certificate});
  return grpc::SslServerCredentials(options);
}

std::shared_ptr<grpc::ChannelCredentials> MutualTlsChannelCredentials(const TlsMaterial& material) {
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = material.ca_certificate;
  options.pem_private_key = material.private_key;
  options.pem_cert_chain = material.certificate;
  return grpc::SslCredentials(options);
}

}  // namespace equifl::protocol
