// sample_filter SOCKET_SPEC: serves the example filter (see sample_filter.h)
// until SIGTERM/SIGINT.
//
// Exit status: 0 after a clean stop or --help, 1 if it cannot listen or
// fails while serving, 2 on a usage error; the reason on standard error, one
// line.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "examples/sample/sample_filter.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"

namespace {

constexpr char kUsage[] =
    "usage: sample_filter SOCKET_SPEC\n"
    "  e.g. unix:/run/sample.sock, inet:10025@127.0.0.1\n"
    "  SAMPLE_FILTER_IO_THREADS=N in the environment: N event loop threads\n";

// The one line on standard error that says why the filter stopped.
void Complain(const std::string& why) {
  std::fprintf(stderr, "sample_filter: %s\n", why.c_str());
}

int Main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 ||
                    std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 2) {
    Complain(argc < 2 ? "missing SOCKET_SPEC (see --help)"
                      : "one SOCKET_SPEC only (see --help)");
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
    Complain(s.ToString());
    return 1;
  }
  std::fprintf(stderr, "sample_filter: listening on %s\n",
               runner.bound_specs().front().c_str());
  if (absl::Status s = runner.Run(); !s.ok()) {
    Complain(s.ToString());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    Complain(e.what());
  } catch (...) {
    Complain("unknown exception");
  }
  return 1;
}
