// Client ids, worker patterns and which ids a certificate may act as.
#include "server/client_identity.h"

#include <gmock/gmock.h>
#include <grpcpp/server_context.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;

TEST(ClientIdentityTest, ClientIdsAreOneToSixtyFourSafeCharacters) {
  for (const std::string& id :
       std::vector<std::string>{"a", "client-000123", "Hospital_7.eu", std::string(64, 'x')}) {
    EXPECT_THAT(ValidateClientId(id), IsOk()) << id;
  }
  for (const std::string& id :
       std::vector<std::string>{"", "a b", "client-*", "ä", "a/b", std::string(65, 'x')}) {
    EXPECT_EQ(ValidateClientId(id).code(), absl::StatusCode::kInvalidArgument) << id;
  }
}

TEST(ClientIdentityTest, CertificateNamesAreIdsOrPrefixesWithAStar) {
  for (const std::string& name :
       std::vector<std::string>{"a", "client-*", std::string(63, 'p') + "*"}) {
    EXPECT_THAT(ValidateCertificateName(name), IsOk()) << name;
  }
  for (const std::string& name :
       std::vector<std::string>{"*", "a*b", "a**", "a b*", std::string(64, 'p') + "*"}) {
    EXPECT_FALSE(ValidateCertificateName(name).ok()) << name;
  }
  EXPECT_TRUE(IsWorkerPattern("client-*"));
  EXPECT_FALSE(IsWorkerPattern("client-7"));
}

TEST(ClientIdentityTest, ACertificateActsAsItsIdOrItsPatternsIds) {
  EXPECT_TRUE(CertificateAllows("a", "a"));
  EXPECT_FALSE(CertificateAllows("a", "b"));
  EXPECT_FALSE(CertificateAllows("a", "ab"));
  EXPECT_TRUE(CertificateAllows("client-*", "client-000007"));
  EXPECT_TRUE(CertificateAllows("client-*", "client-"));
  EXPECT_FALSE(CertificateAllows("client-*", "mallory"));
  EXPECT_FALSE(CertificateAllows("client-*", "client-7 x"));  // not a client id
  EXPECT_FALSE(CertificateAllows("client-*", "client-*"));
}

TEST(ClientIdentityTest, ACallerWithoutACertificateActsAsAnyWellFormedOrEmptyId) {
  const grpc::ServerContext context;  // no call, so no certificate
  EXPECT_TRUE(CheckCallerActsAs(context, "client-7").ok());
  EXPECT_TRUE(CheckCallerActsAs(context, "").ok());  // no claim: e.g. a download
  for (const std::string& id : std::vector<std::string>{"a b", std::string(10'000, 'x')}) {
    const grpc::Status status = CheckCallerActsAs(context, id);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << id.size();
    EXPECT_LT(status.error_message().size(), 250u);
  }
  EXPECT_THAT(ValidateClientId(std::string(10'000, 'x')).message(),
              ::testing::HasSubstr("... (10000 bytes) is not 1 to 64"));
}

}  // namespace
}  // namespace equifl::server
