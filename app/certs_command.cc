#include "app/certs_command.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "app/command.h"
#include "app/transport_credentials.h"
#include "base/status_macros.h"
#include "protocol/file_io.h"
#include "protocol/transport_security.h"
#include "server/certificate_authority.h"
#include "server/client_identity.h"

namespace equifl::app {
namespace {

namespace fs = std::filesystem;

struct FileToWrite {
  const char* name;
  std::string contents;
  mode_t mode;
};

absl::Status WriteNewFile(const fs::path& path, const FileToWrite& file) {
  const int descriptor = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, file.mode);
  if (descriptor < 0) return protocol::FileError("create", path.string(), errno);
  const char* next = file.contents.data();
  size_t left = file.contents.size();
  int error = ::fchmod(descriptor, file.mode) == 0 ? 0 : errno;
  while (error == 0 && left > 0) {
    const ssize_t written = ::write(descriptor, next, left);
    if (written < 0 && errno != EINTR) error = errno;
    if (written > 0) {
      next += written;
      left -= static_cast<size_t>(written);
    }
  }
  if (error == 0 && ::fsync(descriptor) != 0) error = errno;
  if (::close(descriptor) != 0 && error == 0) error = errno;
  return error == 0 ? absl::OkStatus() : protocol::FileError("write", path.string(), error);
}

void SyncFolder(const fs::path& folder) {
  if (const int descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      descriptor >= 0) {
    ::fsync(descriptor);
    ::close(descriptor);
  }
}

// Writes `files` into a new folder `path`, which appears whole or not at all: a
// temporary folder (mode 0700) beside it, renamed into place only if `path` does
// not exist.
absl::Status WriteFolder(const fs::path& path, const std::vector<FileToWrite>& files) {
  const fs::path parent = path.parent_path();
  std::error_code error;
  fs::create_directories(parent, error);
  if (error) return protocol::FileError("create the folder", parent.string(), error.value());
  std::string temporary = (parent / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  if (::mkdtemp(temporary.data()) == nullptr) {
    return protocol::FileError("create a temporary folder in", parent.string(), errno);
  }
  absl::Status status;
  for (const FileToWrite& file : files) {
    status = WriteNewFile(fs::path(temporary) / file.name, file);
    if (!status.ok()) break;
  }
  if (status.ok()) {
    SyncFolder(temporary);
    if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
      status = errno == EEXIST ? absl::AlreadyExistsError(absl::StrCat(
                                     path.string(), " appeared while it was written; run again"))
                               : protocol::FileError("create", path.string(), errno);
    }
  }
  if (!status.ok()) {
    fs::remove_all(temporary, error);
    return status;
  }
  SyncFolder(parent);
  return absl::OkStatus();
}

// Whether `path` exists; true also when it cannot be told (reading it then fails
// with the reason).
bool Exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error) || static_cast<bool>(error);
}

// A certificate or key is a few KiB; a larger file is refused before it is read.
constexpr uint64_t kMaxPemBytes = uint64_t{1} << 20;

absl::StatusOr<std::string> ReadText(const fs::path& path) {
  return protocol::ReadRegularFile(path.string(), kMaxPemBytes);
}

// The CA in DIR/ca, or a new one (in memory) when the folder does not exist.
absl::StatusOr<server::CertificateAuthority> LoadOrCreateAuthority(const fs::path& folder, int days,
                                                                   bool& created) {
  created = !Exists(folder);
  if (created) return server::CertificateAuthority::Create(days);
  EQUIFL_ASSIGN_OR_RETURN(std::string certificate, ReadText(folder / "ca.pem"));
  EQUIFL_ASSIGN_OR_RETURN(std::string key, ReadText(folder / "ca.key"));
  absl::StatusOr<server::CertificateAuthority> authority =
      server::CertificateAuthority::FromPem(std::move(certificate), std::move(key));
  if (!authority.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder.string(), ": ", authority.status().message()));
  }
  return authority;
}

