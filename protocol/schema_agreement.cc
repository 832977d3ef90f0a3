#include "protocol/schema_agreement.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/quoted_input.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace equifl::protocol {
namespace {

using Names = google::protobuf::RepeatedPtrField<std::string>;

std::string List(const Names& names) {
  if (names.empty()) return "none";
  const std::vector<std::string> items(names.begin(), names.end());
  return QuoteInputs(items);
}

absl::Status Differs(const std::string& what, const std::string& run, const std::string& client) {
  return absl::FailedPreconditionError(absl::StrCat(
      "its shard's ", what, ": ", client, "; the run's: ", run,
      "; import every client's data with the settings of the run's schema (the same "
      "--features and --categorical lists, front-end settings, labels, groups and languages)"));
}

absl::Status CheckNames(const std::string& what, const Names& run, const Names& client) {
  if (run.size() == client.size() && std::equal(run.begin(), run.end(), client.begin())) {
    return absl::OkStatus();
  }
  return Differs(what, List(run), List(client));
}

// Front ends are "KIND key=value key=value ...": the first field that differs is
// named with both values; anything else is compared whole.
absl::Status CheckFrontEnds(const std::string& modality, const std::string& run,
                            const std::string& client) {
  if (run == client) return absl::OkStatus();
  const std::vector<absl::string_view> run_fields = absl::StrSplit(run, ' ');
  const std::vector<absl::string_view> client_fields = absl::StrSplit(client, ' ');
  if (!run.empty() && !client.empty() && run_fields.size() == client_fields.size() &&
      run_fields[0] == client_fields[0]) {
    for (size_t field = 1; field < run_fields.size(); ++field) {
      const std::pair<absl::string_view, absl::string_view> expected =
          absl::StrSplit(run_fields[field], absl::MaxSplits('=', 1));
      const std::pair<absl::string_view, absl::string_view> actual =
          absl::StrSplit(client_fields[field], absl::MaxSplits('=', 1));
      if (expected.first != actual.first) break;
      if (expected.second != actual.second) {
        return Differs(absl::StrCat(modality, " front end's ", QuoteInput(expected.first)),
                       QuoteInput(expected.second), QuoteInput(actual.second));
      }
    }
  }
  return Differs(modality + " front end", run.empty() ? "none" : QuoteInput(run),
                 client.empty() ? "none" : QuoteInput(client));
}

}  // namespace

absl::Status CheckSchemaAgreement(const v1::DataSchema& run, const v1::DataSchema& client) {
  Names run_modalities;
  Names client_modalities;
  for (const auto& modality : run.modalities()) run_modalities.Add(std::string(modality.name()));
  for (const auto& modality : client.modalities()) {
    client_modalities.Add(std::string(modality.name()));
  }
  if (absl::Status status = CheckNames("modalities", run_modalities, client_modalities);
      !status.ok()) {
    return status;
  }
  for (int index = 0; index < run.modalities_size(); ++index) {
    const v1::DataSchema::Modality& expected = run.modalities(index);
    const v1::DataSchema::Modality& actual = client.modalities(index);
    const std::string name = absl::StrCat("modality ", QuoteInput(expected.name()));
    if (expected.kind() != actual.kind()) {
      return Differs(name + " kind", QuoteInput(expected.kind()), QuoteInput(actual.kind()));
    }
    if (expected.frames() != actual.frames() || expected.dim() != actual.dim()) {
      return Differs(name + " frames and dim",
                     absl::StrCat(expected.frames(), " frames of ", expected.dim()),
                     absl::StrCat(actual.frames(), " frames of ", actual.dim()));
    }
    for (int feature = 0;
         feature < expected.feature_names_size() && feature < actual.feature_names_size();
         ++feature) {
      if (expected.feature_names(feature) != actual.feature_names(feature)) {
        return Differs(absl::StrCat(name, " feature ", feature + 1),
                       QuoteInput(expected.feature_names(feature)),
                       QuoteInput(actual.feature_names(feature)));
      }
    }
    if (expected.feature_names_size() != actual.feature_names_size()) {
      return Differs(name + " feature names", List(expected.feature_names()),
                     List(actual.feature_names()));
    }
    if (absl::Status status = CheckFrontEnds(name, expected.front_end(), actual.front_end());
        !status.ok()) {
      return status;
    }
  }
  if (absl::Status status = CheckNames("classes", run.labels(), client.labels()); !status.ok()) {
    return status;
  }
  if (absl::Status status = CheckNames("groups", run.groups(), client.groups()); !status.ok()) {
    return status;
  }
  return CheckNames("languages", run.languages(), client.languages());
}

}  // namespace equifl::protocol
