// milter-load: a lean MTA-side load generator for milter filters, built on
// the codec. Sessions are pre-encoded once per negotiated flag set; each of
// --connections coroutines runs sessions back to back (a new connection per
// session, as Postfix does) until --sessions are done. Reports sessions/s,
// latency percentiles and its own CPU time, so the filter's cost can be told
// apart from the generator's.
//
//   milter-load -s unix:/tmp/f.sock --connections 10 --sessions 20000
//   milter-load -s unix:/tmp/f.sock --idle 10000 --hold 30   (memory test)
//
// The last line is machine-readable: "RESULT key=value ...".

#include <sys/resource.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "asio/co_spawn.hpp"
#include "asio/connect.hpp"
#include "asio/generic/stream_protocol.hpp"
#include "asio/io_context.hpp"
#include "asio/ip/tcp.hpp"
#include "asio/local/stream_protocol.hpp"
#include "asio/read.hpp"
#include "asio/signal_set.hpp"
#include "asio/steady_timer.hpp"
#include "asio/use_awaitable.hpp"
#include "asio/write.hpp"
#include "milter/codec/decoder.h"
#include "milter/codec/encoder.h"
#include "milter/codec/message.h"
#include "milter/codec/negotiation.h"
#include "milter/net/socket_spec.h"
#include "tools/common/command_line.h"

ABSL_FLAG(std::string, connection_spec, "", "Filter socket spec (short: -s)");
ABSL_FLAG(int, connections, 10, "Concurrent connections");
ABSL_FLAG(int, sessions, 10000, "Total sessions");
ABSL_FLAG(int, headers, 10, "Headers per message (the first is Subject)");
ABSL_FLAG(int, body_size, 4096, "Body bytes per message");
ABSL_FLAG(std::string, subject, "NOMOD load test", "Subject header value");
ABSL_FLAG(int, idle, 0,
          "Instead of sessions: open this many connections, negotiate, and "
          "hold them idle");
ABSL_FLAG(int, hold, 30,
          "Seconds to hold idle connections (or until "
          "SIGTERM/SIGINT)");
ABSL_FLAG(std::string, mta_protocol, "0x1fffff",
          "Protocol flags the MTA offers (default: every SMFIP flag of "
          "version 6; 0x100f7f: all but the no-reply flags)");
ABSL_FLAG(int, idle_parallel, 200, "Idle mode: connections opened at once");

namespace {

namespace codec = milter::codec;
using Generic = asio::generic::stream_protocol;
using Clock = std::chrono::steady_clock;

struct Step {
  std::string bytes;
  bool expect_reply;
  bool body = false;  // a body chunk (skipped after an 's' answer)
};

// The message's headers as they would be in the message, CRLF-terminated.
std::vector<std::pair<std::string, std::string>> Headers() {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = 0; i < absl::GetFlag(FLAGS_headers); ++i) {
    out.emplace_back(i == 0 ? "Subject" : "X-Load-" + std::to_string(i),
                     i == 0 ? absl::GetFlag(FLAGS_subject)
                            : "header value number " + std::to_string(i));
  }
  return out;
}

// The size of the message in SMTP (headers, blank line, body), as an MTA
// reports in MAIL FROM's SIZE= argument.
size_t MessageSize() {
  size_t size = 2;  // the blank line
  for (const auto& [name, value] : Headers()) {
    size += name.size() + 2 + value.size() + 2;
  }
  return size +
         static_cast<size_t>(std::max(0, absl::GetFlag(FLAGS_body_size)));
}

// The message body: --body_size bytes of numbered CRLF lines.
std::string Body() {
  std::string body;
  for (int i = 0;
       static_cast<int>(body.size()) < absl::GetFlag(FLAGS_body_size); ++i) {
    body += "body line " + std::to_string(i) + " of the load test message\r\n";
  }
  body.resize(std::max(0, absl::GetFlag(FLAGS_body_size)));
  return body;
}

