#include "milter/client/runner.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/basic_socket_acceptor.hpp"
#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/experimental/as_tuple.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/local/stream_protocol.hpp"
#include "asio/post.hpp"
#include "asio/redirect_error.hpp"
#include "asio/strand.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/net/socket_spec.h"

namespace milter::client {

using Generic = asio::generic::stream_protocol;

struct Runner::Listener {
  explicit Listener(asio::io_context& io) : acceptor(io) {}
  asio::basic_socket_acceptor<Generic> acceptor;
  std::string spec;
};

Runner::Runner(FilterFactory factory, RunnerOptions options)
    : factory_(std::move(factory)),
      options_(std::move(options)),
      signals_(io_),
      slot_timer_(io_),
      deadline_timer_(io_) {
  if (factory_.is_sync() && options_.worker_threads > 0) {
    pool_ = std::make_unique<asio::thread_pool>(options_.worker_threads);
    pool_executor_ = pool_->get_executor();
  }
  config_.factory = &factory_;
  config_.pool = pool_ ? &pool_executor_ : nullptr;
  config_.timeout = options_.timeout;
}

Runner::~Runner() {
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
  if (pool_) pool_->join();
}

namespace {

// Whether something accepts connections on the unix socket `path`.
bool UnixSocketInUse(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  bool in_use =
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return in_use;
}

std::string ErrorText(const std::error_code& ec) { return ec.message(); }

}  // namespace

absl::Status Runner::ListenOn(const std::string& spec_text) {
  absl::StatusOr<net::SocketSpec> spec = net::ParseSocketSpec(spec_text);
  if (!spec.ok()) return spec.status();
  auto listener = std::make_unique<Listener>(io_);
  std::error_code ec;
  if (spec->kind == net::SocketSpec::Kind::kUnix) {
    const std::string& path = spec->path;
    struct stat st;
    if (::lstat(path.c_str(), &st) == 0) {
      if (!S_ISSOCK(st.st_mode)) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": exists and is not a socket"));
      }
      if (UnixSocketInUse(path)) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": another process listens on it"));
      }
      if (!options_.remove_stale_socket) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": stale socket file exists"));
      }
      ::unlink(path.c_str());
    }
    asio::local::stream_protocol::endpoint local(path);
    Generic::endpoint endpoint(local);
    listener->acceptor.open(endpoint.protocol(), ec);
    if (!ec) listener->acceptor.bind(endpoint, ec);
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat(spec_text, ": bind: ", ErrorText(ec)));
    }
    unix_paths_.push_back(path);
    if (::chmod(path.c_str(), options_.unix_socket_mode) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, ": chmod: ", std::strerror(errno)));
    }
    if (!options_.unix_socket_group.empty()) {
      struct group* g = ::getgrnam(options_.unix_socket_group.c_str());
      if (g == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown group ", options_.unix_socket_group));
      }
      if (::chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
        return absl::FailedPreconditionError(
            absl::StrCat(path, ": chown: ", std::strerror(errno)));
      }
    }
    listener->spec = spec->ToString();
  } else {
    absl::StatusOr<std::vector<asio::ip::tcp::endpoint>> endpoints =
        net::ResolveTcp(*spec, /*for_listening=*/true);
    if (!endpoints.ok()) return endpoints.status();
    if (endpoints->empty()) {
      return absl::NotFoundError(absl::StrCat(spec_text, ": no address"));
    }
    asio::ip::tcp::endpoint tcp = endpoints->front();
    Generic::endpoint endpoint(tcp);
    listener->acceptor.open(endpoint.protocol(), ec);
    if (!ec) {
      listener->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
      ec.clear();
      listener->acceptor.bind(endpoint, ec);
    }
    if (ec) {
      return absl::FailedPreconditionError(
          absl::StrCat(spec_text, ": bind: ", ErrorText(ec)));
    }
    Generic::endpoint bound = listener->acceptor.local_endpoint(ec);
    uint16_t port = spec->port;
    if (!ec) {
      const sockaddr* sa = bound.data();
      if (sa->sa_family == AF_INET) {
        port = ntohs(reinterpret_cast<const sockaddr_in*>(sa)->sin_port);
      } else if (sa->sa_family == AF_INET6) {
        port = ntohs(reinterpret_cast<const sockaddr_in6*>(sa)->sin6_port);
      }
    }
    net::SocketSpec actual = *spec;
    actual.port = port;
    actual.host = tcp.address().to_string();
    listener->spec = actual.ToString();
  }
  listener->acceptor.listen(options_.backlog, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat(spec_text, ": listen: ", ErrorText(ec)));
  }
  bound_specs_.push_back(listener->spec);
  listeners_.push_back(std::move(listener));
  return absl::OkStatus();
}

