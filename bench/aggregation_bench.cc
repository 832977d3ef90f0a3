// How fast the server folds client updates into a WeightedMean, next to the memory
// bandwidth of this machine measured in the same run; how long one server
// optimiser step takes per kind; and what the robust rules (coordinate-wise
// trimmed mean and median) cost against the weighted mean on the same round.
//
//   equifl_aggregation_bench [--parameters N] [--updates K] [--repeats R]
//                            [--robust-parameters N] [--robust-clients K]
//
// The baseline is a read-only stream over the same update bytes: any aggregator
// must read every update byte once, so no fold can beat it; memcpy is printed
// beside it. The float32 accumulator that weighted_mean.h decided against is timed
// too, with its error against the float64 one.
//
// Every buffer is written once before any timer starts: on the development VM the
// first touch of a fresh page costs about 2 s/GB of kernel page clearing, which
// would otherwise swamp the arithmetic. Each repeat runs every pass once (so the
// baseline and the fold meet the same neighbours); each figure is the best of R.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "aggregation/coordinate_wise_aggregate.h"
#include "aggregation/server_optimizer.h"
#include "aggregation/weighted_mean.h"

namespace {

using equifl::aggregation::ServerOptimizer;
using equifl::aggregation::ServerOptimizerKind;
using equifl::aggregation::ServerOptimizerKindName;
using equifl::aggregation::ServerOptimizerOptions;
using equifl::aggregation::WeightedMean;
using Clock = std::chrono::steady_clock;

struct Options {
  size_t parameters = 25'000'000;  // 100 MB per float32 update
  int updates = 20;
  int repeats = 5;
  size_t robust_parameters = 1'000'000;  // the robust rules' round: 100 clients x 4 MB
  int robust_clients = 100;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Seconds `body` takes.
template <typename Body>
double Time(Body body) {
  const auto start = Clock::now();
  body();
  return Seconds(start);
}

// Runs `body` `repeats` times; the shortest time, in seconds. `prepare`, untimed,
// runs before each.
template <typename Prepare, typename Body>
double BestOf(int repeats, Prepare prepare, Body body) {
  double best = 1e30;
  for (int i = 0; i < repeats; ++i) {
    prepare();
    const auto start = Clock::now();
    body();
    best = std::min(best, Seconds(start));
  }
  return best;
}

// An array of float32 values written (so its pages exist) when made.
std::unique_ptr<float[]> FilledArray(size_t size, uint32_t seed, float scale) {
  std::unique_ptr<float[]> values(new float[size]);
  uint32_t state = seed * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    state = state * 1664525u + 1013904223u;
    values[i] = static_cast<float>(static_cast<int32_t>(state)) * (scale / 2147483648.0f);
  }
  return values;
}

// The baseline: a read-only stream over the bytes, as fast as one core reads
// memory. Eight independent AVX2 accumulators keep enough loads in flight; a plain
// loop (one 16-byte SSE2 accumulator) reads about 30% slower on the development
// machine and would flatter every ratio.
#if defined(__x86_64__)
__attribute__((noinline, target("avx2"))) float StreamingSumAvx2(const float* values, size_t size) {
  __m256 a[8];
  for (__m256& lane : a) lane = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 64 <= size; i += 64) {
    for (int j = 0; j < 8; ++j) a[j] = _mm256_add_ps(a[j], _mm256_loadu_ps(values + i + 8 * j));
  }
  for (int j = 1; j < 8; ++j) a[0] = _mm256_add_ps(a[0], a[j]);
  float lanes[8];
  _mm256_storeu_ps(lanes, a[0]);
  float sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < size; ++i) sum += values[i];
  return sum;
}
#endif

__attribute__((noinline)) float StreamingSum(const float* values, size_t size) {
#if defined(__x86_64__)
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  if (has_avx2) return StreamingSumAvx2(values, size);
#endif
  float lanes[32] = {};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    for (int j = 0; j < 32; ++j) lanes[j] += values[i + j];
  }
  float sum = 0;
  for (float lane : lanes) sum += lane;
  for (; i < size; ++i) sum += values[i];
  return sum;
}

// The accumulator not chosen: float32, as fast as a float32 fold can be.
__attribute__((noinline)) void FoldFloat32(float* __restrict sum, const float* __restrict values,
                                           float weight, size_t size) {
  for (size_t i = 0; i < size; ++i) sum[i] += weight * values[i];
}

