// Spreading rows over clients: IID, Dirichlet over any column, quantity skew, and
// the top-up that gives every client its minimum.
#include "client/data/import_split.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <utility>

#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int64_t> Column(size_t rows, int64_t values) {
  std::vector<int64_t> column(rows);
  for (size_t row = 0; row < rows; ++row) column[row] = static_cast<int64_t>(row) % values;
  return column;
}

// Every row exactly once over all clients.
void ExpectEveryRowOnce(const RowPartition& partition, size_t rows) {
  std::vector<size_t> all;
  for (const auto& client : partition.client_rows)
    all.insert(all.end(), client.begin(), client.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), rows);
  for (size_t row = 0; row < rows; ++row) EXPECT_EQ(all[row], row);
}

// The largest share of one value in any client's rows.
double MostSkewed(const RowPartition& partition, const std::vector<int64_t>& column,
                  int64_t values) {
  double most = 0;
  for (const auto& rows : partition.client_rows) {
    std::vector<double> counts(values, 0);
    for (size_t row : rows) ++counts[column[row]];
    most = std::max(most, *std::max_element(counts.begin(), counts.end()) / rows.size());
  }
  return most;
}

TEST(PartitionRowsTest, IidDealsEqualSizes) {
  const std::vector<int64_t> column = Column(1000, 4);
  random::Engine engine = random::MakeEngine(3, 0);
  auto partition = PartitionRows(column, 4, {.clients = 7}, engine);
  ASSERT_THAT(partition, IsOk());
  ExpectEveryRowOnce(*partition, 1000);
  for (const auto& rows : partition->client_rows) {
    EXPECT_GE(rows.size(), 142u);
    EXPECT_LE(rows.size(), 143u);
  }
  EXPECT_EQ(partition->client_names[6], "random part 6");
}

TEST(PartitionRowsTest, DirichletSkewsWhicheverColumnItIsGiven) {
  // Groups, say: 3 values, alpha 0.05 gives most clients one dominant value.
  const std::vector<int64_t> groups = Column(3000, 3);
  random::Engine engine = random::MakeEngine(5, 0);
  auto partition = PartitionRows(groups, 3, {.clients = 10, .dirichlet_alpha = 0.05}, engine);
  ASSERT_THAT(partition, IsOk());
  ExpectEveryRowOnce(*partition, 3000);
  EXPECT_GT(MostSkewed(*partition, groups, 3), 0.9);
  EXPECT_EQ(partition->client_names[0], "Dirichlet(0.05) part 0");

  // A large alpha is close to IID: no client far from 1/3 of each value.
  random::Engine again = random::MakeEngine(5, 0);
  auto even = PartitionRows(groups, 3, {.clients = 10, .dirichlet_alpha = 1000}, again);
  ASSERT_THAT(even, IsOk());
  EXPECT_LT(MostSkewed(*even, groups, 3), 0.45);
}

TEST(PartitionRowsTest, QuantitySkewSpreadsSizesAndKeepsEveryRow) {
  const std::vector<int64_t> column = Column(5000, 2);
  random::Engine engine = random::MakeEngine(9, 0);
  auto partition = PartitionRows(column, 2, {.clients = 20, .quantity_alpha = 0.3}, engine);
  ASSERT_THAT(partition, IsOk());
  ExpectEveryRowOnce(*partition, 5000);
  size_t smallest = 5000;
  size_t largest = 0;
  for (const auto& rows : partition->client_rows) {
    smallest = std::min(smallest, rows.size());
    largest = std::max(largest, rows.size());
  }
  EXPECT_GE(smallest, 1u);            // the minimum holds
  EXPECT_GT(largest, 10 * smallest);  // equal sizes would be 250 each
  EXPECT_THAT(partition->client_names[0], HasSubstr("quantity-skewed(0.3)"));
}

