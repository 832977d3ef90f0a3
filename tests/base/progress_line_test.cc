// ProgressLine against a fake clock and a memory stream: what a terminal and a
// log receive, the rate limits of both, and the numbers (rate, ETA) by hand.
#include "base/progress_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace equifl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A FILE* writing into memory.
class MemoryStream {
 public:
  MemoryStream() : file_(open_memstream(&data_, &size_)) {}
  ~MemoryStream() {
    std::fclose(file_);
    std::free(data_);
  }
  FILE* file() { return file_; }
  std::string Text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  FILE* file_;
};

// A clock the test moves by hand.
struct FakeClock {
  absl::Time now = absl::FromUnixSeconds(1'000'000);
  void Advance(absl::Duration by) { now += by; }
  std::function<absl::Time()> Function() {
    return [this] { return now; };
  }
};

ProgressLine::Options OptionsFor(MemoryStream& stream, FakeClock& clock, bool terminal,
                                 std::string what, uint64_t total) {
  ProgressLine::Options options;
  options.what = std::move(what);
  options.total = total;
  options.stream = stream.file();
  options.terminal = terminal;
  options.width = 200;
  options.clock = clock.Function();
  return options;
}

size_t Count(const std::string& text, char c) { return std::count(text.begin(), text.end(), c); }

TEST(ProgressLineTest, TerminalRewritesOneLineAndEndsWithOneNewline) {
  MemoryStream stream;
  FakeClock clock;
  {
    ProgressLine line(OptionsFor(stream, clock, /*terminal=*/true, "import rows", 100));
    EXPECT_EQ(stream.Text(), "\rimport rows 0/100 (0%)  elapsed 0.0 s");
    clock.Advance(absl::Milliseconds(50));
    line.Advance(10);  // within 0.1 s of the last draw: not drawn
    EXPECT_EQ(Count(stream.Text(), '\r'), 1);
    clock.Advance(absl::Milliseconds(950));
    line.Update(50);
    clock.Advance(absl::Seconds(1));
    line.Update(100);
    line.Finish();
    line.Finish();    // once
    line.Advance(1);  // nothing after Finish
  }
  EXPECT_EQ(stream.Text(),
            "\rimport rows 0/100 (0%)  elapsed 0.0 s"
            "\rimport rows 50/100 (50%)  50.0/s  elapsed 1.0 s  ETA 1.0 s"
            "\rimport rows 100/100 (100%)  50.0/s  elapsed 2.0 s         "  // clears "ETA 1.0 s"
            "\rimport rows 100/100 (100%) in 2.0 s (50.0/s)     \n");
}

TEST(ProgressLineTest, TerminalLineIsCutToTheWidthAndShorterLinesClearTheRest) {
  MemoryStream stream;
  FakeClock clock;
  ProgressLine::Options options = OptionsFor(stream, clock, true, "rounds", 5);
  options.width = 31;  // 30 characters of text
  ProgressLine line(std::move(options));
  clock.Advance(absl::Seconds(1));
  line.SetDetail("val acc 0.7000");
  line.Refresh();  // drawn, cut after 30 characters
  line.SetDetail("");
  line.Refresh();  // within 0.1 s: not drawn
  line.Finish();   // drawn, 6 characters shorter
  EXPECT_EQ(stream.Text(),
            "\rrounds 0/5 (0%)  elapsed 0.0 s"
            "\rrounds 0/5 (0%)  elapsed 1.0 s"
            "\rrounds 0/5 (0%) in 1.0 s      \n");
}

TEST(ProgressLineTest, TerminalLineLeftUnfinishedEndsWithANewline) {
  MemoryStream stream;
  FakeClock clock;
  {
    ProgressLine line(OptionsFor(stream, clock, true, "rounds", 5));
    clock.Advance(absl::Seconds(1));
    line.Advance();
  }
  EXPECT_EQ(stream.Text(),
            "\rrounds 0/5 (0%)  elapsed 0.0 s"
            "\rrounds 1/5 (20%)  1.00/s  elapsed 1.0 s  ETA 4.0 s\n");
}

