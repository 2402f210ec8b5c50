// FakeFilter: a scripted, possibly hostile filter on a thread, for tests.

#include "milter/server/fake_filter.h"

#include <dirent.h>
#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "milter/codec/byte_order.h"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"

namespace milter::server::testing {
namespace {

// Blocking socket calls here retry on EINTR: with SO_RCVTIMEO set, Linux
// interrupts them even for a process that was only stopped and continued.
bool ReadFully(int fd, char* out, size_t n) {
  while (n > 0) {
    ssize_t got = ::read(fd, out, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    out += got;
    n -= static_cast<size_t>(got);
  }
  return true;
}

// Not $TEST_TMPDIR: Bazel's is longer than a Unix socket path may be.
std::string TempDir() { return "/tmp"; }

// The socket of this process connected to the Unix socket at `path`, or -1.
int FindConnectedSocket(const std::string& path) {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int found = -1;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    int fd = std::atoi(entry->d_name);
    sockaddr_un peer = {};
    socklen_t length = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) == 0 &&
        peer.sun_family == AF_UNIX &&
        std::strncmp(peer.sun_path, path.c_str(), sizeof(peer.sun_path)) == 0) {
      found = fd;
      break;
    }
  }
  ::closedir(dir);
  return found;
}

}  // namespace

codec::Command Packet::Parse() const {
  auto parsed = codec::ParseCommand(code, payload);
  if (!parsed.ok()) return codec::Abort{};
  return *parsed;
}

std::optional<Packet> FilterConnection::Read() {
  char prefix[4];
  if (!ReadFully(fd_, prefix, 4)) return std::nullopt;
  uint32_t length = codec::LoadBigEndian32(prefix);
  if (length == 0 || length > 4 * 1024 * 1024) return std::nullopt;
  Packet packet;
  if (!ReadFully(fd_, &packet.code, 1)) return std::nullopt;
  packet.payload.resize(length - 1);
  if (!ReadFully(fd_, packet.payload.data(), length - 1)) return std::nullopt;
  received_.push_back(packet);
  return packet;
}

std::optional<Packet> FilterConnection::ReadUntil(char code) {
  while (true) {
    std::optional<Packet> packet = Read();
    if (!packet || packet->code == code) return packet;
  }
}

bool FilterConnection::SendRaw(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void FilterConnection::Send(const codec::Response& response) {
  SendRaw(codec::Encode(response));
}

bool FilterConnection::Negotiate(
    uint32_t version, uint32_t actions, uint32_t protocol,
    std::vector<std::pair<int, std::string>> symbol_lists) {
  std::optional<Packet> o = ReadUntil('O');
  if (!o) return false;
  codec::OptionNegotiationReply reply;
  reply.version = version;
  reply.actions = actions;
  reply.protocol = protocol;
  for (const auto& [stage, list] : symbol_lists) {
    reply.symbol_lists[stage] = list;
  }
  Send(reply);
  return true;
}

bool FilterConnection::NegotiateEarly(uint32_t version, uint32_t actions,
                                      uint32_t protocol) {
  codec::OptionNegotiationReply reply;
  reply.version = version;
  reply.actions = actions;
  reply.protocol = protocol;
  Send(reply);
  return ReadUntil('O').has_value();
}

bool FilterConnection::WaitUntilPeerRead(std::chrono::milliseconds limit) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (true) {
    int unread = 0;
    if (::ioctl(fd_, SIOCOUTQ, &unread) != 0) return false;
    if (unread == 0) return true;
    if (std::chrono::steady_clock::now() >= give_up) return false;
    // No event tells the sender that its bytes were read: look again soon.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool FilterConnection::WaitForClose(std::chrono::milliseconds limit) {
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    // Not POLLIN: what the session sends stays unread.
    pollfd p = {fd_, POLLRDHUP, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return false;
    if (n > 0) return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }
}

void FilterConnection::Reset() {
  struct linger l = {1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  Close();
}

void FilterConnection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string FilterConnection::Codes() const {
  std::string codes;
  for (const Packet& p : received_) codes += p.code;
  return codes;
}

FakeFilter::FakeFilter(Script script) {
  static std::atomic<int> counter{0};
  path_ = TempDir() + "/fake-filter-" + std::to_string(::getpid()) + "-" +
          std::to_string(counter++) + ".sock";
  spec_ = "unix:" + path_;
  ::unlink(path_.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address),
             sizeof(address)) != 0 ||
      ::listen(listen_fd_, 8) != 0) {
    std::abort();
  }
  thread_ = std::thread([this, script = std::move(script)] {
    int fd;
    do {
      fd = ::accept(listen_fd_, nullptr, nullptr);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) return;
    timeval tv = {kPatience.count(), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    FilterConnection connection(fd);
    script(connection);
    connection.Close();
    std::lock_guard<std::mutex> lock(mu_);
    codes_ = connection.Codes();
  });
}

std::string FakeFilter::Join() {
  if (!joined_) {
    // Unblock accept() if nobody connected.
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    joined_ = true;
  }
  std::lock_guard<std::mutex> lock(mu_);
  return codes_;
}

bool FakeFilter::WaitUntilSessionCanRead(std::chrono::milliseconds limit) {
  int fd = FindConnectedSocket(path_);
  if (fd < 0) return false;
  auto give_up = std::chrono::steady_clock::now() + limit;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        give_up - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p = {fd, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n < 0 && errno != EINTR) return false;
    if (n > 0) return (p.revents & POLLIN) != 0;
  }
}

FakeFilter::~FakeFilter() {
  Join();
  ::close(listen_fd_);
  ::unlink(path_.c_str());
}

absl::Status OpenWithReplyWaiting(BlockingSession& session,
                                  FakeFilter& filter) {
  if (absl::Status s = session.Dial(filter.spec()); !s.ok()) return s;
  if (!filter.WaitUntilSessionCanRead()) {
    return absl::DeadlineExceededError(
        "the fake filter's negotiation reply did not arrive");
  }
  return session.Negotiate();
}

}  // namespace milter::server::testing
