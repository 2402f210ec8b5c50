// Test DNS servers: dnsmasq as a child process, and a silent UDP socket.

#include "manager/dns/test_dns_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace milter::manager::dns::testing {

namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A socket of `type` bound to 127.0.0.1:`port` (0: any free port), or -1.
int BindLoopback(int type, int port) {
  int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address = Loopback(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int LocalPort(int fd) {
  sockaddr_in address = {};
  socklen_t length = sizeof(address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

// A port free for both UDP and TCP on 127.0.0.1 right now, or 0.
int FreePort() {
  for (int attempt = 0; attempt < 20; ++attempt) {
    int udp = BindLoopback(SOCK_DGRAM, 0);
    if (udp < 0) return 0;
    int port = LocalPort(udp);
    int tcp = BindLoopback(SOCK_STREAM, port);
    ::close(udp);
    if (tcp >= 0) {
      ::close(tcp);
      return port;
    }
  }
  return 0;
}

std::string DnsQuery(const std::string& name, uint16_t id) {
  std::string packet = {static_cast<char>(id >> 8),
                        static_cast<char>(id),
                        1,
                        0,
                        0,
                        1,
                        0,
                        0,
                        0,
                        0,
                        0,
                        0};
  for (absl::string_view label : absl::StrSplit(name, '.', absl::SkipEmpty())) {
    packet.push_back(static_cast<char>(label.size()));
    packet.append(label.data(), label.size());
  }
  packet.append({0, 0, 1, 0, 1});  // root, type A, class IN
  return packet;
}

std::string LogPath(int port) {
  const char* dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  if (dir == nullptr) dir = std::getenv("TEST_TMPDIR");
  if (dir == nullptr) dir = "/tmp";
  return absl::StrCat(dir, "/dnsmasq-", port, ".log");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> Arguments(int port,
                                   const std::vector<HostRecord>& records,
                                   const std::vector<std::string>& zones) {
  std::vector<std::string> args = {Dnsmasq::kPath,
                                   "--keep-in-foreground",
                                   "--log-facility=-",
                                   "--log-queries",
                                   "--no-resolv",
                                   "--no-hosts",
                                   "--conf-file=/dev/null",
                                   "--pid-file=",
                                   "--bind-interfaces",
                                   "--listen-address=127.0.0.1",
                                   absl::StrCat("--port=", port)};
  // As root, dnsmasq would switch to "nobody", which containers may refuse.
  if (::geteuid() == 0) args.push_back("--user=root");
  for (const std::string& zone : zones) {
    args.push_back(absl::StrCat("--local=/", zone, "/"));
  }
  for (const HostRecord& r : records) {
    args.push_back(
        absl::StrCat("--host-record=", r.name, ",", r.address, ",", r.ttl));
  }
  return args;
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.data()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int error = posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(),
                          environ);
  posix_spawn_file_actions_destroy(&actions);
  return error == 0 ? pid : -1;
}

void Kill(pid_t pid) {
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

}  // namespace

bool Answers(int port, const std::string& name, int wait_ms) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in server = Loopback(port);
  std::string query =
      DnsQuery(name, static_cast<uint16_t>(std::random_device()()));
  bool answered = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&server), sizeof(server)) ==
          0 &&
      ::send(fd, query.data(), query.size(), 0) ==
          static_cast<ssize_t>(query.size())) {
    pollfd p = {fd, POLLIN, 0};
    char reply[512];
    answered = ::poll(&p, 1, wait_ms) == 1 &&
               ::recv(fd, reply, sizeof(reply), 0) >= 12 &&
               std::equal(reply, reply + 2, query.data());
  }
  ::close(fd);
  return answered;
}

bool Dnsmasq::Installed() { return ::access(kPath, X_OK) == 0; }

absl::StatusOr<std::unique_ptr<Dnsmasq>> Dnsmasq::Start(
    const std::vector<HostRecord>& records,
    const std::vector<std::string>& local_zones) {
  std::string failure = "no free port";
  // Another process may take the port between FreePort and dnsmasq's bind:
  // dnsmasq then exits, and another port is tried.
  for (int attempt = 0; attempt < 5; ++attempt) {
    int port = FreePort();
    if (port == 0) continue;
    std::string log = LogPath(port);
    pid_t pid = Spawn(Arguments(port, records, local_zones), log);
    if (pid < 0) return absl::InternalError("cannot run dnsmasq");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = -1;
        break;
      }
      if (Answers(port, "dnsmasq-ready.test", 100)) {
        return std::unique_ptr<Dnsmasq>(new Dnsmasq(pid, port));
      }
      // Refused at once (not listening yet): do not spin.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pid > 0) Kill(pid);
    failure = absl::StrCat("dnsmasq did not answer on port ", port, ": ",
                           ReadFile(log));
  }
  return absl::UnavailableError(failure);
}

Dnsmasq::~Dnsmasq() { Stop(); }

void Dnsmasq::Stop() {
  if (pid_ > 0) Kill(pid_);
  pid_ = -1;
}

std::string Dnsmasq::nameserver() const {
  return absl::StrCat("127.0.0.1:", port_);
}

absl::StatusOr<std::unique_ptr<SilentDnsServer>> SilentDnsServer::Start() {
  int fd = BindLoopback(SOCK_DGRAM, 0);
  if (fd < 0) return absl::InternalError("cannot bind a UDP socket");
  return std::unique_ptr<SilentDnsServer>(
      new SilentDnsServer(fd, LocalPort(fd)));
}

SilentDnsServer::~SilentDnsServer() { ::close(fd_); }

std::string SilentDnsServer::nameserver() const {
  return absl::StrCat("127.0.0.1:", port_);
}

int SilentDnsServer::CountQueries() {
  int count = 0;
  char buffer[512];
  while (::recv(fd_, buffer, sizeof(buffer), MSG_DONTWAIT) >= 0) ++count;
  return count;
}

}  // namespace milter::manager::dns::testing
