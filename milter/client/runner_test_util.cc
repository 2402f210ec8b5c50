// Helpers for the runner's socket tests (see runner_test_util.h).

#include "milter/client/runner_test_util.h"

#include <stdlib.h>

#include <cstdlib>
#include <utility>

#include "milter/codec/protocol.h"

namespace milter::client::test {

DiagnosticSink EventLog::Sink() {
  return [this](std::string_view line) { Add(line); };
}

void EventLog::Add(std::string_view line) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(line);
    ++generation_;
  }
  changed_.notify_all();
}

bool EventLog::WaitUntil(const std::function<bool()>& done) {
  auto give_up = std::chrono::steady_clock::now() + kSafetyTimeout;
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    uint64_t seen = generation_;
    lock.unlock();  // `done` may look at this log
    if (done()) return true;
    lock.lock();
    while (generation_ == seen) {
      if (changed_.wait_until(lock, give_up) == std::cv_status::timeout) {
        return false;
      }
    }
  }
}

bool EventLog::WaitForCount(std::string_view text, size_t n) {
  return WaitUntil([&] { return Count(text) >= n; });
}

size_t EventLog::Count(std::string_view text) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const std::string& line : lines_) {
    if (line.find(text) != std::string::npos) ++n;
  }
  return n;
}

std::vector<std::string> EventLog::Lines() {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

std::string TempDir() {
  std::string dir = "/tmp/rt.XXXXXX";
  char* made = ::mkdtemp(dir.data());
  return made ? std::string(made) : "/tmp";
}

Served::Served(FilterFactory factory, RunnerOptions options) {
  options.handle_signals = false;
  if (options.diagnostics) {
    options.diagnostics = [this](std::string_view line) {
      WriteDiagnosticToStderr(line);  // for the test log
      diagnostics_.Add(line);
    };
  }
  runner_ = std::make_unique<Runner>(std::move(factory), std::move(options));
  runner_->SetEventHookForTesting(events_.Sink());
  listen_status_ = runner_->Listen();
  if (listen_status_.ok()) {
    thread_ = std::thread([this] { run_status_ = runner_->Run(); });
  }
}

void Served::Stop() {
  if (thread_.joinable()) {
    runner_->Stop();
    thread_.join();
  }
}

void Served::Join() {
  if (thread_.joinable()) thread_.join();
}

uint16_t Served::port(size_t listener) {
  return PortOf(runner_->bound_specs().at(listener));
}

bool Served::WaitForNoSessions() {
  return events_.WaitUntil([this] { return runner_->active_sessions() == 0; });
}

asio::io_context& Io() {
  static asio::io_context io;
  return io;
}

template <class Socket>
std::optional<codec::Response> Mta<Socket>::Next() {
  while (true) {
    auto next = decoder_.Next();
    if (!next.ok()) return std::nullopt;
    if (next->has_value()) {
      if (const auto* y = std::get_if<codec::ReplyCode>(&**next)) {
        last_reply_ = std::string(y->text);
      }
      if (const auto* h = std::get_if<codec::AddHeader>(&**next)) {
        headers_.push_back(std::string(h->name) + ":" + std::string(h->value));
      }
      return **next;
    }
    asio::error_code ec;
    size_t n = socket_.read_some(asio::buffer(buf_, sizeof buf_), ec);
    if (ec || n == 0) return std::nullopt;
    held_.assign(buf_, n);
    decoder_.Feed(held_);
  }
}

template <class Socket>
std::string Mta<Socket>::ReadUntilVerdict() {
  std::string codes;
  while (std::optional<codec::Response> r = Next()) {
    char code = static_cast<char>(codec::CodeOf(*r));
    codes += code;
    if (std::string_view("Ocartdys").find(code) != std::string::npos) {
      return codes;
    }
  }
  return codes;
}

template class Mta<asio::local::stream_protocol::socket>;
template class Mta<asio::ip::tcp::socket>;

std::unique_ptr<UnixMta> ConnectUnix(const std::string& path) {
  asio::local::stream_protocol::socket s(Io());
  s.connect(asio::local::stream_protocol::endpoint(path));
  return std::make_unique<UnixMta>(std::move(s));
}

std::unique_ptr<TcpMta> ConnectTcp(uint16_t port) {
  asio::ip::tcp::socket s(Io());
  s.connect({asio::ip::make_address("127.0.0.1"), port});
  return std::make_unique<TcpMta>(std::move(s));
}

uint16_t PortOf(const std::string& spec) {
  return static_cast<uint16_t>(std::atoi(spec.c_str() + 5));
}

std::string ArgList(std::string_view a) {
  std::string s;
  codec::AppendString(a, &s);
  return s;
}

}  // namespace milter::client::test
