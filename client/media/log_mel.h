// The audio front end: log-mel filterbank energies of a 16 kHz mono signal.
//
// Exactly (the defaults; every number is a field of LogMelOptions and is recorded
// in the shard manifest, so a run can refuse data made with other settings):
//   frames   frame t covers samples [t * hop, t * hop + window), hop 160 (10 ms),
//            window 400 (25 ms); T = 1 + floor((N - window) / hop) for N >= window,
//            and a shorter signal is one frame zero-padded to the window. No centre
//            padding, no pre-emphasis, no dither, no DC removal.
//   window   periodic Hann, w[n] = 0.5 - 0.5 cos(2 pi n / window).
//   spectrum P[k] = |sum_n x[n] w[n] exp(-2 pi i k n / fft)|^2, k = 0 .. fft / 2, with
//            the windowed frame zero-padded to fft = 512 points.
//   mel      HTK's scale, mel(f) = 2595 log10(1 + f / 700); bands + 2 = 82 edges
//            equally spaced in mel from low_hz (0) to high_hz (8,000); band m
//            (1-based) is the triangle rising from edge m-1 to 1 at edge m and falling
//            to 0 at edge m+1, evaluated at the bin frequencies k * sample_rate / fft
//            (no area normalisation: torchaudio's melscale_fbanks with norm=None,
//            mel_scale="htk").
//   output   log(max(sum_k W[m, k] P[k], floor)), natural log, floor 1e-10, as a
//            row-major [T, bands] float32 matrix.
// The FFT is FFTW's (single precision). A front end plans its transform once; each
// thread uses its own LogMelFrontEnd. No Torch here.
#ifndef EQUIFL_CLIENT_MEDIA_LOG_MEL_H_
#define EQUIFL_CLIENT_MEDIA_LOG_MEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace equifl::client {

//! The front end's parameters; see the file comment for what each one means.
struct LogMelOptions {
  int sample_rate = 16000;  //!< Hz of the signal the front end takes.
  int window = 400;         //!< Samples per frame (25 ms).
  int hop = 160;            //!< Samples between frame starts (10 ms).
  int fft = 512;            //!< Transform size, >= window.
  int bands = 80;           //!< Mel bands.
  double low_hz = 0;        //!< Lowest band edge.
  double high_hz = 8000;    //!< Highest band edge, at most sample_rate / 2.
  double floor = 1e-10;     //!< Energies below it are raised to it before the log.

  //! OK, or which parameter is out of range and what is allowed.
  absl::Status Validate() const;
  //! Frames a signal of `samples` samples gives (at least 1).
  int64_t FrameCount(int64_t samples) const;
  //! The parameters as one line, e.g. "log-mel sample_rate=16000 window=400 ...":
  //! what a shard manifest records and a run compares.
  std::string Describe() const;
};

//! Log-mel features of one signal after another (not thread-safe: one per thread).
class LogMelFrontEnd {
 public:
  //! `options` must be valid (Validate()).
  explicit LogMelFrontEnd(const LogMelOptions& options);
  ~LogMelFrontEnd();
  LogMelFrontEnd(const LogMelFrontEnd&) = delete;
  LogMelFrontEnd& operator=(const LogMelFrontEnd&) = delete;

  //! [min(options.FrameCount, max_frames), bands] row-major log-mel energies of `signal`;
  //! `max_frames` > 0 keeps only the first frames (the rest is not computed).
  std::vector<float> Compute(std::span<const float> signal, int64_t max_frames);

  //! [bands, fft / 2 + 1] row-major filterbank weights.
  const std::vector<double>& filterbank() const { return filterbank_; }

 private:
  struct Transform;  // FFTW's plan and its buffers.

  LogMelOptions options_;
  std::vector<float> window_;       //!< The Hann window, `window` values.
  std::vector<double> filterbank_;  //!< [bands, bins].
  std::vector<int> first_bin_;      //!< Per band: first bin with a nonzero weight.
  std::vector<int> last_bin_;       //!< Per band: one past the last.
  std::unique_ptr<Transform> transform_;
};

}  // namespace equifl::client

#endif  // EQUIFL_CLIENT_MEDIA_LOG_MEL_H_
