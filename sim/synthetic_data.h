// Synthetic multimodal data with planted bias, written as one shard per client.
//
// Every sample has video and audio frame sequences ([T, D], variable length), a text
// vector ([D]), an emotion label, a sensitive group and a language, shaped like the
// papers' data (IEMOCAP's five emotions, MELD-ST's languages). The label is planted
// in each modality separately, and bias is planted per (group, language, modality)
// cell, so a test or an experiment knows the true answer:
//
//   features(m) = signal(g,l,m) * mean(m, label') + group_shift * shift(m, g)
//                 + language_shift * shift(m, l) + sample noise + frame noise
//
// where label' is the true label, or with probability label_noise(g,l,m) another one
// drawn uniformly: that modality "points at the wrong emotion" for that cell. At
// signal 1 two classes' means lie about 2 noise standard deviations apart (after
// averaging a sequence's frames); at signal 0 the modality carries no label
// information. The class means are shared by all clients (one task); groups and
// languages shift features too, as voices and faces do, which is what lets a model
// pick up bias. A missing modality has zero features, length 0 and present 0.
//
// Everything is drawn from std::mt19937_64 through base/random.h's distributions,
// not std's (whose output is implementation-defined), so a seed gives the same data
// with any standard library. Client k draws from its own stream, so adding clients
// does not change the earlier ones.
#ifndef EQUIFL_SIM_SYNTHETIC_DATA_H_
#define EQUIFL_SIM_SYNTHETIC_DATA_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "client/data/shard.h"

namespace equifl::sim {

//! A planted bias: in the cells it selects, a modality's features carry the label
//! with strength `signal` and point at a wrong label with probability `label_noise`,
//! both irreducible (the Bayes-optimal classifier suffers them too). With
//! `own_class_means` the modality shows the label through class means of its own,
//! drawn like the shared ones, in every cell the bias selects: a model fitted
//! mostly to other cells learns the wrong prototypes there, which more weight on
//! those cells can repair (a reducible gap). Later biases override earlier ones
//! where they overlap.
struct CellBias {
  std::string group = "*";                           //!< A group name, or "*" for every group.
  std::string language = "*";                        //!< A language, or "*".
  std::string modality = "*";                        //!< "video", "audio", "text", or "*".
  std::optional<double> signal = std::nullopt;       //!< Label signal, >= 0; unset: unchanged.
  std::optional<double> label_noise = std::nullopt;  //!< In [0, 1]; unset: unchanged.
  bool own_class_means = false;  //!< Class means of its own in the selected cells.
};

//! Parses "group=female,modality=video,signal=0.3" (keys group, language, modality,
//! signal, label_noise, own_means=1; omitted selectors mean every). Errors name the
//! bad part.
absl::StatusOr<CellBias> ParseCellBias(absl::string_view text);

//! The same syntax back, e.g. "group=female,modality=video,signal=0.3".
std::string CellBiasToString(const CellBias& bias);

//! What to generate. Defaults: 3 clients x 600 samples, balanced groups, and one
//! planted bias: video carries little signal (0.3) for the group "female", as the
//! emotion-recognition paper found video to be the most biased modality.
struct SyntheticDataOptions {
  int clients = 3;               //!< Shards to write: client-000, client-001, ...
  int samples_per_client = 600;  //!< Samples in each shard, all splits together.
  uint64_t seed = 1;             //!< Everything is a function of this.

  std::vector<std::string> labels = {"neutral", "happy", "sad", "angry", "frustrated"};
  std::string group_attribute = "gender";                   //!< What groups are.
  std::vector<std::string> groups = {"female", "male"};     //!< Sensitive groups.
  std::vector<std::string> languages = {"en", "de", "ja"};  //!< Language codes.

  //! The modalities to generate, a subset of video, audio and text in that order.
  std::vector<std::string> modalities = {"video", "audio", "text"};
  //! Video and audio as one vector per sample (the mean of its frames), as
  //! YouTube-8M publishes video-level features, instead of [T, D] sequences.
  bool video_level = false;
  int64_t frames = 16;               //!< T of video and audio.
  int64_t video_dim = 32;            //!< D of a video frame.
  int64_t audio_dim = 32;            //!< D of an audio frame.
  int64_t text_dim = 64;             //!< D of the text vector.
  double min_length_fraction = 0.5;  //!< Sequence lengths are uniform in [this * T, T].

