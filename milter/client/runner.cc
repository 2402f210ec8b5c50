// The runner: listeners, the accept loops (max_sessions, open-file limit),
// signals, the graceful and the forced stop, and the timeout sweeper.

#include "milter/client/runner.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asio/basic_socket_acceptor.hpp"
#include "asio/co_spawn.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/local/stream_protocol.hpp"
#include "asio/post.hpp"
#include "asio/redirect_error.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/net/socket_spec.h"

namespace milter::client {

void WriteDiagnosticToStderr(std::string_view line) {
  // One write per line, so concurrent lines do not interleave.
  std::string text = absl::StrCat("milter: ", std::string(line), "\n");
  std::fwrite(text.data(), 1, text.size(), stderr);
}

using Generic = asio::generic::stream_protocol;

struct Runner::Listener {
  using Acceptor = asio::basic_socket_acceptor<Generic>;
  explicit Listener(asio::io_context& io) : acceptor(io), timer(io) {}
  Acceptor acceptor;
  std::string spec;
  // This listener's own wait: for a free session slot, or after a failed
  // accept. Cancelled when a session ends.
  asio::steady_timer timer;
  uint64_t failures = 0;  // failed accepts since the last success
};

namespace {

// How long an accept loop pauses after a failed accept (EMFILE, ENFILE,
// ENOBUFS...) unless a session ends first and frees a descriptor.
constexpr std::chrono::milliseconds kAcceptRetry{100};

// Keeps objects that abandoned callbacks may still use (event loops, the
// worker pool) reachable for the life of the process.
void KeepForever(void* object) {
  static std::mutex* mu = new std::mutex;
  static std::vector<void*>* kept = new std::vector<void*>;
  std::lock_guard<std::mutex> lock(*mu);
  kept->push_back(object);
}

}  // namespace

Runner::Runner(FilterFactory factory, RunnerOptions options)
    : io_owner_(std::make_unique<asio::io_context>()),
      io_(*io_owner_),
      factory_(std::move(factory)),
      options_(std::move(options)),
      signals_(io_),
      deadline_timer_(io_),
      sweep_timer_(io_) {
  for (int i = 1; i < options_.io_threads; ++i) {
    extra_io_.push_back(std::make_unique<asio::io_context>(1));
    extra_work_.emplace_back(extra_io_.back()->get_executor());
  }
  if (factory_.is_sync() && options_.worker_threads > 0) {
    pool_ = std::make_unique<asio::thread_pool>(options_.worker_threads);
    pool_executor_ = pool_->get_executor();
  }
  config_.factory = &factory_;
  config_.pool = pool_ ? &pool_executor_ : nullptr;
  config_.timeout = options_.timeout;
  config_.diagnostics = &options_.diagnostics;
  config_.on_end = [this](Session* s) { SessionEnded(s); };
  config_.on_final_stop = [this] {
    asio::post(io_, [this] { CheckAbandon(); });
  };
  config_.test_events = &test_events_;
  config_.queued_high_water = &queued_high_water_;
}

Runner::~Runner() {
  // Sessions destroyed with the event loops below must not call back.
  config_.on_end = nullptr;
  config_.on_final_stop = nullptr;
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
  if (abandoned_) {
    // A stuck callback still runs on the pool and will post its result to
    // an event loop: neither may be destroyed (nor the pool joined).
    if (pool_) {
      pool_->stop();
      KeepForever(pool_.release());
    }
    for (auto& io : extra_io_) KeepForever(io.release());
    KeepForever(io_owner_.release());
  } else if (pool_) {
    pool_->join();
  }
}

void Runner::Report(std::string_view line) const {
  if (options_.diagnostics) options_.diagnostics(line);
}

void Runner::Event(std::string_view name) const {
  if (test_events_) test_events_(name);
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
  if (options_.handle_signals) {
    // Caught from now on: a stop requested between Listen() and Run() (a
    // supervisor that saw the listener) is kept for Run().
    signals_.add(SIGTERM);
    signals_.add(SIGINT);
  }
  listening_ = true;
  return absl::OkStatus();
}

absl::Status Runner::Run() {
  if (absl::Status s = Listen(); !s.ok()) return s;
  if (options_.handle_signals) {
    WaitForSignal();
  }
  for (auto& listener : listeners_) {
    // An accept loop never throws by design; should one (std::bad_alloc),
    // say so rather than stop accepting in silence.
    asio::co_spawn(
        io_, AcceptLoop(listener.get()),
        [this, spec = listener->spec](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            Report(absl::StrCat("accepting on ", spec, " stopped: ", x.what()));
          } catch (...) {
            Report(absl::StrCat("accepting on ", spec, " stopped"));
          }
        });
  }
  ArmSweeper();
  std::vector<std::thread> threads;
  for (auto& io : extra_io_) {
    threads.emplace_back([&io] { io->run(); });
  }
  io_.run();
  for (std::thread& t : threads) t.join();
  // Abandoned callbacks may never return: the pool is left to them.
  if (pool_ && !abandoned_) pool_->join();
  return absl::OkStatus();
}

