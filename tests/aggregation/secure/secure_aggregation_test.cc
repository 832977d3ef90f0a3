// Secure aggregation end to end in one process, clients and server as the
// protocol runs them: the unmasked sum equals the plain sum of the survivors'
// inputs exactly (mod 2^32) with no, one and n - t clients dropping after masking,
// with clients dropping at every other step, and on SecAgg+'s sparse graph; too
// few survivors fail the round without anything revealed; a false revealed share
// is found (one among more than t: the sum stays exact) or fails the round; and no
// masked input correlates with its plaintext.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "aggregation/secure/secure_aggregation_client.h"
#include "aggregation/secure/secure_aggregation_server.h"
#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {
namespace {

using ::equifl::test::IsOk;
using ::testing::HasSubstr;

constexpr size_t kWords = 5000;

std::string Name(int index) { return absl::StrCat("client-", index < 10 ? "0" : "", index); }

// Who leaves the round, and when.
struct Dropouts {
  std::set<int> before_sharing = {};    //!< Advertise keys, then vanish.
  std::set<int> after_masking = {};     //!< Mask their input but never deliver it.
  std::set<int> during_unmasking = {};  //!< Deliver their input, then reveal nothing.
};

// Who lies, and how.
struct Liars {
  std::set<int> false_shares = {};       //!< Reveal every share off by one.
  std::set<int> false_commitments = {};  //!< Advertise a commitment to another seed.
};

struct RoundResult {
  absl::Status status;          //!< Of the first server step that failed.
  std::vector<uint32_t> sum;    //!< The unmasked sum, when status is OK.
  std::vector<uint32_t> plain;  //!< The plain sum of the survivors' inputs.
  std::vector<std::string> survivors;
  std::set<std::string> false_revealers;
};

SecureRoundOptions Options(int clients, uint32_t neighbours, uint32_t min_survivors) {
  SecureRoundOptions options;
  options.context = {"run-secure", 3};
  for (int i = 0; i < clients; ++i) options.selected.push_back(Name(i));
  options.words = kWords;
  options.neighbours = neighbours;
  options.threshold_fraction = 0.5;
  options.min_survivors = min_survivors;
  options.graph_seed = 42;
  options.threads = 2;
  return options;
}

RoundResult RunRound(const SecureRoundOptions& options, const Dropouts& dropouts,
                     const Liars& liars = {}, uint64_t seed = 1) {
  const int n = static_cast<int>(options.selected.size());
  SecureAggregationServer server(options);
  std::vector<SecureAggregationClient> clients;
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<SecureAggregationClient> client =
        SecureAggregationClient::Create(options.context);
    EXPECT_THAT(client, IsOk());
    clients.push_back(*std::move(client));
    SecureKeys keys = clients.back().public_keys();
    if (liars.false_commitments.count(i)) keys.self_mask_commitment[0] ^= 1;
    EXPECT_THAT(server.AddKeys(Name(i), keys), IsOk());
  }
  RoundResult result;
  EXPECT_TRUE(server.PhaseComplete());
  if (result.status = server.CloseAdvertising(); !result.status.ok()) return result;
  for (int i = 0; i < n; ++i) {
    if (dropouts.before_sharing.count(i)) continue;
    absl::StatusOr<std::vector<EncryptedShare>> shares =
        clients[i].ShareKeys(*server.NeighbourhoodOf(Name(i)));
    EXPECT_THAT(shares, IsOk());
    EXPECT_THAT(server.AddShares(Name(i), *std::move(shares)), IsOk());
  }
  if (result.status = server.CloseSharing(); !result.status.ok()) return result;
  std::mt19937_64 engine(seed);
  result.plain.assign(kWords, 0);
  for (int i = 0; i < n; ++i) {
    if (dropouts.before_sharing.count(i)) continue;
    EXPECT_THAT(clients[i].ReceiveShares(*server.SharesFor(Name(i))), IsOk());
    std::vector<uint32_t> input(kWords);
    for (uint32_t& word : input) word = static_cast<uint32_t>(engine());
    std::vector<uint32_t> masked = input;
    EXPECT_THAT(clients[i].Mask(masked), IsOk());
    if (dropouts.after_masking.count(i)) continue;
    for (size_t w = 0; w < kWords; ++w) result.plain[w] += input[w];
    EXPECT_THAT(server.AddMaskedInput(Name(i), masked), IsOk());
  }
  if (result.status = server.CloseCollection(); !result.status.ok()) return result;
  result.survivors = server.Survivors();
  for (int i = 0; i < n; ++i) {
    if (dropouts.before_sharing.count(i) || dropouts.after_masking.count(i) ||
        dropouts.during_unmasking.count(i)) {
      continue;
    }
    absl::StatusOr<std::vector<RevealedShare>> revealed =
        clients[i].Unmask(*server.UnmaskRequestFor(Name(i)));
    EXPECT_THAT(revealed, IsOk());
    if (liars.false_shares.count(i)) {
      for (RevealedShare& share : *revealed) {
        share.share.values[0] = (share.share.values[0] + 1) % kShamirPrime;
      }
    }
    EXPECT_THAT(server.AddRevealedShares(Name(i), *revealed), IsOk());
  }
  absl::StatusOr<std::vector<uint32_t>> sum = server.Unmask();
  result.status = sum.status();
  result.false_revealers = server.false_revealers();
  if (sum.ok()) result.sum = *std::move(sum);
  return result;
}