// Session packets after negotiation, honouring the filter's don't-send and
// no-reply flags (an MTA does the same).
std::vector<Step> BuildSteps(uint32_t protocol) {
  namespace p = codec::protocol;
  auto sends = [&](uint32_t f) { return (protocol & f) == 0; };
  auto replies = [&](uint32_t f) { return (protocol & f) == 0; };
  std::vector<Step> steps;
  std::string pairs, b;
  auto macro = [&](char cmd, std::initializer_list<const char*> kv) {
    pairs.clear();
    for (auto it = kv.begin(); it != kv.end(); it += 2) {
      codec::AppendMacroPair(*it, *(it + 1), &pairs);
    }
    codec::EncodeCommand(codec::DefineMacros{cmd, codec::StringList(pairs)},
                         &b);
  };
  if (sends(p::kNoConnect)) {
    b.clear();
    macro('C', {"j", "mx.load.example", "{daemon_name}", "load"});
    codec::EncodeCommand(
        codec::Connect{"client.load.example", codec::Family::kInet, 40000,
                       "192.0.2.10"},
        &b);
    steps.push_back({b, replies(p::kNoReplyConnect)});
  }
  if (sends(p::kNoHelo)) {
    b.clear();
    codec::EncodeCommand(codec::Helo{"client.load.example"}, &b);
    steps.push_back({b, replies(p::kNoReplyHelo)});
  }
  if (sends(p::kNoMail)) {
    b.clear();
    macro('M', {"{mail_addr}", "sender@load.example"});
    std::string args;
    codec::AppendString("<sender@load.example>", &args);
    codec::AppendString("SIZE=" + std::to_string(MessageSize()), &args);
    codec::EncodeCommand(codec::Mail{codec::StringList(args)}, &b);
    steps.push_back({b, replies(p::kNoReplyMail)});
  }
  if (sends(p::kNoRcpt)) {
    b.clear();
    macro('R', {"{rcpt_addr}", "rcpt@dest.example"});
    std::string args;
    codec::AppendString("<rcpt@dest.example>", &args);
    codec::EncodeCommand(codec::Rcpt{codec::StringList(args)}, &b);
    steps.push_back({b, replies(p::kNoReplyRcpt)});
  }
  if (sends(p::kNoData)) {
    b.clear();
    macro('T', {"i", "4ABCDEF0123"});
    codec::EncodeCommand(codec::Data{}, &b);
    steps.push_back({b, replies(p::kNoReplyData)});
  }
  if (sends(p::kNoHeaders)) {
    for (const auto& [name, value] : Headers()) {
      b.clear();
      codec::EncodeCommand(codec::Header{name, value}, &b);
      steps.push_back({b, replies(p::kNoReplyHeader)});
    }
  }
  if (sends(p::kNoEndOfHeaders)) {
    b.clear();
    codec::EncodeCommand(codec::EndOfHeaders{}, &b);
    steps.push_back({b, replies(p::kNoReplyEndOfHeaders)});
  }
  std::string body = Body();
  if (sends(p::kNoBody) && !body.empty()) {
    for (size_t off = 0; off < body.size(); off += codec::kBodyChunkSize) {
      b.clear();
      codec::EncodeCommand(codec::BodyChunk{std::string_view(body).substr(
                               off, codec::kBodyChunkSize)},
                           &b);
      steps.push_back({b, replies(p::kNoReplyBody), /*body=*/true});
    }
  }
  b.clear();
  codec::EncodeCommand(codec::EndOfMessage{}, &b);
  steps.push_back({b, true});
  return steps;
}

class Load {
 public:
  Load(asio::io_context& io, Generic::endpoint endpoint, uint32_t protocol)
      : io_(io),
        endpoint_(endpoint),
        offer_(codec::Encode(
            codec::OptionNegotiation{6, codec::action::kAll, protocol})) {}

  // Runs one session; false on a protocol or I/O error.
  asio::awaitable<bool> Session(Generic::socket& s) {
    codec::ResponseDecoder decoder(codec::kMaxPayload1M);
    std::string held;
    char buf[16384];
    // The next response; throws on EOF.
    auto next = [&]() -> asio::awaitable<std::optional<codec::Response>> {
      while (true) {
        auto r = decoder.Next();
        if (!r.ok()) {
          Note(absl::StrCat("bad reply: ", r.status().message()));
          co_return std::nullopt;
        }
        if (r->has_value()) co_return std::move(**r);
        size_t n =
            co_await s.async_read_some(asio::buffer(buf), asio::use_awaitable);
        held.assign(buf, n);
        decoder.Feed(held);
      }
    };
    co_await asio::async_write(s, asio::buffer(offer_), asio::use_awaitable);
    auto reply = co_await next();
    if (!reply) co_return false;
    auto* o = std::get_if<codec::OptionNegotiationReply>(&*reply);
    if (!o) {
      Note("the filter's first reply is not an option negotiation reply");
      co_return false;
    }
    const std::vector<Step>& steps = StepsFor(o->protocol);
    bool skip_body = false;
    for (const Step& step : steps) {
      if (step.body && skip_body) continue;
      co_await asio::async_write(s, asio::buffer(step.bytes),
                                 asio::use_awaitable);
      if (!step.expect_reply) continue;
      bool done = false;
      while (true) {  // skip modifications and progress up to the verdict
        auto r = co_await next();
        if (!r) co_return false;
        char code = static_cast<char>(codec::CodeOf(*r));
        if (code == 'c') break;
        if (code == 's' && step.body) {
          skip_body = true;  // as an MTA: no more chunks, on to end of message
          break;
        }
        if (code == 'p' || std::string_view("hime+2-bq").find(code) !=
                               std::string_view::npos) {
          continue;
        }
        done = true;  // accept, reject, tempfail, discard, reply code
        break;
      }
      if (done) break;
    }
    std::string quit = codec::Encode(codec::Quit{});
    co_await asio::async_write(s, asio::buffer(quit), asio::use_awaitable);
    co_return true;
  }