[[noreturn]] void Usage(const char* program) {
  std::fprintf(stderr,
               "usage: %s [--parameters N] [--updates K] [--repeats R] [--robust-parameters N] "
               "[--robust-clients K]\n",
               program);
  std::exit(2);
}

Options ParseOptions(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const long long value = std::atoll(argv[i + 1]);
    if (flag == "--parameters" && value > 0) {
      options.parameters = static_cast<size_t>(value);
    } else if (flag == "--updates" && value > 0) {
      options.updates = static_cast<int>(value);
    } else if (flag == "--repeats" && value > 0) {
      options.repeats = static_cast<int>(value);
    } else if (flag == "--robust-parameters" && value > 0) {
      options.robust_parameters = static_cast<size_t>(value);
    } else if (flag == "--robust-clients" && value > 0) {
      options.robust_clients = static_cast<int>(value);
    } else {
      Usage(argv[0]);
    }
  }
  if (argc % 2 == 0) Usage(argv[0]);
  return options;
}

void Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  std::exit(1);
}

// The one-minute load average, which other engineers' builds on this VM raise.
double LoadAverage() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

// A round of `clients` updates of `n` values combined by the weighted mean (the
// server's fold, in batches of 2, then Report) and by each robust rule (Accumulate,
// which moves the update in and checks it is finite, then Report on 1 and 2
// threads), each repeat running every pass once; the best of `repeats` each.
void BenchRobustRules(size_t n, int clients, int repeats) {
  using equifl::aggregation::AggregationRule;
  using equifl::aggregation::CoordinateWiseAggregate;
  std::printf(
      "\nRobust rules: %d updates of %zu float32 values (%.0f MB in all), best of %d, "
      "load average %.1f\n",
      clients, n, 4.0 * n * clients / 1e6, repeats, LoadAverage());
  std::vector<std::vector<float>> updates;
  std::vector<double> weights;
  for (int k = 0; k < clients; ++k) {
    const std::unique_ptr<float[]> values = FilledArray(n, static_cast<uint32_t>(k) + 7, 1e-2f);
    updates.emplace_back(values.get(), values.get() + n);
    weights.push_back(100.0 + 37.0 * k);
  }
  struct Pass {
    const char* name;
    AggregationRule rule;
    unsigned threads;
    double accumulate = 1e30;
    double report = 1e30;
  };
  Pass passes[] = {{"weighted mean (batches of 2)", AggregationRule::kMean, 1},
                   {"trimmed_mean 0.1", AggregationRule::kTrimmedMean, 1},
                   {"trimmed_mean 0.1", AggregationRule::kTrimmedMean, 2},
                   {"median", AggregationRule::kMedian, 1},
                   {"median", AggregationRule::kMedian, 2}};
  for (int repeat = 0; repeat < repeats; ++repeat) {
    for (Pass& pass : passes) {
      if (pass.rule == AggregationRule::kMean) {
        WeightedMean mean(n);
        pass.accumulate = std::min(pass.accumulate, Time([&] {
                                     for (int first = 0; first < clients; first += 2) {
                                       const int count = std::min(2, clients - first);
                                       std::vector<std::span<const float>> views;
                                       for (int k = first; k < first + count; ++k)
                                         views.push_back(updates[k]);
                                       const absl::Status status = mean.AccumulateBatch(
                                           std::span(weights).subspan(first, count), views);
                                       if (!status.ok()) Fail(status);
                                     }
                                   }));
        pass.report =
            std::min(pass.report, Time([&] {
                       if (absl::StatusOr<std::vector<float>> reported = std::move(mean).Report();
                           !reported.ok()) {
                         Fail(reported.status());
                       }
                     }));
        continue;
      }
      absl::StatusOr<CoordinateWiseAggregate> aggregate =
          CoordinateWiseAggregate::Create(pass.rule, 0.1, n);
      if (!aggregate.ok()) Fail(aggregate.status());
      // The server moves each decoded update in; copies made here, untimed, stand
      // in for them.
      std::vector<std::vector<float>> copies = updates;
      pass.accumulate = std::min(
          pass.accumulate, Time([&] {
            for (int k = 0; k < clients; ++k) {
              if (absl::Status status = aggregate->Accumulate(weights[k], std::move(copies[k]));
                  !status.ok()) {
                Fail(status);
              }
            }
          }));
      pass.report = std::min(pass.report, Time([&] {
                               if (absl::StatusOr<std::vector<float>> reported =
                                       std::move(*aggregate).Report(pass.threads);
                                   !reported.ok()) {
                                 Fail(reported.status());
                               }
                             }));
    }
  }
  const double mean_seconds = passes[0].accumulate + passes[0].report;
  std::printf("%-30s %7s %13s %10s %10s %14s\n", "rule", "threads", "accumulate ms", "report ms",
              "total ms", "x weighted mean");
  for (const Pass& pass : passes) {
    const double total = pass.accumulate + pass.report;
    std::printf("%-30s %7u %13.1f %10.1f %10.1f %14.1f\n", pass.name, pass.threads,
                pass.accumulate * 1e3, pass.report * 1e3, total * 1e3, total / mean_seconds);
  }
  std::printf("load average after: %.1f\n", LoadAverage());
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseOptions(argc, argv);
  const size_t n = options.parameters;
  const int k_updates = options.updates;
  const double update_bytes = 4.0 * static_cast<double>(n) * k_updates;
  std::printf("%d updates of %zu float32 values (%.0f MB each, %.2f GB in all), best of %d\n",
              k_updates, n, n * 4 / 1e6, update_bytes / 1e9, options.repeats);

  std::vector<std::unique_ptr<float[]>> updates;
  std::vector<double> weights;
  for (int k = 0; k < k_updates; ++k) {
    updates.push_back(FilledArray(n, static_cast<uint32_t>(k) + 1, 1e-2f));
    weights.push_back(100.0 + 37.0 * k);  // unequal, like sample counts
  }
  std::unique_ptr<float[]> destination = FilledArray(n, 999, 1.0f);

  // Each repeat runs every pass once, so that the baseline and the fold meet the
  // same conditions (this VM shares its memory bus with its neighbours).
  float checksum = 0;
  double sum_seconds = 1e30, memcpy_seconds = 1e30, fold_seconds = 1e30, fold32_seconds = 1e30;
  double report_seconds = 1e30;
  // AccumulateBatch with the server's batch sizes (max_concurrent_uploads).
  constexpr size_t kBatchSizes[] = {2, 4, 8};
  double batch_seconds[std::size(kBatchSizes)] = {1e30, 1e30, 1e30};
  std::vector<float> report;
  std::unique_ptr<float[]> sum32(new float[n]);
  const auto keep_best = [](double& best, double seconds) { best = std::min(best, seconds); };
  for (int repeat = 0; repeat < options.repeats; ++repeat) {
    // Baselines, over the same bytes.
    keep_best(sum_seconds, Time([&] {
                for (int k = 0; k < k_updates; ++k) checksum += StreamingSum(updates[k].get(), n);
              }));
    keep_best(memcpy_seconds, Time([&] {
                for (int k = 0; k < k_updates; ++k)
                  std::memcpy(destination.get(), updates[k].get(), 4 * n);
              }));

    // The fold: every update into one WeightedMean, made (and its pages touched)
    // before the timer starts.
    WeightedMean mean(n);
    keep_best(fold_seconds, Time([&] {
                for (int k = 0; k < k_updates; ++k) {
                  const absl::Status status = mean.Accumulate(weights[k], {updates[k].get(), n});
                  if (!status.ok()) Fail(status);
                }
              }));
    keep_best(report_seconds, Time([&] {
                absl::StatusOr<std::vector<float>> reported = std::move(mean).Report();
                if (!reported.ok()) Fail(reported.status());
                report = *std::move(reported);
              }));

    for (size_t b = 0; b < std::size(kBatchSizes); ++b) {
      WeightedMean batched(n);
      keep_best(batch_seconds[b], Time([&] {
                  for (size_t first = 0; first < static_cast<size_t>(k_updates);
                       first += kBatchSizes[b]) {
                    const size_t count =
                        std::min(kBatchSizes[b], static_cast<size_t>(k_updates) - first);
                    std::vector<std::span<const float>> views;
                    for (size_t k = first; k < first + count; ++k) {
                      views.push_back({updates[k].get(), n});
                    }
                    const absl::Status status = batched.AccumulateBatch(
                        std::span<const double>(weights).subspan(first, count), views);
                    if (!status.ok()) Fail(status);
                  }
                }));
    }

    // The float32 accumulator, for the choice documented in weighted_mean.h.
    std::memset(sum32.get(), 0, 4 * n);
    keep_best(fold32_seconds, Time([&] {
                for (int k = 0; k < k_updates; ++k) {
                  FoldFloat32(sum32.get(), updates[k].get(), static_cast<float>(weights[k]), n);
                }
              }));
  }
  double total32 = 0;
  for (double weight : weights) total32 += weight;
  // Error of each against the float64 mean, in units of Σw|x|/Σw (untimed pass).
  double worst64 = 0, worst32 = 0;
  size_t differ = 0;
  for (size_t i = 0; i < n; ++i) {
    double exact = 0, magnitude = 0;
    for (int k = 0; k < k_updates; ++k) {
      exact += weights[k] * updates[k][i];
      magnitude += weights[k] * std::fabs(updates[k][i]);
    }
    exact /= total32;
    magnitude /= total32;
    const float mean32 = static_cast<float>(sum32[i] / total32);
    worst64 = std::max(worst64, std::fabs(report[i] - exact) / magnitude);
    worst32 = std::max(worst32, std::fabs(mean32 - exact) / magnitude);
    differ += mean32 != report[i];
  }

  const auto rate = [&](double seconds) { return update_bytes / seconds / 1e9; };
  const double baseline = rate(sum_seconds);
  // Bytes each pass reads and writes per byte of update.
  struct Row {
    const char* name;
    double seconds;
    double reads;
    double writes;
  };
  const Row rows[] = {{"read-only stream (baseline)", sum_seconds, 1, 0},
                      {"memcpy", memcpy_seconds, 1, 1},
                      {"WeightedMean::Accumulate (float64 sum)", fold_seconds, 3, 2},
                      {"AccumulateBatch, 2 at a time (server)", batch_seconds[0], 2, 1},
                      {"AccumulateBatch, 4 at a time", batch_seconds[1], 1.5, 0.5},
                      {"AccumulateBatch, 8 at a time", batch_seconds[2], 1.25, 0.25},
                      {"float32 sum (not used; for comparison)", fold32_seconds, 2, 1}};
  std::printf("\n%-40s %14s %13s %16s\n", "", "update bytes", "memory bytes", "memory reads");
  std::printf("%-40s %14s %13s %16s\n", "pass", "GB/s (ratio)", "read/written", "GB/s (ratio)");

  for (const Row& row : rows) {
    const double update_rate = rate(row.seconds);
    const double read_rate = row.reads * update_rate;
    std::printf("%-40s %7.2f (%.2f) %9.2g / %-4.2g %7.1f (%.2f)\n", row.name, update_rate,
                update_rate / baseline, row.reads, row.writes, read_rate, read_rate / baseline);
  }
  std::printf(
      "\nWeightedMean::Report: %.1f ms for %zu values (includes first touch of the result)\n",
      report_seconds * 1e3, n);
  std::printf(
      "max |error| / (sum w|x| / sum w) against a float64 reference: float64 sum %.2g, "
      "float32 sum %.2g (%.1f%% of elements differ from the float64 sum's)\n",
      worst64, worst32, 100.0 * differ / n);

  // One optimiser step per kind on a model of n parameters, with pages touched.
  std::unique_ptr<float[]> model = FilledArray(n, 4242, 1.0f);
  std::printf("\nServerOptimizer::Step on %zu parameters\n", n);
  std::printf("%-8s %9s %14s %12s\n", "kind", "ms/step", "bytes/param", "GB/s");
  for (ServerOptimizerKind kind : {ServerOptimizerKind::kFedAvg, ServerOptimizerKind::kFedAvgM,
                                   ServerOptimizerKind::kFedAdam, ServerOptimizerKind::kFedYogi}) {
    ServerOptimizerOptions optimizer_options;
    optimizer_options.kind = kind;
    absl::StatusOr<ServerOptimizer> optimizer = ServerOptimizer::Create(optimizer_options, n);
    if (!optimizer.ok()) Fail(optimizer.status());
    const double seconds = BestOf(
        options.repeats, [] {},
        [&] {
          if (absl::Status status = optimizer->Step({model.get(), n}, report); !status.ok()) {
            Fail(status);
          }
        });
    // Bytes read or written per parameter: the finiteness check reads Δ, the step
    // reads Δ and x and writes x, and reads and writes each state vector.
    const double states = kind == ServerOptimizerKind::kFedAvg    ? 0
                          : kind == ServerOptimizerKind::kFedAvgM ? 1
                                                                  : 2;
    const double bytes_per_parameter = 16.0 + 8.0 * states;
    std::printf("%-8s %9.1f %14.0f %12.1f\n", ServerOptimizerKindName(kind).c_str(), seconds * 1e3,
                bytes_per_parameter, bytes_per_parameter * n / seconds / 1e9);
  }
  std::printf("(checksum %g)\n", checksum);

  BenchRobustRules(options.robust_parameters, options.robust_clients, options.repeats);
  return 0;
}
