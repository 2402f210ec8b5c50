// Logger: stderr, an append-only file, or syslog(3).

#include "manager/daemon/logger.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace milter::manager {
namespace {

int Facility(const std::string& name) {
  if (name == "daemon") return LOG_DAEMON;
  if (name == "user") return LOG_USER;
  if (name.size() == 6 && name.compare(0, 5, "local") == 0 && name[5] >= '0' &&
      name[5] <= '7') {
    static const int kLocal[] = {LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
                                 LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5,
                                 LOG_LOCAL6, LOG_LOCAL7};
    return kLocal[name[5] - '0'];
  }
  return LOG_MAIL;
}

int Priority(config::LogLevel level) {
  switch (level) {
    case config::ERROR:
      return LOG_ERR;
    case config::WARNING:
      return LOG_WARNING;
    case config::DEBUG:
      return LOG_DEBUG;
    default:
      return LOG_INFO;
  }
}

// Writes all of `text` unless the descriptor fails.
void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

}  // namespace

const char* LevelName(config::LogLevel level) {
  switch (level) {
    case config::ERROR:
      return "error";
    case config::WARNING:
      return "warning";
    case config::DEBUG:
      return "debug";
    default:
      return "info";
  }
}

absl::StatusOr<std::unique_ptr<Logger>> Logger::Create(
    const config::ManagerConfig& config) {
  const std::string& dest = config.log_destination();
  std::unique_ptr<Logger> logger;
  if (dest.empty() || dest == "stderr") {
    logger.reset(new Logger(Kind::kStderr, ""));
  } else if (dest == "syslog") {
    logger.reset(new Logger(Kind::kSyslog, config.syslog_facility()));
    ::openlog("milter-manager", LOG_PID | LOG_NDELAY,
              Facility(config.syslog_facility()));
  } else {
    logger.reset(new Logger(Kind::kFile, dest));
    std::lock_guard<std::mutex> lock(logger->mu_);
    if (absl::Status s = logger->OpenFile(); !s.ok()) return s;
  }
  logger->SetLevel(config.log_level() == config::LOG_LEVEL_UNSET
                       ? config::INFO
                       : config.log_level());
  return logger;
}

Logger::Logger(Kind kind, std::string target)
    : kind_(kind), target_(std::move(target)), level_(config::INFO) {}

Logger::~Logger() {
  if (fd_ >= 0) ::close(fd_);
  if (kind_ == Kind::kSyslog) ::closelog();
}

absl::Status Logger::OpenFile() {
  int fd = ::open(target_.c_str(),
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(
        "log_destination ", target_, ": cannot open: ", std::strerror(errno)));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
  return absl::OkStatus();
}

absl::Status Logger::Reopen() {
  if (kind_ != Kind::kFile) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  return OpenFile();
}

std::string Logger::destination() const {
  switch (kind_) {
    case Kind::kStderr:
      return "stderr";
    case Kind::kSyslog:
      return absl::StrCat("syslog (", target_, ")");
    case Kind::kFile:
      return target_;
  }
  return "stderr";
}

void Logger::Log(config::LogLevel level, std::string_view line) {
  if (level > level_.load(std::memory_order_relaxed)) return;
  switch (kind_) {
    case Kind::kStderr:
      WriteAll(STDERR_FILENO, absl::StrCat("milter-manager: ", LevelName(level),
                                           ": ", std::string(line), "\n"));
      return;
    case Kind::kSyslog:
      ::syslog(Priority(level), "%s: %.*s", LevelName(level),
               static_cast<int>(line.size()), line.data());
      return;
    case Kind::kFile: {
      std::string text =
          absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                        absl::UTCTimeZone()),
                       " milter-manager[", ::getpid(), "]: ", LevelName(level),
                       ": ", std::string(line), "\n");
      std::lock_guard<std::mutex> lock(mu_);
      WriteAll(fd_, text);
      return;
    }
  }
}

}  // namespace milter::manager
