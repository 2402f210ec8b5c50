// SocketLink: a child milter over a socket.

#include "manager/core/child_link.h"

#include "milter/net/socket_spec.h"

namespace milter::manager {

server::SessionOptions ChildSessionOptions(
    const config::ChildConfig& config, const codec::OptionNegotiation& offer) {
  server::SessionOptions options;
  options.version = offer.version;
  options.actions = offer.actions;
  options.protocol = offer.protocol;
  options.connect_timeout = absl::Seconds(config.connect_timeout());
  options.write_timeout = absl::Seconds(config.write_timeout());
  options.read_timeout = absl::Seconds(config.reading_timeout());
  options.end_of_message_timeout =
      absl::Seconds(config.end_of_message_timeout());
  return options;
}

SocketLink::SocketLink(const config::ChildConfig& config,
                       asio::any_io_executor executor,
                       const codec::OptionNegotiation& offer)
    : config_(config),
      session_(std::move(executor), ChildSessionOptions(config, offer)) {}

asio::awaitable<absl::Status> SocketLink::Open() {
  absl::StatusOr<net::SocketSpec> spec =
      net::ParseSocketSpec(config_.connection_spec());
  if (!spec.ok()) co_return spec.status();
  co_return co_await session_.Open(*spec);
}

}  // namespace milter::manager