std::set<int> Range(int first, int last) {
  std::set<int> values;
  for (int i = first; i <= last; ++i) values.insert(i);
  return values;
}

// Complete graph, n = 10: threshold t = 5, and the round needs 5 masked inputs.
TEST(SecureAggregationTest, SumIsExactWithoutDropouts) {
  const RoundResult result = RunRound(Options(10, 0, 5), {});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.survivors.size(), 10u);
  EXPECT_EQ(result.sum, result.plain);
}

TEST(SecureAggregationTest, SumIsExactWithOneClientDroppingAfterMasking) {
  const RoundResult result = RunRound(Options(10, 0, 5), {.after_masking = {4}});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.survivors.size(), 9u);
  EXPECT_EQ(result.sum, result.plain);
}

TEST(SecureAggregationTest, SumIsExactWithNMinusTClientsDroppingAfterMasking) {
  const RoundResult result = RunRound(Options(10, 0, 5), {.after_masking = Range(5, 9)});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.survivors.size(), 5u);
  EXPECT_EQ(result.sum, result.plain);
}

TEST(SecureAggregationTest, SumIsExactWithDropoutsAtEveryStep) {
  const RoundResult result =
      RunRound(Options(12, 0, 6),
               {.before_sharing = {0}, .after_masking = {3, 7}, .during_unmasking = {10, 11}});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.survivors.size(), 9u);
  EXPECT_EQ(result.sum, result.plain);
}

TEST(SecureAggregationTest, SparseSecAggPlusGraphRecoversDropouts) {
  // 60 clients, 8 neighbours each: neighbourhoods of 9, threshold 5.
  const RoundResult result = RunRound(
      Options(60, 8, 30),
      {.before_sharing = {5, 40}, .after_masking = {1, 17, 33, 50}, .during_unmasking = {9, 26}});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.survivors.size(), 54u);
  EXPECT_EQ(result.sum, result.plain);
}

TEST(SecureAggregationTest, DefaultNeighbourhoodsSurviveThirtyPercentDropout) {
  // 100 clients of whom 30, drawn at random, drop after masking: the default sizing
  // (30% expected dropout) gives every client all 99 others and t = 50. With
  // SecAgg+'s logarithmic default, 16 neighbours and t = 9, this round was
  // abandoned ("only 6 of the 9 shares ... of client 'client-04'"), as are about
  // half of such rounds (6 of the first 8 seeds).
  std::mt19937_64 engine(1);
  std::vector<int> order(100);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), engine);
  const RoundResult result = RunRound(
      Options(100, 0, 50), {.after_masking = std::set<int>(order.begin(), order.begin() + 30)});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.survivors.size(), 70u);
  EXPECT_EQ(result.sum, result.plain);
}

TEST(SecureAggregationTest, FewerThanTSurvivorsFailWithoutRevealingAnything) {
  const RoundResult result = RunRound(Options(10, 0, 5), {.after_masking = Range(4, 9)});
  EXPECT_EQ(result.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status.message(), HasSubstr("only 4 masked inputs arrived"));
  EXPECT_TRUE(result.sum.empty());
}

