#include "app/config.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "protocol/encoding.h"

namespace equifl::app {
namespace {

// Reads one mapping of the file, remembering the key path for messages.
class Section {
 public:
  Section(const YAML::Node& node, std::string path, absl::string_view source)
      : node_(node), path_(std::move(path)), source_(source) {}

  // Runs `read` for each key, refusing keys not in `handlers`.
  using Handler = std::function<absl::Status(const YAML::Node&, const std::string&)>;
  absl::Status ForEachKey(const std::map<std::string, Handler>& handlers) const {
    if (!node_.IsMap()) {
      return Error(node_, absl::StrCat(Describe(), " must be a mapping of keys to values"));
    }
    for (const auto& entry : node_) {
      const std::string key = entry.first.Scalar();
      auto handler = handlers.find(key);
      if (handler == handlers.end()) {
        std::vector<std::string> allowed;
        for (const auto& [name, unused] : handlers) allowed.push_back(name);
        return Error(entry.first, absl::StrCat("unknown key ", KeyPath(key), "; allowed keys",
                                               path_.empty() ? "" : absl::StrCat(" in ", path_),
                                               ": ", absl::StrJoin(allowed, ", ")));
      }
      EQUIFL_RETURN_IF_ERROR(handler->second(entry.second, KeyPath(key)));
    }
    return absl::OkStatus();
  }

  absl::Status Error(const YAML::Node& node, absl::string_view message) const {
    const YAML::Mark mark = node.Mark();
    return absl::InvalidArgumentError(
        mark.is_null() ? absl::StrCat(source_, ": ", message)
                       : absl::StrCat(source_, ":", mark.line + 1, ": ", message));
  }

  std::string KeyPath(absl::string_view key) const {
    return path_.empty() ? std::string(key) : absl::StrCat(path_, ".", key);
  }

  absl::string_view source() const { return source_; }

 private:
  std::string Describe() const {
    return path_.empty() ? "the configuration" : absl::StrCat("'", path_, "'");
  }

  YAML::Node node_;
  std::string path_;
  absl::string_view source_;
};

absl::StatusOr<std::string> ReadScalar(const Section& section, const YAML::Node& node,
                                       const std::string& key) {
  if (!node.IsScalar()) {
    return section.Error(node, absl::StrCat(key, " must be a single value"));
  }
  return node.Scalar();
}

absl::StatusOr<std::string> ReadChoice(const Section& section, const YAML::Node& node,
                                       const std::string& key,
                                       std::span<const absl::string_view> allowed) {
  EQUIFL_ASSIGN_OR_RETURN(std::string value, ReadScalar(section, node, key));
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    return section.Error(node, absl::StrCat(key, " is '", value,
                                            "'; allowed values: ", absl::StrJoin(allowed, ", ")));
  }
  return value;
}

absl::StatusOr<uint64_t> ReadUnsigned(const Section& section, const YAML::Node& node,
                                      const std::string& key, uint64_t min, uint64_t max) {
  EQUIFL_ASSIGN_OR_RETURN(std::string text, ReadScalar(section, node, key));
  uint64_t value = 0;
  size_t parsed = 0;
  try {
    if (!text.empty() && text[0] != '-') value = std::stoull(text, &parsed);
  } catch (const std::exception&) {
    parsed = 0;
  }
  if (parsed != text.size() || text.empty() || value < min || value > max) {
    return section.Error(node, absl::StrCat(key, " is '", text, "'; allowed values: ",
                                            "whole numbers from ", min, " to ", max));
  }
  return value;
}

absl::Status ReadLog(const Section& section, Config& config) {
  return section.ForEachKey({
      {"level",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         EQUIFL_ASSIGN_OR_RETURN(config.log_level, ReadChoice(section, node, key, kLogLevels));
         return absl::OkStatus();
       }},
  });
}

absl::Status ReadTransport(const Section& section, Config& config) {
  static constexpr absl::string_view kEncodings[] = {"fp32", "fp16", "bf16", "int8"};
  return section.ForEachKey({
      {"encoding",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         EQUIFL_ASSIGN_OR_RETURN(std::string name, ReadChoice(section, node, key, kEncodings));
         EQUIFL_ASSIGN_OR_RETURN(config.codec.encoding, protocol::ParseEncoding(name));
         return absl::OkStatus();
       }},
      {"chunk_bytes",
       [&](const YAML::Node& node, const std::string& key) -> absl::Status {
         EQUIFL_ASSIGN_OR_RETURN(
             config.codec.max_chunk_bytes,
             ReadUnsigned(section, node, key, protocol::CodecOptions::kMinChunkBytes,
                          protocol::CodecOptions::kMaxChunkBytes));
         return absl::OkStatus();
       }},
  });
}

}  // namespace

absl::StatusOr<Config> ParseConfig(absl::string_view text, absl::string_view source) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", error.mark.line + 1, ": not valid YAML: ", error.msg));
  }
  Config config;
  if (root.IsNull()) return config;  // An empty file keeps every default.
  const Section top(root, "", source);
  EQUIFL_RETURN_IF_ERROR(top.ForEachKey({
      {"log", [&](const YAML::Node& node,
                  const std::string& key) { return ReadLog(Section(node, key, source), config); }},
      {"transport",
       [&](const YAML::Node& node, const std::string& key) {
         return ReadTransport(Section(node, key, source), config);
       }},
  }));
  if (absl::Status status = config.codec.Validate(); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", status.message()));
  }
  return config;
}

absl::StatusOr<Config> LoadConfig(const std::string& path) {
  std::ifstream file(path);
  if (!file) {
    return absl::NotFoundError(absl::StrCat("cannot open configuration file '", path, "'"));
  }
  std::stringstream text;
  text << file.rdbuf();
  if (file.bad()) {
    return absl::DataLossError(absl::StrCat("cannot read configuration file '", path, "'"));
  }
  return ParseConfig(text.str(), path);
}

}  // namespace equifl::app
