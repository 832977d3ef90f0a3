#include "client/media/log_mel.h"

#include <fftw3.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace equifl::client {
namespace {

// FFTW's planner is not thread-safe (its execution of a plan on the plan's own
// buffers is): every plan is made and destroyed under this lock.
absl::Mutex planner_mutex;

double HertzToMel(double hertz) { return 2595.0 * std::log10(1.0 + hertz / 700.0); }
double MelToHertz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }

}  // namespace

struct LogMelFrontEnd::Transform {
  float* input = nullptr;           // fft reals
  fftwf_complex* output = nullptr;  // fft / 2 + 1 complex
  fftwf_plan plan = nullptr;
};

absl::Status LogMelOptions::Validate() const {
  auto bad = [](const std::string& what) { return absl::InvalidArgumentError(what); };
  if (sample_rate < 1000 || sample_rate > 384000) {
    return bad(absl::StrCat("the front end's sample_rate is ", sample_rate,
                            " Hz; it must be in 1000..384000"));
  }
  if (window < 16 || window > sample_rate) {
    return bad(absl::StrCat("the front end's window is ", window,
                            " samples; it must be in 16..sample_rate (at most 1 s)"));
  }
  if (hop < 1 || hop > window) {
    return bad(absl::StrCat("the front end's hop is ", hop, " samples; it must be in 1..window (",
                            window, ")"));
  }
  if (fft < window || fft > (1 << 16)) {
    return bad(absl::StrCat("the front end's fft size is ", fft, "; it must be in window (", window,
                            ")..65536"));
  }
  if (bands < 1 || bands > fft / 2) {
    return bad(absl::StrCat("the front end has ", bands, " mel bands; it must have 1..fft/2 (",
                            fft / 2, ")"));
  }
  if (!(low_hz >= 0) || !(high_hz > low_hz) || high_hz > sample_rate / 2.0) {
    return bad(absl::StrCat("the front end's bands span ", low_hz, "..", high_hz,
                            " Hz; they must satisfy 0 <= low_hz < high_hz <= sample_rate / 2 (",
                            sample_rate / 2.0, ")"));
  }
  if (!(floor > 0) || !std::isfinite(floor)) {
    return bad(absl::StrCat("the front end's floor is ", floor, "; it must be a positive number"));
  }
  return absl::OkStatus();
}

std::string LogMelOptions::Describe() const {
  return absl::StrCat("log-mel sample_rate=", sample_rate, " window=", window, " hop=", hop,
                      " fft=", fft, " bands=", bands, " low_hz=", low_hz, " high_hz=", high_hz,
                      " floor=", floor, " window_function=periodic-hann mel_scale=htk");
}

LogMelFrontEnd::LogMelFrontEnd(const LogMelOptions& options)
    : options_(options), transform_(std::make_unique<Transform>()) {
  window_.resize(static_cast<size_t>(options.window));
  for (int n = 0; n < options.window; ++n) {
    window_[static_cast<size_t>(n)] = static_cast<float>(
        0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * n / static_cast<double>(options.window)));
  }

  const int bins = options.fft / 2 + 1;
  std::vector<double> edges(static_cast<size_t>(options.bands) + 2);
  const double low_mel = HertzToMel(options.low_hz);
  const double high_mel = HertzToMel(options.high_hz);
  for (size_t i = 0; i < edges.size(); ++i) {
    edges[i] = MelToHertz(low_mel + (high_mel - low_mel) * static_cast<double>(i) /
                                        static_cast<double>(edges.size() - 1));
  }
  filterbank_.assign(static_cast<size_t>(options.bands) * bins, 0.0);
  first_bin_.assign(static_cast<size_t>(options.bands), bins);
  last_bin_.assign(static_cast<size_t>(options.bands), 0);
  for (int band = 0; band < options.bands; ++band) {
    const double left = edges[static_cast<size_t>(band)];
    const double centre = edges[static_cast<size_t>(band) + 1];
    const double right = edges[static_cast<size_t>(band) + 2];
    for (int bin = 0; bin < bins; ++bin) {
      const double hertz = static_cast<double>(bin) * options.sample_rate / options.fft;
      const double rising = (hertz - left) / (centre - left);
      const double falling = (right - hertz) / (right - centre);
      const double weight = std::max(0.0, std::min(rising, falling));
      if (weight <= 0) continue;
      filterbank_[static_cast<size_t>(band) * bins + bin] = weight;
      first_bin_[static_cast<size_t>(band)] = std::min(first_bin_[static_cast<size_t>(band)], bin);
      last_bin_[static_cast<size_t>(band)] = bin + 1;
    }
  }

  absl::MutexLock lock(&planner_mutex);
  transform_->input = fftwf_alloc_real(static_cast<size_t>(options.fft));
  transform_->output = fftwf_alloc_complex(static_cast<size_t>(bins));
  transform_->plan =
      fftwf_plan_dft_r2c_1d(options.fft, transform_->input, transform_->output, FFTW_ESTIMATE);
}

LogMelFrontEnd::~LogMelFrontEnd() {
  absl::MutexLock lock(&planner_mutex);
  fftwf_destroy_plan(transform_->plan);
  fftwf_free(transform_->input);
  fftwf_free(transform_->output);
}

int64_t LogMelOptions::FrameCount(int64_t samples) const {
  if (samples <= window) return 1;
  return 1 + (samples - window) / hop;
}

std::vector<float> LogMelFrontEnd::Compute(std::span<const float> signal, int64_t max_frames) {
  int64_t frames = options_.FrameCount(static_cast<int64_t>(signal.size()));
  if (max_frames > 0) frames = std::min(frames, max_frames);
  const int bins = options_.fft / 2 + 1;
  const auto bands = static_cast<size_t>(options_.bands);
  std::vector<float> features(static_cast<size_t>(frames) * bands);
  std::vector<double> power(static_cast<size_t>(bins));
  float* input = transform_->input;
  for (int64_t frame = 0; frame < frames; ++frame) {
    const size_t start = static_cast<size_t>(frame) * static_cast<size_t>(options_.hop);
    std::fill(input, input + options_.fft, 0.0f);
    const size_t available = start < signal.size() ? signal.size() - start : 0;
    const size_t count = std::min(available, window_.size());
    for (size_t n = 0; n < count; ++n) input[n] = signal[start + n] * window_[n];
    fftwf_execute(transform_->plan);
    for (int bin = 0; bin < bins; ++bin) {
      const double real = transform_->output[bin][0];
      const double imaginary = transform_->output[bin][1];
      power[static_cast<size_t>(bin)] = real * real + imaginary * imaginary;
    }
    float* row = features.data() + static_cast<size_t>(frame) * bands;
    for (size_t band = 0; band < bands; ++band) {
      double energy = 0;
      const double* weights = filterbank_.data() + band * static_cast<size_t>(bins);
      for (int bin = first_bin_[band]; bin < last_bin_[band]; ++bin) {
        energy += weights[bin] * power[static_cast<size_t>(bin)];
      }
      row[band] = static_cast<float>(std::log(std::max(energy, options_.floor)));
    }
  }
  return features;
}

}  // namespace equifl::client
