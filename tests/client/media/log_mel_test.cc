#include "client/media/log_mel.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <random>
#include <vector>

#include "tests/client/media/audio_test_files.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::client {
namespace {

using ::equifl::test::IsOk;
using ::equifl::test::StatusIs;
using ::testing::HasSubstr;

TEST(LogMelTest, FramesFollowTheWindowAndHop) {
  const LogMelOptions options;
  EXPECT_EQ(options.FrameCount(0), 1);
  EXPECT_EQ(options.FrameCount(400), 1);
  EXPECT_EQ(options.FrameCount(559), 1);
  EXPECT_EQ(options.FrameCount(560), 2);
  EXPECT_EQ(options.FrameCount(16000), 98);  // 1 + (16000 - 400) / 160
  LogMelFrontEnd front_end(options);
  EXPECT_EQ(front_end.Compute(std::vector<float>(16000, 0.0f), 0).size(), 98u * 80);
  EXPECT_EQ(front_end.Compute(std::vector<float>(16000, 0.0f), 10).size(), 10u * 80);
  // Silence is the floor: log(1e-10).
  EXPECT_NEAR(front_end.Compute(std::vector<float>(100, 0.0f), 0)[5], std::log(1e-10), 1e-4);
}

// The filterbank's triangles, from the formula (band 40 at every bin), and the
// last band falling to zero at 8 kHz, the Nyquist bin.
TEST(LogMelTest, FilterbankIsHtkTriangles) {
  const LogMelFrontEnd front_end({});
  const std::vector<double>& bank = front_end.filterbank();
  ASSERT_EQ(bank.size(), 80u * 257);
  const double top_mel = 2595 * std::log10(1 + 8000.0 / 700);
  auto edge = [&](int index) { return 700 * (std::pow(10, top_mel * index / 81 / 2595) - 1); };
  // Band 40 (0-based 39): at a bin frequency f between its edges the weight is
  // min((f - left) / (centre - left), (right - f) / (right - centre)).
  for (int bin = 0; bin < 257; ++bin) {
    const double f = bin * 16000.0 / 512;
    const double expected = std::max(0.0, std::min((f - edge(39)) / (edge(40) - edge(39)),
                                                   (edge(41) - f) / (edge(41) - edge(40))));
    EXPECT_NEAR(bank[39 * 257 + bin], expected, 1e-12) << "bin " << bin;
  }
  EXPECT_NEAR(bank[79 * 257 + 256], 0.0, 1e-12);  // 8 kHz is the last band's right edge
  for (int band = 0; band < 80; ++band) {
    double peak = 0;
    for (int bin = 0; bin < 257; ++bin) peak = std::max(peak, bank[band * 257 + bin]);
    EXPECT_GT(peak, 0.0) << "band " << band << " catches no bin";
    EXPECT_LE(peak, 1.0);
  }
}

TEST(LogMelTest, AToneLightsTheBandsAroundItsFrequency) {
  LogMelFrontEnd front_end({});
  const std::vector<float> features = front_end.Compute(test::Tone(1000, 0.5, 16000), 0);
  const std::vector<double>& bank = front_end.filterbank();
  // The band whose triangle weighs bin 32 (exactly 1 kHz) most is the loudest.
  int expected_band = 0;
  for (int band = 1; band < 80; ++band) {
    if (bank[band * 257 + 32] > bank[expected_band * 257 + 32]) expected_band = band;
  }
  const float* frame = features.data() + 10 * 80;
  EXPECT_EQ(std::max_element(frame, frame + 80) - frame, expected_band);
}

TEST(LogMelTest, OptionsAreChecked) {
  LogMelOptions options;
  EXPECT_THAT(options.Validate(), IsOk());
  options.bands = 0;
  EXPECT_THAT(options.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, "mel bands"));
  options = {};
  options.high_hz = 9000;
  EXPECT_THAT(options.Validate(),
              StatusIs(absl::StatusCode::kInvalidArgument, "high_hz <= sample_rate / 2 (8000)"));
  options = {};
  options.fft = 256;
  EXPECT_THAT(options.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, "fft"));
  options = {};
  options.hop = 0;
  EXPECT_THAT(options.Validate(), StatusIs(absl::StatusCode::kInvalidArgument, "hop"));
  EXPECT_THAT(LogMelOptions{}.Describe(),
              HasSubstr("log-mel sample_rate=16000 window=400 hop=160 fft=512 bands=80 low_hz=0 "
                        "high_hz=8000"));
}

// Against tests/client/media/log_mel_reference.py: numpy's own FFT in float64,
// written from the definition. A signal of tones, a chirp and noise (so that every
// band has energy well above the floor) of 1.3 s, not a whole number of hops.
// Tolerance: 5e-4 in log energy (0.05% in energy) for the float32 FFT's rounding
// on band energies that span 8 orders of magnitude; measured: 1.2e-4 at worst.
TEST(LogMelTest, MatchesAnIndependentNumpyReference) {
  if (std::system((std::string(EQUIFL_PYTHON) + " -c 'import numpy' 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << EQUIFL_PYTHON << " has no numpy (apt-get install python3-numpy)";
  }
  test::TemporaryFolder folder("log_mel");
  std::vector<float> signal(20817);
  std::mt19937 engine(7);
  std::normal_distribution<double> noise(0.0, 0.01);
  for (size_t n = 0; n < signal.size(); ++n) {
    const double t = static_cast<double>(n) / 16000;
    signal[n] = static_cast<float>(0.4 * std::sin(2 * M_PI * 220 * t) +
                                   0.2 * std::sin(2 * M_PI * 3150.5 * t) +
                                   0.1 * std::sin(2 * M_PI * (100 + 2000 * t) * t) + noise(engine));
  }
  {
    std::ofstream out(folder / "signal.f32", std::ios::binary);
    out.write(reinterpret_cast<const char*>(signal.data()),
              static_cast<std::streamsize>(signal.size() * sizeof(float)));
  }
  const std::string command = std::string(EQUIFL_PYTHON) + " " + EQUIFL_LOG_MEL_REFERENCE + " " +
                              (folder / "signal.f32") + " " + (folder / "reference.f64");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  std::ifstream in(folder / "reference.f64", std::ios::binary);
  std::vector<double> reference(128 * 80);
  in.read(reinterpret_cast<char*>(reference.data()),
          static_cast<std::streamsize>(reference.size() * sizeof(double)));
  reference.resize(static_cast<size_t>(in.gcount()) / sizeof(double));

  LogMelFrontEnd front_end({});
  const std::vector<float> features = front_end.Compute(signal, 0);
  ASSERT_EQ(features.size(), 128u * 80);  // 1 + (20817 - 400) / 160
  ASSERT_EQ(reference.size(), features.size());
  double worst = 0;
  for (size_t i = 0; i < features.size(); ++i) {
    worst = std::max(worst, std::abs(features[i] - reference[i]));
  }
  EXPECT_LT(worst, 5e-4);
  EXPECT_GT(*std::min_element(reference.begin(), reference.end()), std::log(1e-6))
      << "some band of the test signal is too quiet for the comparison to mean much";
}

}  // namespace
}  // namespace equifl::client
