// Measures the two ways of running policy scripts under a time limit
// (docs/scripting-engine.md):
//   in-process: mruby with the debug hook; the hook's cost on a tight loop
//     and on a small handler call (hook installed vs not);
//   worker process: the same handler in a forked worker, one request and one
//     reply over a socketpair per call, and the bare round trip.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "manager/script/engine.h"

namespace milter::manager::script {
namespace {

constexpr char kScript[] = R"(
HELO = /\.example\.com$/
def spin(ctx)
  i = 0
  while i < 100_000
    i += 1
  end
  i
end
def on_helo(ctx)
  ctx["helo"].start_with?("mail.") && ctx["addr"] == "192.0.2.1" ?
    :accept : :reject
end
def on_helo_regexp(ctx)
  ctx["helo"] =~ HELO && ctx["addr"] == "192.0.2.1" ? :accept : :reject
end
)";

const std::string& ScriptPath() {
  static const std::string* path = [] {
    char dir[] = "/tmp/script_bench.XXXXXX";
    if (mkdtemp(dir) == nullptr) std::abort();
    auto* p = new std::string(absl::StrCat(dir, "/policy.rb"));
    std::ofstream(*p) << kScript;
    return p;
  }();
  return *path;
}

Engine::Options WithHook(bool hook) {
  Engine::Options options;
  options.time_limit =
      hook ? absl::Seconds(10) : absl::InfiniteDuration();  // no hook at all
  return options;
}

MapContext HeloContext() {
  MapContext context;
  context.Set("helo", "mail.example.com");
  context.Set("addr", "192.0.2.1");
  return context;
}

// 100,000 iterations of a `while` loop per call; arg 1 = hook installed.
void BM_TightLoop(benchmark::State& state) {
  Engine engine(WithHook(state.range(0) == 1));
  MapContext context;
  for (auto _ : state) {
    Engine::Outcome out = engine.Call(ScriptPath(), "spin", context, {});
    if (out.value.integer != 100000) state.SkipWithError("bad result");
  }
  state.SetItemsProcessed(state.iterations() * 100000);
}
BENCHMARK(BM_TightLoop)->Arg(0)->Arg(1);

// A handler reading two values and returning a Symbol; arg 1 = hook.
void BM_HandlerCall(benchmark::State& state) {
  Engine engine(WithHook(state.range(0) == 1));
  MapContext context = HeloContext();
  for (auto _ : state) {
    Engine::Outcome out = engine.Call(ScriptPath(), "on_helo", context, {});
    if (out.value.text != "accept") state.SkipWithError("bad result");
  }
}
BENCHMARK(BM_HandlerCall)->Arg(0)->Arg(1);

void BM_HandlerCallRegexp(benchmark::State& state) {
  Engine engine(WithHook(true));
  MapContext context = HeloContext();
  for (auto _ : state) {
    Engine::Outcome out =
        engine.Call(ScriptPath(), "on_helo_regexp", context, {});
    if (out.value.text != "accept") state.SkipWithError("bad result");
  }
}
BENCHMARK(BM_HandlerCallRegexp);

// A forked worker: reads "helo\0addr" requests, answers one byte. With
// `run_script` false it answers without running anything (bare round trip).
pid_t StartWorker(int fd, int parent_fd, bool run_script) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  close(parent_fd);  // so the parent's close is the worker's end of input
  std::unique_ptr<Engine> engine;
  if (run_script) engine = std::make_unique<Engine>(WithHook(true));
  char buffer[4096];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) _exit(0);
    char reply = 'a';
    if (run_script) {
      MapContext context;
      size_t split = strnlen(buffer, n);
      context.Set("helo", std::string(buffer, split));
      context.Set("addr", split < static_cast<size_t>(n)
                              ? std::string(buffer + split + 1, n - split - 1)
                              : "");
      Engine::Outcome out = engine->Call(ScriptPath(), "on_helo", context, {});
      reply = out.value.text == "accept" ? 'a' : 'r';
    }
    if (send(fd, &reply, 1, 0) != 1) _exit(1);
  }
}

// arg 1: the worker runs the handler; arg 0: it only answers.
void BM_WorkerRoundTrip(benchmark::State& state) {
  ScriptPath();
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    state.SkipWithError("socketpair");
    return;
  }
  pid_t pid = StartWorker(fds[1], fds[0], state.range(0) == 1);
  close(fds[1]);
  static const char kRequest[] =
      "mail.example.com\0"
      "192.0.2.1";
  for (auto _ : state) {
    char reply = 0;
    if (send(fds[0], kRequest, sizeof(kRequest) - 1, 0) < 0 ||
        recv(fds[0], &reply, 1, 0) != 1 || reply != 'a') {
      state.SkipWithError("worker failed");
      break;
    }
  }
  close(fds[0]);
  waitpid(pid, nullptr, 0);
}
BENCHMARK(BM_WorkerRoundTrip)->Arg(0)->Arg(1);

}  // namespace
}  // namespace milter::manager::script