TEST(SecureAggregationTest, TooFewRevealedSharesFailTheRound) {
  // Five survivors (= t) of whom one reveals nothing: each survivor's self-mask
  // seed has only 4 of the 5 shares it needs.
  const RoundResult result =
      RunRound(Options(10, 0, 5), {.after_masking = Range(5, 9), .during_unmasking = {0}});
  EXPECT_EQ(result.status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(result.status.message(), HasSubstr("only 4 of the 5 shares"));
  EXPECT_TRUE(result.sum.empty());
}

// Ten clients reveal (client 00 first, so its shares are among the t = 5 that
// interpolation uses), one of them false: of the nine survivors' seeds and of the
// dropped client 09's masking key. Without the check the sum would be off.
TEST(SecureAggregationTest, OneFalseRevealerIsFoundAndTheSumStaysExact) {
  const RoundResult result =
      RunRound(Options(10, 0, 5), {.after_masking = {9}}, {.false_shares = {0}});
  ASSERT_THAT(result.status, IsOk());
  EXPECT_EQ(result.sum, result.plain);
  EXPECT_THAT(result.false_revealers, ::testing::ElementsAre("client-00"));
}

TEST(SecureAggregationTest, TwoFalseRevealersFailTheRound) {
  const RoundResult result = RunRound(Options(10, 0, 5), {}, {.false_shares = {0, 1}});
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(result.status.message(),
              HasSubstr("revealed shares of client 'client-00''s self-mask seed rebuild no seed"));
  EXPECT_TRUE(result.sum.empty());
}

// Exactly t = 5 survivors: no spare share to find the false one with.
TEST(SecureAggregationTest, AFalseShareWithoutASpareFailsTheRound) {
  const RoundResult result =
      RunRound(Options(10, 0, 5), {.after_masking = Range(5, 9)}, {.false_shares = {2}});
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(result.status.message(), HasSubstr("matching what it advertised"));
}

TEST(SecureAggregationTest, ACommitmentToAnotherSeedFailsTheRound) {
  const RoundResult result = RunRound(Options(6, 0, 3), {}, {.false_commitments = {4}});
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(result.status.message(), HasSubstr("client 'client-04''s self-mask seed"));
}

// The client side of the safety rules, with requests a server could send.
class SecureAggregationClientRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = Options(4, 0, 3);
    server_ = std::make_unique<SecureAggregationServer>(options_);
    for (int i = 0; i < 4; ++i) {
      clients_.push_back(*SecureAggregationClient::Create(options_.context));
      ASSERT_THAT(server_->AddKeys(Name(i), clients_.back().public_keys()), IsOk());
    }
    ASSERT_THAT(server_->CloseAdvertising(), IsOk());
    for (int i = 0; i < 4; ++i) {
      ASSERT_THAT(
          server_->AddShares(Name(i), *clients_[i].ShareKeys(*server_->NeighbourhoodOf(Name(i)))),
          IsOk());
    }
    ASSERT_THAT(server_->CloseSharing(), IsOk());
    for (int i = 0; i < 4; ++i) {
      ASSERT_THAT(clients_[i].ReceiveShares(*server_->SharesFor(Name(i))), IsOk());
    }
  }

  SecureRoundOptions options_;
  std::unique_ptr<SecureAggregationServer> server_;
  std::vector<SecureAggregationClient> clients_;
};

