// AresChannel: c-ares' sockets and deadlines on the event loop.
//
// Each socket c-ares opens is watched with a stream_descriptor on a
// duplicate of it (c-ares owns, and closes, the original). asio's waits are
// edge-triggered, and c-ares may leave data unread (it reads a TCP answer in
// parts: the length, then the message), so a socket already ready when it
// is (re)armed is processed at once instead of waited on.

#include "manager/dns/ares_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/post.hpp"

namespace milter::manager::dns {

// One socket of c-ares, watched by the event loop.
struct SocketWatch {
  SocketWatch(const asio::any_io_executor& executor, int fd)
      : fd(fd), descriptor(executor) {}
  const int fd;  // c-ares' socket
  // A duplicate of `fd`; closed when c-ares closes its socket. Not open if
  // the duplicate could not be made: the socket's queries then time out.
  asio::posix::stream_descriptor descriptor;
  bool want_read = false, want_write = false;
  bool read_armed = false, write_armed = false;
  bool closed = false;
};

namespace {

bool ReadyNow(int fd, bool write) {
  pollfd p = {fd, static_cast<short>(write ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, 0) > 0 && p.revents != 0;
}

}  // namespace

absl::StatusOr<std::shared_ptr<AresChannel>> AresChannel::Create(
    asio::any_io_executor executor, ares_options options, int mask) {
  auto channel = std::make_shared<AresChannel>(std::move(executor));
  options.sock_state_cb = &AresChannel::OnSocketState;
  options.sock_state_cb_data = channel.get();
  int status = ares_init_options(&channel->channel_, &options,
                                 mask | ARES_OPT_SOCK_STATE_CB);
  if (status != ARES_SUCCESS) {
    channel->channel_ = nullptr;
    return absl::InternalError(
        absl::StrCat("c-ares setup failed: ", ares_strerror(status)));
  }
  return channel;
}

AresChannel::AresChannel(asio::any_io_executor executor)
    : executor_(std::move(executor)), timer_(executor_) {}

AresChannel::~AresChannel() { Shutdown(); }

void AresChannel::OnSocketState(void* data, ares_socket_t fd, int readable,
                                int writable) {
  AresChannel* self = static_cast<AresChannel*>(data);
  if (!readable && !writable) {
    self->Unwatch(fd);
    return;
  }
  auto [it, inserted] = self->watches_.try_emplace(fd);
  if (inserted) {
    it->second = std::make_shared<SocketWatch>(self->executor_, fd);
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy >= 0) {
      asio::error_code ec;
      it->second->descriptor.assign(copy, ec);
      if (ec) ::close(copy);
    }
  }
  std::shared_ptr<SocketWatch> watch = it->second;
  watch->want_read = readable != 0;
  watch->want_write = writable != 0;
  self->Arm(watch, false);
  self->Arm(watch, true);
}

void AresChannel::Arm(const std::shared_ptr<SocketWatch>& watch, bool write) {
  bool& armed = write ? watch->write_armed : watch->read_armed;
  bool wanted = write ? watch->want_write : watch->want_read;
  if (armed || !wanted || watch->closed || !watch->descriptor.is_open()) {
    return;
  }
  armed = true;
  auto handler = [weak = weak_from_this(), watch,
                  write](const asio::error_code& ec) {
    (write ? watch->write_armed : watch->read_armed) = false;
    if (ec || watch->closed) return;
    std::shared_ptr<AresChannel> self = weak.lock();
    if (self == nullptr) return;
    self->Process(write ? ARES_SOCKET_BAD : watch->fd,
                  write ? watch->fd : ARES_SOCKET_BAD);
    self->Arm(watch, write);
  };
  if (ReadyNow(watch->fd, write)) {
    asio::post(executor_, [handler = std::move(handler)]() mutable {
      handler(asio::error_code());
    });
  } else {
    watch->descriptor.async_wait(write
                                     ? asio::posix::descriptor_base::wait_write
                                     : asio::posix::descriptor_base::wait_read,
                                 std::move(handler));
  }
}

void AresChannel::Process(ares_socket_t read_fd, ares_socket_t write_fd) {
  if (channel_ == nullptr) return;
  ares_process_fd(channel_, read_fd, write_fd);
  ScheduleTimeout();
}

void AresChannel::ScheduleTimeout() {
  if (channel_ == nullptr) return;
  timeval storage;
  timeval* next = ares_timeout(channel_, nullptr, &storage);
  if (next == nullptr) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(std::chrono::seconds(next->tv_sec) +
                       std::chrono::microseconds(next->tv_usec));
  timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (ec) return;
    if (std::shared_ptr<AresChannel> self = weak.lock()) {
      self->Process(ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    }
  });
}

void AresChannel::Unwatch(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  it->second->closed = true;
  asio::error_code ignored;
  it->second->descriptor.close(ignored);
  watches_.erase(it);
}

void AresChannel::Shutdown() {
  if (channel_ != nullptr) {
    // Completes every query with ARES_EDESTRUCTION and closes the sockets
    // (each reported closed through OnSocketState).
    ares_channel doomed = channel_;
    channel_ = nullptr;
    ares_destroy(doomed);
  }
  while (!watches_.empty()) Unwatch(watches_.begin()->first);
  timer_.cancel();
}

}  // namespace milter::manager::dns
