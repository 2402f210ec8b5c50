// AresChannel: one c-ares channel whose sockets and deadlines are driven by
// an Asio executor's event loop. Internal to manager/dns (the Resolver's
// engine).
//
// c-ares reports through its socket-state callback which of its sockets it
// wants to read or write; each is watched by the event loop and
// ares_process_fd runs when it is ready. c-ares' own deadlines
// (retransmissions, giving up) run on one steady_timer, rearmed from
// ares_timeout after every call into c-ares: callers that start queries
// call ScheduleTimeout afterwards. Nothing blocks.
//
// Threading: not thread-safe; create, use and destroy it on the executor's
// thread. Handlers left on the loop hold weak references: they do nothing
// once the channel is gone.

#ifndef MANAGER_DNS_ARES_CHANNEL_H_
#define MANAGER_DNS_ARES_CHANNEL_H_

#include <ares.h>

#include <memory>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "asio/any_io_executor.hpp"
#include "asio/steady_timer.hpp"

namespace milter::manager::dns {

struct SocketWatch;

class AresChannel : public std::enable_shared_from_this<AresChannel> {
 public:
  // `options` and `mask` as for ares_init_options; the socket-state
  // callback is added here. Internal on failure.
  static absl::StatusOr<std::shared_ptr<AresChannel>> Create(
      asio::any_io_executor executor, ares_options options, int mask);
  explicit AresChannel(asio::any_io_executor executor);  // use Create
  ~AresChannel();

  // The channel, for ares_query and the like; null after Shutdown.
  ares_channel get() const { return channel_; }
  const asio::any_io_executor& executor() const { return executor_; }

  // Sets the timer to c-ares' next deadline (cancels it if there is none).
  void ScheduleTimeout();
  // Ends every query (their callbacks get ARES_EDESTRUCTION), closes the
  // sockets and stops watching them.
  void Shutdown();

 private:
  static void OnSocketState(void* data, ares_socket_t fd, int readable,
                            int writable);
  void Arm(const std::shared_ptr<SocketWatch>& watch, bool write);
  void Process(ares_socket_t read_fd, ares_socket_t write_fd);
  void Unwatch(int fd);

  asio::any_io_executor executor_;
  asio::steady_timer timer_;  // c-ares' next deadline
  ares_channel channel_ = nullptr;
  absl::flat_hash_map<int, std::shared_ptr<SocketWatch>> watches_;
};

}  // namespace milter::manager::dns

#endif  // MANAGER_DNS_ARES_CHANNEL_H_