TEST_F(SecureAggregationClientRulesTest, RevealsNothingForTooFewSurvivors) {
  const absl::StatusOr<std::vector<RevealedShare>> revealed =
      clients_[0].Unmask({.survivors = {0, 1}, .dropped = {2, 3}, .total_survivors = 2});
  EXPECT_EQ(revealed.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(revealed.status().message(), HasSubstr("no share is revealed"));
}

TEST_F(SecureAggregationClientRulesTest, NeverRevealsBothSecretsOfOneClient) {
  const absl::StatusOr<std::vector<RevealedShare>> revealed =
      clients_[0].Unmask({.survivors = {0, 1, 2}, .dropped = {2}, .total_survivors = 3});
  EXPECT_THAT(revealed.status().message(), HasSubstr("both survivor and dropped"));
  ASSERT_THAT(clients_[1].Unmask({.survivors = {0, 1, 2}, .dropped = {3}, .total_survivors = 3}),
              IsOk());
  // A second request (e.g. now calling 2 dropped) is refused.
  EXPECT_FALSE(
      clients_[1].Unmask({.survivors = {0, 1}, .dropped = {2, 3}, .total_survivors = 3}).ok());
}

TEST_F(SecureAggregationClientRulesTest, MasksWithItselfAndEveryNeighbourThatShared) {
  EXPECT_EQ(clients_[0].Masks()->size(), 4u);  // own + 3 pairwise
}

TEST_F(SecureAggregationClientRulesTest, ServerRefusesOutOfProtocolMessages) {
  std::vector<uint32_t> words(kWords, 1);
  EXPECT_FALSE(server_->AddMaskedInput("mallory", words).ok());
  EXPECT_FALSE(server_->AddMaskedInput(Name(0), std::vector<uint32_t>(3)).ok());
  ASSERT_THAT(server_->AddMaskedInput(Name(0), words), IsOk());
  EXPECT_EQ(server_->AddMaskedInput(Name(0), words).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(server_->AddKeys(Name(1), clients_[1].public_keys()).ok());  // too late
}

TEST(SecureAggregationServerTest, RefusesSharesThatSkipANeighbour) {
  SecureRoundOptions options = Options(3, 0, 2);
  SecureAggregationServer server(options);
  std::vector<SecureAggregationClient> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(*SecureAggregationClient::Create(options.context));
    ASSERT_THAT(server.AddKeys(Name(i), clients.back().public_keys()), IsOk());
  }
  EXPECT_FALSE(server.AddKeys("mallory", clients[0].public_keys()).ok());  // not selected
  ASSERT_THAT(server.CloseAdvertising(), IsOk());
  std::vector<EncryptedShare> shares = *clients[0].ShareKeys(*server.NeighbourhoodOf(Name(0)));
  shares.pop_back();
  EXPECT_THAT(server.AddShares(Name(0), shares).message(), HasSubstr("exactly one share"));
}

TEST(SecureAggregationTest, AMaskedInputDoesNotCorrelateWithItsPlaintext) {
  // A structured plaintext (a ramp of small signed values, like a quantised
  // update) and its masked vector: Pearson's r between them is within 5 standard
  // errors (5 / sqrt(n)) of 0, and the masked words' bytes pass a chi-square test
  // of uniformity (255 degrees of freedom: the 1e-6 critical value is 367).
  const SecureRoundOptions options = Options(3, 0, 2);
  SecureAggregationServer server(options);
  std::vector<SecureAggregationClient> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(*SecureAggregationClient::Create(options.context));
    ASSERT_THAT(server.AddKeys(Name(i), clients.back().public_keys()), IsOk());
  }
  ASSERT_THAT(server.CloseAdvertising(), IsOk());
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(server.AddShares(Name(i), *clients[i].ShareKeys(*server.NeighbourhoodOf(Name(i)))),
                IsOk());
  }
  ASSERT_THAT(server.CloseSharing(), IsOk());
  ASSERT_THAT(clients[0].ReceiveShares(*server.SharesFor(Name(0))), IsOk());
  constexpr size_t kCount = 200000;
  std::vector<uint32_t> plain(kCount);
  for (size_t i = 0; i < kCount; ++i) {
    plain[i] = static_cast<uint32_t>(static_cast<int32_t>(i % 2001) - 1000);
  }
  std::vector<uint32_t> masked = plain;
  ASSERT_THAT(clients[0].Mask(masked), IsOk());
  double sum_x = 0, sum_y = 0, sum_xx = 0, sum_yy = 0, sum_xy = 0;
  std::vector<double> bytes(256, 0);
  for (size_t i = 0; i < kCount; ++i) {
    const double x = static_cast<int32_t>(plain[i]);
    const double y = masked[i];
    sum_x += x;
    sum_y += y;
    sum_xx += x * x;
    sum_yy += y * y;
    sum_xy += x * y;
    for (int byte = 0; byte < 4; ++byte) ++bytes[(masked[i] >> (8 * byte)) & 0xff];
  }
  const double n = kCount;
  const double r = (n * sum_xy - sum_x * sum_y) /
                   std::sqrt((n * sum_xx - sum_x * sum_x) * (n * sum_yy - sum_y * sum_y));
  EXPECT_LT(std::abs(r), 5 / std::sqrt(n));
  double chi_square = 0;
  const double expected = 4 * n / 256;
  for (double count : bytes) chi_square += (count - expected) * (count - expected) / expected;
  EXPECT_LT(chi_square, 367);
  // Sanity check of the test itself: the plaintext is far from uniform.
  std::vector<double> plain_bytes(256, 0);
  for (uint32_t word : plain) {
    for (int byte = 0; byte < 4; ++byte) ++plain_bytes[(word >> (8 * byte)) & 0xff];
  }
  double plain_chi = 0;
  for (double count : plain_bytes) plain_chi += (count - expected) * (count - expected) / expected;
  EXPECT_GT(plain_chi, 367);
}

}  // namespace
}  // namespace equifl::aggregation
