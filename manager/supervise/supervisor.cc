// Supervisor: launched children's life cycle and the circuit breaker's
// probes, on one io_context thread.

#include "manager/supervise/supervisor.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "asio/co_spawn.hpp"
#include "asio/detached.hpp"
#include "asio/posix/stream_descriptor.hpp"
#include "asio/post.hpp"
#include "asio/redirect_error.hpp"
#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/net/socket_spec.h"
#include "milter/server/session.h"

namespace milter::manager {
namespace {

LaunchSpec SpecOf(const config::ChildConfig& c) {
  LaunchSpec spec;
  spec.command = c.command();
  spec.arguments.assign(c.arguments().begin(), c.arguments().end());
  spec.user = c.user();
  spec.group = c.group();
  spec.working_directory = c.working_directory();
  spec.environment.assign(c.environment().begin(), c.environment().end());
  return spec;
}

bool SameSpec(const LaunchSpec& a, const LaunchSpec& b) {
  return a.command == b.command && a.arguments == b.arguments &&
         a.user == b.user && a.group == b.group &&
         a.working_directory == b.working_directory &&
         a.environment == b.environment;
}

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

asio::awaitable<void> Sleep(absl::Duration d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, ToChrono(d));
  std::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

// A connection to `spec` (and with `negotiate` an option negotiation), then
// closed: how a probe finds out whether the child answers.
asio::awaitable<absl::Status> TryChild(net::SocketSpec spec,
                                       server::SessionOptions options,
                                       bool negotiate, bool* connected) {
  auto executor = co_await asio::this_coro::executor;
  server::Session session(executor, options);
  absl::Status s = co_await session.Connect(spec);
  *connected = s.ok();
  if (s.ok() && negotiate) s = co_await session.Negotiate();
  if (s.ok() && negotiate) {
    absl::Status quit = co_await session.Quit();
    (void)quit;
  }
  co_return s;
}

const config::ChildConfig* FindChild(const config::ManagerConfig* config,
                                     const std::string& name) {
  if (config == nullptr) return nullptr;
  for (const config::ChildConfig& c : config->child()) {
    if (c.name() == name && c.enabled()) return &c;
  }
  return nullptr;
}

}  // namespace

struct Supervisor::Launched {
  explicit Launched(asio::io_context& io) : timer(io) {}
  std::string name;
  LaunchSpec spec;
  std::string socket;  // its connection_spec
  std::shared_ptr<ChildHealth> health;
  asio::steady_timer timer;  // the restart delay
  int64_t pid = 0;
  uint64_t request = 0;     // the launch request in flight; 0: none
  uint64_t generation = 0;  // counts launches; stale waits end
  uint64_t restarts = 0;
  int crashes = 0;                          // exits in a row, for the delay
  absl::Time up_at = absl::InfinitePast();  // when it last came up
  bool removed = false;                     // stop; do not restart
  std::optional<LaunchSpec> replacement;    // relaunch with it after exit
};

Supervisor::Supervisor(std::shared_ptr<HealthRegistry> health,
                       std::unique_ptr<Launcher> launcher, Log log,
                       absl::Duration stop_grace)
    : health_(std::move(health)),
      launcher_(std::move(launcher)),
      log_(std::move(log)),
      stop_grace_(stop_grace),
      work_(io_.get_executor()) {
  health_->SetOpenedHook([this](std::shared_ptr<ChildHealth> child) {
    asio::post(io_, [this, child] {
      if (stopping_ || !probing_.insert(child->name()).second) return;
      Emit(config::WARNING,
           absl::StrCat("child ", child->name(), " is down after ",
                        health_->circuit_failures(),
                        " failures in a row (last: ", child->last_error(),
                        "): sessions give its fallback until a probe "
                        "succeeds"));
      asio::co_spawn(io_, Probe(child), asio::detached);
    });
  });
  if (launcher_ != nullptr) {
    asio::co_spawn(io_, ReadEvents(), asio::detached);
  }
  thread_ = std::thread([this] { io_.run(); });
}

Supervisor::~Supervisor() { Stop(); }

bool Supervisor::LaunchesChildren(const config::ManagerConfig& config) {
  for (const config::ChildConfig& c : config.child()) {
    if (!c.command().empty() && c.enabled()) return true;
  }
  return false;
}

void Supervisor::Emit(config::LogLevel level, const std::string& line) const {
  if (log_) log_(level, line);
}

void Supervisor::Configure(
    std::shared_ptr<const config::ManagerConfig> config) {
  health_->Configure(*config);
  asio::post(io_, [this, config] { Apply(config); });
}

void Supervisor::Apply(std::shared_ptr<const config::ManagerConfig> config) {
  if (stopping_) return;
  config_ = std::move(config);
  absl::flat_hash_set<std::string> seen;
  for (const config::ChildConfig& c : config_->child()) {
    if (c.command().empty() || !c.enabled()) continue;
    seen.insert(c.name());
    LaunchSpec spec = SpecOf(c);
    auto it = launched_.find(c.name());
    if (it == launched_.end()) {
      auto child = std::make_unique<Launched>(io_);
      child->name = c.name();
      child->spec = std::move(spec);
      child->socket = c.connection_spec();
      child->health = health_->Get(c.name());
      Launched& ref = *child;
      launched_[c.name()] = std::move(child);
      Launch(ref);
      continue;
    }
    Launched& child = *it->second;
    child.socket = c.connection_spec();
    child.health = health_->Get(c.name());  // a new record if it was removed
    if (child.removed) {
      // Still stopping after a removal: started again once it exited.
      child.removed = false;
      child.replacement = std::move(spec);
      continue;
    }
    if (SameSpec(child.spec, spec)) continue;
    if (child.pid != 0) {
      child.replacement = std::move(spec);
      (void)launcher_->Stop(child.pid, stop_grace_);
    } else {
      child.spec = std::move(spec);
    }
  }
  std::vector<std::string> gone;
  for (auto& [name, child] : launched_) {
    if (seen.contains(name)) continue;
    child->removed = true;
    child->timer.cancel();
    if (child->pid != 0) {
      (void)launcher_->Stop(child->pid, stop_grace_);
    } else if (child->request == 0) {
      gone.push_back(name);
    }
  }
  for (const std::string& name : gone) launched_.erase(name);
}

void Supervisor::Launch(Launched& child) {
  if (child.generation > 0) ++child.restarts;
  ++child.generation;
  child.health->SetProcess(true, 0, child.restarts);
  if (launcher_ == nullptr) {
    child.health->Set(ChildState::Health::kDown,
                      "it has a command but the manager started no launcher");
    Emit(config::ERROR, absl::StrCat("child ", child.name,
                                     ": it has a command but the manager "
                                     "started no launcher"));
    return;
  }
  child.health->Set(ChildState::Health::kStarting);
  child.request = ++next_request_;
  if (absl::Status s = launcher_->Launch(child.request, child.spec); !s.ok()) {
    child.request = 0;
    ScheduleRestart(child, std::string(s.message()));
  }
}

void Supervisor::ScheduleRestart(Launched& child, const std::string& why) {
  child.health->Set(ChildState::Health::kDown, why);
  if (stopping_ || child.removed) return;
  absl::Duration initial = absl::Seconds(config_->restart_backoff_initial());
  absl::Duration maximum = absl::Seconds(config_->restart_backoff_maximum());
  if (child.up_at != absl::InfinitePast() &&
      absl::Now() - child.up_at > maximum) {
    child.crashes = 0;
  }
  child.up_at = absl::InfinitePast();
  absl::Duration delay = initial * std::pow(2.0, std::min(child.crashes, 40));
  delay = std::min(delay, maximum);
  ++child.crashes;
  Emit(config::WARNING,
       absl::StrCat("child ", child.name, ": ", why, "; restarting in ",
                    absl::FormatDuration(delay)));
  child.timer.expires_after(ToChrono(delay));
  child.timer.async_wait([this, name = child.name](std::error_code ec) {
    if (ec || stopping_) return;
    auto it = launched_.find(name);
    if (it == launched_.end() || it->second->removed) return;
    if (it->second->pid == 0 && it->second->request == 0) Launch(*it->second);
  });
}

Supervisor::Launched* Supervisor::ByPid(int64_t pid) {
  for (auto& [name, child] : launched_) {
    if (child->pid == pid) return child.get();
  }
  return nullptr;
}

void Supervisor::OnEvent(const LaunchEvent& event) {
  if (event.kind == LaunchEvent::Kind::kExited) {
    Launched* child = ByPid(event.pid);
    if (child == nullptr) return;
    {
      absl::MutexLock lock(&mu_);
      --running_;
    }
    OnExit(*child, event.detail);
    return;
  }
  Launched* child = nullptr;
  for (auto& [name, c] : launched_) {
    if (c->request == event.id) child = c.get();
  }
  if (child == nullptr) return;
  child->request = 0;
  if (event.kind == LaunchEvent::Kind::kFailed) {
    ScheduleRestart(*child, absl::StrCat("cannot be started: ", event.detail));
    return;
  }
  child->pid = event.pid;
  {
    absl::MutexLock lock(&mu_);
    ++running_;
  }
  child->health->SetProcess(true, child->pid, child->restarts);
  Emit(config::INFO,
       absl::StrCat("child ", child->name, " started: ", child->spec.command,
                    " (pid ", child->pid, ")"));
  if (stopping_ || child->removed || child->replacement) {
    (void)launcher_->Stop(child->pid, stop_grace_);
    return;
  }
  asio::co_spawn(io_, WaitListening(child->name, child->generation),
                 asio::detached);
}

void Supervisor::OnExit(Launched& child, const std::string& detail) {
  bool asked = stopping_ || child.removed || child.replacement.has_value();
  Emit(asked ? config::INFO : config::WARNING,
       absl::StrCat("child ", child.name, " (pid ", child.pid,
                    ") exited: ", detail));
  child.pid = 0;
  child.health->SetProcess(true, 0, child.restarts);
  if (stopping_) {
    child.health->Set(ChildState::Health::kDown,
                      absl::StrCat("stopped: ", detail));
    return;
  }
  if (child.removed) {
    launched_.erase(child.name);
    return;
  }
  if (child.replacement) {
    child.spec = *std::move(child.replacement);
    child.replacement.reset();
    child.crashes = 0;
    Launch(child);
    return;
  }
  ScheduleRestart(child, absl::StrCat("exited: ", detail));
}

asio::awaitable<void> Supervisor::ReadEvents() {
  asio::posix::stream_descriptor socket(io_, ::dup(launcher_->event_fd()));
  while (true) {
    std::error_code ec;
    co_await socket.async_wait(asio::posix::stream_descriptor::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    while (true) {
      absl::StatusOr<std::optional<LaunchEvent>> event = launcher_->Poll();
      if (!event.ok()) {
        if (!stopping_) {
          Emit(config::ERROR, std::string(event.status().message()));
        }
        for (auto& [name, child] : launched_) {
          child->health->Set(ChildState::Health::kDown, "the launcher exited");
        }
        absl::MutexLock lock(&mu_);
        running_ = 0;
        co_return;
      }
      if (!event->has_value()) break;
      OnEvent(**event);
    }
  }
}

asio::awaitable<void> Supervisor::WaitListening(std::string name,
                                                uint64_t generation) {
  absl::Time deadline =
      absl::Now() + absl::Seconds(config_->child_start_timeout());
  absl::Duration pause = absl::Milliseconds(20);
  std::string last_error;
  while (true) {
    auto it = launched_.find(name);
    if (stopping_ || it == launched_.end() ||
        it->second->generation != generation || it->second->pid == 0) {
      co_return;
    }
    absl::StatusOr<net::SocketSpec> spec =
        net::ParseSocketSpec(it->second->socket);
    if (!spec.ok()) co_return;  // validated at load
    server::SessionOptions options;
    options.connect_timeout = absl::Seconds(1);
    bool connected = false;
    absl::Status s = co_await TryChild(*spec, options, false, &connected);
    it = launched_.find(name);
    if (it == launched_.end() || it->second->generation != generation ||
        it->second->pid == 0 || stopping_) {
      co_return;
    }
    Launched& child = *it->second;
    if (s.ok()) {
      child.health->Set(ChildState::Health::kUp);
      child.up_at = absl::Now();
      Emit(config::INFO, absl::StrCat("child ", name, " (pid ", child.pid,
                                      ") is up on ", child.socket));
      co_return;
    }
    last_error = std::string(s.message());
    if (absl::Now() > deadline) {
      std::string why = absl::StrCat(
          "did not accept connections on ", child.socket, " within ",
          config_->child_start_timeout(), " seconds (", last_error, ")");
      Emit(config::ERROR,
           absl::StrCat("child ", name, " ", why, ": stopping it"));
      child.health->Set(ChildState::Health::kStarting, why);
      (void)launcher_->Stop(child.pid, stop_grace_);
      co_return;
    }
    co_await Sleep(pause);
    pause = std::min(pause * 2, absl::Seconds(1));
  }
}

asio::awaitable<void> Supervisor::Probe(std::shared_ptr<ChildHealth> health) {
  const std::string name = health->name();
  while (!stopping_ && health->health() == ChildState::Health::kDown) {
    co_await Sleep(absl::Seconds(config_->circuit_probe_interval()));
    const config::ChildConfig* c = FindChild(config_.get(), name);
    if (stopping_ || c == nullptr ||
        health->health() != ChildState::Health::kDown) {
      break;
    }
    absl::StatusOr<net::SocketSpec> spec =
        net::ParseSocketSpec(c->connection_spec());
    if (!spec.ok()) break;
    server::SessionOptions options;
    options.connect_timeout = absl::Seconds(c->connect_timeout());
    options.write_timeout = absl::Seconds(c->write_timeout());
    options.read_timeout = absl::Seconds(c->reading_timeout());
    bool connected = false;
    absl::Status s = co_await TryChild(*spec, options, true, &connected);
    auto it = launched_.find(name);
    if (!connected && it != launched_.end() && it->second->pid != 0) {
      Emit(config::WARNING,
           absl::StrCat("child ", name, " (pid ", it->second->pid,
                        ") refuses connections (", s.message(),
                        "): restarting it"));
      health->Set(ChildState::Health::kDown, std::string(s.message()));
      (void)launcher_->Stop(it->second->pid, stop_grace_);
      break;
    }
    if (!s.ok()) {
      health->Set(ChildState::Health::kDown,
                  absl::StrCat("probe: ", s.message()));
      continue;
    }
    health->Set(ChildState::Health::kUp);
    Emit(config::INFO, absl::StrCat("child ", name, " answers again"));
  }
  probing_.erase(name);
}

void Supervisor::BeginStop() {
  stopping_ = true;
  for (auto& [name, child] : launched_) {
    child->timer.cancel();
    if (child->pid != 0) (void)launcher_->Stop(child->pid, stop_grace_);
  }
}

void Supervisor::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  health_->SetOpenedHook(nullptr);
  asio::post(io_, [this] { BeginStop(); });
  {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](int* running) { return *running <= 0; }, &running_),
        stop_grace_ + absl::Seconds(3));
  }
  work_.reset();
  io_.stop();
  thread_.join();
}

}  // namespace milter::manager
