#include "app/predictions_csv.h"

#include <ATen/ATen.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/enum_names.h"
#include "protocol/torch/torch_status.h"

namespace equifl::app {
namespace {

// A field as RFC 4180 writes it: quoted, with quotes doubled, when it holds a
// comma, a quote or a line break.
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

// names[index], or the index itself when the manifest has no such name.
std::string NameAt(const std::vector<std::string>& names, int64_t index) {
  if (index >= 0 && static_cast<size_t>(index) < names.size()) return CsvField(names[index]);
  return absl::StrCat(index);
}

}  // namespace

void PredictionsCsv::Discard::operator()(std::FILE* file) const {
  std::fclose(file);
  std::remove(partial_path.c_str());
}

PredictionsCsv::PredictionsCsv(std::string path, const client::ShardManifest& manifest,
                               std::string client, client::Split split, std::FILE* file,
                               std::string partial_path)
    : path_(std::move(path)),
      labels_(manifest.labels),
      groups_(manifest.groups),
      languages_(manifest.languages),
      client_(std::move(client)),
      split_(split),
      file_(file, Discard{std::move(partial_path)}) {}

absl::StatusOr<PredictionsCsv> PredictionsCsv::Create(const std::string& path,
                                                      const client::ShardManifest& manifest,
                                                      std::string client, client::Split split) {
  std::string partial_path = path + ".partial";
  std::FILE* file = std::fopen(partial_path.c_str(), "w");
  if (file == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write the predictions file '", path, "' (as '", partial_path,
                     "' until complete): ", std::strerror(errno), "; its folder must exist"));
  }
  PredictionsCsv csv(path, manifest, std::move(client), split, file, std::move(partial_path));
  std::string header = "sample,client,split,language,group,view,label,prediction,loss";
  for (const std::string& label : manifest.labels) {
    absl::StrAppend(&header, ",", CsvField(absl::StrCat("probability:", label)));
  }
  header += '\n';
  if (std::fputs(header.c_str(), file) == EOF) {
    return absl::InternalError(absl::StrCat("cannot write '", csv.file_.get_deleter().partial_path,
                                            "': ", std::strerror(errno)));
  }
  return csv;
}

absl::Status PredictionsCsv::Append(const std::string& view, const std::vector<int64_t>& rows,
                                    const client::Dataset& dataset,
                                    const client::EvaluationResult& result) {
  if (file_ == nullptr) return absl::FailedPreconditionError("the predictions file is complete");
  return protocol::TorchCall("writing predictions", [&]() -> absl::Status {
    const int64_t samples = dataset.size();
    if (static_cast<int64_t>(rows.size()) != samples || result.losses.size(0) != samples ||
        result.probabilities.size(0) != samples) {
      return absl::InternalError(absl::StrCat("predictions of ", result.losses.size(0),
                                              " samples for ", samples, " samples and ",
                                              rows.size(), " shard rows"));
    }
    const at::Tensor label = dataset.label.to(at::kCPU).contiguous();
    const at::Tensor group = dataset.group.to(at::kCPU).contiguous();
    const at::Tensor language = dataset.language.to(at::kCPU).contiguous();
    const at::Tensor loss = result.losses.contiguous();
    const at::Tensor prediction = result.predictions.contiguous();
    const at::Tensor probability = result.probabilities.to(at::kFloat).contiguous();
    const int64_t classes = probability.size(1);
    const std::string fixed = absl::StrCat(",", CsvField(client_), ",", NameOf(split_), ",");
    const std::string view_field = CsvField(view);
    std::string line;
    for (int64_t i = 0; i < samples; ++i) {
      line = absl::StrCat(rows[i], fixed, NameAt(languages_, language.data_ptr<int64_t>()[i]), ",",
                          NameAt(groups_, group.data_ptr<int64_t>()[i]), ",", view_field, ",",
                          NameAt(labels_, label.data_ptr<int64_t>()[i]), ",",
                          NameAt(labels_, prediction.data_ptr<int64_t>()[i]), ",",
                          absl::StrFormat("%.17g", loss.data_ptr<double>()[i]));
      const float* probabilities = probability.data_ptr<float>() + i * classes;
      for (int64_t c = 0; c < classes; ++c) {
        absl::StrAppendFormat(&line, ",%.9g", probabilities[c]);
      }
      line += '\n';
      if (std::fputs(line.c_str(), file_.get()) == EOF) {
        return absl::InternalError(absl::StrCat("cannot write '", file_.get_deleter().partial_path,
                                                "': ", std::strerror(errno)));
      }
    }
    return absl::OkStatus();
  });
}

absl::Status PredictionsCsv::Commit() {
  if (file_ == nullptr) return absl::FailedPreconditionError("the predictions file is complete");
  const std::string partial_path = file_.get_deleter().partial_path;
  const bool written = std::fflush(file_.get()) == 0 && !std::ferror(file_.get());
  if (!written || std::fclose(file_.release()) != 0) {
    std::remove(partial_path.c_str());
    return absl::InternalError(
        absl::StrCat("cannot write '", partial_path, "': ", std::strerror(errno)));
  }
  if (std::rename(partial_path.c_str(), path_.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(partial_path.c_str());
    return absl::InternalError(
        absl::StrCat("cannot rename '", partial_path, "' to '", path_, "': ", reason));
  }
  return absl::OkStatus();
}

}  // namespace equifl::app
