// floor_driver: the cheapest possible MTA side, to measure what any
// milter driver must at least spend per session.
//
//   floor_driver SOCKET_PATH GROUPS_FILE SESSIONS CONCURRENCY
//
// It replays, on a new unix-socket connection per session, the writes
// listed in GROUPS_FILE (one write per line, as hex: the bytes
// milter-test-server sends in one session, captured by run_bench.sh), and
// after every write but the last reads replies until a final one (the
// option negotiation reply or a verdict). No parsing beyond packet
// framing, no macros, no allocation per session: only the system calls a
// session needs (socket, connect, the sends, the receives, close), driven
// the way milter-test-server drives them (try to receive first, register
// with epoll only when the reply is not there yet).
//
// Prints "sessions N errors E seconds S". Exits 0 if every session ran (or
// after --help), 1 on a set-up error or if any session failed (refused,
// reset, closed early, or sent a reply nobody asked for), 2 on a usage
// error; the reason on standard error, one line.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

namespace {

struct Slot {
  int fd = -1;
  size_t group = 0;  // the group written last
  bool registered = false;
  size_t have = 0;  // bytes of an unfinished reply in buf
  char buf[4096];
};

bool IsFinalReply(char code) {
  return std::strchr("Oacdfrsty4", code) != nullptr;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadGroups(const char* path, std::vector<std::string>* groups) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.size() % 2 != 0) return false;
    std::string bytes;
    for (size_t i = 0; i < line.size(); i += 2) {
      int hi = HexValue(line[i]), lo = HexValue(line[i + 1]);
      if (hi < 0 || lo < 0) return false;
      bytes.push_back(static_cast<char>(hi * 16 + lo));
    }
    groups->push_back(bytes);
  }
  return groups->size() >= 2;
}

class Driver {
 public:
  Driver(const sockaddr_un& address, std::vector<std::string> groups,
         long sessions, int concurrency)
      : address_(address),
        groups_(std::move(groups)),
        remaining_(sessions),
        slots_(concurrency) {}

  // Runs every session; returns false if epoll cannot be set up.
  bool Run() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return false;
    for (Slot& slot : slots_) idle_.push_back(&slot);
    epoll_event events[256];
    while (true) {
      while (!idle_.empty() && remaining_ > 0) {
        Slot* slot = idle_.front();
        idle_.pop_front();
        Start(slot);
      }
      while (!ready_.empty()) {
        Slot* slot = ready_.front();
        ready_.pop_front();
        Receive(slot);
      }
      if (active_ == 0 && (remaining_ == 0 || idle_.empty())) break;
      if (!idle_.empty() && remaining_ > 0) continue;
      int n = epoll_wait(epoll_, events, 256, -1);
      for (int i = 0; i < n; ++i) {
        ready_.push_back(static_cast<Slot*>(events[i].data.ptr));
      }
    }
    close(epoll_);
    return true;
  }

  long done() const { return done_; }
  long errors() const { return errors_; }
  // Why the first failed session failed.
  const std::string& first_error() const { return first_error_; }

 private:
  void Start(Slot* slot) {
    --remaining_;
    ++active_;
    slot->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    slot->registered = false;
    slot->have = 0;
    slot->group = 0;
    if (slot->fd < 0) {
      Fail(slot, "socket");
      return;
    }
    if (connect(slot->fd, reinterpret_cast<const sockaddr*>(&address_),
                sizeof(address_)) != 0) {
      Fail(slot, "connect");
      return;
    }
    Write(slot);
  }

  // Writes group `slot->group`; after the last one the session ends.
  void Write(Slot* slot) {
    const std::string& g = groups_[slot->group];
    ssize_t sent = send(slot->fd, g.data(), g.size(), MSG_NOSIGNAL);
    if (sent != static_cast<ssize_t>(g.size())) {
      Fail(slot, sent < 0 ? "send" : "send: short write");
      return;
    }
    if (slot->group + 1 == groups_.size()) {
      Finish(slot, true);
      return;
    }
    ready_.push_back(slot);
  }

  void Receive(Slot* slot) {
    ssize_t n = recv(slot->fd, slot->buf + slot->have,
                     sizeof(slot->buf) - slot->have, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!slot->registered) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLET;
        ev.data.ptr = slot;
        if (epoll_ctl(epoll_, EPOLL_CTL_ADD, slot->fd, &ev) != 0) {
          Fail(slot, "epoll_ctl");
          return;
        }
        slot->registered = true;
      }
      return;
    }
    if (n <= 0) {
      Fail(slot, n < 0 ? "recv" : "recv: the filter closed the connection");
      return;
    }
    slot->have += n;
    // Walk the complete packets; a final reply ends the group.
    size_t at = 0;
    while (slot->have - at >= 5) {
      const unsigned char* p =
          reinterpret_cast<const unsigned char*>(slot->buf + at);
      size_t len = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) |
                   (size_t{p[2]} << 8) | p[3];
      if (len == 0 || len > sizeof(slot->buf) - 4) {
        Fail(slot, "a reply with a bad length");
        return;
      }
      if (slot->have - at < 4 + len) break;
      char code = static_cast<char>(p[4]);
      at += 4 + len;
      if (IsFinalReply(code)) {
        if (at != slot->have) {
          Fail(slot, "a reply nobody asked for");
          return;
        }
        slot->have = 0;
        ++slot->group;
        Write(slot);
        return;
      }
    }
    std::memmove(slot->buf, slot->buf + at, slot->have - at);
    slot->have -= at;
    ready_.push_back(slot);
  }

  // Ends a failed session; `what` ends with errno's text if it names a call.
  void Fail(Slot* slot, const char* what) {
    if (first_error_.empty()) {
      first_error_ = what;
      if (std::strchr(what, ' ') == nullptr) {
        first_error_ += std::string(": ") + std::strerror(errno);
      }
    }
    Finish(slot, false);
  }

  void Finish(Slot* slot, bool ok) {
    if (slot->fd >= 0) close(slot->fd);
    slot->fd = -1;
    --active_;
    if (ok) {
      ++done_;
    } else {
      ++errors_;
    }
    idle_.push_back(slot);
  }

  sockaddr_un address_;
  std::vector<std::string> groups_;
  long remaining_;
  std::vector<Slot> slots_;
  std::deque<Slot*> ready_;  // to try to receive on, in turn
  std::deque<Slot*> idle_;   // free for a new session
  int epoll_ = -1;
  long active_ = 0;
  long done_ = 0;
  long errors_ = 0;
  std::string first_error_;
};

