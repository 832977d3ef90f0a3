// The certificate authority, checked with OpenSSL's own inspection functions:
// what the certificates say (CA flag, names, key usage, validity, key type) and
// whom they verify against.
#include "server/certificate_authority.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "tests/testing/status_matchers.h"

namespace equifl::server {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
using Certificate = std::unique_ptr<X509, X509Free>;

Certificate Parse(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), -1), BIO_free);
  Certificate certificate(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  EXPECT_NE(certificate, nullptr) << pem;
  return certificate;
}

bool IsCritical(X509* certificate, int nid) {
  const int index = X509_get_ext_by_NID(certificate, nid, -1);
  return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(certificate, index)) == 1;
}

// Days from now until the certificate expires.
double DaysLeft(X509* certificate) {
  int days = 0;
  int seconds = 0;
  EXPECT_EQ(ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(certificate)), 1);
  return days + seconds / 86400.0;
}

// The key is ECDSA on P-256 and the signature ECDSA with SHA-256.
void ExpectP256AndSha256(X509* certificate) {
  EVP_PKEY* key = X509_get0_pubkey(certificate);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  char group[64] = {};
  size_t length = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof group, &length), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_get_signature_nid(certificate), NID_ecdsa_with_SHA256);
}

class CertificateAuthorityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto authority = CertificateAuthority::Create(3650);
    ASSERT_THAT(authority, IsOk());
    authority_ = new CertificateAuthority(*std::move(authority));
  }
  static void TearDownTestSuite() { delete authority_; }

  static CertificateAuthority* authority_;
};
CertificateAuthority* CertificateAuthorityTest::authority_ = nullptr;

TEST_F(CertificateAuthorityTest, TheCaIsASelfSignedCaForSigningCertificates) {
  Certificate ca = Parse(authority_->certificate());
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_TRUE(IsCritical(ca.get(), NID_basic_constraints));
  EXPECT_TRUE(IsCritical(ca.get(), NID_key_usage));
  EXPECT_EQ(X509_get_key_usage(ca.get()), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_check_issued(ca.get(), ca.get()), X509_V_OK);  // self-signed
  EXPECT_NEAR(DaysLeft(ca.get()), 3650, 0.01);
  ExpectP256AndSha256(ca.get());
  EXPECT_THAT(authority_->private_key(), HasSubstr("-----BEGIN PRIVATE KEY-----"));
}

