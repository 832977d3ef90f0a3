// `equifl data`: make shards (synth, import, import-npy, import-media) and look into them
// (inspect).
//
// The flags map onto sim::SyntheticDataOptions, client::CsvImportOptions,
// client::NpyImportOptions and client::MediaImportOptions; the libraries validate, this file only
// reads flags and prints. Summaries go to stdout, errors to stderr; bad input exits 2, failures at
// run time 1.
#ifndef EQUIFL_APP_DATA_COMMANDS_H_
#define EQUIFL_APP_DATA_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "client/data/csv_import.h"
#include "client/data/npy_import.h"
#include "client/media/media_import.h"
#include "sim/synthetic_data.h"

namespace equifl::app {

//! Command-line choices of `equifl data` and its subcommands.
struct DataCommand {
  //! The subcommand the command line chose.
  enum class Action { kSynth, kImport, kImportNpy, kImportMedia, kInspect };
  Action action = Action::kInspect;

  // synth
  std::string synth_out;                    //!< Output folder.
  sim::SyntheticDataOptions synth_options;  //!< The generator's options.
  std::vector<std::string> biases;          //!< --bias, replacing the default bias.
  bool unbiased = false;                    //!< --unbiased: no bias at all.
  std::vector<double> minority_fractions;   //!< One for every client, or one per client.
  int64_t bayes_samples = 20000;            //!< Monte Carlo draws per cell; 0: no estimate.

  // import
  std::string csv;                       //!< The CSV file.
  std::string import_out;                //!< Output folder.
  client::CsvImportOptions csv_options;  //!< Columns and partition.
  std::vector<std::string> categorical;  //!< --categorical: "COLUMN[=value|value|...]".

  // import-npy
  client::NpyImportPaths npy_paths;      //!< The .npy files.
  std::string npy_out;                   //!< Output folder.
  client::NpyImportOptions npy_options;  //!< Names and partition.

  // import-media
  std::string media_manifest;                //!< The manifest CSV.
  std::string media_out;                     //!< Output folder.
  client::MediaImportOptions media_options;  //!< Names, partition, front end.
  std::string audio_precision = "float16";   //!< --audio-precision, parsed when run.

  // inspect
  std::string inspect_dir;  //!< A shard folder, or a folder of shard folders.
};

//! Adds "data" with "synth", "import", "import-npy", "import-media" and "inspect", their flags
//! stored in `command`, to `app`.
CLI::App* AddDataSubcommand(CLI::App& app, DataCommand& command);

//! Runs the chosen subcommand; returns the process exit code.
int RunDataCommand(const DataCommand& command);

}  // namespace equifl::app

#endif  // EQUIFL_APP_DATA_COMMANDS_H_
