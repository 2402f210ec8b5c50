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
                       const codec::OptionNegotiation& offer, ChildPool* pool)
    : config_(config),
      executor_(std::move(executor)),
      options_(ChildSessionOptions(config, offer)),
      pool_(config.reuse_connection() ? pool : nullptr) {
  if (pool_ != nullptr) {
    pool_key_ = ChildPool::Key(config.name(), config.connection_spec(),
                               options_, executor_);
    session_ = pool_->Take(pool_key_);
    reused_ = session_ != nullptr;
  }
  if (session_ == nullptr) {
    session_ = std::make_unique<server::Session>(executor_, options_);
  }
}

asio::awaitable<absl::Status> SocketLink::Open() {
  if (reused_) {
    reused_ = false;
    // A kept connection: a new session on it. The child may have closed
    // it meanwhile; then a fresh one.
    absl::Status again = co_await session_->Negotiate();
    if (again.ok()) {
      reused_ever_ = true;
      co_return again;
    }
    session_ = std::make_unique<server::Session>(executor_, options_);
  }
  absl::StatusOr<net::SocketSpec> spec =
      net::ParseSocketSpec(config_.connection_spec());
  if (!spec.ok()) co_return spec.status();
  co_return co_await session_->Open(*spec);
}

asio::awaitable<absl::Status> SocketLink::Quit() {
  if (pool_ == nullptr || !session_->negotiated_ok() ||
      !session_->error().ok()) {
    co_return co_await session_->Quit();
  }
  absl::Status s = co_await session_->QuitNewConnection();
  if (s.ok()) pool_->Put(pool_key_, std::move(session_));
  co_return s;
}

}  // namespace milter::manager
