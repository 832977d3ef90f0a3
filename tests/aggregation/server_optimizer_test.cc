#include "aggregation/server_optimizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "aggregation/weighted_mean.h"
#include "tests/testing/status_matchers.h"

namespace equifl::aggregation {

using ::equifl::test::IsOk;

// Prints "fedadam" rather than "4-byte object <02-00 00-00>" in failure messages.
void PrintTo(ServerOptimizerKind kind, std::ostream* os) { *os << ServerOptimizerKindName(kind); }

namespace {

using ::testing::HasSubstr;

constexpr size_t kModelSize = 2053;
constexpr int kSteps = 8;

// Hyper-parameters unlike every default, so a rule that reads the wrong field fails.
ServerOptimizerOptions UnusualOptions(ServerOptimizerKind kind) {
  ServerOptimizerOptions options;
  options.kind = kind;
  options.learning_rate = 0.3;
  options.momentum = 0.7;
  options.beta1 = 0.8;
  options.beta2 = 0.95;
  options.tau = 2e-2;
  return options;
}

ServerOptimizerOptions DefaultOptions(ServerOptimizerKind kind) {
  ServerOptimizerOptions options;
  options.kind = kind;
  return options;
}

std::vector<float> RandomVector(size_t size, double scale, std::mt19937_64& generator) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<float> values(size);
  for (float& value : values) value = static_cast<float>(scale * normal(generator));
  return values;
}

// Mean updates for kSteps rounds. Their scale swings by three decades from round to
// round, and within a round by two across elements, so Yogi's v meets updates both
// larger and smaller than itself (both signs of v − Δ²).
std::vector<std::vector<float>> RandomUpdates(uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::uniform_real_distribution<double> exponent(-1, 1);
  const double round_scale[kSteps] = {1e-2, 1e-4, 3e-3, 1e-5, 1e-2, 1e-3, 1e-6, 5e-3};
  std::vector<std::vector<float>> updates;
  for (int t = 0; t < kSteps; ++t) {
    std::vector<float> update = RandomVector(kModelSize, round_scale[t], generator);
    for (float& value : update) value *= static_cast<float>(std::pow(10.0, exponent(generator)));
    updates.push_back(std::move(update));
  }
  return updates;
}

// Algorithm 2 of Reddi et al. (2021), written out again in float64.
class ReferenceOptimizer {
 public:
  ReferenceOptimizer(const ServerOptimizerOptions& options, std::vector<double> model)
      : options_(options),
        lr_(options.EffectiveLearningRate()),
        x_(std::move(model)),
        m_(x_.size(), 0.0),
        v_(x_.size(), options.tau * options.tau),
        moved_(x_.size(), 0.0),
        update_sum_(x_.size(), 0.0) {}

  void Step(const std::vector<float>& update) {
    const double b1 = options_.beta1, b2 = options_.beta2;
    for (size_t i = 0; i < x_.size(); ++i) {
      const double d = update[i];
      double step = 0;
      switch (options_.kind) {
        case ServerOptimizerKind::kFedAvg:
          step = lr_ * d;
          break;
        case ServerOptimizerKind::kFedAvgM:
          m_[i] = options_.momentum * m_[i] + d;
          step = lr_ * m_[i];
          break;
        case ServerOptimizerKind::kFedAdam:
          m_[i] = b1 * m_[i] + (1 - b1) * d;
          v_[i] = b2 * v_[i] + (1 - b2) * d * d;
          step = lr_ * m_[i] / (std::sqrt(v_[i]) + options_.tau);
          break;
        case ServerOptimizerKind::kFedYogi: {
          m_[i] = b1 * m_[i] + (1 - b1) * d;
          const double difference = v_[i] - d * d;
          const double sign = difference > 0 ? 1.0 : (difference < 0 ? -1.0 : 0.0);
          v_[i] = v_[i] - (1 - b2) * d * d * sign;
          step = lr_ * m_[i] / (std::sqrt(v_[i]) + options_.tau);
          break;
        }
      }
      x_[i] += step;
      moved_[i] += std::fabs(step);
      update_sum_[i] += std::fabs(d);
    }
  }

