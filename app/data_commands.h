// `equifl data`: make shards (synth, import, import-npy) and look into them (inspect).
//
// The flags map onto sim::SyntheticDataOptions, client::CsvImportOptions and
// client::NpyImportOptions; the libraries validate, this file only reads flags and
// prints. Summaries go to stdout, errors to stderr; bad input exits 2, failures at
// run time 1.
#ifndef EQUIFL_APP_DATA_COMMANDS_H_
#define EQUIFL_APP_DATA_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <memory>

namespace equifl::app {

//! `equifl data` and its subcommands, registered on the main command line.
class DataCommand {
 public:
  //! Adds "data" with "synth", "import", "import-npy" and "inspect" to `app`.
  explicit DataCommand(CLI::App& app);
  ~DataCommand();

  //! Whether the command line chose `equifl data ...`.
  bool parsed() const;

  //! Runs the chosen subcommand; returns the process exit code.
  int Run() const;

 private:
  struct Flags;
  std::unique_ptr<Flags> flags_;  //!< Where CLI11 stores the parsed flags.
};

}  // namespace equifl::app

#endif  // EQUIFL_APP_DATA_COMMANDS_H_
