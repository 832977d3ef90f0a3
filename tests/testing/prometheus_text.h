// Prometheus' text format read by an independent parser: Python's prometheus_client
// (Debian's python3-prometheus-client), for tests of what /metrics serves.
#ifndef EQUIFL_TESTS_TESTING_PROMETHEUS_TEXT_H_
#define EQUIFL_TESTS_TESTING_PROMETHEUS_TEXT_H_

#include <map>
#include <string>

namespace equifl::test {

//! Every sample of `text`, parsed by prometheus_client under `python`, keyed
//! "name{k="v",...}" (labels sorted; "name{}" without labels). Adds a test failure,
//! and returns what it read, when the parser refuses the text.
std::map<std::string, double> ParsePrometheusText(const std::string& python,
                                                  const std::string& text);

}  // namespace equifl::test

#endif  // EQUIFL_TESTS_TESTING_PROMETHEUS_TEXT_H_
