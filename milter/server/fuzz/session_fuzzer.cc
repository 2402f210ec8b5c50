// libFuzzer target for the MTA-side session (milter::server::Session):
// arbitrary bytes from a filter. The session connects over a real Unix socket
// to a listener this process owns (the server API has no way to adopt an
// already-connected socket); the harness plays the filter end in-process on
// the same thread. It runs the event loop itself and, whenever every
// coroutine waits (or at once, when the input says so), writes the next
// chunk of the filter's bytes, drains what the session wrote, and at the end
// closes its end (or keeps it open, so the session's short timeouts fire).
// A coroutine drives the session through Connect, Negotiate and every stage
// (connect, helo, mail, rcpt, data, unknown, headers, end of headers, body,
// end of message, abort; optionally a second message or a new session via
// QuitNewConnection) and Quit.
// Built by tests/fuzz/run_fuzzer.sh; //milter/server/fuzz:session_fuzzer_smoke
// runs it over seeds without libFuzzer.
//
// Input: see tests/fuzz/fuzz_util.h. Header (8 bytes):
//   [0] bits0-1 offered version (6, 6, 2, 4), bit2 defer unanswered writes,
//       bit3 see [7], bits4-5 modification limit,
//       bit6 a second message, bit7 QuitNewConnection and a new session
//   [1..4] protocol flags NOT offered, [5] actions NOT offered (bit0 of [6]
//       also withholds setsymlist), [6] bits1-2 chunk sizes, bit3 a large
//       body, [7] bits0-1 timeouts (10, 50, 2, 1 ms), bit7 with bit3 of [0]
//       keep the socket open at the end
// Properties checked (abort on violation): the session coroutine always
// completes (every call returns a Status or a value); once a call fails,
// session.error() holds that error and every later call returns it (no
// verdict after a session error); verdicts fit their stage (not sent for a
// stage negotiated away, unanswered for a no-reply stage, skip only from the
// body, reply text only with reject/tempfail of the same class);
// modifications only negotiated ones and within max_modification_bytes;
// everything the session writes decodes as well-formed commands.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "asio/co_spawn.hpp"
#include "asio/io_context.hpp"
#include "milter/codec/decoder.h"
#include "milter/codec/modification.h"
#include "milter/net/socket_spec.h"
#include "milter/server/connection.h"
#include "milter/server/session.h"
#include "milter/server/verdict.h"
#include "tests/fuzz/fuzz_util.h"

namespace milter::server::fuzz {
namespace {

namespace protocol = codec::protocol;
using milter::fuzz::Choices;
using milter::fuzz::FuzzInput;

constexpr size_t kHeaderSize = 8;
constexpr int kMaxRounds = 1 << 20;  // event-loop turns per input
constexpr const char* kRecipients[] = {"<b@example.com>", "<c@example.com>"};
constexpr const char* kSubjects[] = {"hello", " spaced"};

// The filter end's listener, made once per process.
struct Listener {
  std::string dir;
  ResolvedSpec spec;
  int fd = -1;
};

const Listener& TheListener() {
  static Listener* l = [] {
    auto* l = new Listener;
    char dir[] = "/tmp/session_fuzzer.XXXXXX";
    FUZZ_CHECK(mkdtemp(dir) != nullptr);
    l->dir = dir;
    std::string path = l->dir + "/filter.sock";
    l->fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    FUZZ_CHECK(path.size() < sizeof(addr.sun_path));
    path.copy(addr.sun_path, path.size());
    FUZZ_CHECK(
        ::bind(l->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    FUZZ_CHECK(::listen(l->fd, 16) == 0);
    auto spec = net::ParseSocketSpec("unix:" + path);
    FUZZ_CHECK(spec.ok());
    auto resolved = Resolve(*spec);
    FUZZ_CHECK(resolved.ok());
    l->spec = *std::move(resolved);
    std::atexit([] {
      const Listener& me = TheListener();
      ::unlink((me.dir + "/filter.sock").c_str());
      ::rmdir(me.dir.c_str());
    });
    return l;
  }();
  return *l;
}

// What the MTA side sends: made outside the coroutine (gcc 12 miscompiles
// braced initializers in coroutines).
struct Envelope {
  Macros macros;
  ConnectionInfo info;
  std::vector<std::string_view> mail_args;
  std::vector<std::string_view> rcpt_args;
  std::string body;
};

Envelope MakeEnvelope(bool big_body) {
  Envelope e;
  e.macros = {{"j", "mx.example.net"}, {"{daemon_name}", "fuzz"}, {"i", "QID"}};
  e.info = {"client.example", codec::Family::kInet, 2525, "192.0.2.1"};
  e.mail_args = {"SIZE=100"};
  e.body = big_body ? std::string(70000, 'b') : "hi\r\n";
  return e;
}

SessionOptions OptionsFrom(const std::string& h) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(h[i]); };
  static constexpr uint32_t kVersions[] = {6, 6, 2, 4};
  SessionOptions o = SessionOptions::ForVersion(kVersions[byte(0) & 3]);
  o.protocol &= ~milter::fuzz::LoadLe32(h, 1);
  o.actions &= ~(byte(5) | (byte(6) & 1 ? codec::action::kSetSymbolList : 0));
  o.defer_unanswered_writes = byte(0) & 4;
  static constexpr size_t kLimits[] = {64 << 20, 0, 100, 4096};
  o.max_modification_bytes = kLimits[byte(0) >> 4 & 3];
  static constexpr int kTimeoutsMs[] = {10, 50, 2, 1};
  absl::Duration t = absl::Milliseconds(kTimeoutsMs[byte(7) & 3]);
  o.read_timeout = o.write_timeout = o.end_of_message_timeout = t;
  o.connect_timeout = absl::Seconds(1);
  return o;
}

class Harness {
 public:
  explicit Harness(const FuzzInput& in)
      : header_(in.header),
        choices_(in.choices),
        rest_(in.stream),
        options_(OptionsFrom(in.header)),
        session_(std::make_unique<Session>(io_.get_executor(), options_)) {}