void Runner::WaitForSignal() {
  signals_.async_wait([this](const std::error_code& ec, int) {
    if (ec || finished_) return;
    RequestStop();
    if (!finished_) WaitForSignal();  // a second signal forces the stop
  });
}

void Runner::Stop() {
  asio::post(io_, [this] { RequestStop(); });
}

void Runner::RequestStop() {
  if (stopping_) return ForceStop();
  BeginStop();
}

void Runner::BeginStop() {
  if (stopping_) return;
  stopping_ = true;
  std::error_code ec;
  for (auto& listener : listeners_) {
    listener->acceptor.close(ec);
    listener->timer.cancel();
  }
  for (const std::string& path : unix_paths_) ::unlink(path.c_str());
  unix_paths_.clear();
  Event("stopping");
  if (active_.load() == 0) return MaybeFinish();
  deadline_timer_.expires_after(options_.shutdown_deadline);
  deadline_timer_.async_wait([this](const std::error_code& ec) {
    if (!ec) ForceStop();
  });
}

void Runner::ForceStop() {
  if (forcing_ || finished_) return;
  BeginStop();
  if (finished_) return;
  forcing_ = true;
  deadline_timer_.cancel();
  Event("force-stop");
  StopSessions(/*expired_only=*/false);
  CheckAbandon();
}

// After a forced stop: once every remaining session is stuck in a callback
// (the others end at once), leave them to it and let Run() return.
void Runner::CheckAbandon() {
  if (!forcing_ || finished_) return;
  std::vector<std::string> stuck;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (sessions_ == nullptr) return;  // MaybeFinish ends the run
    for (Session* s = sessions_; s != nullptr; s = s->list_next) {
      if (!s->StuckInCallback()) return;  // still ending
      stuck.push_back(s->CallbackName());
    }
  }
  for (const std::string& name : stuck) {
    Report(absl::StrCat(
        "shutdown: abandoning a session whose filter callback (", name,
        ") is still running after the stop deadline; its connection is "
        "closed and the filter will not be called again"));
  }
  finished_ = true;
  abandoned_ = true;
  Event("abandoned");
  std::error_code ec;
  signals_.cancel(ec);
  sweep_timer_.cancel();
  io_.stop();
  for (auto& io : extra_io_) io->stop();
}

void Runner::MaybeFinish() {
  if (!stopping_ || active_.load() != 0 || finished_) return;
  finished_ = true;
  std::error_code ec;
  signals_.cancel(ec);
  deadline_timer_.cancel();
  sweep_timer_.cancel();
  extra_work_.clear();  // lets the other event loops return
}

void Runner::StopSessions(bool expired_only) {
  auto now = std::chrono::steady_clock::now();
  // Posted after mu_ is released: the last reference to a session may be
  // dropped here, and its destructor takes mu_.
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Session* s = sessions_; s != nullptr; s = s->list_next) {
      if (expired_only && !s->Expired(now)) continue;
      // The session may be ending on another thread: only a live one is
      // stopped (its destructor waits for mu_ to leave the set).
      std::shared_ptr<Session> session = s->weak_from_this().lock();
      if (session) live.push_back(std::move(session));
    }
  }
  bool final = !expired_only;
  for (std::shared_ptr<Session>& session : live) {
    asio::any_io_executor executor = session->executor();
    asio::post(executor,
               [session = std::move(session), final] { session->Stop(final); });
  }
}

void Runner::ArmSweeper() {
  auto period = std::clamp(options_.timeout / 4, std::chrono::milliseconds(10),
                           std::chrono::milliseconds(1000));
  sweep_timer_.expires_after(period);
  sweep_timer_.async_wait([this](const std::error_code& ec) {
    if (ec || finished_) return;
    StopSessions(/*expired_only=*/true);
    ArmSweeper();
  });
}

bool Runner::Full() const {
  return options_.max_sessions > 0 && active_.load() >= options_.max_sessions;
}