absl::Status Runner::Listen() {
  if (listening_) return absl::OkStatus();
  if (options_.listen.empty()) {
    return absl::InvalidArgumentError("no socket spec to listen on");
  }
  for (const std::string& spec : options_.listen) {
    if (absl::Status s = ListenOn(spec); !s.ok()) return s;
  }
  listening_ = true;
  return absl::OkStatus();
}

absl::Status Runner::Run() {
  if (absl::Status s = Listen(); !s.ok()) return s;
  if (options_.handle_signals) {
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
    signals_.async_wait([this](const std::error_code& ec, int) {
      if (!ec) BeginStop();
    });
  }
  for (auto& listener : listeners_) {
    asio::co_spawn(io_, AcceptLoop(listener.get()), asio::detached);
  }
  std::vector<std::thread> threads;
  for (int i = 1; i < options_.io_threads; ++i) {
    threads.emplace_back([this] { io_.run(); });
  }
  io_.run();
  for (std::thread& t : threads) t.join();
  if (pool_) pool_->join();
  return absl::OkStatus();
}

void Runner::Stop() {
  asio::post(io_, [this] { BeginStop(); });
}

void Runner::BeginStop() {
  if (stopping_) return;
  stopping_ = true;
  std::error_code ec;
  signals_.cancel(ec);
  for (auto& listener : listeners_) listener->acceptor.close(ec);
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
  unix_paths_.clear();
  slot_timer_.cancel();
  if (active_.load() == 0) return;
  deadline_timer_.expires_after(options_.shutdown_deadline);
  deadline_timer_.async_wait([this](const std::error_code& ec) {
    if (ec) return;
    std::vector<std::shared_ptr<Session>> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      left.assign(sessions_.begin(), sessions_.end());
    }
    for (auto& s : left) {
      asio::post(s->executor(), [s] { s->Stop(); });
    }
  });
}

asio::awaitable<void> Runner::AcceptLoop(Listener* listener) {
  while (!stopping_) {
    while (options_.max_sessions > 0 &&
           active_.load() >= options_.max_sessions && !stopping_) {
      std::error_code ec;
      slot_timer_.expires_at(asio::steady_timer::time_point::max());
      co_await slot_timer_.async_wait(
          asio::redirect_error(asio::use_awaitable, ec));
    }
    if (stopping_) break;
    auto executor = options_.io_threads > 1
                        ? asio::any_io_executor(asio::make_strand(io_))
                        : asio::any_io_executor(io_.get_executor());
    auto [ec, socket] = co_await listener->acceptor.async_accept(
        executor, asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      // EMFILE and friends: back off instead of spinning.
      asio::steady_timer pause(io_, std::chrono::milliseconds(100));
      std::error_code ignored;
      co_await pause.async_wait(
          asio::redirect_error(asio::use_awaitable, ignored));
      continue;
    }
    StartSession(std::move(socket));
  }
}

void Runner::StartSession(Session::Socket socket) {
  std::error_code ec;
  socket.set_option(asio::ip::tcp::no_delay(true), ec);  // no-op on unix
  auto session = std::make_shared<Session>(std::move(socket), &config_);
  ++active_;
  ++total_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.insert(session);
  }
  asio::co_spawn(
      session->executor(), session->Run(),
      [this, session](std::exception_ptr) { SessionEnded(session); });
}

void Runner::SessionEnded(const std::shared_ptr<Session>& session) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(session);
  }
  size_t left = --active_;
  asio::post(io_, [this, left] {
    slot_timer_.cancel();
    if (stopping_ && left == 0) deadline_timer_.cancel();
  });
}

}  // namespace milter::client
