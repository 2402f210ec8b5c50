// SignalWatcher: a signalfd and an eventfd polled by one thread.

#include "manager/daemon/signal_watcher.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace milter::manager {
namespace {

sigset_t WatchedSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

void BlockWatchedSignals() {
  sigset_t set = WatchedSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

absl::StatusOr<std::unique_ptr<SignalWatcher>> SignalWatcher::Start(
    std::function<void()> on_hangup, std::function<void()> on_user1) {
  sigset_t set = WatchedSignals();
  int signal_fd = ::signalfd(-1, &set, SFD_CLOEXEC);
  if (signal_fd < 0) {
    return absl::InternalError(
        absl::StrCat("signalfd: ", std::strerror(errno)));
  }
  int stop_fd = ::eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    ::close(signal_fd);
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  std::unique_ptr<SignalWatcher> watcher(new SignalWatcher(signal_fd, stop_fd));
  watcher->thread_ = std::thread(&SignalWatcher::Loop, watcher.get(),
                                 std::move(on_hangup), std::move(on_user1));
  return watcher;
}

SignalWatcher::~SignalWatcher() {
  uint64_t one = 1;
  (void)!::write(stop_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  ::close(signal_fd_);
  ::close(stop_fd_);
}

void SignalWatcher::Loop(std::function<void()> on_hangup,
                         std::function<void()> on_user1) {
  for (;;) {
    struct pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    struct signalfd_siginfo info;
    if (::read(signal_fd_, &info, sizeof(info)) !=
        static_cast<ssize_t>(sizeof(info))) {
      continue;
    }
    if (info.ssi_signo == SIGHUP && on_hangup) on_hangup();
    if (info.ssi_signo == SIGUSR1 && on_user1) on_user1();
  }
}

}  // namespace milter::manager
