// Serves a filter on milter socket specs: listens (unix/local/inet/inet6),
// accepts MTA connections and runs one Session per connection on an
// event loop, synchronous callbacks on a bounded worker pool. Stops
// gracefully on SIGTERM/SIGINT or Stop(): no new connections, sessions in
// flight may finish until the deadline; then (or on a second stop request)
// the remaining connections are closed, no callback starts any more, and
// Run() returns without waiting for callbacks still running.
//
//   RunnerOptions options;
//   options.listen = {"inet:10025@127.0.0.1"};
//   Runner runner(MakeFilterFactory<MyFilter>(), options);
//   absl::Status s = runner.Run();

#ifndef MILTER_CLIENT_RUNNER_H_
#define MILTER_CLIENT_RUNNER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "absl/status/status.h"
#include "asio/any_io_executor.hpp"
#include "asio/awaitable.hpp"
#include "asio/executor_work_guard.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "asio/io_context.hpp"
#include "asio/signal_set.hpp"
#include "asio/steady_timer.hpp"
#include "asio/thread_pool.hpp"
#include "milter/client/filter_factory.h"
#include "milter/client/session.h"

namespace milter::client {

// RunnerOptions::diagnostics' default: "milter: LINE\n" on stderr.
void WriteDiagnosticToStderr(std::string_view line);

struct RunnerOptions {
  // Socket specs to listen on ("unix:/run/f.sock", "inet:10025@[::1]";
  // port 0: any free port, see Listen()).
  std::vector<std::string> listen;
  // Unix sockets: permission bits, owning group (name; empty keeps the
  // default), and whether to remove a stale socket file (one nobody listens
  // on) before binding.
  uint32_t unix_socket_mode = 0660;
  std::string unix_socket_group;
  bool remove_stale_socket = true;
  int backlog = 4096;  // capped by the kernel (somaxconn)
  // Concurrent sessions; further connections wait in the backlog (each
  // listener's accept loop waits on its own, costing no CPU). 0: no limit.
  // (At the open-file limit, too, connections wait in the backlog: reported
  // once through `diagnostics`, and again when accepting resumes.)
  size_t max_sessions = 0;
  // A session waiting longer than this for the MTA (or to write) is closed.
  std::chrono::milliseconds timeout{std::chrono::seconds(7210)};
  // Event loop threads, each with its own io_context; connections are
  // spread over them.
  int io_threads = 1;
  // Threads for synchronous Filter callbacks; 0 runs them on the event loop
  // (for filters that never block).
  int worker_threads = 8;
  // Stop on SIGTERM/SIGINT.
  bool handle_signals = true;
  // How long sessions in flight may take to finish after a stop request.
  // After it (or at a second stop request) connections are closed and
  // callbacks still running are abandoned.
  std::chrono::milliseconds shutdown_deadline{std::chrono::seconds(10)};
  // Problems the library cannot report to the MTA or the filter, one line
  // each: a verdict returned at a stage whose no-reply flag is in force (it
  // cannot be sent), a reply whose class does not match the verdict (not
  // used), an exception escaping a callback (answered tempfail), a protocol
  // error that closes an MTA connection, accepting paused at the open-file
  // limit (and resumed), callbacks abandoned at shutdown. Called on event
  // loop or worker threads, possibly concurrently: must be thread-safe. The
  // default writes "milter: LINE" to stderr; set an empty function to
  // discard them.
  DiagnosticSink diagnostics = WriteDiagnosticToStderr;
};

class Runner {
 public:
  Runner(FilterFactory factory, RunnerOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Opens every listener. Run() calls it if not done yet; call it first to
  // learn, from bound_specs(), the ports the kernel chose for "inet:0"
  // (and "inet6:0") specs. With `handle_signals`, SIGTERM and SIGINT are
  // caught from here on (one that arrives before Run() stops it at once).
  absl::Status Listen();
  // Canonical specs of the bound sockets ("inet:40123@127.0.0.1").
  std::vector<std::string> bound_specs() const { return bound_specs_; }

  // Serves until stopped; returns the first listen error, if any.
  absl::Status Run();
  // Graceful stop. Thread-safe: callable from any thread, before or during
  // Run(). Not async-signal-safe (it queues work on the event loop, which
  // allocates and locks): never call it from a signal handler. For SIGTERM
  // and SIGINT keep `handle_signals`, which waits for them on the event loop
  // (asio::signal_set); for other signals, wait with your own
  // asio::signal_set or sigwait() thread and call Stop() from there.
  // A second Stop() (or SIGTERM/SIGINT) skips the rest of the drain, as if
  // the shutdown deadline had passed.
  void Stop();

  size_t active_sessions() const { return active_.load(); }
  uint64_t total_sessions() const { return total_.load(); }
  // The most answer bytes queued for one MTA connection so far: about
  // Session::kMaxQueuedOutput plus one command's answers at most.
  size_t max_queued_output() const { return queued_high_water_.load(); }

  // For tests: `hook` receives named internal events ("session-started",
  // "session-ended", "accept-slot-wait", "accept-slot-wake", "accept-error",
  // "stopping", "force-stop", "abandoned", "output-full") on event loop
  // threads. Set before Run(); must be thread-safe.
  void SetEventHookForTesting(DiagnosticSink hook) {
    test_events_ = std::move(hook);
  }

 private:
  struct Listener;
  absl::Status ListenOn(const std::string& spec);
  asio::awaitable<void> AcceptLoop(Listener* listener);
  // Waits on the listener's timer until `until` or a cancel.
  asio::awaitable<void> WaitOnTimer(Listener* listener,
                                    asio::steady_timer::time_point until);
  enum class Accepted { kOne, kNone, kFailed };
  Accepted AcceptOne(Listener* listener);
  void AcceptFailed(Listener* listener, const std::error_code& ec);
  bool Full() const;
  void WakeAcceptLoops();
  void StartSession(Session::Socket socket);
  void SessionEnded(Session* session);
  void WaitForSignal();
  void RequestStop();
  void BeginStop();
  // The deadline passed or a second stop came: close every connection, let
  // no callback start, and return from Run() once only sessions stuck in a
  // callback remain.
  void ForceStop();
  void CheckAbandon();
  void MaybeFinish();
  void ArmSweeper();
  // Posts Stop() to the expired sessions, or a final Stop() to all.
  void StopSessions(bool expired_only);
  void Report(std::string_view line) const;
  void Event(std::string_view name) const;

  // Declared first, destroyed last. Kept for the life of the process when
  // callbacks were abandoned (they may still post to it).
  std::unique_ptr<asio::io_context> io_owner_;
  asio::io_context& io_;  // listeners, signals, timers, first sessions
  FilterFactory factory_;
  RunnerOptions options_;
  std::vector<std::unique_ptr<asio::io_context>> extra_io_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      extra_work_;
  size_t next_io_ = 0;
  std::unique_ptr<asio::thread_pool> pool_;
  asio::any_io_executor pool_executor_;
  SessionConfig config_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::string> bound_specs_;
  std::vector<std::string> unix_paths_;
  DiagnosticSink test_events_;
  asio::signal_set signals_;
  asio::steady_timer deadline_timer_;
  asio::steady_timer sweep_timer_;
  std::mutex mu_;
  Session* sessions_ = nullptr;  // intrusive list head, guarded by mu_
  std::atomic<size_t> active_{0};
  std::atomic<uint64_t> total_{0};
  std::atomic<size_t> queued_high_water_{0};
  bool listening_ = false;
  bool stopping_ = false;
  bool forcing_ = false;
  bool finished_ = false;   // Run() is about to return
  bool abandoned_ = false;  // callbacks were left running
};

}  // namespace milter::client

#endif  // MILTER_CLIENT_RUNNER_H_