  double signal = 1.0;          //!< Label signal of every cell a bias does not change.
  double label_noise = 0.0;     //!< Label noise of every cell a bias does not change.
  double sample_noise = 1.0;    //!< Std of the per-sample offset (shared by its frames).
  double frame_noise = 0.5;     //!< Std of the per-frame noise of sequences.
  double group_shift = 0.5;     //!< Scale of the per-group feature shift.
  double language_shift = 0.5;  //!< Scale of the per-language feature shift.
  std::vector<CellBias> biases = {{"female", "*", "video", 0.3, std::nullopt}};

  //! The minority group; empty means the first of `groups`.
  std::string minority_group;
  //! Fraction of each split of each client in the minority group, in [0, 1/groups];
  //! the other groups share the rest equally. 1/groups is balanced.
  double minority_fraction = 0.5;
  //! Per-client minority fractions (one per client); overrides minority_fraction.
  std::vector<double> client_minority_fractions;

  double missing_rate = 0.1;  //!< Probability that a modality is missing from a sample.
  //! Client k holds language k mod |languages| only (else languages are uniform).
  bool one_language_per_client = false;

  double train_fraction = 0.7;        //!< Of each client's samples.
  double validation_fraction = 0.15;  //!< The rest is test.

  //! OK, or which option is out of range and what is allowed.
  absl::Status Validate() const;
};

//! Generates client `client`'s shard in memory (rows stored train, validation, test).
absl::StatusOr<client::ShardData> GenerateSyntheticClient(const SyntheticDataOptions& options,
                                                          int client);

//! Generates every client and writes `out_dir`/client-000, ...; `out_dir` must not
//! exist or be empty, and is filled at once at the end (client/data/
//! shard_set_writer.h): a failure leaves nothing there. Returns the shard folders. `progress`, when
//! given, is told the shards written so far and the total, after each (prints nothing itself).
absl::StatusOr<std::vector<std::string>> WriteSyntheticShards(
    const SyntheticDataOptions& options, const std::string& out_dir,
    const std::function<void(int written, int total)>& progress = {});

//! The best any model can do on one (language, group) cell of the generated data:
//! the mean log loss and the accuracy of the Bayes-optimal classifier, which knows
//! the class means, shifts, noise and label noise the generator planted and the
//! sample's group and language (a model sees those only through their feature
//! shifts, so it can do no better). What a fairness method can close of a gap is
//! the part above the gap of these losses.
struct BayesOptimalCell {
  std::string language;
  std::string group;
  double loss = 0;                 //!< Mean of -log p(label | features), nats.
  double loss_standard_error = 0;  //!< Of the Monte Carlo mean.
  double accuracy = 0;             //!< Share of samples whose most probable class is theirs.
  int64_t samples = 0;             //!< Monte Carlo draws.
};

//! Estimates BayesOptimalCell for every (language, group), languages outer, by
//! drawing `samples_per_cell` fresh samples of each cell from the generator's own
//! model (seeded by `seed`, independent of the shards' streams) and scoring the
//! exact posterior. `view` is "fusion" (every present modality, as the fused model
//! sees a sample) or one generated modality (the samples where it is present,
//! scored on it alone, as that modality's head sees them). `progress`, when given,
//! is told the cells done so far and their number, after each.
absl::StatusOr<std::vector<BayesOptimalCell>> EstimateBayesOptimal(
    const SyntheticDataOptions& options, const std::string& view, int64_t samples_per_cell,
    uint64_t seed, const std::function<void(int done, int total)>& progress = {});

//! Per language of `cells`, the Bayes-optimal loss gap: the largest group loss
//! minus the smallest (the part of a cell's gap no model can close).
std::map<std::string, double> BayesOptimalLossGaps(const std::vector<BayesOptimalCell>& cells);

}  // namespace equifl::sim

#endif  // EQUIFL_SIM_SYNTHETIC_DATA_H_