TEST(ProgressLineTest, TransientTerminalLineIsErasedByFinish) {
  MemoryStream stream;
  FakeClock clock;
  ProgressLine::Options options = OptionsFor(stream, clock, true, "checking rows", 0);
  options.transient = true;
  ProgressLine line(std::move(options));
  clock.Advance(absl::Seconds(1));
  line.Update(7);
  line.Finish();
  EXPECT_EQ(stream.Text(),
            "\rchecking rows 0  elapsed 0.0 s"
            "\rchecking rows 7  7.00/s  elapsed 1.0 s"
            "\r" +
                std::string(38, ' ') + "\r");
}

TEST(ProgressLineTest, PlainOutputOfShortWorkIsEmpty) {
  MemoryStream stream;
  FakeClock clock;
  ProgressLine line(OptionsFor(stream, clock, /*terminal=*/false, "import rows", 100));
  for (int step = 0; step < 100; ++step) {
    clock.Advance(absl::Milliseconds(40));
    line.Advance();
  }
  line.Finish();
  EXPECT_THAT(stream.Text(), IsEmpty());
}

TEST(ProgressLineTest, PlainLinesComeAfterFiveSecondsThenAtEachTenth) {
  MemoryStream stream;
  FakeClock clock;
  ProgressLine line(OptionsFor(stream, clock, false, "rounds", 100));
  for (int step = 0; step < 100; ++step) {
    clock.Advance(absl::Seconds(1));
    line.Advance();
  }
  line.Finish();
  const std::vector<std::string> lines = absl::StrSplit(stream.Text(), '\n');
  // 5 s, then 10, 20, ..., 100 s (a tenth each), the closing line and the empty rest.
  ASSERT_EQ(lines.size(), 13u) << stream.Text();
  EXPECT_EQ(lines[0], "rounds 5/100 (5%)  1.00/s  elapsed 5.0 s  ETA 95.0 s");
  EXPECT_EQ(lines[1], "rounds 10/100 (10%)  1.00/s  elapsed 10.0 s  ETA 90.0 s");
  EXPECT_EQ(lines[2], "rounds 20/100 (20%)  1.00/s  elapsed 20.0 s  ETA 80.0 s");
  EXPECT_EQ(lines[10], "rounds 100/100 (100%)  1.00/s  elapsed 100.0 s");
  EXPECT_EQ(lines[11], "rounds 100/100 (100%) in 100.0 s (1.00/s)");
  EXPECT_EQ(lines[12], "");
  EXPECT_THAT(stream.Text(), Not(HasSubstr("\r")));
}