// Checks that an existing recipient folder is complete and was issued by `authority`.
absl::Status CheckKeptFolder(const fs::path& folder, protocol::TlsRole role,
                             const server::CertificateAuthority& authority, bool new_authority) {
  absl::StatusOr<protocol::TlsMaterial> material = protocol::LoadTlsMaterial(folder, role);
  if (!material.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat(folder.string(), " exists but is not complete (", material.status().message(),
                     "): remove it to issue it again"));
  }
  if (absl::Status status =
          server::VerifyCertificate(material->certificate, authority.certificate());
      !status.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        folder.string(), " exists but was not issued by ",
        new_authority ? "the new CA (there was no CA folder)" : "the CA of this folder", ": ",
        status.message(), "; remove it to issue it again"));
  }
  return absl::OkStatus();
}

std::vector<FileToWrite> RecipientFiles(const server::CertificateAuthority& authority,
                                        const server::IssuedCertificate& issued, bool server) {
  return {{"ca.pem", authority.certificate(), 0644},
          {server ? "server.pem" : "client.pem", issued.certificate, 0644},
          {server ? "server.key" : "client.key", issued.private_key, 0600}};
}

}  // namespace

CLI::App* AddCertsSubcommand(CLI::App& app, CertsCommand& command) {
  CLI::App* certs = app.add_subcommand(
      "certs",
      "Make the certificates of mutual TLS, one folder per recipient: DIR/ca (ca.pem, ca.key: "
      "the certificate authority; keep it offline), DIR/server (ca.pem, server.pem, server.key: "
      "give it to the aggregator, `equifl server --certs DIR/server`) and DIR/clients/ID (ca.pem, "
      "client.pem, client.key: give it to client ID only, `equifl client --certs "
      "DIR/clients/ID`). The aggregator gives a client the id in its certificate and refuses "
      "calls that act as another. An id ending in '*' (e.g. 'client-*', quote it in a shell) "
      "makes a worker certificate that may act for every client id starting with that prefix, "
      "for `equifl sim --worker`. Running it again on DIR reuses the CA and never overwrites a "
      "file: existing folders are kept, missing ones are issued, so clients can be added later. "
      "Keys are ECDSA P-256, private keys mode 0600");
  certs->add_option("--out", command.out, "the folder DIR to write into (made if missing)")
      ->required();
  certs
      ->add_option("--server-names", command.server_names,
                   "host names and IP addresses clients dial to reach the aggregator, "
                   "comma-separated; the server certificate is valid for exactly these")
      ->delimiter(',')
      ->capture_default_str();
  certs
      ->add_option("--clients", command.clients,
                   "client ids, comma-separated: 1-64 letters, digits, '.', '_' or '-' each, or "
                   "a prefix followed by '*' for a worker certificate")
      ->delimiter(',');
  certs->add_option("--days", command.days, "validity of the certificates issued now, in days")
      ->capture_default_str();
  certs->add_option("--ca-days", command.ca_days, "validity of a new CA, in days")
      ->capture_default_str();
  return certs;
}

