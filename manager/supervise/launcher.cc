// Launcher: the manager's side of the launcher process.

#include "manager/supervise/launcher.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "manager/supervise/launcher_process.h"
#include "manager/supervise/launcher_wire.h"

namespace milter::manager {

using launcher_wire::Decode;
using launcher_wire::Encode;
using launcher_wire::ParseNumber;

absl::StatusOr<std::unique_ptr<Launcher>> Launcher::Start() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0) {
    return absl::InternalError(
        absl::StrCat("launcher: socketpair: ", std::strerror(errno)));
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(fds[0]);
    ::close(fds[1]);
    return absl::InternalError(
        absl::StrCat("launcher: fork: ", std::strerror(e)));
  }
  if (pid == 0) {
    ::close(fds[0]);
    launcher_internal::RunLauncherProcess(fds[1]);
  }
  ::close(fds[1]);
  return std::unique_ptr<Launcher>(new Launcher(fds[0], pid));
}

Launcher::~Launcher() {
  ::close(fd_);
  // The launcher gives its children 5 seconds, then kills them; it cannot
  // take much longer, but a hung one is killed rather than waited for.
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p = {pidfd, POLLIN, 0};
    int n;
    do {
      n = ::poll(&p, 1, 7000);
    } while (n < 0 && errno == EINTR);
    if (n == 0) ::kill(pid_, SIGKILL);
    ::close(pidfd);
  }
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

absl::Status Launcher::Send(const std::string& message) {
  absl::MutexLock lock(&send_mu_);
  ssize_t n = ::send(fd_, message.data(), message.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(message.size())) {
    return absl::UnavailableError(absl::StrCat(
        "launcher: cannot send a request: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Launcher::Launch(uint64_t id, const LaunchSpec& spec) {
  std::vector<std::string> fields = {"launch",
                                     std::to_string(id),
                                     spec.command,
                                     spec.user,
                                     spec.group,
                                     spec.working_directory,
                                     std::to_string(spec.arguments.size())};
  fields.insert(fields.end(), spec.arguments.begin(), spec.arguments.end());
  fields.insert(fields.end(), spec.environment.begin(), spec.environment.end());
  std::optional<std::string> message = Encode(fields);
  if (!message) {
    return absl::InvalidArgumentError(absl::StrCat(
        "launcher: the command, arguments and environment of ", spec.command,
        " exceed ", launcher_wire::kMaxWireMessage, " bytes"));
  }
  return Send(*message);
}

absl::Status Launcher::Stop(int64_t pid, absl::Duration grace) {
  int64_t ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(grace));
  return Send(*Encode({"stop", std::to_string(pid), std::to_string(ms)}));
}

absl::StatusOr<std::optional<LaunchEvent>> Launcher::Poll() {
  std::string buffer(launcher_wire::kMaxWireMessage + 1, '\0');
  ssize_t n;
  do {
    n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return std::nullopt;
  if (n <= 0) return absl::UnavailableError("launcher: it exited");
  std::optional<std::vector<std::string>> f =
      Decode(std::string_view(buffer.data(), static_cast<size_t>(n)));
  if (!f || f->size() != 3) {
    return absl::DataLossError("launcher: malformed event");
  }
  LaunchEvent event;
  const std::string& kind = (*f)[0];
  std::optional<int64_t> first = ParseNumber((*f)[1]);
  if (!first) return absl::DataLossError("launcher: malformed event");
  if (kind == "started") {
    std::optional<int64_t> pid = ParseNumber((*f)[2]);
    if (!pid) return absl::DataLossError("launcher: malformed event");
    event = {LaunchEvent::Kind::kStarted, static_cast<uint64_t>(*first), *pid,
             ""};
  } else if (kind == "failed") {
    event = {LaunchEvent::Kind::kFailed, static_cast<uint64_t>(*first), 0,
             (*f)[2]};
  } else if (kind == "exited") {
    event = {LaunchEvent::Kind::kExited, 0, *first, (*f)[2]};
  } else {
    return absl::DataLossError("launcher: unknown event");
  }
  return event;
}

absl::StatusOr<std::optional<LaunchEvent>> Launcher::Next(
    absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<std::optional<LaunchEvent>> event = Poll();
    if (!event.ok() || event->has_value()) return event;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    pollfd p = {fd_, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
}

}  // namespace milter::manager
