// Running programs from tests: a shell command run to completion with its output
// captured, or a child process that runs in the background and logs to a file.
// tests/testing/equifl_binary.h runs the equifl binary with these.
#ifndef EQUIFL_TESTS_TESTING_PROCESS_H_
#define EQUIFL_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace equifl::test {

//! What a finished command printed and how it ended.
struct CommandOutcome {
  int exit_code = -1;  //!< -1 when it could not run or was killed by a signal.
  std::string out;     //!< Its standard output.
  std::string err;     //!< Its standard error.
  std::string output;  //!< Both, standard output first.
};

//! Runs `command` with /bin/sh and waits for it to finish.
CommandOutcome RunShell(const std::string& command);

//! A shell prefix that caps a command's address space at 8 GiB, so a reader that
//! would read without end fails fast instead of taking the machine's memory;
//! empty under AddressSanitizer, whose shadow memory needs terabytes of it.
std::string MemoryLimitPrefix();

//! The contents of a text file; empty when it cannot be read.
std::string ReadFile(const std::filesystem::path& path);

//! A child process whose standard output and error go to a log file; killed when
//! destroyed if it is still running.
class Process {
 public:
  //! Starts arguments[0] (a path) with the rest as its arguments.
  Process(const std::vector<std::string>& arguments, std::filesystem::path log);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { Kill(); }

  //! The exit code (128 + the signal when one ended it), or -1 if it did not exit
  //! within `timeout` (then it is killed).
  int Wait(std::chrono::milliseconds timeout);
  //! Kills it with SIGKILL and reaps it.
  void Kill();
  //! Sends it `signal_number` (SIGTERM, SIGKILL, ...); Wait reaps it.
  void Signal(int signal_number);

  //! Waits until the log matches the regular expression `pattern`; returns the
  //! first match's first group (or the whole match), nullopt after `timeout`.
  std::optional<std::string> WaitForLog(const std::string& pattern,
                                        std::chrono::milliseconds timeout) const;

  std::string Log() const { return ReadFile(log_); }
  bool started() const { return pid_ > 0; }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_TESTING_PROCESS_H_
