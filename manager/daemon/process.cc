// PidFile, SwitchUser and RaiseOpenFileLimit on POSIX calls.

#include "manager/daemon/process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace milter::manager {
namespace {

std::string Errno() { return std::strerror(errno); }

// getpwnam_r/getgrnam_r want a buffer; 64 KiB fits any sane entry.
constexpr size_t kEntryBuffer = 64 * 1024;

}  // namespace

absl::StatusOr<std::unique_ptr<PidFile>> PidFile::Create(
    const std::string& path) {
  int fd =
      ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("pid_file ", path, ": cannot open: ", Errno()));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char held[32] = {};
    ssize_t n = ::pread(fd, held, sizeof(held) - 1, 0);
    ::close(fd);
    std::string pid = n > 0 ? std::string(held, static_cast<size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) {
      pid.pop_back();
    }
    return absl::AlreadyExistsError(
        absl::StrCat("pid_file ", path,
                     ": another milter-manager holds it (PID ", pid, ")"));
  }
  std::string text = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) !=
                                     static_cast<ssize_t>(text.size())) {
    std::string error = Errno();
    ::close(fd);
    return absl::UnavailableError(
        absl::StrCat("pid_file ", path, ": cannot write: ", error));
  }
  return std::unique_ptr<PidFile>(new PidFile(path, fd));
}

PidFile::~PidFile() {
  ::unlink(path_.c_str());  // may fail after a user switch; the lock goes
  ::close(fd_);
}

absl::StatusOr<Account> LookUpAccount(const std::string& user,
                                      const std::string& group) {
  Account account;
  std::vector<char> buffer(kEntryBuffer);
  struct passwd pw;
  struct passwd* found_user = nullptr;
  uint32_t number = 0;
  int rc = ::getpwnam_r(user.c_str(), &pw, buffer.data(), buffer.size(),
                        &found_user);
  if (found_user != nullptr) {
    account.uid = pw.pw_uid;
    account.gid = pw.pw_gid;
    account.user_name = pw.pw_name;
  } else if (absl::SimpleAtoi(user, &number)) {
    account.uid = number;
    rc = ::getpwuid_r(number, &pw, buffer.data(), buffer.size(), &found_user);
    if (found_user != nullptr) {
      account.gid = pw.pw_gid;
      account.user_name = pw.pw_name;
    } else if (group.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "user ", user, ": no such account; give a group as well"));
    }
  } else {
    return absl::NotFoundError(absl::StrCat(
        "user ", user, ": no such user",
        rc != 0 ? absl::StrCat(" (", std::strerror(rc), ")") : ""));
  }
  if (group.empty()) return account;
  struct group gr;
  struct group* found_group = nullptr;
  ::getgrnam_r(group.c_str(), &gr, buffer.data(), buffer.size(), &found_group);
  if (found_group != nullptr) {
    account.gid = gr.gr_gid;
  } else if (absl::SimpleAtoi(group, &number)) {
    account.gid = number;
  } else {
    return absl::NotFoundError(
        absl::StrCat("group ", group, ": no such group"));
  }
  return account;
}

absl::Status SwitchUser(const Account& account) {
  if (::geteuid() == account.uid && ::getegid() == account.gid &&
      ::getuid() == account.uid) {
    return absl::OkStatus();
  }
  if (::geteuid() != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot run as uid ", account.uid,
                     ": only root may "
                     "switch users (running as uid ",
                     ::geteuid(), ")"));
  }
  int rc = account.user_name.empty()
               ? ::setgroups(0, nullptr)
               : ::initgroups(account.user_name.c_str(), account.gid);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("cannot set supplementary groups: ", Errno()));
  }
  if (::setgid(account.gid) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot set group ", account.gid, ": ", Errno()));
  }
  if (::setuid(account.uid) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot set user ", account.uid, ": ", Errno()));
  }
  if (account.uid != 0 && ::setuid(0) == 0) {
    return absl::InternalError("root could be regained after the switch");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> RaiseOpenFileLimit(uint64_t wanted) {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat("getrlimit: ", Errno()));
  }
  rlim_t target = limit.rlim_max;
  if (wanted != 0 && wanted < target) target = wanted;
  if (target == limit.rlim_cur) return static_cast<uint64_t>(target);
  limit.rlim_cur = target;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::InternalError(absl::StrCat(
        "cannot set the open-file limit to ", target, ": ", Errno()));
  }
  return static_cast<uint64_t>(target);
}

}  // namespace milter::manager
