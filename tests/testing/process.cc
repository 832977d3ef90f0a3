#include "tests/testing/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace equifl::test {
namespace {

using namespace std::chrono_literals;

// A file name for a command's captured stream; removed by the caller.
std::string CaptureFile(const char* stream) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / ("equifl_" + std::string(stream) + "_XXXXXX"))
          .string();
  const int descriptor = ::mkstemp(pattern.data());
  if (descriptor >= 0) ::close(descriptor);
  return pattern;
}

}  // namespace

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

CommandOutcome RunShell(const std::string& command) {
  const std::string out_path = CaptureFile("out");
  const std::string err_path = CaptureFile("err");
  CommandOutcome outcome;
  const int status =
      std::system(("(" + command + ") </dev/null >" + out_path + " 2>" + err_path).c_str());
  outcome.exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.out = ReadFile(out_path);
  outcome.err = ReadFile(err_path);
  outcome.output = outcome.out + outcome.err;
  std::filesystem::remove(out_path);
  std::filesystem::remove(err_path);
  return outcome;
}

Process::Process(const std::vector<std::string>& arguments, std::filesystem::path log)
    : log_(std::move(log)) {
  std::vector<char*> argv;
  for (const std::string& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
}

int Process::Wait(std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (pid_ > 0 && std::chrono::steady_clock::now() < give_up) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(50ms);
  }
  Kill();
  return -1;
}

void Process::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string MemoryLimitPrefix() {
#if defined(__SANITIZE_ADDRESS__)
  return "";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return "";
#endif
#endif
  return "ulimit -v 8388608; ";
}

void Process::Signal(int signal_number) {
  if (pid_ > 0) ::kill(pid_, signal_number);
}

std::optional<std::string> Process::WaitForLog(const std::string& pattern,
                                               std::chrono::milliseconds timeout) const {
  const std::regex expression(pattern);
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    std::smatch match;
    const std::string text = ReadFile(log_);
    if (std::regex_search(text, match, expression)) {
      return match.size() > 1 ? match[1].str() : match[0].str();
    }
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

}  // namespace equifl::test