  const std::vector<double>& x() const { return x_; }
  const std::vector<double>& m() const { return m_; }
  const std::vector<double>& v() const { return v_; }
  //! Σ_t |x_t+1 − x_t| per element: the scale of the accumulated rounding errors.
  const std::vector<double>& moved() const { return moved_; }
  //! Σ_t |Δ_t| per element: a bound on |m| and the scale of its rounding errors.
  const std::vector<double>& update_sum() const { return update_sum_; }

 private:
  ServerOptimizerOptions options_;
  double lr_;
  std::vector<double> x_, m_, v_, moved_, update_sum_;
};

// Largest |actual − expected| / (|expected| + scale), over the elements.
double MaxRelativeError(const std::vector<float>& actual, const std::vector<double>& expected,
                        const std::vector<double>& scale) {
  double worst = 0;
  for (size_t i = 0; i < actual.size(); ++i) {
    const double error = std::fabs(actual[i] - expected[i]);
    worst = std::max(worst, error / (std::fabs(expected[i]) + scale[i]));
  }
  return worst;
}

const std::vector<float>* FindState(const ServerOptimizerState& state, const std::string& name) {
  for (const auto& [entry_name, values] : state) {
    if (entry_name == name) return &values;
  }
  return nullptr;
}

class ServerOptimizerKindTest : public ::testing::TestWithParam<ServerOptimizerKind> {};

// Every rule, with unusual and with default hyper-parameters, against the float64
// reference over kSteps steps. The model, m and v are float32 and each step adds a
// few float32 roundings, so the model must agree to within 4·kSteps float32
// roundings of the sizes involved (|x| and the distance moved); the state likewise.
// (Measured: at most 4.5e-7, a quarter of the tolerance.)
TEST_P(ServerOptimizerKindTest, MatchesFloat64ReferenceOverSeveralSteps) {
  for (const ServerOptimizerOptions& options :
       {UnusualOptions(GetParam()), DefaultOptions(GetParam())}) {
    SCOPED_TRACE(options.learning_rate.has_value() ? "unusual options" : "default options");
    std::mt19937_64 generator(11);
    std::vector<float> model = RandomVector(kModelSize, 1.0, generator);
    ReferenceOptimizer reference(options, std::vector<double>(model.begin(), model.end()));
    absl::StatusOr<ServerOptimizer> optimizer = ServerOptimizer::Create(options, kModelSize);
    ASSERT_THAT(optimizer, IsOk());
    const std::vector<float> initial = model;

    for (const std::vector<float>& update : RandomUpdates(12)) {
      ASSERT_THAT(optimizer->Step(model, update), IsOk());
      reference.Step(update);
    }
    EXPECT_EQ(optimizer->steps(), static_cast<uint64_t>(kSteps));
    EXPECT_NE(model, initial);
    const double tolerance = std::ldexp(4.0 * kSteps, -24);
    EXPECT_LE(MaxRelativeError(model, reference.x(), reference.moved()), tolerance);

    const ServerOptimizerState state = optimizer->State();
    if (const std::vector<float>* m =
            FindState(state, ServerOptimizerKindName(GetParam()) + "/m")) {
      // m is a decaying sum of updates of either sign: its rounding errors scale
      // with Σ|Δ|, not with |m|, where terms cancel.
      EXPECT_LE(MaxRelativeError(*m, reference.m(), reference.update_sum()), tolerance);
    }
    if (const std::vector<float>* v =
            FindState(state, ServerOptimizerKindName(GetParam()) + "/v")) {
      EXPECT_LE(MaxRelativeError(*v, reference.v(), std::vector<double>(kModelSize, 0.0)),
                tolerance);
    }
  }
}

// Export after three steps, restore into a fresh optimiser, continue: the same bits
// as eight steps in one go.
TEST_P(ServerOptimizerKindTest, RestoredStateContinuesExactlyLikeAnUninterruptedRun) {
  const ServerOptimizerOptions options = UnusualOptions(GetParam());
  std::mt19937_64 generator(5);
  const std::vector<float> initial = RandomVector(kModelSize, 1.0, generator);
  const std::vector<std::vector<float>> updates = RandomUpdates(6);

  std::vector<float> uninterrupted = initial;
  absl::StatusOr<ServerOptimizer> whole = ServerOptimizer::Create(options, kModelSize);
  ASSERT_THAT(whole, IsOk());
  for (const auto& update : updates) ASSERT_THAT(whole->Step(uninterrupted, update), IsOk());

  std::vector<float> resumed = initial;
  ServerOptimizerState checkpoint;
  {
    absl::StatusOr<ServerOptimizer> first = ServerOptimizer::Create(options, kModelSize);
    ASSERT_THAT(first, IsOk());
    for (int t = 0; t < 3; ++t) ASSERT_THAT(first->Step(resumed, updates[t]), IsOk());
    checkpoint = first->State();
  }
  absl::StatusOr<ServerOptimizer> second = ServerOptimizer::Create(options, kModelSize);
  ASSERT_THAT(second, IsOk());
  ASSERT_THAT(second->Restore(checkpoint), IsOk());
  EXPECT_EQ(second->steps(), 3u);
  for (int t = 3; t < kSteps; ++t) ASSERT_THAT(second->Step(resumed, updates[t]), IsOk());

  EXPECT_EQ(resumed, uninterrupted);
  EXPECT_EQ(second->steps(), whole->steps());
  EXPECT_EQ(second->State(), whole->State());
}

TEST_P(ServerOptimizerKindTest, StateHasTheKindsNamesAndSizes) {
  absl::StatusOr<ServerOptimizer> optimizer =
      ServerOptimizer::Create(DefaultOptions(GetParam()), kModelSize);
  ASSERT_THAT(optimizer, IsOk());
  const std::string prefix = ServerOptimizerKindName(GetParam()) + "/";
  std::vector<std::string> names;
  for (const auto& [name, values] : optimizer->State()) {
    names.push_back(name);
    EXPECT_EQ(values.size(), name == prefix + "step" ? 1u : kModelSize) << name;
  }
  std::vector<std::string> expected = {prefix + "step"};
  if (GetParam() != ServerOptimizerKind::kFedAvg) expected.push_back(prefix + "m");
  if (GetParam() == ServerOptimizerKind::kFedAdam || GetParam() == ServerOptimizerKind::kFedYogi) {
    expected.push_back(prefix + "v");
  }
  EXPECT_EQ(names, expected);
}

TEST_P(ServerOptimizerKindTest, StepRefusesWrongSizesAndNonFiniteUpdates) {
  const ServerOptimizerOptions options = UnusualOptions(GetParam());
  absl::StatusOr<ServerOptimizer> optimizer = ServerOptimizer::Create(options, 4);
  ASSERT_THAT(optimizer, IsOk());
  std::vector<float> model = {1, 2, 3, 4};
  std::vector<float> short_model = {1, 2, 3};
  const ServerOptimizerState before = optimizer->State();

  absl::Status status = optimizer->Step(model, std::vector<float>{1, 1, 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("an update of 3 parameters; it was created for 4"));
  status = optimizer->Step(short_model, std::vector<float>{1, 1, 1});
  EXPECT_THAT(status.message(), HasSubstr("a model of 3"));

  status =
      optimizer->Step(model, std::vector<float>{1, 1, std::numeric_limits<float>::quiet_NaN(), 1});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("element 2 is nan"));
  EXPECT_EQ(model, (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(optimizer->State(), before);
  EXPECT_EQ(optimizer->steps(), 0u);
}

TEST_P(ServerOptimizerKindTest, RestoreRefusesMalformedStateAndKeepsItsOwn) {
  const ServerOptimizerOptions options = UnusualOptions(GetParam());
  absl::StatusOr<ServerOptimizer> optimizer = ServerOptimizer::Create(options, 4);
  ASSERT_THAT(optimizer, IsOk());
  std::vector<float> model = {1, 2, 3, 4};
  ASSERT_THAT(optimizer->Step(model, std::vector<float>{0.1f, -0.2f, 0.3f, 0.01f}), IsOk());
  const ServerOptimizerState good = optimizer->State();
  const std::string prefix = ServerOptimizerKindName(GetParam()) + "/";
  const bool has_m = GetParam() != ServerOptimizerKind::kFedAvg;
  const bool has_v =
      GetParam() == ServerOptimizerKind::kFedAdam || GetParam() == ServerOptimizerKind::kFedYogi;

  const auto expect_refused = [&](ServerOptimizerState state, const std::string& message) {
    absl::Status status = optimizer->Restore(state);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_THAT(status.message(), HasSubstr(message));
    EXPECT_EQ(optimizer->State(), good);
    EXPECT_EQ(optimizer->steps(), 1u);
  };
  const auto with = [&](const std::string& name, std::vector<float> values) {
    ServerOptimizerState state = good;
    for (auto& [entry_name, entry_values] : state) {
      if (entry_name == name) entry_values = values;
    }
    return state;
  };

  ServerOptimizerState missing = good;
  missing.pop_back();
  expect_refused(missing, "has no '" + good.back().first + "'");
  ServerOptimizerState duplicated = good;
  duplicated.push_back(good.back());
  expect_refused(duplicated, "more than once");
  ServerOptimizerState unknown = good;
  unknown.emplace_back("fedother/m", std::vector<float>(4, 0.0f));
  expect_refused(unknown, "holds 'fedother/m', which a");
  expect_refused(with(prefix + "step", {1.5f}), "expected a whole number");
  expect_refused(with(prefix + "step", {-1.0f}), "expected a whole number");
  expect_refused(with(prefix + "step", {1.0f, 2.0f}), "has 2 values; expected 1");
  if (has_m) {
    expect_refused(with(prefix + "m", {0, 0, 0}), "'" + prefix + "m' has 3 values; expected 4");
    expect_refused(with(prefix + "m", {0, std::numeric_limits<float>::infinity(), 0, 0}),
                   "element 1 is inf");
  }
  if (has_v) {
    expect_refused(with(prefix + "v", {0, 0, 0, 0, 0}), "has 5 values; expected 4");
    expect_refused(with(prefix + "v", {1, 1, -1e-3f, 1}), "element 2 is -0.001");
  }
  // A state of another kind names its own kind.
  const ServerOptimizerKind other = GetParam() == ServerOptimizerKind::kFedAdam
                                        ? ServerOptimizerKind::kFedYogi
                                        : ServerOptimizerKind::kFedAdam;
  absl::StatusOr<ServerOptimizer> foreign = ServerOptimizer::Create(UnusualOptions(other), 4);
  ASSERT_THAT(foreign, IsOk());
  expect_refused(foreign->State(), "'" + ServerOptimizerKindName(other) + "/");

  ASSERT_THAT(optimizer->Restore(good), IsOk());
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ServerOptimizerKindTest,
                         ::testing::Values(ServerOptimizerKind::kFedAvg,
                                           ServerOptimizerKind::kFedAvgM,
                                           ServerOptimizerKind::kFedAdam,
                                           ServerOptimizerKind::kFedYogi),
                         [](const ::testing::TestParamInfo<ServerOptimizerKind>& info) {
                           return ServerOptimizerKindName(info.param);
                         });

// FedAvg with η = 1 on the weighted mean of client deltas puts the global model at the
// weighted mean of the client models.
TEST(ServerOptimizerTest, FedAvgWithUnitRateMovesTheModelToTheClientsMean) {
  std::mt19937_64 generator(8);
  std::vector<float> global = RandomVector(kModelSize, 1.0, generator);
  const double weights[] = {10, 250, 37};
  std::vector<std::vector<float>> clients;
  WeightedMean deltas(kModelSize);
  for (double weight : weights) {
    std::vector<float> client = global;
    std::vector<float> delta(kModelSize);
    const std::vector<float> noise = RandomVector(kModelSize, 1e-2, generator);
    for (size_t i = 0; i < kModelSize; ++i) {
      client[i] += noise[i];
      delta[i] = client[i] - global[i];
    }
    ASSERT_THAT(deltas.Accumulate(weight, delta), IsOk());
    clients.push_back(std::move(client));
  }
  absl::StatusOr<std::vector<float>> mean_delta = std::move(deltas).Report();
  ASSERT_THAT(mean_delta, IsOk());
  absl::StatusOr<ServerOptimizer> optimizer = ServerOptimizer::Create({}, kModelSize);
  ASSERT_THAT(optimizer, IsOk());
  const std::vector<float> before = global;
  ASSERT_THAT(optimizer->Step(global, *mean_delta), IsOk());
  for (size_t i = 0; i < kModelSize; ++i) {
    double expected = 0;
    double spread = 0;
    for (size_t k = 0; k < clients.size(); ++k) {
      expected += weights[k] * clients[k][i];
      spread = std::max(spread, std::fabs(double{clients[k][i]} - before[i]));
    }
    expected /= 297;
    // One rounding of the mean delta (scale: the clients' spread) and one of the
    // sum (scale: the model): a float32 ulp of each, doubled.
    ASSERT_NEAR(global[i], expected, std::ldexp(std::fabs(before[i]) + spread, -22)) << i;
  }
}

// Yogi's sign(v − Δ²) is 0 when they are equal: v stays put; below Δ², v grows by
// (1 − β2)·Δ². Adam's v takes the average (1 − β2)·Δ² + β2·v instead.
TEST(ServerOptimizerTest, YogiLeavesSecondMomentWhenItEqualsTheSquaredUpdate) {
  const float tau = std::ldexp(1.0f, -10);  // τ² = 2^-20 exactly.
  for (ServerOptimizerKind kind : {ServerOptimizerKind::kFedYogi, ServerOptimizerKind::kFedAdam}) {
    ServerOptimizerOptions options;
    options.kind = kind;
    options.tau = tau;
    absl::StatusOr<ServerOptimizer> optimizer = ServerOptimizer::Create(options, 2);
    ASSERT_THAT(optimizer, IsOk());
    std::vector<float> model = {0, 0};
    ASSERT_THAT(optimizer->Step(model, std::vector<float>{tau, 2 * tau}), IsOk());
    const ServerOptimizerState state = optimizer->State();
    const std::vector<float>& v = state[2].second;
    if (kind == ServerOptimizerKind::kFedYogi) {
      EXPECT_EQ(v[0], tau * tau);
      EXPECT_FLOAT_EQ(v[1], tau * tau + 0.01f * 4 * tau * tau);  // v < Δ²: v grows.
    } else {
      EXPECT_FLOAT_EQ(v[0], tau * tau);
      EXPECT_FLOAT_EQ(v[1], 0.99f * tau * tau + 0.01f * 4 * tau * tau);
    }
  }
}

TEST(ServerOptimizerTest, ParsesEveryKindAndListsThemOnError) {
  for (ServerOptimizerKind kind : {ServerOptimizerKind::kFedAvg, ServerOptimizerKind::kFedAvgM,
                                   ServerOptimizerKind::kFedAdam, ServerOptimizerKind::kFedYogi}) {
    absl::StatusOr<ServerOptimizerKind> parsed =
        ParseServerOptimizerKind(ServerOptimizerKindName(kind));
    ASSERT_THAT(parsed, IsOk()) << ServerOptimizerKindName(kind);
    EXPECT_EQ(*parsed, kind);
  }
  EXPECT_EQ(ServerOptimizerKindName(ServerOptimizerKind::kFedYogi), "fedyogi");
  absl::StatusOr<ServerOptimizerKind> unknown = ParseServerOptimizerKind("adam");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(),
              HasSubstr("'adam'; allowed values: fedavg, fedavgm, fedadam, fedyogi"));
}

TEST(ServerOptimizerTest, DefaultsFollowReddiEtAl) {
  ServerOptimizerOptions options;
  EXPECT_THAT(options.Validate(), IsOk());
  EXPECT_EQ(options.kind, ServerOptimizerKind::kFedAvg);
  EXPECT_EQ(options.EffectiveLearningRate(), 1.0);
  options.kind = ServerOptimizerKind::kFedAvgM;
  EXPECT_EQ(options.EffectiveLearningRate(), 1.0);
  options.kind = ServerOptimizerKind::kFedAdam;
  EXPECT_EQ(options.EffectiveLearningRate(), 1e-2);
  options.kind = ServerOptimizerKind::kFedYogi;
  EXPECT_EQ(options.EffectiveLearningRate(), 1e-2);
  options.learning_rate = 0.5;
  EXPECT_EQ(options.EffectiveLearningRate(), 0.5);
  EXPECT_EQ(options.momentum, 0.9);
  EXPECT_EQ(options.beta1, 0.9);
  EXPECT_EQ(options.beta2, 0.99);
  EXPECT_EQ(options.tau, 1e-3);
}

TEST(ServerOptimizerTest, ValidateNamesTheBadFieldAndItsRange) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  using Setter = void (*)(ServerOptimizerOptions&, double);
  struct Case {
    Setter set;
    double value;
    std::string message;
  };
  const Case cases[] = {
      {[](ServerOptimizerOptions& o, double x) { o.learning_rate = x; }, 0.0,
       "learning_rate is 0; allowed range: [1e-30, 1e30]"},
      {[](ServerOptimizerOptions& o, double x) { o.learning_rate = x; }, -1.0,
       "learning_rate is -1"},
      {[](ServerOptimizerOptions& o, double x) { o.learning_rate = x; }, nan,
       "learning_rate is nan"},
      {[](ServerOptimizerOptions& o, double x) { o.learning_rate = x; }, inf,
       "learning_rate is inf"},
      {[](ServerOptimizerOptions& o, double x) { o.momentum = x; }, 1.0,
       "momentum is 1; allowed range: [0, 1)"},
      {[](ServerOptimizerOptions& o, double x) { o.momentum = x; }, -0.1, "momentum is -0.1"},
      {[](ServerOptimizerOptions& o, double x) { o.beta1 = x; }, 1.5,
       "beta1 is 1.5; allowed range: [0, 1)"},
      {[](ServerOptimizerOptions& o, double x) { o.beta2 = x; }, nan,
       "beta2 is nan; allowed range: [0, 1)"},
      {[](ServerOptimizerOptions& o, double x) { o.tau = x; }, 0.0,
       "tau is 0; allowed range: [1e-18, 1e18]"},
      {[](ServerOptimizerOptions& o, double x) { o.tau = x; }, inf, "tau is inf"},
  };
  for (const Case& c : cases) {
    ServerOptimizerOptions options;
    c.set(options, c.value);
    absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(status.message(), HasSubstr(c.message));
    EXPECT_EQ(ServerOptimizer::Create(options, 10).status(), status);
  }
  ServerOptimizerOptions options;
  options.kind = static_cast<ServerOptimizerKind>(7);
  EXPECT_THAT(options.Validate().message(), HasSubstr("kind 7 is unknown; allowed values"));
}

}  // namespace
}  // namespace equifl::aggregation
