// The metrics' cost per MTA session as the manager records it: a session
// with three children answering 20 stages each, 10 at end of message,
// and one message; and the same with four threads at once (contention on
// the shared counters). Also the cost of a scrape with 20 children.
//
//   bazel run -c opt //manager/metrics:metrics_benchmark

#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "manager/metrics/metrics.h"

namespace milter::manager::metrics {
namespace {

const char* const kStages[] = {
    "connect", "helo",          "envelope-from", "envelope-recipient",
    "header",  "end-of-header", "body",          "end-of-message"};

void Session(const std::shared_ptr<Metrics>& m,
             const std::vector<std::string>& children) {
  SessionRecorder r(m);
  for (const std::string& child : children) {
    for (int i = 0; i < 20; ++i) {
      r.ChildResult(child, kStages[i % 8], "continue", absl::Microseconds(300),
                    absl::OkStatus());
    }
  }
  r.MessageDone("continue");
}

void BM_Session(benchmark::State& state) {
  static auto m = std::make_shared<Metrics>();
  std::vector<std::string> children = {"opendkim", "rspamd", "clamav"};
  for (auto _ : state) Session(m, children);
}
BENCHMARK(BM_Session)->Threads(1)->Threads(4);

void BM_SessionWithoutMetrics(benchmark::State& state) {
  std::vector<std::string> children = {"opendkim", "rspamd", "clamav"};
  for (auto _ : state) Session(nullptr, children);
}
BENCHMARK(BM_SessionWithoutMetrics);

void BM_Render(benchmark::State& state) {
  Metrics m;
  std::vector<ChildState> states(20);
  for (int c = 0; c < 20; ++c) {
    states[c].name = "child" + std::to_string(c);
    m.Child(states[c].name)
        ->Record(Stage::kHelo, Result::kContinue, absl::Milliseconds(1));
  }
  for (auto _ : state) benchmark::DoNotOptimize(m.Render(states));
}
BENCHMARK(BM_Render);

}  // namespace
}  // namespace milter::manager::metrics
