// The launcher process: a poll loop over the manager's socket and a
// signalfd for SIGCHLD; children are forked and exec'd with the requested
// credentials, and an exec failure comes back over a close-on-exec pipe.

#include "manager/supervise/launcher_process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "manager/supervise/launcher_wire.h"

extern char** environ;

namespace milter::manager::launcher_internal {
namespace {

using launcher_wire::Decode;
using launcher_wire::Encode;
using launcher_wire::ParseNumber;

constexpr int64_t kShutdownGraceMs = 5000;

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Reply(int fd, const std::vector<std::string>& fields) {
  std::optional<std::string> message = Encode(fields);
  if (message) (void)::send(fd, message->data(), message->size(), MSG_NOSIGNAL);
}

// Credentials and environment, resolved before the fork.
struct Prepared {
  std::vector<std::string> argv, envp;
  bool change_ids = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user_name;  // for initgroups; empty: clear the groups
  std::string directory;
};

// Resolves `user` and `group`; an error message, or empty.
std::string ResolveIds(const std::string& user, const std::string& group,
                       Prepared* p) {
  p->uid = ::geteuid();
  p->gid = ::getegid();
  if (!user.empty()) {
    const passwd* pw = ::getpwnam(user.c_str());
    std::optional<int64_t> number = ParseNumber(user);
    if (pw == nullptr && number) pw = ::getpwuid(static_cast<uid_t>(*number));
    if (pw == nullptr && !number) return "no such user \"" + user + "\"";
    p->uid = pw != nullptr ? pw->pw_uid : static_cast<uid_t>(*number);
    p->gid = pw != nullptr ? pw->pw_gid : static_cast<gid_t>(*number);
    if (pw != nullptr) {
      p->user_name = pw->pw_name;
      p->envp.push_back(std::string("HOME=") + pw->pw_dir);
      p->envp.push_back(std::string("USER=") + pw->pw_name);
      p->envp.push_back(std::string("LOGNAME=") + pw->pw_name);
    }
  }
  if (!group.empty()) {
    const struct group* gr = ::getgrnam(group.c_str());
    std::optional<int64_t> number = ParseNumber(group);
    if (gr == nullptr && !number) return "no such group \"" + group + "\"";
    p->gid = gr != nullptr ? gr->gr_gid : static_cast<gid_t>(*number);
  }
  p->change_ids = !user.empty() || !group.empty();
  if (p->change_ids && ::geteuid() != 0 &&
      (p->uid != ::geteuid() || p->gid != ::getegid())) {
    return "cannot run it as user \"" + user + "\"" +
           (group.empty() ? "" : " and group \"" + group + "\"") +
           ": that needs the manager to be started as root (it runs as uid " +
           std::to_string(::geteuid()) + ")";
  }
  if (::geteuid() != 0) p->change_ids = false;  // already those ids
  return "";
}

// The manager's environment with `extra` ("NAME=VALUE") replacing or added.
void BuildEnvironment(const std::vector<std::string>& extra, Prepared* p) {
  std::vector<std::string> overrides = p->envp;
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  p->envp.clear();
  auto name_of = [](const std::string& e) { return e.substr(0, e.find('=')); };
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    bool replaced = false;
    for (const std::string& o : overrides)
      replaced |= name_of(o) == name_of(entry);
    if (!replaced) p->envp.push_back(entry);
  }
  for (const std::string& o : overrides) p->envp.push_back(o);
}

// Every signal back to its default action (ignored ones would survive
// exec; the manager may have handlers of its own).
void DefaultSignals() {
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::signal(sig, SIG_DFL);
  }
}

// In the forked child: never returns; on failure writes why to `error_fd`.
[[noreturn]] void ExecChild(const Prepared& p, int error_fd, pid_t launcher) {
  auto fail = [error_fd](const char* step) {
    std::string why = std::string(step) + ": " + std::strerror(errno);
    (void)!::write(error_fd, why.data(), why.size());
    ::_exit(127);
  };
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  DefaultSignals();
  if (::setsid() < 0) fail("setsid");
  int null = ::open("/dev/null", O_RDONLY);
  if (null < 0 || ::dup2(null, 0) < 0) fail("/dev/null");
  if (null > 0) ::close(null);
  ::dup2(2, 1);
  if (p.change_ids) {
    int r = p.user_name.empty() ? ::setgroups(0, nullptr)
                                : ::initgroups(p.user_name.c_str(), p.gid);
    if (r < 0) fail("setting the supplementary groups");
    if (::setgid(p.gid) < 0) fail("setgid");
    if (::setuid(p.uid) < 0) fail("setuid");
  }
  const char* dir = p.directory.empty() ? "/" : p.directory.c_str();
  if (::chdir(dir) < 0) fail((std::string("chdir ") + dir).c_str());
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != launcher) ::_exit(127);
  std::vector<char*> argv, envp;
  for (const std::string& a : p.argv)
    argv.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& e : p.envp)
    envp.push_back(const_cast<char*>(e.c_str()));
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  ::execve(argv[0], argv.data(), envp.data());
  fail((std::string("cannot execute ") + p.argv[0]).c_str());
  ::_exit(127);
}