TEST_F(CertificateAuthorityTest, AServerCertificateNamesTheHostsAndServesOnly) {
  auto issued = authority_->IssueServerCertificate(
      {"localhost", "aggregator.example", "127.0.0.1", "::1", "10.1.2.3"}, 30);
  ASSERT_THAT(issued, IsOk());
  Certificate server = Parse(issued->certificate);
  for (const char* host : {"localhost", "aggregator.example"}) {
    EXPECT_EQ(X509_check_host(server.get(), host, 0, 0, nullptr), 1) << host;
  }
  for (const char* address : {"127.0.0.1", "::1", "10.1.2.3"}) {
    EXPECT_EQ(X509_check_ip_asc(server.get(), address, 0), 1) << address;
  }
  EXPECT_EQ(X509_check_host(server.get(), "other.example", 0, 0, nullptr), 0);
  EXPECT_EQ(X509_check_ip_asc(server.get(), "127.0.0.2", 0), 0);
  EXPECT_EQ(X509_get_extended_key_usage(server.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
  EXPECT_EQ(X509_check_purpose(server.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(server.get(), X509_PURPOSE_SSL_CLIENT, 0), 0);
  EXPECT_EQ(X509_check_ca(server.get()), 0);
  EXPECT_TRUE(IsCritical(server.get(), NID_basic_constraints));
  EXPECT_NEAR(DaysLeft(server.get()), 30, 0.01);
  ExpectP256AndSha256(server.get());
  EXPECT_THAT(CheckKeyMatchesCertificate(issued->certificate, issued->private_key), IsOk());
}

TEST_F(CertificateAuthorityTest, AClientCertificateCarriesTheIdAndAuthenticatesClientsOnly) {
  for (const std::string id : {"hospital-7", "client-*"}) {
    auto issued = authority_->IssueClientCertificate(id, 365);
    ASSERT_THAT(issued, IsOk());
    Certificate client = Parse(issued->certificate);
    char common_name[80] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(client.get()), NID_commonName, common_name,
                              sizeof common_name);
    EXPECT_EQ(common_name, id);
    EXPECT_EQ(*CertificateCommonName(issued->certificate), id);
    EXPECT_EQ(X509_get_extended_key_usage(client.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
    EXPECT_EQ(X509_check_purpose(client.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
    EXPECT_EQ(X509_check_purpose(client.get(), X509_PURPOSE_SSL_SERVER, 0), 0);
    EXPECT_EQ(X509_check_ca(client.get()), 0);
    EXPECT_NEAR(DaysLeft(client.get()), 365, 0.01);
    ExpectP256AndSha256(client.get());
  }
}

TEST_F(CertificateAuthorityTest, CertificatesVerifyAgainstTheirCaAndNoOther) {
  auto other = CertificateAuthority::Create(10);
  ASSERT_THAT(other, IsOk());
  auto server = authority_->IssueServerCertificate({"localhost"}, 10);
  auto client = authority_->IssueClientCertificate("a", 10);
  ASSERT_TRUE(server.ok() && client.ok());
  for (const IssuedCertificate* issued : {&*server, &*client}) {
    EXPECT_THAT(VerifyCertificate(issued->certificate, authority_->certificate()), IsOk());
    const absl::Status status = VerifyCertificate(issued->certificate, other->certificate());
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(status.message(), HasSubstr("does not verify against the CA"));
  }
  EXPECT_FALSE(CheckKeyMatchesCertificate(server->certificate, client->private_key).ok());
}

TEST_F(CertificateAuthorityTest, SerialNumbersAreRandom128BitNumbers) {
  auto first = authority_->IssueClientCertificate("a", 1);
  auto second = authority_->IssueClientCertificate("a", 1);
  ASSERT_TRUE(first.ok() && second.ok());
  Certificate one = Parse(first->certificate);
  Certificate two = Parse(second->certificate);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> a(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(one.get()), nullptr), BN_free);
  std::unique_ptr<BIGNUM, decltype(&BN_free)> b(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(two.get()), nullptr), BN_free);
  EXPECT_EQ(BN_num_bits(a.get()), 128);
  EXPECT_EQ(BN_num_bits(b.get()), 128);
  EXPECT_NE(BN_cmp(a.get(), b.get()), 0);
}

TEST_F(CertificateAuthorityTest, ReloadedFromPemItIssuesCertificatesThatVerify) {
  auto reloaded =
      CertificateAuthority::FromPem(authority_->certificate(), authority_->private_key());
  ASSERT_THAT(reloaded, IsOk());
  auto client = reloaded->IssueClientCertificate("b", 1);
  ASSERT_THAT(client, IsOk());
  EXPECT_THAT(VerifyCertificate(client->certificate, authority_->certificate()), IsOk());
}

TEST_F(CertificateAuthorityTest, RefusesWhatItCannotIssue) {
  EXPECT_THAT(authority_->IssueServerCertificate({"bad name"}, 1).status().message(),
              HasSubstr("'bad name' is neither a host name"));
  EXPECT_THAT(authority_->IssueServerCertificate({}, 1).status().message(),
              HasSubstr("at least one host name"));
  EXPECT_THAT(authority_->IssueClientCertificate("a b", 1).status().message(),
              HasSubstr("'a b' is not 1 to 64 letters"));
  EXPECT_THAT(authority_->IssueClientCertificate("*", 1).status().message(),
              HasSubstr("worker pattern '*'"));
  EXPECT_THAT(authority_->IssueClientCertificate("a", 0).status().message(),
              HasSubstr("valid for 0 days"));
  EXPECT_EQ(CertificateAuthority::Create(kMaxCertificateDays + 1).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto client = authority_->IssueClientCertificate("a", 1);
  ASSERT_THAT(client, IsOk());
  // A leaf is no CA, and a CA certificate needs its own key.
  EXPECT_THAT(
      CertificateAuthority::FromPem(client->certificate, client->private_key).status().message(),
      HasSubstr("not a certificate authority's"));
  EXPECT_THAT(CertificateAuthority::FromPem(authority_->certificate(), client->private_key)
                  .status()
                  .message(),
              HasSubstr("not the certificate's key"));
  EXPECT_THAT(
      CertificateAuthority::FromPem("not pem", authority_->private_key()).status().message(),
      HasSubstr("not a PEM certificate"));
}

}  // namespace
}  // namespace equifl::server