  asio::awaitable<void> Worker(int total) {
    while (started_ < total) {
      ++started_;
      auto t0 = Clock::now();
      bool ok = false;
      const char* step = "connect";
      try {
        Generic::socket s(io_);
        co_await s.async_connect(endpoint_, asio::use_awaitable);
        std::error_code ignored;  // TCP only; unix sockets refuse it
        s.set_option(asio::ip::tcp::no_delay(true), ignored);
        step = "session";
        ok = co_await Session(s);
      } catch (const std::exception& e) {
        Note(absl::StrCat(step, ": ", e.what()));
        ok = false;
      }
      if (ok) {
        latencies_us_.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() -
                                                                  t0)
                .count()));
      } else {
        ++errors_;
      }
    }
  }

  asio::awaitable<void> IdleOpener(int total) {
    while (started_ < total) {
      ++started_;
      const char* step = "connect";
      try {
        auto s = std::make_unique<Generic::socket>(io_);
        co_await s->async_connect(endpoint_, asio::use_awaitable);
        step = "negotiate";
        co_await asio::async_write(*s, asio::buffer(offer_),
                                   asio::use_awaitable);
        char buf[64];
        size_t got = 0;
        while (got < 17) {  // 4 + 1 + 12: the 'O' reply
          got += co_await s->async_read_some(asio::buffer(buf + got, 64 - got),
                                             asio::use_awaitable);
        }
        idle_.push_back(std::move(s));
      } catch (const std::exception& e) {
        Note(absl::StrCat(step, ": ", e.what()));
        ++errors_;
      }
    }
  }

  const std::vector<Step>& StepsFor(uint32_t protocol) {
    auto it = steps_.find(protocol);
    if (it == steps_.end()) {
      it = steps_.emplace(protocol, BuildSteps(protocol)).first;
    }
    return it->second;
  }

  std::vector<uint32_t>& latencies() { return latencies_us_; }
  int errors() const { return errors_; }
  // Why the first failed session failed ("" if none did).
  const std::string& first_error() const { return first_error_; }
  // Counts a worker that ended with an exception.
  void WorkerFailed(std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      Note(x.what());
    } catch (...) {
      Note("unknown exception");
    }
    ++errors_;
  }
  size_t idle_count() const { return idle_.size(); }
  void CloseIdle() { idle_.clear(); }

 private:
  asio::io_context& io_;
  Generic::endpoint endpoint_;
  std::string offer_;
  std::map<uint32_t, std::vector<Step>> steps_;
  // Keeps the first reason a session failed.
  void Note(std::string_view why) {
    if (first_error_.empty()) first_error_ = std::string(why);
  }

  int started_ = 0;
  int errors_ = 0;
  std::string first_error_;
  std::vector<uint32_t> latencies_us_;
  std::vector<std::unique_ptr<Generic::socket>> idle_;
};

// Decimal, 0x hex or 0 octal, up to 32 bits, nothing else.
bool ParseFlags32(const std::string& text, uint32_t* out) {
  if (text.empty() || text[0] == '-' || text[0] == '+' ||
      std::isspace(static_cast<unsigned char>(text[0]))) {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long value = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0' ||
      value > 0xffffffffULL) {
    return false;
  }
  *out = static_cast<uint32_t>(value);
  return true;
}

