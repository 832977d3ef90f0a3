// `equifl certs`' folders and the credentials the commands build from them.
#include "app/certs_command.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "app/transport_credentials.h"
#include "protocol/transport_security.h"
#include "server/certificate_authority.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::app {
namespace {

using ::equifl::test::IsOk;

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Every file under `folder`, by path, with its contents.
std::map<std::string, std::string> Snapshot(const fs::path& folder) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (entry.is_regular_file()) files[entry.path().string()] = ReadFile(entry.path());
  }
  return files;
}

unsigned Mode(const fs::path& path) {
  struct stat status {};
  EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
  return status.st_mode & 0777;
}

class CertsCommandTest : public ::testing::Test {
 protected:
  CertsCommand Command(std::vector<std::string> clients) const {
    CertsCommand command;
    command.out = (folder_ / "certs").string();
    command.clients = std::move(clients);
    return command;
  }

  const test::TemporaryFolder temporary_{"certs"};
  const fs::path folder_ = temporary_.path() / "out";  //!< Not there until a test writes it.
};

TEST_F(CertsCommandTest, WritesOneFolderPerRecipientWithItsOwnKey) {
  auto report = WriteCertificateFolders(Command({"a", "client-*"}));
  ASSERT_THAT(report, IsOk());
  EXPECT_TRUE(report->new_authority);
  const fs::path certs = folder_ / "certs";
  const std::string ca = ReadFile(certs / "ca" / "ca.pem");
  EXPECT_EQ(Mode(certs / "ca" / "ca.key"), 0600u);
  EXPECT_EQ(Mode(certs / "ca"), 0700u);
  EXPECT_TRUE(report->server.written);
  ASSERT_EQ(report->clients.size(), 2u);

  auto server = protocol::LoadTlsMaterial((certs / "server").string(), protocol::TlsRole::kServer);
  ASSERT_THAT(server, IsOk());
  EXPECT_EQ(server->ca_certificate, ca);
  EXPECT_THAT(server::VerifyCertificate(server->certificate, ca), IsOk());
  EXPECT_EQ(Mode(certs / "server" / "server.key"), 0600u);
  EXPECT_EQ(Mode(certs / "server" / "server.pem"), 0644u);
  for (const char* id : {"a", "client-*"}) {
    const fs::path client = certs / "clients" / id;
    auto material = protocol::LoadTlsMaterial(client.string(), protocol::TlsRole::kClient);
    ASSERT_THAT(material, IsOk());
    EXPECT_EQ(material->ca_certificate, ca);
    EXPECT_THAT(server::VerifyCertificate(material->certificate, ca), IsOk());
    EXPECT_EQ(*server::CertificateCommonName(material->certificate), id);
    EXPECT_EQ(Mode(client / "client.key"), 0600u);
  }
  // Nothing else: no temporary folders left, no CA key outside DIR/ca.
  std::vector<std::string> keys;
  for (const auto& [path, contents] : Snapshot(certs)) {
    if (path.ends_with(".key")) keys.push_back(fs::relative(path, certs).string());
  }
  EXPECT_THAT(
      keys, ::testing::UnorderedElementsAre("ca/ca.key", "server/server.key",
                                            "clients/a/client.key", "clients/client-*/client.key"));
  EXPECT_EQ(Snapshot(certs).size(), 11u);
}

TEST_F(CertsCommandTest, ASecondRunKeepsTheCaAndEveryFileByteForByte) {
  ASSERT_THAT(WriteCertificateFolders(Command({"a"})), IsOk());
  const fs::path certs = folder_ / "certs";
  const std::map<std::string, std::string> before = Snapshot(certs);

  auto report = WriteCertificateFolders(Command({"a", "b"}));
  ASSERT_THAT(report, IsOk());
  EXPECT_FALSE(report->new_authority);
  EXPECT_FALSE(report->server.written);
  ASSERT_EQ(report->clients.size(), 2u);
  EXPECT_FALSE(report->clients[0].written);
  EXPECT_TRUE(report->clients[1].written);
  const std::map<std::string, std::string> after = Snapshot(certs);
  for (const auto& [path, contents] : before) {
    ASSERT_TRUE(after.contains(path)) << path;
    EXPECT_EQ(after.at(path), contents) << path;
  }
  const std::string b = ReadFile(certs / "clients" / "b" / "client.pem");
  EXPECT_THAT(server::VerifyCertificate(b, ReadFile(certs / "ca" / "ca.pem")), IsOk());
}