class LauncherLoop {
 public:
  LauncherLoop(int fd, int signal_fd) : fd_(fd), signal_fd_(signal_fd) {}
  [[noreturn]] void Run();

 private:
  void Launch(const std::vector<std::string>& f);
  void Stop(int64_t pid, int64_t grace_ms);
  void Reap();
  void ReadRequests();
  int Timeout() const;

  const int fd_, signal_fd_;
  bool eof_ = false;
  std::map<pid_t, std::optional<int64_t>> children_;  // pid -> kill time
};

void LauncherLoop::Launch(const std::vector<std::string>& f) {
  std::optional<int64_t> argc =
      f.size() >= 7 ? ParseNumber(f[6]) : std::nullopt;
  if (!argc || static_cast<size_t>(*argc) > f.size() - 7) {
    Reply(fd_, {"failed", f.size() > 1 ? f[1] : "0", "malformed request"});
    return;
  }
  Prepared p;
  p.argv.push_back(f[2]);
  p.argv.insert(p.argv.end(), f.begin() + 7, f.begin() + 7 + *argc);
  p.directory = f[5];
  std::string error = ResolveIds(f[3], f[4], &p);
  if (!error.empty()) return Reply(fd_, {"failed", f[1], error});
  BuildEnvironment({f.begin() + 7 + *argc, f.end()}, &p);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) {
    return Reply(fd_,
                 {"failed", f[1], std::string("pipe: ") + strerror(errno)});
  }
  pid_t launcher = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    ExecChild(p, pipe_fds[1], launcher);
  }
  ::close(pipe_fds[1]);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return Reply(fd_,
                 {"failed", f[1], std::string("fork: ") + strerror(errno)});
  }
  std::string why;
  char buffer[512];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    why.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (!why.empty()) {
    ::waitpid(pid, nullptr, 0);
    return Reply(fd_, {"failed", f[1], why});
  }
  children_[pid] = std::nullopt;
  Reply(fd_, {"started", f[1], std::to_string(pid)});
}

void LauncherLoop::Stop(int64_t pid, int64_t grace_ms) {
  auto it = children_.find(static_cast<pid_t>(pid));
  if (it == children_.end()) return;  // already gone: its exit was sent
  ::kill(-it->first, SIGTERM);
  ::kill(it->first, SIGTERM);
  int64_t deadline = NowMs() + grace_ms;
  if (!it->second || *it->second > deadline) it->second = deadline;
}

void LauncherLoop::Reap() {
  signalfd_siginfo info;
  while (::read(signal_fd_, &info, sizeof info) > 0) {
  }
  int status = 0;
  pid_t pid;
  while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
    if (children_.erase(pid) == 0) continue;
    std::string detail =
        WIFEXITED(status)
            ? "exit status " + std::to_string(WEXITSTATUS(status))
            : "killed by signal " + std::to_string(WTERMSIG(status));
    Reply(fd_, {"exited", std::to_string(pid), detail});
  }
}

void LauncherLoop::ReadRequests() {
  std::string buffer(launcher_wire::kMaxWireMessage + 1, '\0');
  while (true) {
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // nothing more for now
    if (n == 0) {
      eof_ = true;
      for (auto& [pid, when] : children_) Stop(pid, kShutdownGraceMs);
      return;
    }
    std::optional<std::vector<std::string>> f =
        Decode(std::string_view(buffer.data(), static_cast<size_t>(n)));
    if (!f || f->empty()) continue;  // garbage is ignored
    if ((*f)[0] == "launch") {
      Launch(*f);
    } else if ((*f)[0] == "stop" && f->size() == 3) {
      std::optional<int64_t> pid = ParseNumber((*f)[1]);
      std::optional<int64_t> grace = ParseNumber((*f)[2]);
      if (pid && grace) Stop(*pid, *grace);
    }
  }
}

int LauncherLoop::Timeout() const {
  int64_t now = NowMs();
  int64_t timeout = -1;
  for (const auto& [pid, when] : children_) {
    if (!when) continue;
    int64_t left = std::max<int64_t>(0, *when - now);
    if (timeout < 0 || left < timeout) timeout = left;
  }
  return static_cast<int>(std::min<int64_t>(timeout, 60000));
}

void LauncherLoop::Run() {
  while (!eof_ || !children_.empty()) {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {fd_, POLLIN, 0}};
    int n = ::poll(fds, eof_ ? 1 : 2, Timeout());
    if (n < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) Reap();
    if (!eof_ && fds[1].revents != 0) ReadRequests();
    int64_t now = NowMs();
    for (auto& [pid, when] : children_) {
      if (when && *when <= now) {
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        when = now + 60000;  // once; its exit is reaped
      }
    }
  }
  ::_exit(0);
}

}  // namespace

void RunLauncherProcess(int fd) {
  ::prctl(PR_SET_NAME, "milter-launcher");
  // Keep only stdin, stdout, stderr and the socket (as fd 3).
  if (fd != 3) {
    ::dup2(fd, 3);
    fd = 3;
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::close_range(4, ~0U, 0);
  DefaultSignals();
  // A terminal's ^C or hangup is for the manager; the launcher ends when
  // the manager does.
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  int signal_fd = ::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd < 0) ::_exit(1);
  LauncherLoop(fd, signal_fd).Run();
}

}  // namespace milter::manager::launcher_internal
