// doc_filter SOCKET_SPEC...: serves DocFilter (see doc_filter.h) until
// SIGTERM or SIGINT.
//
//   doc_filter inet:10025@127.0.0.1
//   doc_filter unix:/var/spool/postfix/doc_filter/doc_filter.sock

#include <chrono>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "examples/doc_filter/doc_filter.h"
#include "milter/client/runner.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s SOCKET_SPEC...\n", argv[0]);
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
    std::fprintf(stderr, "doc_filter: %s\n", s.ToString().c_str());
    return 1;
  }
  for (const std::string& spec : runner.bound_specs()) {
    std::fprintf(stderr, "doc_filter: listening on %s\n", spec.c_str());
  }
  absl::Status s = runner.Run();  // returns after SIGTERM/SIGINT
  if (!s.ok()) {
    std::fprintf(stderr, "doc_filter: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