TEST_F(CertsCommandTest, RefusesBadIdsBeforeWritingAnything) {
  for (const std::string id : {"a b", "*", "a/../../b", "client-**"}) {
    const absl::StatusOr<CertsReport> report = WriteCertificateFolders(Command({"ok", id}));
    EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_THAT(report.status().message(), HasSubstr("'" + id + "'"));
  }
  CertsCommand bad_name = Command({});
  bad_name.server_names = {"localhost", "not a host"};
  EXPECT_THAT(WriteCertificateFolders(bad_name).status().message(), HasSubstr("'not a host'"));
  EXPECT_FALSE(fs::exists(folder_));
}

TEST_F(CertsCommandTest, AKeptFolderMustComeFromTheCa) {
  ASSERT_THAT(WriteCertificateFolders(Command({"a"})), IsOk());
  fs::remove_all(folder_ / "certs" / "ca");
  const absl::Status status = WriteCertificateFolders(Command({"a"})).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("was not issued by the new CA"));
  EXPECT_FALSE(fs::exists(folder_ / "certs" / "ca"));
}

TEST_F(CertsCommandTest, CredentialsNameWhatIsMissingOrWrong) {
  EXPECT_THAT(ServerCredentialsFor({}, "equifl server").status().message(),
              HasSubstr("run `equifl certs --out DIR` and pass --certs DIR/server, or pass "
                        "--insecure"));
  EXPECT_THAT(ServerCredentialsFor({"somewhere", true}, "equifl server").status().message(),
              HasSubstr("--certs and --insecure exclude each other"));
  ASSERT_THAT(WriteCertificateFolders(Command({"a"})), IsOk());
  const fs::path certs = folder_ / "certs";
  EXPECT_THAT(ServerCredentialsFor({(certs / "server").string()}, "equifl server"), IsOk());
  auto client = ClientCredentialsFor({(certs / "clients" / "a").string()}, "equifl client", "");
  ASSERT_THAT(client, IsOk());
  EXPECT_EQ(client->certificate_name, "a");

  // A client folder is no server folder.
  EXPECT_THAT(ServerCredentialsFor({(certs / "clients" / "a").string()}, "equifl server")
                  .status()
                  .message(),
              HasSubstr((certs / "clients" / "a" / "server.pem").string()));
  // A certificate of another CA, or another party's key.
  CertsCommand other = Command({"a"});
  other.out = (folder_ / "other").string();
  ASSERT_THAT(WriteCertificateFolders(other), IsOk());
  fs::copy_file(folder_ / "other" / "ca" / "ca.pem", certs / "clients" / "a" / "ca.pem",
                fs::copy_options::overwrite_existing);
  EXPECT_THAT(ClientCredentialsFor({(certs / "clients" / "a").string()}, "equifl client", "")
                  .status()
                  .message(),
              HasSubstr("does not verify against the CA"));
  fs::copy_file(certs / "server" / "ca.pem", certs / "clients" / "a" / "ca.pem",
                fs::copy_options::overwrite_existing);
  fs::copy_file(certs / "server" / "server.key", certs / "clients" / "a" / "client.key",
                fs::copy_options::overwrite_existing);
  EXPECT_THAT(ClientCredentialsFor({(certs / "clients" / "a").string()}, "equifl client", "")
                  .status()
                  .message(),
              HasSubstr("not the certificate's key"));
}

}  // namespace
}  // namespace equifl::app
