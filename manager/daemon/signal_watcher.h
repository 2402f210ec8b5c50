// Runs a callback for SIGHUP (reload) and SIGUSR1 (reopen log files) on a
// thread of its own, outside any signal handler, so the callbacks may lock
// and allocate. SIGTERM and SIGINT are not watched here (client::Runner
// drains on them).
//
// Contract: call BlockWatchedSignals() in main() before any other thread
// starts, so that every thread inherits the mask and the signals reach only
// the watcher (a process forked later must unblock them before exec).
// Without a watcher, SIGHUP and SIGUSR1 stay blocked and pending.
//
//   BlockWatchedSignals();
//   auto watcher = SignalWatcher::Start(on_hup, on_usr1);

#ifndef MANAGER_DAEMON_SIGNAL_WATCHER_H_
#define MANAGER_DAEMON_SIGNAL_WATCHER_H_

#include <functional>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"

namespace milter::manager {

// Blocks SIGHUP and SIGUSR1 in the calling thread.
void BlockWatchedSignals();

class SignalWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<SignalWatcher>> Start(
      std::function<void()> on_hangup, std::function<void()> on_user1);
  // Stops the thread (a callback running is waited for).
  ~SignalWatcher();
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

 private:
  SignalWatcher(int signal_fd, int stop_fd)
      : signal_fd_(signal_fd), stop_fd_(stop_fd) {}
  void Loop(std::function<void()> on_hangup, std::function<void()> on_user1);

  int signal_fd_;
  int stop_fd_;  // eventfd: written once to stop the loop
  std::thread thread_;
};

}  // namespace milter::manager

#endif  // MANAGER_DAEMON_SIGNAL_WATCHER_H_