constexpr char kUsage[] =
    "usage: floor_driver SOCKET_PATH GROUPS_FILE SESSIONS CONCURRENCY\n";

// The one line on standard error that says why the driver stopped.
void Complain(const std::string& why) {
  std::fprintf(stderr, "floor_driver: %s\n", why.c_str());
}

// A whole decimal number in [min, max], nothing else.
bool ParseCount(const char* text, long min, long max, long* out) {
  errno = 0;
  char* end = nullptr;
  long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

int Main(int argc, char** argv) {
  if (argc == 2 && (std::strcmp(argv[1], "--help") == 0 ||
                    std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 5) {
    Complain("want SOCKET_PATH GROUPS_FILE SESSIONS CONCURRENCY (see --help)");
    return 2;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t length = std::strlen(argv[1]);
  if (length == 0 || length >= sizeof(address.sun_path)) {
    Complain("socket path is " + std::to_string(length) +
             " bytes long; the limit is " +
             std::to_string(sizeof(address.sun_path) - 1));
    return 2;
  }
  std::memcpy(address.sun_path, argv[1], length);
  long sessions = 0, concurrency = 0;
  if (!ParseCount(argv[3], 1, 1L << 40, &sessions) ||
      !ParseCount(argv[4], 1, 100000, &concurrency)) {
    Complain("SESSIONS must be 1 or more, CONCURRENCY 1..100000");
    return 2;
  }
  if (std::ifstream probe(argv[2]); !probe) {
    Complain(std::string(argv[2]) + ": " + std::strerror(errno));
    return 1;
  }
  std::vector<std::string> groups;
  if (!ReadGroups(argv[2], &groups)) {
    Complain(std::string(argv[2]) + ": want two or more lines of hex bytes");
    return 1;
  }
  Driver driver(address, std::move(groups), sessions,
                static_cast<int>(concurrency));
  auto start = std::chrono::steady_clock::now();
  if (!driver.Run()) {
    Complain(std::string("epoll: ") + std::strerror(errno));
    return 1;
  }
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::printf("sessions %ld errors %ld seconds %.3f\n", driver.done(),
              driver.errors(), seconds);
  if (driver.errors() == 0) return 0;
  std::fflush(stdout);
  Complain(std::to_string(driver.errors()) + " of " + std::to_string(sessions) +
           " sessions failed (first: " + driver.first_error() + ")");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    Complain(e.what());
  }
  return 1;
}