  ~Harness() {
    if (peer_ >= 0) ::close(peer_);
  }

  void Run() {
    asio::co_spawn(io_, Script(), [this](std::exception_ptr e) {
      FUZZ_CHECK(e == nullptr);
      done_ = true;
    });
    for (int rounds = 0; !done_; ++rounds) {
      FUZZ_CHECK(rounds < kMaxRounds);  // no live-lock
      if (io_.stopped()) io_.restart();
      if (io_.poll() > 0 && !eager_) continue;
      // Every coroutine waits on the socket or a timer: the filter's turn.
      if (Accept() + Drain() + Feed() > 0) continue;
      if (peer_ >= 0 && rest_.empty() && pending_.empty() && !keep_open()) {
        ::close(peer_);
        peer_ = -1;
        continue;
      }
      if (io_.stopped()) io_.restart();
      // Nothing for the filter to do: wait for a timeout.
      size_t ran = io_.run_one();
      FUZZ_CHECK(ran > 0 || done_);  // else the session lost a coroutine
    }
    session_.reset();  // closes its end
    io_.restart();
    io_.run();  // cancelled timers
  }

 private:
  bool keep_open() const { return header_[0] & 8 && header_[7] & 0x80; }

  // Accepts the session's connection once it has connected.
  size_t Accept() {
    if (peer_ >= 0 || accepted_) return 0;
    peer_ = ::accept4(TheListener().fd, nullptr, nullptr,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
    accepted_ = peer_ >= 0;
    return accepted_ ? 1 : 0;
  }

  // Reads what the session wrote; checks it decodes as commands.
  size_t Drain() {
    if (peer_ < 0) return 0;
    size_t total = 0;
    char buffer[64 * 1024];
    while (true) {
      ssize_t n = ::recv(peer_, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      total += static_cast<size_t>(n);
      commands_.Feed(std::string_view(buffer, static_cast<size_t>(n)));
      while (true) {
        auto next = commands_.Next();
        FUZZ_CHECK(next.ok());  // the session writes well-formed commands
        if (!next->has_value()) break;
        CheckCommand(**next);
      }
    }
    return total;
  }

  void CheckCommand(const codec::Command& command) {
    if (const auto* o = std::get_if<codec::OptionNegotiation>(&command)) {
      FUZZ_CHECK(o->version == options_.version &&
                 o->actions == options_.actions &&
                 o->protocol == options_.protocol);
    }
  }

  // Writes the next chunk of the filter's bytes (or closes early).
  size_t Feed() {
    eager_ = false;
    if (peer_ < 0) return 0;
    if (pending_.empty()) {
      if (rest_.empty()) return 0;
      uint8_t c = choices_.Next();
      if (c == 0xFF) {  // the filter goes away mid-stream
        rest_ = {};
        return 0;
      }
      static constexpr size_t kScale[] = {1, 7, 257, 1 << 20};
      size_t n =
          1 + c % 128 * kScale[static_cast<uint8_t>(header_[6]) >> 1 & 3];
      n = std::min(n, rest_.size());
      pending_.assign(rest_.substr(0, n));
      rest_.remove_prefix(n);
      eager_ = c & 0x80;
    }
    ssize_t n = ::send(peer_, pending_.data(), pending_.size(), MSG_NOSIGNAL);
    if (n < 0) {
      pending_.clear();  // the session closed its end
      rest_ = {};
      return 0;
    }
    pending_.erase(0, static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }

  // --- The MTA's side.

  // Checks a call's outcome against the session's error state.
  template <class T>
  bool Note(const T& result, const absl::Status& before) {
    if (verbose_) {
      std::fprintf(stderr, "call %d: %s\n", ++calls_,
                   StatusOf(result).ToString().c_str());
    }
    if (!before.ok()) {
      FUZZ_CHECK(!result.ok());  // no verdict after a session error
      FUZZ_CHECK(session_->error() == before);
    }
    if (result.ok()) return true;
    FUZZ_CHECK(!session_->error().ok());
    FUZZ_CHECK(StatusOf(result) == session_->error());
    return false;
  }
  static absl::Status StatusOf(const absl::Status& s) { return s; }
  template <class T>
  static absl::Status StatusOf(const absl::StatusOr<T>& s) {
    return s.status();
  }

  // A stage's verdict: `no_send` and `no_reply` are its protocol flags.
  void CheckVerdict(const absl::StatusOr<Verdict>& v,
                    const absl::Status& before, uint32_t no_send,
                    uint32_t no_reply, bool body) {
    if (!Note(v, before)) return;
    const codec::NegotiatedOptions& n = session_->negotiated();
    FUZZ_CHECK(v->progress >= 0);
    if (!v->sent) {
      // Negotiated away, a body after skip, or data/unknown below version 6.
      FUZZ_CHECK(!v->answered);
      FUZZ_CHECK(
          !n.Sends(no_send) || (body && skipped_) ||
          ((no_send == protocol::kNoData || no_send == protocol::kNoUnknown) &&
           n.version < 6));
      FUZZ_CHECK(v->decision ==
                 (body && skipped_ ? Decision::kSkip : Decision::kContinue));
      return;
    }
    FUZZ_CHECK(n.Sends(no_send));
    FUZZ_CHECK(v->answered == !n.NoReply(no_reply));
    if (!v->answered) {
      FUZZ_CHECK(v->decision == Decision::kContinue);
      return;
    }
    if (body && v->decision == Decision::kSkip) skipped_ = true;
    if (v->decision == Decision::kSkip) FUZZ_CHECK(body);
    if (!v->reply.empty()) {
      char want = v->decision == Decision::kReject ? '5' : '4';
      FUZZ_CHECK(v->decision == Decision::kReject ||
                 v->decision == Decision::kTempfail);
      FUZZ_CHECK(v->reply[0] == want);
    }
  }

  void CheckEndOfMessage(const absl::StatusOr<EndOfMessageResult>& r,
                         const absl::Status& before) {
    skipped_ = false;
    if (!Note(r, before)) return;
    const codec::NegotiatedOptions& n = session_->negotiated();
    FUZZ_CHECK(r->verdict.sent && r->verdict.answered);
    FUZZ_CHECK(r->verdict.decision != Decision::kSkip);
    size_t bytes = 0;
    for (const Modification& m : r->modifications) {
      uint32_t needed = codec::RequiredAction(m);
      FUZZ_CHECK((n.actions & needed) == needed);
      bytes += codec::WireSize(m);
    }
    // The cap counts what modifications hold in memory, more than their
    // bytes on the wire.
    FUZZ_CHECK(bytes <= options_.max_modification_bytes);
  }

  void CheckNegotiated(const absl::Status& status, const absl::Status& before) {
    if (!Note(status, before)) return;
    const codec::NegotiatedOptions& n = session_->negotiated();
    FUZZ_CHECK(session_->negotiated_ok());
    FUZZ_CHECK(n.version >= codec::kMinVersion &&
               n.version <= options_.version);
    FUZZ_CHECK((n.actions & ~options_.actions) == 0);
    FUZZ_CHECK((n.protocol & ~(options_.protocol | protocol::kMaxDataSize256K |
                               protocol::kMaxDataSize1M)) == 0);
    FUZZ_CHECK(n.max_payload >= codec::kDefaultMaxPayload &&
               n.max_payload <= codec::kMaxPayload1M);
    skipped_ = false;
  }

  // Awaits one stage (asio awaitables start when awaited) and checks it.
  asio::awaitable<void> Stage(asio::awaitable<absl::StatusOr<Verdict>> call,
                              uint32_t no_send, uint32_t no_reply,
                              bool body = false) {
    absl::Status before = session_->error();
    absl::StatusOr<Verdict> verdict = co_await std::move(call);
    CheckVerdict(verdict, before, no_send, no_reply, body);
  }

  asio::awaitable<void> Message(bool first) {
    namespace p = protocol;
    const Envelope e = MakeEnvelope(header_[6] & 8);
    Session& s = *session_;
    if (first) {
      co_await Stage(s.ConnectStage(e.info, e.macros), p::kNoConnect,
                     p::kNoReplyConnect);
      co_await Stage(s.Helo("client.example", e.macros), p::kNoHelo,
                     p::kNoReplyHelo);
    }
    co_await Stage(s.Mail("<a@example.com>", e.mail_args, e.macros), p::kNoMail,
                   p::kNoReplyMail);
    for (const char* rcpt : kRecipients) {
      co_await Stage(s.Rcpt(rcpt, e.rcpt_args, e.macros), p::kNoRcpt,
                     p::kNoReplyRcpt);
    }
    co_await Stage(s.Data(e.macros), p::kNoData, p::kNoReplyData);
    co_await Stage(s.Unknown("XYZZY frob"), p::kNoUnknown, p::kNoReplyUnknown);
    for (const char* value : kSubjects) {
      co_await Stage(s.Header("Subject", value), p::kNoHeaders,
                     p::kNoReplyHeader);
    }
    co_await Stage(s.EndOfHeaders(e.macros), p::kNoEndOfHeaders,
                   p::kNoReplyEndOfHeaders);
    co_await Stage(s.Body(e.body), p::kNoBody, p::kNoReplyBody, true);
    co_await Stage(s.BodyChunk("more\r\n"), p::kNoBody, p::kNoReplyBody, true);
    absl::Status before = s.error();
    CheckEndOfMessage(co_await s.EndOfMessage(e.macros), before);
    before = s.error();
    Note(co_await s.Abort(), before);
    skipped_ = false;
  }

  asio::awaitable<void> Script() {
    Session& s = *session_;
    absl::Status connected = co_await s.Connect(TheListener().spec);
    FUZZ_CHECK(connected.ok());
    absl::Status before = s.error();
    CheckNegotiated(co_await s.Negotiate(), before);
    co_await Message(true);
    if (header_[0] & 0x40) co_await Message(false);
    if (header_[0] & 0x80) {
      before = s.error();
      Note(co_await s.QuitNewConnection(), before);
      before = s.error();
      CheckNegotiated(co_await s.Negotiate(), before);
      co_await Message(false);
    }
    before = s.error();
    Note(co_await s.Quit(), before);
  }

  std::string header_;
  Choices choices_;
  std::string_view rest_;  // filter bytes not yet handed over
  std::string pending_;    // a chunk the socket has not taken yet
  SessionOptions options_;
  asio::io_context io_;
  std::unique_ptr<Session> session_;
  codec::CommandDecoder commands_{codec::kMaxPayload1M};
  int peer_ = -1;
  bool accepted_ = false;
  bool eager_ = false;    // feed the next chunk without waiting for idle
  bool skipped_ = false;  // the filter skipped the rest of this body
  bool done_ = false;
  // FUZZ_VERBOSE=1: print each call's outcome (for reading a finding).
  bool verbose_ = std::getenv("FUZZ_VERBOSE") != nullptr;
  int calls_ = 0;
};

// Closes connections a previous input left in the listen queue.
void DrainListenQueue() {
  while (true) {
    int fd = ::accept4(TheListener().fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    ::close(fd);
  }
}

}  // namespace
}  // namespace milter::server::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace milter::server::fuzz;
  DrainListenQueue();
  milter::fuzz::FuzzInput in =
      milter::fuzz::SplitInput(data, size, kHeaderSize);
  Harness harness(in);
  harness.Run();
  return 0;
}
