#include "tests/testing/prometheus_text.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/testing/process.h"
#include "tests/testing/temporary_folder.h"

namespace equifl::test {

std::map<std::string, double> ParsePrometheusText(const std::string& python,
                                                  const std::string& text) {
  const TemporaryFolder folder("prometheus");
  const std::filesystem::path input = folder.path() / "metrics.txt";
  std::ofstream(input) << text;
  const std::filesystem::path script = folder.path() / "parse.py";
  std::ofstream(script)
      << "import sys\n"
      << "from prometheus_client.parser import text_string_to_metric_families\n"
      << "for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      << "    for s in family.samples:\n"
      << "        labels = ','.join(f'{k}=\"{v}\"' for k, v in sorted(s.labels.items()))\n"
      << "        print(f'{s.name}{{{labels}}} {s.value!r}')\n";
  const CommandOutcome parsed = RunShell(python + " " + script.string() + " " + input.string());
  EXPECT_EQ(parsed.exit_code, 0) << parsed.output;
  std::map<std::string, double> samples;
  std::istringstream lines(parsed.out);
  for (std::string line; std::getline(lines, line);) {
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

}  // namespace equifl::test