TEST(ProgressLineTest, PlainLinesAreAtLeastFiveAndAtMostThirtySecondsApart) {
  MemoryStream stream;
  FakeClock clock;
  const absl::Time start = clock.now;
  ProgressLine line(OptionsFor(stream, clock, false, "samples", 10'000));
  std::vector<absl::Duration> printed;  // when the output grew
  size_t size = 0;
  for (int step = 0; step < 10'000; ++step) {  // 1000 s, 10 units a second
    clock.Advance(absl::Milliseconds(100));
    line.Advance();
    if (const size_t now = stream.Text().size(); now != size) {
      printed.push_back(clock.now - start);
      size = now;
    }
  }
  ASSERT_FALSE(printed.empty());
  EXPECT_EQ(printed.front(), absl::Seconds(5));
  EXPECT_LE(printed.size(), 1u + 10u + 1000u / 30u);
  for (size_t index = 1; index < printed.size(); ++index) {
    EXPECT_GE(printed[index] - printed[index - 1], absl::Seconds(5));
    EXPECT_LE(printed[index] - printed[index - 1], absl::Seconds(30));
  }
  EXPECT_EQ(Count(stream.Text(), '\n'), printed.size());
}

TEST(ProgressLineTest, RateAndEtaAgreeWithHandComputedValues) {
  MemoryStream stream;
  FakeClock clock;
  {
    ProgressLine line(OptionsFor(stream, clock, false, "rows", 1000));
    clock.Advance(absl::Seconds(40));
    line.Update(250);  // 6.25 a second; 750 left: 120 s
    EXPECT_EQ(line.Text(), "rows 250/1000 (25%)  6.25/s  elapsed 40.0 s  ETA 2m00s");
  }
  {
    ProgressLine line(OptionsFor(stream, clock, false, "rounds", 10));
    clock.Advance(absl::Seconds(90));
    line.Update(3);  // 30 s each; 7 left: 210 s
    EXPECT_EQ(line.Text(), "rounds 3/10 (30%)  30.0 s each  elapsed 90.0 s  ETA 3m30s");
    clock.Advance(absl::Seconds(20));  // the ETA counts down; the rate holds
    EXPECT_EQ(line.Text(), "rounds 3/10 (30%)  30.0 s each  elapsed 110.0 s  ETA 3m10s");
    clock.Advance(absl::Hours(2));  // the fourth is overdue: 6 left after it
    EXPECT_EQ(line.Text(), "rounds 3/10 (30%)  30.0 s each  elapsed 2h01m  ETA 3m00s");
  }
  {
    ProgressLine::Options options = OptionsFor(stream, clock, false, "reading a.csv", 50'000'000);
    options.bytes = true;
    ProgressLine line(std::move(options));
    clock.Advance(absl::Seconds(2));
    line.Update(10'000'000);  // 5 MB a second; 40 MB left: 8 s
    EXPECT_EQ(line.Text(),
              "reading a.csv 10.0 MB/50.0 MB (20%)  5.0 MB/s  elapsed 2.0 s  ETA 8.0 s");
  }
  {
    ProgressLine line(OptionsFor(stream, clock, false, "samples", 3));
    clock.Advance(absl::Seconds(1));
    line.Update(1);  // a third: 33%, not 33.3 or 34
    EXPECT_EQ(line.Text(), "samples 1/3 (33%)  1.00/s  elapsed 1.0 s  ETA 2.0 s");
  }
}

TEST(ProgressLineTest, SkippedUnitsCountAsDoneButNotInTheRate) {
  MemoryStream stream;
  FakeClock clock;
  ProgressLine line(OptionsFor(stream, clock, false, "rounds", 10));
  line.Skip(3);  // a resumed run's first three rounds
  clock.Advance(absl::Seconds(20));
  line.Advance();  // one round in 20 s; 6 left: 120 s
  EXPECT_EQ(line.Text(), "rounds 4/10 (40%)  20.0 s each  elapsed 20.0 s  ETA 2m00s");
}

TEST(ProgressLineTest, UnknownTotalHasNoPercentAndNoEta) {
  MemoryStream stream;
  FakeClock clock;
  ProgressLine line(OptionsFor(stream, clock, false, "client tasks", 0));
  EXPECT_EQ(line.Text(), "client tasks 0  elapsed 0.0 s");
  clock.Advance(absl::Seconds(5));
  line.Advance(42);
  line.SetDetail("round 3: 2 of 10 client tasks done");
  line.Finish();
  EXPECT_EQ(stream.Text(),
            "client tasks 42  8.40/s  elapsed 5.0 s\n"
            "client tasks 42 in 5.0 s (8.40/s)  round 3: 2 of 10 client tasks done\n");
}

TEST(ProgressLineTest, ConcurrentAdvancesAllCount) {
  MemoryStream stream;
  FakeClock clock;  // read concurrently, never written while the threads run
  ProgressLine line(OptionsFor(stream, clock, true, "tasks", 40'000));
  std::vector<std::thread> threads;
  for (int thread = 0; thread < 4; ++thread) {
    threads.emplace_back([&] {
      for (int step = 0; step < 10'000; ++step) line.Advance();
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(line.Text(), "tasks 40000/40000 (100%)  elapsed 0.0 s");
}

}  // namespace
}  // namespace equifl