TEST(PartitionRowsTest, TopUpGivesEveryClientItsMinimumAtScale) {
  // 10,000 clients over 50,000 rows with a very skewed draw: many clients would
  // get nothing; the top-up gives each at least 3 rows from the largest clients.
  const std::vector<int64_t> labels = Column(50'000, 5);
  random::Engine engine = random::MakeEngine(1, 0);
  auto partition =
      PartitionRows(labels, 5, {.clients = 10'000, .dirichlet_alpha = 0.1, .min_rows = 3}, engine);
  ASSERT_THAT(partition, IsOk());
  ExpectEveryRowOnce(*partition, 50'000);
  for (const auto& rows : partition->client_rows) ASSERT_GE(rows.size(), 3u);
}

TEST(PartitionRowsTest, SameSeedSameSpread) {
  const std::vector<int64_t> labels = Column(800, 4);
  random::Engine first = random::MakeEngine(2, 0);
  random::Engine second = random::MakeEngine(2, 0);
  const PartitionOptions options{.clients = 8, .dirichlet_alpha = 0.5};
  auto a = PartitionRows(labels, 4, options, first);
  auto b = PartitionRows(labels, 4, options, second);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->client_rows, b->client_rows);
}

TEST(PartitionRowsTest, ErrorsSayWhatIsWrong) {
  const std::vector<int64_t> labels = Column(10, 2);
  random::Engine engine = random::MakeEngine(1, 0);
  EXPECT_THAT(PartitionRows(labels, 2, {.clients = 4, .min_rows = 3}, engine).status().message(),
              HasSubstr("10 rows cannot give each of 4 clients 3 rows"));
  EXPECT_THAT(
      PartitionRows(labels, 2, {.clients = 1, .dirichlet_alpha = 0.5}, engine).status().message(),
      HasSubstr("needs the number of clients"));
  EXPECT_THAT(
      PartitionRows(labels, 2, {.clients = 2, .dirichlet_alpha = 0.5, .quantity_alpha = 1}, engine)
          .status()
          .message(),
      HasSubstr("quantity skew applies to random (IID) splits"));
  EXPECT_THAT(
      PartitionRows(labels, 1, {.clients = 2, .dirichlet_alpha = 0.5}, engine).status().message(),
      HasSubstr("row 1 has value 1, outside 0..0"));
  EXPECT_THAT(PartitionOptions{.quantity_alpha = -1}.Validate().message(),
              HasSubstr("quantity alpha is -1"));
}

TEST(ReadImportFilesTest, ReadsFilesWholeAndReportsTheirBytes) {
  const equifl::test::TemporaryFolder temporary("read");
  std::string large(9u << 20, '\0');  // 9 MiB: reported in 4 MiB steps
  for (size_t index = 0; index < large.size(); ++index) large[index] = static_cast<char>(index * 7);
  std::ofstream(temporary / "large.bin", std::ios::binary) << large;
  std::ofstream(temporary / "small.csv") << "a,b\n1,2\n";
  std::vector<std::pair<uint64_t, uint64_t>> reports;
  const ImportProgress progress = [&](ImportStage stage, uint64_t done, uint64_t total) {
    EXPECT_EQ(stage, ImportStage::kRead);
    reports.emplace_back(done, total);
  };
  absl::StatusOr<std::vector<std::string>> files =
      ReadImportFiles({temporary / "large.bin", temporary / "small.csv"}, progress);
  ASSERT_THAT(files, IsOk());
  ASSERT_EQ(files->size(), 2u);
  EXPECT_TRUE((*files)[0] == large);
  EXPECT_EQ((*files)[1], "a,b\n1,2\n");
  const uint64_t total = large.size() + 8;
  const uint64_t mib = 1u << 20;
  EXPECT_THAT(reports, ElementsAre(std::pair<uint64_t, uint64_t>{0, total},
                                   std::pair<uint64_t, uint64_t>{4 * mib, total},
                                   std::pair<uint64_t, uint64_t>{8 * mib, total},
                                   std::pair<uint64_t, uint64_t>{total, total}));

  EXPECT_EQ(ReadImportFiles({temporary / "none.csv"}, {}).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(ReadImportFiles({temporary.path().string()}, {}).ok());  // a folder
  EXPECT_THAT(ReadImportFiles({"/dev/zero"}, {}).status().message(),
              HasSubstr("/dev/zero is a character device; give a regular file"));
  // Every file is checked before any is read.
  reports.clear();
  const absl::Status over =
      ReadImportFiles({temporary / "small.csv", temporary / "large.bin"}, progress, 1 << 20)
          .status();
  EXPECT_THAT(over.message(), HasSubstr("large.bin has 9437184 bytes; at most 1048576"));
  EXPECT_THAT(reports, ElementsAre());
}

}  // namespace
}  // namespace equifl::client
