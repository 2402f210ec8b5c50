// doc_filter SOCKET_SPEC...: serves DocFilter (see doc_filter.h) until
// SIGTERM or SIGINT.
//
//   doc_filter inet:10025@127.0.0.1
//   doc_filter unix:/var/spool/postfix/doc_filter/doc_filter.sock
//
// Exit status: 0 after a clean stop or --help, 1 if it cannot listen or
// fails while serving, 2 on a usage error; the reason on standard error, one
// line.

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "absl/status/status.h"
#include "examples/doc_filter/doc_filter.h"
#include "milter/client/runner.h"

namespace {

// The one line on standard error that says why the filter stopped.
void Complain(const std::string& why) {
  std::fprintf(stderr, "doc_filter: %s\n", why.c_str());
}

int Main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 ||
        std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: doc_filter SOCKET_SPEC...\n");
      return 0;
    }
  }
  if (argc < 2) {
    Complain("missing SOCKET_SPEC (see --help)");
    return 2;
  }
  milter::client::RunnerOptions options;
  for (int i = 1; i < argc; ++i) options.listen.push_back(argv[i]);
  options.unix_socket_mode = 0660;  // the MTA's group may connect...
  options.unix_socket_group = "";   // ...set e.g. "postfix" to chown it
  options.worker_threads = 4;       // DocFilter's callbacks run here
  options.timeout = std::chrono::minutes(10);
  options.shutdown_deadline = std::chrono::seconds(5);

  milter::client::Runner runner(doc_filter::MakeDocFilterFactory(), options);
  if (absl::Status s = runner.Listen(); !s.ok()) {
    Complain(s.ToString());
    return 1;
  }
  for (const std::string& spec : runner.bound_specs()) {
    std::fprintf(stderr, "doc_filter: listening on %s\n", spec.c_str());
  }
  if (absl::Status s = runner.Run(); !s.ok()) {  // after SIGTERM/SIGINT
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
