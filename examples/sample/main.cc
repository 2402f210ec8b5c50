// sample_filter SOCKET_SPEC: serves the example filter (see sample_filter.h)
// until SIGTERM/SIGINT.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "examples/sample/sample_filter.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr,
                 "usage: %s SOCKET_SPEC\n"
                 "  e.g. unix:/run/sample.sock, inet:10025@127.0.0.1\n",
                 argv[0]);
    return 2;
  }
  milter::client::RunnerOptions options;
  options.listen = {argv[1]};
  options.worker_threads = 0;  // a coroutine filter: no worker pool
  if (const char* n = std::getenv("SAMPLE_FILTER_IO_THREADS")) {
    options.io_threads = std::max(1, std::atoi(n));
  }
  // Like libmilter filters run with umask 0: the MTA (e.g. Postfix's own
  // user) must be able to connect to a unix socket.
  options.unix_socket_mode = 0666;
  milter::client::Runner runner(sample::MakeSampleFactory(), options);
  if (absl::Status s = runner.Listen(); !s.ok()) {
    std::fprintf(stderr, "sample_filter: %s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "sample_filter: listening on %s\n",
               runner.bound_specs().front().c_str());
  absl::Status s = runner.Run();
  if (!s.ok()) {
    std::fprintf(stderr, "sample_filter: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
