// A filter for milter-load's test: prints MAIL FROM's arguments, each body
// chunk it sees and each end of message, and answers skip to the first body
// chunk of a message.
//
//   skip_filter SPEC      (prints "listening on SPEC" on stderr)

#include <cstdio>
#include <string>
#include <string_view>

#include "milter/client/filter.h"
#include "milter/client/filter_factory.h"
#include "milter/client/runner.h"

namespace {

using milter::client::Context;
using milter::client::Status;

void Line(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

class SkipFilter : public milter::client::CoroutineFilter {
 public:
  asio::awaitable<Status> OnMailFrom(Context&, std::string_view address,
                                     milter::client::EsmtpArgs args) override {
    std::string s = "mail " + std::string(address);
    for (std::string_view a : args) s += " " + std::string(a);
    Line(s);
    co_return Status::kContinue;
  }
  asio::awaitable<Status> OnBody(Context&, std::string_view chunk) override {
    Line("body " + std::to_string(chunk.size()));
    co_return Status::kSkip;
  }
  asio::awaitable<Status> OnEndOfMessage(Context&) override {
    Line("eom");
    co_return Status::kContinue;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s SPEC\n", argv[0]);
    return 2;
  }
  milter::client::RunnerOptions options;
  options.listen = {argv[1]};
  options.worker_threads = 0;
  milter::client::Runner runner(milter::client::MakeFilterFactory<SkipFilter>(),
                                options);
  if (absl::Status s = runner.Listen(); !s.ok()) {
    std::fprintf(stderr, "skip_filter: %s\n", s.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "listening on %s\n",
               runner.bound_specs().front().c_str());
  return runner.Run().ok() ? 0 : 1;
}
