// DNS servers for tests, on 127.0.0.1 only.
//
// Dnsmasq runs the real dnsmasq (/usr/sbin/dnsmasq) in the foreground at a
// free port, serving fixed A records under local zones: names in those zones
// without a record are NXDOMAIN, names elsewhere are refused. Start returns
// once dnsmasq answers a query (it is asked until it does), and the
// destructor kills it.
//
// SilentDnsServer is a UDP socket that receives queries and never answers.
//
// Both are for one test thread; they block only while starting and
// stopping. RunUntilDone runs a coroutine to its end on an io_context.

#ifndef MANAGER_DNS_TEST_DNS_SERVER_H_
#define MANAGER_DNS_TEST_DNS_SERVER_H_

#include <sys/types.h>

#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "asio/awaitable.hpp"
#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "asio/steady_timer.hpp"

namespace milter::manager::dns::testing {

struct HostRecord {
  std::string name;     // "2.0.0.127.bl.test"
  std::string address;  // "127.0.0.2" (A) or "2001:db8::5" (AAAA only)
  int ttl = 60;
};

class Dnsmasq {
 public:
  static constexpr const char* kPath = "/usr/sbin/dnsmasq";
  static bool Installed();

  static absl::StatusOr<std::unique_ptr<Dnsmasq>> Start(
      const std::vector<HostRecord>& records,
      const std::vector<std::string>& local_zones);
  ~Dnsmasq();

  // Kills dnsmasq now (later queries get no answer).
  void Stop();
  int port() const { return port_; }
  std::string nameserver() const;  // "127.0.0.1:PORT"

 private:
  Dnsmasq(pid_t pid, int port) : pid_(pid), port_(port) {}
  pid_t pid_;
  int port_;
};

class SilentDnsServer {
 public:
  static absl::StatusOr<std::unique_ptr<SilentDnsServer>> Start();
  ~SilentDnsServer();

  std::string nameserver() const;  // "127.0.0.1:PORT"
  // How many datagrams arrived and were not yet counted (never blocks).
  int CountQueries();

 private:
  SilentDnsServer(int fd, int port) : fd_(fd), port_(port) {}
  int fd_;
  int port_;
};

// Runs `io` until `task` has finished and returns its result (rethrows its
// exception). Other work may still be pending on `io` afterwards.
// Counts 10 ms ticks on `io` from construction until Stop(): proof that
// the event loop kept running (nothing blocked it) meanwhile.
class LoopTicker {
 public:
  explicit LoopTicker(asio::io_context& io) : timer_(io) { Tick(); }
  void Stop() {
    done_ = true;
    timer_.cancel();
  }
  int ticks() const { return ticks_; }

 private:
  void Tick() {
    timer_.expires_after(std::chrono::milliseconds(10));
    timer_.async_wait([this](const asio::error_code& ec) {
      if (ec || done_) return;
      ++ticks_;
      Tick();
    });
  }
  asio::steady_timer timer_;
  int ticks_ = 0;
  bool done_ = false;
};

template <typename T>
T RunUntilDone(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
  });
  io.restart();
  while (!result && !error) io.run_one();
  if (error) std::rethrow_exception(error);
  return *std::move(result);
}

// Sends one A query for `name` to 127.0.0.1:`port` and waits up to
// `wait_ms` for a reply; true when one came (whatever it says).
bool Answers(int port, const std::string& name, int wait_ms);

}  // namespace milter::manager::dns::testing

#endif  // MANAGER_DNS_TEST_DNS_SERVER_H_
