// Audio files a test writes itself: WAV by hand (RIFF, 16-bit PCM, independent of
// libsndfile), other formats through libsndfile's writer, and test tones.
#ifndef EQUIFL_TESTS_CLIENT_MEDIA_AUDIO_TEST_FILES_H_
#define EQUIFL_TESTS_CLIENT_MEDIA_AUDIO_TEST_FILES_H_

#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

namespace equifl::test {

//! `seconds` of a sine of `hertz` and `amplitude` at `rate` Hz.
inline std::vector<float> Tone(double hertz, double seconds, int rate, double amplitude = 0.5) {
  std::vector<float> samples(static_cast<size_t>(std::lround(seconds * rate)));
  for (size_t n = 0; n < samples.size(); ++n) {
    samples[n] = static_cast<float>(
        amplitude * std::sin(2 * std::numbers::pi * hertz * static_cast<double>(n) / rate));
  }
  return samples;
}

//! The same mono signal on every one of `channels`, interleaved.
inline std::vector<float> Interleave(const std::vector<float>& mono, int channels) {
  std::vector<float> out;
  out.reserve(mono.size() * static_cast<size_t>(channels));
  for (const float sample : mono) out.insert(out.end(), static_cast<size_t>(channels), sample);
  return out;
}

//! A 16-bit PCM WAV file written byte by byte; `interleaved` in [-1, 1].
inline void WriteWav(const std::string& path, int rate, int channels,
                     const std::vector<float>& interleaved) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&out](uint32_t value) {
    for (int byte = 0; byte < 4; ++byte) out.put(static_cast<char>((value >> (8 * byte)) & 0xff));
  };
  auto u16 = [&out](uint16_t value) {
    out.put(static_cast<char>(value & 0xff));
    out.put(static_cast<char>(value >> 8));
  };
  const auto data_bytes = static_cast<uint32_t>(interleaved.size() * 2);
  out.write("RIFF", 4);
  u32(36 + data_bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(1);  // PCM
  u16(static_cast<uint16_t>(channels));
  u32(static_cast<uint32_t>(rate));
  u32(static_cast<uint32_t>(rate * channels * 2));
  u16(static_cast<uint16_t>(channels * 2));
  u16(16);
  out.write("data", 4);
  u32(data_bytes);
  for (const float sample : interleaved) {
    const auto value = static_cast<int16_t>(std::lround(std::clamp(sample, -1.0f, 1.0f) * 32767));
    u16(static_cast<uint16_t>(value));
  }
}

//! A file in libsndfile's `format` (e.g. SF_FORMAT_FLAC | SF_FORMAT_PCM_16); false
//! when libsndfile cannot write it.
inline bool WriteWithSndfile(const std::string& path, int format, int rate, int channels,
                             const std::vector<float>& interleaved) {
  SF_INFO info = {};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
  if (file == nullptr) return false;
  const auto frames = static_cast<sf_count_t>(interleaved.size() / static_cast<size_t>(channels));
  const bool ok = sf_writef_float(file, interleaved.data(), frames) == frames;
  return sf_close(file) == 0 && ok;
}

//! The first `bytes` bytes of `from`, written to `to`.
inline void CopyPrefix(const std::string& from, const std::string& to, size_t bytes) {
  std::ifstream in(from, std::ios::binary);
  std::string data(bytes, '\0');
  in.read(data.data(), static_cast<std::streamsize>(bytes));
  data.resize(static_cast<size_t>(in.gcount()));
  std::ofstream(to, std::ios::binary) << data;
}

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_CLIENT_MEDIA_AUDIO_TEST_FILES_H_