absl::StatusOr<CertsReport> WriteCertificateFolders(const CertsCommand& command) {
  if (command.out.empty()) return absl::InvalidArgumentError("--out: give the folder to write");
  for (const std::string& client : command.clients) {
    EQUIFL_RETURN_IF_ERROR(server::ValidateCertificateName(client));
  }
  const fs::path out(command.out);
  CertsReport report;
  EQUIFL_ASSIGN_OR_RETURN(server::CertificateAuthority authority,
                          LoadOrCreateAuthority(out / "ca", command.ca_days, report.new_authority));

  // Everything is issued and checked in memory before the first file is written.
  struct Planned {
    CertsFolder folder;
    std::optional<server::IssuedCertificate> issued;  // nullopt: kept
    bool server = false;
  };
  std::vector<Planned> planned;
  std::set<std::string> seen;
  const auto plan = [&](const fs::path& path, std::string recipient, bool server,
                        const std::string& client) -> absl::Status {
    Planned entry{{path.string(), std::move(recipient), !Exists(path)}, std::nullopt, server};
    if (!entry.folder.written) {
      EQUIFL_RETURN_IF_ERROR(
          CheckKeptFolder(path, server ? protocol::TlsRole::kServer : protocol::TlsRole::kClient,
                          authority, report.new_authority));
    } else if (server) {
      EQUIFL_ASSIGN_OR_RETURN(entry.issued,
                              authority.IssueServerCertificate(command.server_names, command.days));
    } else {
      EQUIFL_ASSIGN_OR_RETURN(entry.issued, authority.IssueClientCertificate(client, command.days));
    }
    planned.push_back(std::move(entry));
    return absl::OkStatus();
  };
  EQUIFL_RETURN_IF_ERROR(plan(out / "server", "the aggregator", true, ""));
  for (const std::string& client : command.clients) {
    if (!seen.insert(client).second) continue;
    EQUIFL_RETURN_IF_ERROR(plan(out / "clients" / client,
                                server::IsWorkerPattern(client)
                                    ? absl::StrCat("worker '", client, "'")
                                    : absl::StrCat("client '", client, "'"),
                                false, client));
  }

  if (report.new_authority) {
    EQUIFL_RETURN_IF_ERROR(WriteFolder(out / "ca", {{"ca.pem", authority.certificate(), 0644},
                                                    {"ca.key", authority.private_key(), 0600}}));
  }
  for (Planned& entry : planned) {
    if (entry.issued) {
      EQUIFL_RETURN_IF_ERROR(
          WriteFolder(entry.folder.path, RecipientFiles(authority, *entry.issued, entry.server)));
    }
    if (entry.server) {
      report.server = std::move(entry.folder);
    } else {
      report.clients.push_back(std::move(entry.folder));
    }
  }
  return report;
}

int RunCertsCommand(const CertsCommand& command) {
  absl::StatusOr<CertsReport> report = WriteCertificateFolders(command);
  if (!report.ok()) {
    std::fprintf(stderr, "equifl certs: %s\n", std::string(report.status().message()).c_str());
    switch (report.status().code()) {
      case absl::StatusCode::kInvalidArgument:
      case absl::StatusCode::kNotFound:
      case absl::StatusCode::kAlreadyExists:
      case absl::StatusCode::kFailedPrecondition:
        return kExitUsage;
      default:
        return kExitFailure;
    }
  }
  const fs::path out(command.out);
  if (report->new_authority) {
    std::printf(
        "wrote  %s  the new certificate authority (ca.pem, ca.key; %d days): keep it offline, "
        "it signs every certificate\n",
        (out / "ca").c_str(), command.ca_days);
  } else {
    std::printf("reused %s  the certificate authority\n", (out / "ca").c_str());
  }
  const auto print = [](const CertsFolder& folder, const std::string& detail) {
    if (folder.written) {
      std::printf("wrote  %s  for %s (%s)\n", folder.path.c_str(), folder.recipient.c_str(),
                  detail.c_str());
    } else {
      std::printf("kept   %s  for %s (it exists; remove it to issue it again)\n",
                  folder.path.c_str(), folder.recipient.c_str());
    }
  };
  print(report->server,
        absl::StrCat(command.days, " days; names ", absl::StrJoin(command.server_names, ", ")));
  for (const CertsFolder& folder : report->clients) {
    const std::string name = folder.path.substr(folder.path.rfind('/') + 1);
    print(folder,
          server::IsWorkerPattern(name)
              ? absl::StrCat(command.days, " days; acts for every client id starting with '",
                             name.substr(0, name.size() - 1), "'")
              : absl::StrCat(command.days, " days"));
  }
  std::printf(
      "Give each folder to its recipient only: %s to the aggregator (--certs %s), %s/ID to "
      "client ID (--certs %s/ID).\n",
      (out / "server").c_str(), (out / "server").c_str(), (out / "clients").c_str(),
      (out / "clients").c_str());
  return 0;
}

}  // namespace equifl::app
