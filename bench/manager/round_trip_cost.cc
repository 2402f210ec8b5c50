// round_trip_cost: the CPU one request/answer round trip costs each side on
// this machine, between two event-loop processes over Unix stream sockets:
// the least any milter manager spends per round trip it relays.
//
//   round_trip_cost [--threaded] [PAIRS=10] [ROUND_TRIPS=20000] [BYTES=32]
//
// PAIRS socket pairs (as many concurrent sessions). A forked answerer
// serves every pair from one epoll loop (with --threaded: a thread per pair
// blocked in read(2), as libmilter serves its connections): it receives a
// request and sends a 5-byte answer (a milter "continue"). The asker, one
// epoll loop, sends
// a BYTES-byte request on every pair and the next one on a pair as soon as
// its answer is in, until ROUND_TRIPS round trips in all. Nothing is parsed
// and nothing allocated: only the sends, receives and epoll waits.
//
// Prints "round_trips N asker_us R answerer_us A wall_us W": CPU
// (user+system, getrusage) per round trip of each process and wall time per
// round trip. Exits 0 on success, 1 on a system error (with the reason), 2
// on a usage error.
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "round_trip_cost: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

double CpuSeconds(const rusage& r) {
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) * 1e-6;
}

// One epoll loop over `fds`: on every readable descriptor, receives what is
// there and calls `on_data(index, bytes)`. Stops when `on_data` returns
// false or every peer has closed.
template <typename OnData>
void Loop(const std::vector<int>& fds, OnData on_data) {
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Die("epoll_create1");
  for (size_t i = 0; i < fds.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) Die("epoll_ctl");
  }
  size_t open = fds.size();
  epoll_event events[64];
  char buffer[4096];
  while (open > 0) {
    int n = ::epoll_wait(ep, events, 64, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die("epoll_wait");
    for (int e = 0; e < n; ++e) {
      size_t i = events[e].data.u64;
      ssize_t got = ::recv(fds[i], buffer, sizeof buffer, 0);
      if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (got < 0) Die("recv");
      if (got == 0) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fds[i], nullptr);
        --open;
        continue;
      }
      if (!on_data(i, static_cast<size_t>(got))) {
        ::close(ep);
        return;
      }
    }
  }
  ::close(ep);
}

void SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) Die("send");
    data += n;
    size -= static_cast<size_t>(n);
  }
}

long Arg(int argc, char** argv, int i, long fallback) {
  if (argc <= i) return fallback;
  char* end = nullptr;
  long v = std::strtol(argv[i], &end, 10);
  if (*end != '\0' || v <= 0) {
    std::fprintf(stderr, "round_trip_cost: not a positive number: %s\n",
                 argv[i]);
    std::exit(2);
  }
  return v;
}

// The answerer with a thread per pair, each blocked in read(2) until its
// request comes: every request wakes a sleeping thread.
void AnswerThreaded(const std::vector<int>& fds) {
  std::vector<std::thread> threads;
  for (int fd : fds) {
    threads.emplace_back([fd] {
      char buffer[4096];
      while (true) {
        ssize_t got = ::read(fd, buffer, sizeof buffer);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) Die("read");
        if (got == 0) return;
        SendAll(fd, "\0\0\0\1c", 5);
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 &&
      (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf(
        "usage: round_trip_cost [--threaded] [PAIRS=10] [ROUND_TRIPS=20000] "
        "[BYTES=32]\n"
        "CPU per request/answer round trip of each of two event-loop\n"
        "processes over Unix stream sockets, PAIRS at once; with\n"
        "--threaded the answerer has a thread per pair.\n");
    return 0;
  }
  bool threaded = argc > 1 && std::string(argv[1]) == "--threaded";
  if (threaded) {
    --argc;
    ++argv;
  }
  if (argc > 4) {
    std::fprintf(stderr, "round_trip_cost: too many arguments (see --help)\n");
    return 2;
  }
  const size_t pairs = static_cast<size_t>(Arg(argc, argv, 1, 10));
  const long total = Arg(argc, argv, 2, 20000);
  const size_t bytes = static_cast<size_t>(Arg(argc, argv, 3, 32));
  std::vector<int> asker, answerer;
  for (size_t i = 0; i < pairs; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      Die("socketpair");
    }
    asker.push_back(sv[0]);
    answerer.push_back(sv[1]);
  }
  pid_t pid = ::fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    for (int fd : asker) ::close(fd);
    if (threaded) {
      AnswerThreaded(answerer);
    } else {
      Loop(answerer, [&](size_t i, size_t) {
        SendAll(answerer[i], "\0\0\0\1c", 5);
        return true;
      });
    }
    std::_Exit(0);
  }
  for (int fd : answerer) ::close(fd);
  std::string request(bytes, 'x');
  rusage before{}, after{};
  ::getrusage(RUSAGE_SELF, &before);
  auto start = std::chrono::steady_clock::now();
  long sent = 0, answered = 0;
  for (size_t i = 0; i < pairs && sent < total; ++i, ++sent) {
    SendAll(asker[i], request.data(), request.size());
  }
  // Answers are 5 bytes; several may come in one receive.
  std::vector<size_t> pending(pairs, 0);
  Loop(asker, [&](size_t i, size_t got) {
    pending[i] += got;
    while (pending[i] >= 5) {
      pending[i] -= 5;
      ++answered;
      if (sent < total) {
        SendAll(asker[i], request.data(), request.size());
        ++sent;
      }
    }
    return answered < total;
  });
  auto wall = std::chrono::steady_clock::now() - start;
  ::getrusage(RUSAGE_SELF, &after);
  for (int fd : asker) ::close(fd);
  int status = 0;
  rusage peer{};
  if (::wait4(pid, &status, 0, &peer) != pid) Die("wait4");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "round_trip_cost: the answerer failed\n");
    return 1;
  }
  double n = static_cast<double>(total);
  std::printf("round_trips %ld asker_us %.2f answerer_us %.2f wall_us %.2f\n",
              total, (CpuSeconds(after) - CpuSeconds(before)) * 1e6 / n,
              CpuSeconds(peer) * 1e6 / n,
              std::chrono::duration<double, std::micro>(wall).count() / n);
  return 0;
}
