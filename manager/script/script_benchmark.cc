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
def on_helo_session(s)
  s.helo.start_with?("mail.") && s.client_address == "192.0.2.1" ?
    :continue : :reject
end
)";

// A Pmilter-style handler file for RunFile.
constexpr char kPmilterScript[] = R"(
s = Pmilter::Session.new
if s.client_ipaddr == "198.51.100.1" || s.helo_hostname.end_with?(".invalid")
  Pmilter.status = Pmilter::SMFIS_REJECT
end
)";

const std::string& ScriptDir() {
  static const std::string* dir = [] {
    char name[] = "/tmp/script_bench.XXXXXX";
    if (mkdtemp(name) == nullptr) std::abort();
    return new std::string(name);
  }();
  return *dir;
}

const std::string& ScriptPath() {
  static const std::string* path = [] {
    auto* p = new std::string(absl::StrCat(ScriptDir(), "/policy.rb"));
    std::ofstream(*p) << kScript;
    return p;
  }();
  return *path;
}

const std::string& PmilterPath() {
  static const std::string* path = [] {
    auto* p = new std::string(absl::StrCat(ScriptDir(), "/pmilter.rb"));
    std::ofstream(*p) << kPmilterScript;
    return p;
  }();
  return *path;
}

Session HeloSession() {
  Session session;
  session.stage = Stage::kHelo;
  session.helo = "mail.example.com";
  session.client.address = "192.0.2.1";
  return session;
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

// The same policy through a Milter::Session argument (two readers), with
// the deadline hook and a per-call limit, as the manager calls handlers.
void BM_SessionHandlerCall(benchmark::State& state) {
  Engine engine(WithHook(true));
  Session session = HeloSession();
  for (auto _ : state) {
    session.Reset();
    Engine::Outcome out = engine.Call(ScriptPath(), "on_helo_session", session,
                                      {}, absl::Milliseconds(100));
    if (out.value.text != "continue") state.SkipWithError("bad result");
  }
}
BENCHMARK(BM_SessionHandlerCall);

// A Pmilter handler file run with RunFile (Pmilter::Session.new, two
// readers, Pmilter.status= not reached).
void BM_PmilterRunFile(benchmark::State& state) {
  Engine engine(WithHook(true));
  Session session = HeloSession();
  for (auto _ : state) {
    session.Reset();
    Engine::Outcome out =
        engine.RunFile(PmilterPath(), session, {}, absl::Milliseconds(100));
    if (!out.error.ok() || session.status != codec::Status::kContinue) {
      state.SkipWithError("bad result");
    }
  }
}
BENCHMARK(BM_PmilterRunFile);

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