double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
         (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// The one line on standard error that says why the tool failed.
void Complain(std::string_view why) {
  std::fprintf(stderr, "milter-load: %.*s\n", static_cast<int>(why.size()),
               why.data());
}

// The filter's address from --connection_spec, or a usage error's reason.
absl::StatusOr<Generic::endpoint> FilterEndpoint() {
  auto spec =
      milter::net::ParseSocketSpec(absl::GetFlag(FLAGS_connection_spec));
  if (!spec.ok()) return spec.status();
  if (spec->kind == milter::net::SocketSpec::Kind::kUnix) {
    return Generic::endpoint(
        asio::local::stream_protocol::endpoint(spec->path));
  }
  auto eps = milter::net::ResolveTcp(*spec, /*for_listening=*/false);
  if (!eps.ok()) return eps.status();
  if (eps->empty()) {
    return absl::NotFoundError(
        absl::StrCat("cannot resolve ", spec->ToString()));
  }
  return Generic::endpoint(eps->front());
}

// Exit status 0 if no session (connection) failed, else 1 with the first
// reason on standard error.
int Verdict(const Load& load, int total, const char* what) {
  if (load.errors() == 0) return 0;
  Complain(absl::StrCat(load.errors(), " of ", total, " ", what,
                        " failed (first: ", load.first_error(), ")"));
  return 1;
}

// --idle: opens and negotiates the connections, holds them for --hold
// seconds or until SIGTERM/SIGINT.
int RunIdle(asio::io_context& io, Load& load, int idle) {
  auto t0 = Clock::now();
  int parallel =
      std::max(1, std::min(idle, absl::GetFlag(FLAGS_idle_parallel)));
  for (int i = 0; i < parallel; ++i) {
    asio::co_spawn(io, load.IdleOpener(idle), [&load](std::exception_ptr e) {
      if (e) load.WorkerFailed(e);
    });
  }
  io.run();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("idle: %zu connections negotiated in %.2f s (%d errors)\n",
              load.idle_count(), secs, load.errors());
  std::printf("READY\n");
  std::fflush(stdout);
  io.restart();
  asio::signal_set signals(io, SIGTERM, SIGINT);
  asio::steady_timer timer(io, std::chrono::seconds(absl::GetFlag(FLAGS_hold)));
  signals.async_wait([&](const std::error_code&, int) { timer.cancel(); });
  timer.async_wait([&](const std::error_code&) { signals.cancel(); });
  io.run();
  size_t held = load.idle_count();  // before closing them
  load.CloseIdle();
  std::printf("RESULT idle=%zu errors=%d negotiate_seconds=%.3f\n", held,
              load.errors(), secs);
  std::fflush(stdout);
  return Verdict(load, idle, "connections");
}

// --sessions sessions over --connections connections; prints the figures.
int RunSessions(asio::io_context& io, Load& load) {
  double cpu0 = CpuSeconds();
  auto t0 = Clock::now();
  int sessions = absl::GetFlag(FLAGS_sessions);
  int connections = std::max(1, absl::GetFlag(FLAGS_connections));
  for (int i = 0; i < connections; ++i) {
    asio::co_spawn(io, load.Worker(sessions), [&load](std::exception_ptr e) {
      if (e) load.WorkerFailed(e);
    });
  }
  io.run();
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  double cpu = CpuSeconds() - cpu0;
  auto& lat = load.latencies();
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) -> double {
    if (lat.empty()) return 0;
    return lat[std::min(lat.size() - 1, static_cast<size_t>(q * lat.size()))] /
           1000.0;
  };
  size_t done = lat.size();
  std::printf(
      "%zu sessions in %.3f s: %.0f sessions/s, latency p50 %.3f ms, p99 "
      "%.3f ms, %d errors; load generator CPU %.3f ms/session\n",
      done, secs, done / secs, pct(0.5), pct(0.99), load.errors(),
      done ? cpu * 1000 / done : 0.0);
  std::printf(
      "RESULT sessions=%zu errors=%d seconds=%.3f sessions_per_sec=%.1f "
      "p50_ms=%.3f p99_ms=%.3f loadgen_cpu_ms_per_session=%.4f\n",
      done, load.errors(), secs, done / secs, pct(0.5), pct(0.99),
      done ? cpu * 1000 / done : 0.0);
  std::fflush(stdout);
  return Verdict(load, sessions, "sessions");
}

int Main(int argc, char** argv) {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return absl::StrContains(file, "milter_load");
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "MTA-side milter load generator.\n"
      "Usage: milter-load -s SPEC [--connections N] [--sessions N] | "
      "[--idle N --hold S]");
  if (std::optional<int> exit_status = milter_tools::ParseToolCommandLine(
          argc, argv, {{'s', "connection_spec", true}}, "milter-load",
          "options are --name=value; see --help")) {
    return *exit_status;
  }
  uint32_t mta_protocol = 0;
  if (!ParseFlags32(absl::GetFlag(FLAGS_mta_protocol), &mta_protocol)) {
    Complain(absl::StrCat("--mta_protocol=", absl::GetFlag(FLAGS_mta_protocol),
                          ": not a 32-bit number (decimal, 0x hex or 0 "
                          "octal)"));
    return 2;
  }
  absl::StatusOr<Generic::endpoint> endpoint = FilterEndpoint();
  if (!endpoint.ok()) {
    Complain(endpoint.status().ToString());
    return 2;
  }
  asio::io_context io(1);
  Load load(io, *endpoint, mta_protocol);
  if (int idle = absl::GetFlag(FLAGS_idle); idle > 0) {
    return RunIdle(io, load, idle);
  }
  return RunSessions(io, load);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    Complain(e.what());
  } catch (...) {
    Complain("unknown exception");
  }
  return 1;
}
