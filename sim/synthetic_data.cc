#include "sim/synthetic_data.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/random.h"
#include "base/status_macros.h"
#include "client/data/shard_set_writer.h"

namespace equifl::sim {
namespace {

constexpr int kModalities = 3;
constexpr const char* kModalityNames[kModalities] = {"video", "audio", "text"};

// The parts shared by every client: class means, group and language shifts, and
// the resolved (signal, label noise) of every (group, language, modality) cell.
struct World {
  // [modality][index][dim]
  std::vector<std::vector<std::vector<float>>> class_means;
  std::vector<std::vector<std::vector<float>>> group_shifts;
  std::vector<std::vector<std::vector<float>>> language_shifts;
  // [group][language][modality]
  std::vector<std::vector<std::array<double, kModalities>>> signal;
  std::vector<std::vector<std::array<double, kModalities>>> label_noise;
  // Class means of the biases with own_class_means: [set][modality][index][dim],
  // and which set each (group, language, modality) cell uses (-1: the shared ones).
  std::vector<std::vector<std::vector<std::vector<float>>>> own_class_means;
  std::vector<std::vector<std::array<int, kModalities>>> class_means_set;

  // The class means modality m shows in cell (group, language).
  const std::vector<std::vector<float>>& ClassMeans(int64_t group, int64_t language, int m) const {
    const int set = class_means_set[group][language][m];
    return set < 0 ? class_means[m] : own_class_means[set][m];
  }
};

int64_t Dim(const SyntheticDataOptions& options, int modality) {
  return modality == 0 ? options.video_dim : modality == 1 ? options.audio_dim : options.text_dim;
}

bool IsSequence(const SyntheticDataOptions& options, int modality) {
  return modality < 2 && !options.video_level;
}

bool IsGenerated(const SyntheticDataOptions& options, int modality) {
  return std::find(options.modalities.begin(), options.modalities.end(),
                   kModalityNames[modality]) != options.modalities.end();
}

absl::Status CheckNames(const std::vector<std::string>& names, absl::string_view what,
                        size_t minimum) {
  if (names.size() < minimum) {
    return absl::InvalidArgumentError(
        absl::StrCat("synthetic data needs at least ", minimum, " ", what));
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty() || !seen.insert(name).second) {
      return absl::InvalidArgumentError(absl::StrCat(what, " must be non-empty and unique; got '",
                                                     absl::StrJoin(names, ","), "'"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckRange(double value, double low, double high, absl::string_view name) {
  if (!(value >= low && value <= high)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", value, "; it must be in [", low, ", ", high, "]"));
  }
  return absl::OkStatus();
}

size_t IndexOf(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<size_t>(std::find(names.begin(), names.end(), name) - names.begin());
}

std::vector<std::vector<float>> RandomVectors(random::Engine& engine, size_t count, int64_t dim,
                                              double scale) {
  std::vector<std::vector<float>> vectors(count, std::vector<float>(dim));
  for (std::vector<float>& vector : vectors) {
    for (float& value : vector) value = static_cast<float>(scale * random::Normal(engine));
  }
  return vectors;
}

World BuildWorld(const SyntheticDataOptions& options) {
  World world;
  random::Engine engine = random::MakeEngine(options.seed, 0);
  for (int m = 0; m < kModalities; ++m) {
    // Entries of variance 2/D: two means lie about 2 apart, the noise has std 1.
    const double scale = std::sqrt(2.0 / static_cast<double>(Dim(options, m)));
    world.class_means.push_back(
        RandomVectors(engine, options.labels.size(), Dim(options, m), scale));
    world.group_shifts.push_back(
        RandomVectors(engine, options.groups.size(), Dim(options, m), scale));
    world.language_shifts.push_back(
        RandomVectors(engine, options.languages.size(), Dim(options, m), scale));
  }
  // After the shared draws, so biases without own means leave the data as it was.
  std::vector<int> set_of_bias(options.biases.size(), -1);
  for (size_t b = 0; b < options.biases.size(); ++b) {
    if (!options.biases[b].own_class_means) continue;
    set_of_bias[b] = static_cast<int>(world.own_class_means.size());
    std::vector<std::vector<std::vector<float>>> set;
    for (int m = 0; m < kModalities; ++m) {
      const double scale = std::sqrt(2.0 / static_cast<double>(Dim(options, m)));
      set.push_back(RandomVectors(engine, options.labels.size(), Dim(options, m), scale));
    }
    world.own_class_means.push_back(std::move(set));
  }
  const size_t groups = options.groups.size();
  const size_t languages = options.languages.size();
  world.signal.assign(groups, std::vector<std::array<double, kModalities>>(languages));
  world.label_noise.assign(groups, std::vector<std::array<double, kModalities>>(languages));
  std::array<int, kModalities> shared;
  shared.fill(-1);
  world.class_means_set.assign(groups,
                               std::vector<std::array<int, kModalities>>(languages, shared));
  for (size_t g = 0; g < groups; ++g) {
    for (size_t l = 0; l < languages; ++l) {
      for (int m = 0; m < kModalities; ++m) {
        double signal = options.signal;
        double label_noise = options.label_noise;
        for (size_t b = 0; b < options.biases.size(); ++b) {
          const CellBias& bias = options.biases[b];
          if ((bias.group == "*" || bias.group == options.groups[g]) &&
              (bias.language == "*" || bias.language == options.languages[l]) &&
              (bias.modality == "*" || bias.modality == kModalityNames[m])) {
            signal = bias.signal.value_or(signal);
            label_noise = bias.label_noise.value_or(label_noise);
            if (set_of_bias[b] >= 0) world.class_means_set[g][l][m] = set_of_bias[b];
          }
        }
        world.signal[g][l][m] = signal;
        world.label_noise[g][l][m] = label_noise;
      }
    }
  }
  return world;
}

// The shortest sequence length: lengths are uniform in [this, frames].
int64_t ShortestLength(const SyntheticDataOptions& options) {
  return std::clamp<int64_t>(static_cast<int64_t>(std::ceil(options.min_length_fraction *
                                                            static_cast<double>(options.frames))),
                             1, options.frames);
}

// Which of the `count` generated modalities a sample has: each is missing with
// probability missing_rate, and a sample is never left with none.
std::vector<bool> DrawPresent(const SyntheticDataOptions& options, size_t count,
                              random::Engine& engine) {
  std::vector<bool> present(count);
  for (size_t column = 0; column < count; ++column) {
    present[column] = !random::Bernoulli(engine, options.missing_rate);
  }
  if (std::none_of(present.begin(), present.end(), [](bool here) { return here; })) {
    present[random::UniformIndex(engine, count)] = true;
  }
  return present;
}

// Which modality of which sample: its true class and its cell.
struct Draw {
  int modality = 0;
  int64_t label = 0;
  int64_t group = 0;
  int64_t language = 0;
};

// The mean of modality `draw.modality`'s features (a sequence's frames share it)
// for a sample of the cell of `draw` whose features show class `shown`, into
// `mean` (resized to the modality's dim).
void ExpectedFeatures(const SyntheticDataOptions& options, const World& world, const Draw& draw,
                      int64_t shown, std::vector<double>& mean) {
  const int m = draw.modality;
  const double signal = world.signal[draw.group][draw.language][m];
  const std::vector<float>& class_mean = world.ClassMeans(draw.group, draw.language, m)[shown];
  const std::vector<float>& group_shift = world.group_shifts[m][draw.group];
  const std::vector<float>& language_shift = world.language_shifts[m][draw.language];
  mean.resize(Dim(options, m));
  for (size_t d = 0; d < mean.size(); ++d) {
    mean[d] = signal * class_mean[d] + options.group_shift * group_shift[d] +
              options.language_shift * language_shift[d];
  }
}

// Draws one modality of one sample into `out` (its ValuesPerSample() floats) and
// returns the sequence's length (0 for the text vector): the generative model of
// the file comment, written once for the shards and the Bayes-optimal estimate.
// With `frame_mean_only` (or video_level) a sequence is drawn as the mean of its
// frames, a [D] vector, which has the same distribution as averaging the frames.
int64_t DrawModality(const SyntheticDataOptions& options, const World& world, const Draw& draw,
                     bool frame_mean_only, random::Engine& engine, std::vector<double>& base,
                     float* out) {
  const int m = draw.modality;
  const double label_noise = world.label_noise[draw.group][draw.language][m];
  const size_t label_count = options.labels.size();
  int64_t shown = draw.label;
  if (label_noise > 0 && random::Bernoulli(engine, label_noise)) {
    shown = (draw.label + 1 + static_cast<int64_t>(random::UniformIndex(engine, label_count - 1))) %
            static_cast<int64_t>(label_count);
  }
  const int64_t dim = Dim(options, m);
  ExpectedFeatures(options, world, draw, shown, base);
  for (int64_t d = 0; d < dim; ++d) base[d] += options.sample_noise * random::Normal(engine);
  if (m == 2) {
    for (int64_t d = 0; d < dim; ++d) out[d] = static_cast<float>(base[d]);
    return 0;
  }
  const int64_t shortest = ShortestLength(options);
  const int64_t length =
      shortest + static_cast<int64_t>(random::UniformIndex(engine, options.frames - shortest + 1));
  if (options.video_level || frame_mean_only) {
    // The mean of `length` frames: frame noise shrinks by sqrt(length).
    const double scale = options.frame_noise / std::sqrt(static_cast<double>(length));
    for (int64_t d = 0; d < dim; ++d) {
      out[d] = static_cast<float>(base[d] + scale * random::Normal(engine));
    }
    return length;
  }
  for (int64_t t = 0; t < length; ++t) {
    for (int64_t d = 0; d < dim; ++d) {
      out[t * dim + d] = static_cast<float>(base[d] + options.frame_noise * random::Normal(engine));
    }
  }
  return length;
}

client::SplitCounts SplitSizes(const SyntheticDataOptions& options) {
  const int64_t samples = options.samples_per_client;
  const int64_t train = std::min<int64_t>(
      samples, static_cast<int64_t>(std::llround(samples * options.train_fraction)));
  const int64_t validation = std::min<int64_t>(
      samples - train, static_cast<int64_t>(std::llround(samples * options.validation_fraction)));
  return {train, validation, samples - train - validation};
}

}  // namespace

absl::StatusOr<CellBias> ParseCellBias(absl::string_view text) {
  CellBias bias;
  auto error = [&](absl::string_view message) {
    return absl::InvalidArgumentError(absl::StrCat("bias '", text, "': ", message));
  };
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    const std::pair<absl::string_view, absl::string_view> key_value =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    const std::string key(key_value.first);
    const std::string value(key_value.second);
    if (value.empty()) return error(absl::StrCat("'", part, "' must be key=value"));
    if (key == "group") {
      bias.group = value;
    } else if (key == "language") {
      bias.language = value;
    } else if (key == "modality") {
      bias.modality = value;
    } else if (key == "signal" || key == "label_noise" || key == "label-noise") {
      double number = 0;
      if (!absl::SimpleAtod(value, &number)) {
        return error(absl::StrCat(key, " is '", value, "', not a number"));
      }
      (key == "signal" ? bias.signal : bias.label_noise) = number;
    } else if (key == "own_means" || key == "own-means") {
      if (value != "1" && value != "true" && value != "0" && value != "false") {
        return error(absl::StrCat("own_means is '", value, "'; write own_means=1 or 0"));
      }
      bias.own_class_means = value == "1" || value == "true";
    } else {
      return error(absl::StrCat(
          "unknown key '", key,
          "'; allowed keys: group, language, modality, signal, label_noise, own_means"));
    }
  }
  if (!bias.signal && !bias.label_noise && !bias.own_class_means) {
    return error("set signal=S, label_noise=R, own_means=1 or several");
  }
  return bias;
}

std::string CellBiasToString(const CellBias& bias) {
  std::vector<std::string> parts;
  if (bias.group != "*") parts.push_back("group=" + bias.group);
  if (bias.language != "*") parts.push_back("language=" + bias.language);
  if (bias.modality != "*") parts.push_back("modality=" + bias.modality);
  if (bias.signal) parts.push_back(absl::StrCat("signal=", *bias.signal));
  if (bias.label_noise) parts.push_back(absl::StrCat("label_noise=", *bias.label_noise));
  if (bias.own_class_means) parts.push_back("own_means=1");
  return absl::StrJoin(parts, ",");
}

absl::Status SyntheticDataOptions::Validate() const {
  EQUIFL_RETURN_IF_ERROR(CheckRange(clients, 1, 100'000, "clients"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(samples_per_client, 1, 10'000'000, "samples per client"));
  EQUIFL_RETURN_IF_ERROR(CheckNames(labels, "labels", 2));
  EQUIFL_RETURN_IF_ERROR(CheckNames(groups, "groups", 1));
  EQUIFL_RETURN_IF_ERROR(CheckNames(languages, "languages", 1));
  if (group_attribute.empty()) return absl::InvalidArgumentError("group attribute is empty");
  EQUIFL_RETURN_IF_ERROR(CheckRange(static_cast<double>(frames), 1, 65536, "frames"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(static_cast<double>(video_dim), 1, 65536, "video dim"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(static_cast<double>(audio_dim), 1, 65536, "audio dim"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(static_cast<double>(text_dim), 1, 65536, "text dim"));
  if (modalities.empty()) {
    return absl::InvalidArgumentError("no modalities; generate some of video, audio, text");
  }
  for (size_t index = 0; index < modalities.size(); ++index) {
    const auto known =
        std::find(std::begin(kModalityNames), std::end(kModalityNames), modalities[index]);
    if (known == std::end(kModalityNames) ||
        (index > 0 && std::find(std::begin(kModalityNames), std::end(kModalityNames),
                                modalities[index - 1]) >= known)) {
      return absl::InvalidArgumentError(
          absl::StrCat("modalities '", absl::StrJoin(modalities, ","),
                       "': name each of video, audio, text at most once, in that order"));
    }
  }
  double floats_per_sample = 0;
  for (int m = 0; m < kModalities; ++m) {
    if (IsGenerated(*this, m)) {
      floats_per_sample += static_cast<double>((IsSequence(*this, m) ? frames : 1) * Dim(*this, m));
    }
  }
  const double floats_per_client = static_cast<double>(samples_per_client) * floats_per_sample;
  if (floats_per_client > double{1 << 30}) {
    return absl::InvalidArgumentError(absl::StrCat(
        "one client would hold ", floats_per_client * 4 / 1e9,
        " GB of features; keep samples x (frames x (video + audio dim) + text dim) under 2^30"));
  }
  EQUIFL_RETURN_IF_ERROR(CheckRange(min_length_fraction, 0, 1, "min length fraction"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(signal, 0, 1e6, "signal"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(label_noise, 0, 1, "label noise"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(sample_noise, 0, 1e6, "sample noise"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(frame_noise, 0, 1e6, "frame noise"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(group_shift, 0, 1e6, "group shift"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(language_shift, 0, 1e6, "language shift"));
  for (const CellBias& bias : biases) {
    const std::string where = absl::StrCat("bias '", CellBiasToString(bias), "'");
    if (bias.group != "*" && IndexOf(groups, bias.group) == groups.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where, " names group '", bias.group,
                                                     "'; groups: ", absl::StrJoin(groups, ", ")));
    }
    if (bias.language != "*" && IndexOf(languages, bias.language) == languages.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " names language '", bias.language,
                       "'; languages: ", absl::StrJoin(languages, ", ")));
    }
    if (bias.modality != "*" &&
        std::none_of(std::begin(kModalityNames), std::end(kModalityNames),
                     [&](const char* name) { return bias.modality == name; })) {
      return absl::InvalidArgumentError(absl::StrCat(where, " names modality '", bias.modality,
                                                     "'; modalities: video, audio, text"));
    }
    if (!bias.signal && !bias.label_noise && !bias.own_class_means) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, " sets none of signal, label_noise and own_means"));
    }
    if (bias.signal) EQUIFL_RETURN_IF_ERROR(CheckRange(*bias.signal, 0, 1e6, where + " signal"));
    if (bias.label_noise) {
      EQUIFL_RETURN_IF_ERROR(CheckRange(*bias.label_noise, 0, 1, where + " label_noise"));
    }
  }
  if (!minority_group.empty() && IndexOf(groups, minority_group) == groups.size()) {
    return absl::InvalidArgumentError(absl::StrCat("minority group '", minority_group,
                                                   "' is not one of the groups ",
                                                   absl::StrJoin(groups, ", ")));
  }
  const double balanced = 1.0 / static_cast<double>(groups.size());
  EQUIFL_RETURN_IF_ERROR(CheckRange(minority_fraction, 0, balanced, "minority fraction"));
  if (!client_minority_fractions.empty()) {
    if (client_minority_fractions.size() != static_cast<size_t>(clients)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "got ", client_minority_fractions.size(), " per-client minority fractions for ", clients,
          " clients; give one per client or a single one"));
    }
    for (double fraction : client_minority_fractions) {
      EQUIFL_RETURN_IF_ERROR(CheckRange(fraction, 0, balanced, "a client's minority fraction"));
    }
  }
  EQUIFL_RETURN_IF_ERROR(CheckRange(missing_rate, 0, 0.99, "missing rate"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(train_fraction, 0, 1, "train fraction"));
  EQUIFL_RETURN_IF_ERROR(CheckRange(validation_fraction, 0, 1, "validation fraction"));
  if (train_fraction + validation_fraction > 1 + 1e-9) {
    return absl::InvalidArgumentError(absl::StrCat("train fraction ", train_fraction,
                                                   " plus validation fraction ",
                                                   validation_fraction, " exceed 1"));
  }
  return absl::OkStatus();
}

namespace {

client::ShardData Generate(const SyntheticDataOptions& options, const World& world, int client) {
  random::Engine engine = random::MakeEngine(options.seed, 1 + static_cast<uint64_t>(client));
  client::ShardData data;
  client::ShardManifest& manifest = data.manifest;
  // Generated modality m is column slot[m] of the shard; -1 when not generated.
  std::array<int, kModalities> slot{};
  std::vector<int> generated;
  for (int m = 0; m < kModalities; ++m) {
    slot[m] = -1;
    if (!IsGenerated(options, m)) continue;
    slot[m] = static_cast<int>(generated.size());
    generated.push_back(m);
    manifest.modalities.push_back(
        {kModalityNames[m],
         IsSequence(options, m) ? client::ModalityKind::kSequence : client::ModalityKind::kVector,
         IsSequence(options, m) ? options.frames : 0, Dim(options, m)});
  }
  const int64_t columns = static_cast<int64_t>(generated.size());
  manifest.labels = options.labels;
  manifest.group_attribute = options.group_attribute;
  manifest.groups = options.groups;
  manifest.languages = options.languages;

  const int64_t samples = options.samples_per_client;
  const size_t label_count = options.labels.size();
  const size_t group_count = options.groups.size();
  const size_t language_count = options.languages.size();
  const client::SplitCounts split_sizes = SplitSizes(options);

  // Groups: exact counts in every split, shuffled within it.
  const size_t minority =
      options.minority_group.empty() ? 0 : IndexOf(options.groups, options.minority_group);
  const double fraction = options.client_minority_fractions.empty()
                              ? options.minority_fraction
                              : options.client_minority_fractions[client];
  for (int split = 0; split < client::kSplitCount; ++split) {
    const int64_t size = split_sizes[split];
    const int64_t minority_size = std::llround(fraction * static_cast<double>(size));
    std::vector<int64_t> groups(static_cast<size_t>(minority_size), static_cast<int64_t>(minority));
    const int64_t others = static_cast<int64_t>(group_count) - 1;
    for (int64_t index = 0; index < size - minority_size; ++index) {
      int64_t other = others == 0 ? 0 : index % others;
      if (other >= static_cast<int64_t>(minority)) ++other;  // skip the minority group
      groups.push_back(others == 0 ? static_cast<int64_t>(minority) : other);
    }
    random::Shuffle(engine, groups);
    data.group.insert(data.group.end(), groups.begin(), groups.end());
    data.split.insert(data.split.end(), static_cast<size_t>(size), static_cast<uint8_t>(split));
  }

  data.features.resize(columns);
  data.lengths.resize(columns);
  for (int64_t column = 0; column < columns; ++column) {
    data.features[column].assign(
        static_cast<size_t>(samples * manifest.modalities[column].ValuesPerSample()), 0.0f);
    if (IsSequence(options, generated[column])) {
      data.lengths[column].assign(static_cast<size_t>(samples), 0);
    }
  }
  data.present.assign(static_cast<size_t>(samples * columns), 0);
  std::vector<double> base;
  for (int64_t n = 0; n < samples; ++n) {
    const int64_t label = static_cast<int64_t>(random::UniformIndex(engine, label_count));
    const int64_t language =
        options.one_language_per_client
            ? client % static_cast<int64_t>(language_count)
            : static_cast<int64_t>(random::UniformIndex(engine, language_count));
    const int64_t group = data.group[n];
    data.label.push_back(label);
    data.language.push_back(language);

    const std::vector<bool> present = DrawPresent(options, generated.size(), engine);
    for (int m : generated) {
      const int column = slot[m];
      if (!present[column]) continue;
      data.present[n * columns + column] = 1;
      float* out = data.features[column].data() + n * manifest.modalities[column].ValuesPerSample();
      const int64_t length = DrawModality(
          options, world, {.modality = m, .label = label, .group = group, .language = language},
          /*frame_mean_only=*/false, engine, base, out);
      if (IsSequence(options, m)) data.lengths[column][n] = length;
    }
  }
  data.CountSamples();
  return data;
}

// log(exp(a) + exp(b)) without overflow; -inf is the empty sum.
double LogAdd(double a, double b) {
  if (a == -std::numeric_limits<double>::infinity()) return b;
  if (b == -std::numeric_limits<double>::infinity()) return a;
  const double high = std::max(a, b);
  return high + std::log1p(std::exp(std::min(a, b) - high));
}

// log p(x | shown class s) for every class s, of one modality's frame mean `x`
// (for text: the vector) in the cell of `draw`, `length` its sequence length.
std::vector<double> ShownClassLogLikelihoods(const SyntheticDataOptions& options,
                                             const World& world, const Draw& draw, int64_t length,
                                             const float* x) {
  const int m = draw.modality;
  // The variances a frame mean can have: one for text and for a sequence of known
  // length, one per possible length for video-level features (length not stored).
  const double sample_variance = options.sample_noise * options.sample_noise;
  const double frame_variance = options.frame_noise * options.frame_noise;
  std::vector<double> variances;
  if (m == 2) {
    variances = {sample_variance};
  } else if (!options.video_level) {
    variances = {sample_variance + frame_variance / static_cast<double>(length)};
  } else {
    for (int64_t l = ShortestLength(options); l <= options.frames; ++l) {
      variances.push_back(sample_variance + frame_variance / static_cast<double>(l));
    }
  }
  const double log_length_prior = -std::log(static_cast<double>(variances.size()));
  std::vector<double> log_likelihoods;
  std::vector<double> expected;
  const size_t classes = world.ClassMeans(draw.group, draw.language, m).size();
  for (size_t shown = 0; shown < classes; ++shown) {
    ExpectedFeatures(options, world, draw, static_cast<int64_t>(shown), expected);
    double squared_distance = 0;
    for (size_t d = 0; d < expected.size(); ++d) {
      squared_distance += (x[d] - expected[d]) * (x[d] - expected[d]);
    }
    double log_likelihood = -std::numeric_limits<double>::infinity();
    for (double variance : variances) {
      variance = std::max(variance, 1e-12);  // no noise at all: a point mass
      log_likelihood = LogAdd(log_likelihood, log_length_prior - squared_distance / (2 * variance) -
                                                  0.5 * static_cast<double>(expected.size()) *
                                                      std::log(2 * M_PI * variance));
    }
    log_likelihoods.push_back(log_likelihood);
  }
  return log_likelihoods;
}

}  // namespace

absl::StatusOr<std::vector<BayesOptimalCell>> EstimateBayesOptimal(
    const SyntheticDataOptions& options, const std::string& view, int64_t samples_per_cell,
    uint64_t seed, const std::function<void(int done, int total)>& progress) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  if (samples_per_cell < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the Bayes-optimal estimate needs at least 2 samples per cell; got ", samples_per_cell));
  }
  std::vector<int> scored;  // the modalities the view scores, when present
  for (int m = 0; m < kModalities; ++m) {
    if (IsGenerated(options, m) && (view == "fusion" || view == kModalityNames[m])) {
      scored.push_back(m);
    }
  }
  if (scored.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("view '", view,
                                                   "' is neither 'fusion' nor a generated "
                                                   "modality (",
                                                   absl::StrJoin(options.modalities, ", "), ")"));
  }
  std::vector<int> generated;
  for (int m = 0; m < kModalities; ++m) {
    if (IsGenerated(options, m)) generated.push_back(m);
  }
  const World world = BuildWorld(options);
  const size_t label_count = options.labels.size();
  std::vector<BayesOptimalCell> cells;
  std::vector<double> base;
  std::vector<float> features(
      static_cast<size_t>(std::max({options.video_dim, options.audio_dim, options.text_dim})));
  for (size_t language = 0; language < options.languages.size(); ++language) {
    for (size_t group = 0; group < options.groups.size(); ++group) {
      // Streams past every client's (client k draws from stream 1 + k).
      random::Engine engine =
          random::MakeEngine(seed, (uint64_t{1} << 40) + language * options.groups.size() + group);
      BayesOptimalCell cell{.language = options.languages[language],
                            .group = options.groups[group]};
      double loss_sum = 0;
      double loss_square_sum = 0;
      int64_t correct = 0;
      while (cell.samples < samples_per_cell) {
        const int64_t label = static_cast<int64_t>(random::UniformIndex(engine, label_count));
        const std::vector<bool> present = DrawPresent(options, generated.size(), engine);
        // log p(features | true class y), summed over the scored modalities.
        std::vector<double> log_evidence(label_count, 0.0);
        bool any = false;
        for (size_t column = 0; column < generated.size(); ++column) {
          const int m = generated[column];
          if (!present[column] || std::find(scored.begin(), scored.end(), m) == scored.end()) {
            continue;
          }
          any = true;
          const Draw draw{.modality = m,
                          .label = label,
                          .group = static_cast<int64_t>(group),
                          .language = static_cast<int64_t>(language)};
          const int64_t length = DrawModality(options, world, draw, /*frame_mean_only=*/true,
                                              engine, base, features.data());
          const std::vector<double> shown =
              ShownClassLogLikelihoods(options, world, draw, length, features.data());
          // The modality shows class y with probability 1 - eta, each other with eta / (C - 1).
          const double eta = world.label_noise[group][language][m];
          const double log_kept = std::log1p(-eta);
          const double log_moved = std::log(eta / static_cast<double>(label_count - 1));
          for (size_t y = 0; y < label_count; ++y) {
            double evidence = -std::numeric_limits<double>::infinity();
            for (size_t s = 0; s < label_count; ++s) {
              const double weight = s == y ? log_kept : log_moved;
              if (weight == -std::numeric_limits<double>::infinity()) continue;
              evidence = LogAdd(evidence, weight + shown[s]);
            }
            log_evidence[y] += evidence;
          }
        }
        if (!any) continue;  // a modality view's modality is missing: not its sample
        double normaliser = -std::numeric_limits<double>::infinity();
        for (double value : log_evidence) normaliser = LogAdd(normaliser, value);
        const double loss = normaliser - log_evidence[label];
        loss_sum += loss;
        loss_square_sum += loss * loss;
        const size_t predicted =
            std::max_element(log_evidence.begin(), log_evidence.end()) - log_evidence.begin();
        if (static_cast<int64_t>(predicted) == label) ++correct;
        ++cell.samples;
      }
      const double n = static_cast<double>(cell.samples);
      cell.loss = loss_sum / n;
      cell.loss_standard_error =
          std::sqrt(std::max(0.0, loss_square_sum / n - cell.loss * cell.loss) / (n - 1));
      cell.accuracy = static_cast<double>(correct) / n;
      cells.push_back(std::move(cell));
      if (progress) {
        progress(static_cast<int>(cells.size()),
                 static_cast<int>(options.languages.size() * options.groups.size()));
      }
    }
  }
  return cells;
}

std::map<std::string, double> BayesOptimalLossGaps(const std::vector<BayesOptimalCell>& cells) {
  std::map<std::string, std::pair<double, double>> loss_range;  // language -> (min, max)
  for (const BayesOptimalCell& cell : cells) {
    auto [range, inserted] = loss_range.try_emplace(cell.language, cell.loss, cell.loss);
    range->second.first = std::min(range->second.first, cell.loss);
    range->second.second = std::max(range->second.second, cell.loss);
  }
  std::map<std::string, double> gaps;
  for (const auto& [language, range] : loss_range) gaps[language] = range.second - range.first;
  return gaps;
}

absl::StatusOr<client::ShardData> GenerateSyntheticClient(const SyntheticDataOptions& options,
                                                          int client) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  if (client < 0 || client >= options.clients) {
    return absl::InvalidArgumentError(
        absl::StrCat("client ", client, " is outside 0..", options.clients - 1));
  }
  return Generate(options, BuildWorld(options), client);
}

absl::StatusOr<std::vector<std::string>> WriteSyntheticShards(
    const SyntheticDataOptions& options, const std::string& out_dir,
    const std::function<void(int written, int total)>& progress) {
  EQUIFL_RETURN_IF_ERROR(options.Validate());
  EQUIFL_ASSIGN_OR_RETURN(client::ShardSetWriter writer, client::ShardSetWriter::Begin(out_dir));
  const World world = BuildWorld(options);
  std::vector<std::string> shards;
  for (int client = 0; client < options.clients; ++client) {
    EQUIFL_ASSIGN_OR_RETURN(std::string dir,
                            writer.Write(client, Generate(options, world, client)));
    shards.push_back(std::move(dir));
    if (progress) progress(client + 1, options.clients);
  }
  EQUIFL_RETURN_IF_ERROR(std::move(writer).Commit());
  return shards;
}

}  // namespace equifl::sim