// Each loop waits on its own listener's timer, so waiting loops never wake
// each other; a session's end wakes them all.
void Runner::WakeAcceptLoops() {
  for (auto& listener : listeners_) listener->timer.cancel();
}

// Accepts without blocking (waiting for readiness when nothing is pending),
// so a loop never holds an accepted connection while max_sessions is
// reached.
asio::awaitable<void> Runner::AcceptLoop(Listener* listener) {
  std::error_code ec;
  listener->acceptor.non_blocking(true, ec);
  bool ready = true;  // try at once; wait for readiness once none is pending
  while (!stopping_) {
    if (Full()) {
      Event("accept-slot-wait");
      co_await WaitOnTimer(listener, asio::steady_timer::time_point::max());
      if (!stopping_) Event("accept-slot-wake");
      continue;
    }
    Accepted result;
    if (ready) {
      result = AcceptOne(listener);
    } else {
      co_await listener->acceptor.async_wait(
          Listener::Acceptor::wait_read,
          asio::redirect_error(asio::use_awaitable, ec));
      if (stopping_ || ec == asio::error::operation_aborted) break;
      if (!ec) {  // readable: check the slot again, then accept
        ready = true;
        continue;
      }
      AcceptFailed(listener, ec);
      result = Accepted::kFailed;
    }
    ready = result == Accepted::kOne;  // more may be pending
    if (result == Accepted::kFailed && !stopping_) {
      // EMFILE and friends: the connection stays in the backlog; retry
      // later, or as soon as a session ends and frees a descriptor.
      co_await WaitOnTimer(
          listener, asio::steady_timer::clock_type::now() + kAcceptRetry);
    }
  }
}

asio::awaitable<void> Runner::WaitOnTimer(
    Listener* listener, asio::steady_timer::time_point until) {
  listener->timer.expires_at(until);
  std::error_code ec;
  co_await listener->timer.async_wait(
      asio::redirect_error(asio::use_awaitable, ec));
}

Runner::Accepted Runner::AcceptOne(Listener* listener) {
  size_t pick = extra_io_.empty() ? 0 : next_io_ % (extra_io_.size() + 1);
  asio::io_context& target = pick == 0 ? io_ : *extra_io_[pick - 1];
  Session::Socket socket(target);
  std::error_code ec;
  listener->acceptor.accept(socket, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again ||
      ec == asio::error::connection_aborted || ec == asio::error::interrupted) {
    return Accepted::kNone;  // nothing pending, or the client gave up
  }
  if (ec) {
    AcceptFailed(listener, ec);
    return Accepted::kFailed;
  }
  ++next_io_;
  if (listener->failures > 0) {
    Report(absl::StrCat("accepting connections on ", listener->spec,
                        " again (after ", listener->failures,
                        " failed attempts)"));
    listener->failures = 0;
  }
  StartSession(std::move(socket));
  Event("session-started");
  return Accepted::kOne;
}

// Reported once per episode: the first failure after a success.
void Runner::AcceptFailed(Listener* listener, const std::error_code& ec) {
  Event("accept-error");
  if (listener->failures++ > 0) return;
  bool no_descriptors = ec.value() == EMFILE || ec.value() == ENFILE;
  Report(absl::StrCat(
      "cannot accept connections on ", listener->spec, ": ", ec.message(),
      no_descriptors ? " (the open-file limit is reached: raise it, e.g. "
                       "ulimit -n, or lower max_sessions)"
                     : "",
      "; connections wait in the backlog, retrying"));
}

void Runner::StartSession(Session::Socket socket) {
  std::error_code ec;
  // Fails on unix sockets: tells the kinds apart without another call.
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  bool tcp = !ec;
  auto session = std::make_shared<Session>(std::move(socket), &config_, tcp);
  ++active_;
  ++total_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Session* s = session.get();
    s->list_next = sessions_;
    if (sessions_) sessions_->list_prev = s;
    sessions_ = s;
  }
  asio::post(session->executor(), [session] { session->Start(); });
}

void Runner::SessionEnded(Session* session) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (session->list_prev) {
      session->list_prev->list_next = session->list_next;
    } else {
      sessions_ = session->list_next;
    }
    if (session->list_next) session->list_next->list_prev = session->list_prev;
  }
  --active_;
  Event("session-ended");
  asio::post(io_, [this] {
    WakeAcceptLoops();
    MaybeFinish();
    CheckAbandon();
  });
}

}  // namespace milter::client
