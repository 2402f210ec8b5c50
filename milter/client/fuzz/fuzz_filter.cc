// The engine fuzzer's filter objects: SyncFuzzFilter and CoroutineFuzzFilter
// forward every callback to the Brain after checking what the engine passes
// (stage, data, call order) against the command being handled.

#include "milter/client/fuzz/fuzz_filter.h"

#include <memory>
#include <utility>
#include <variant>

#include "asio/post.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "milter/codec/protocol.h"

namespace milter::client::fuzz {

namespace protocol = codec::protocol;

namespace {

// What both filter flavours check about the calls they get.
class Lifecycle {
 public:
  explicit Lifecycle(Brain* brain) : brain_(brain) { brain_->Made(); }
  ~Lifecycle() {
    FUZZ_CHECK(closed_);  // every filter object sees its close
    brain_->Destroyed();
  }
  Lifecycle(const Lifecycle&) = delete;
  Lifecycle& operator=(const Lifecycle&) = delete;

 protected:
  Status Negotiate(Context& ctx, Negotiation& n) {
    FUZZ_CHECK(!negotiated_ && !closed_);
    negotiated_ = true;
    return brain_->OnNegotiate(ctx, n);
  }
  template <class Command>
  const Command& Enter(Context& ctx, Stage stage) {
    FUZZ_CHECK(negotiated_ && !closed_);
    FUZZ_CHECK(brain_->command() != nullptr);
    (void)ctx;
    (void)stage;
    const auto* c = std::get_if<Command>(brain_->command());
    FUZZ_CHECK(c != nullptr);
    return *c;
  }
  Status Connect(Context& ctx, const ConnectionInfo& info) {
    const auto& c = Enter<codec::Connect>(ctx, Stage::kConnect);
    FUZZ_CHECK(info.hostname == c.hostname && info.family == c.family &&
               info.port == c.port && info.address == c.address);
    return brain_->OnStage(ctx, Stage::kConnect, info.hostname);
  }
  Status Helo(Context& ctx, std::string_view name) {
    FUZZ_CHECK(Enter<codec::Helo>(ctx, Stage::kHelo).name == name);
    return brain_->OnStage(ctx, Stage::kHelo, name);
  }
  template <class Command>
  Status Envelope(Context& ctx, Stage stage, std::string_view address,
                  EsmtpArgs args) {
    const auto& c = Enter<Command>(ctx, stage);
    auto it = c.args.begin();
    FUZZ_CHECK(*it == address);
    for (std::string_view arg : args) FUZZ_CHECK(*++it == arg);
    FUZZ_CHECK(c.args.empty() || ++it == c.args.end());
    return brain_->OnStage(ctx, stage, address);
  }
  Status Data(Context& ctx) {
    Enter<codec::Data>(ctx, Stage::kData);
    return brain_->OnStage(ctx, Stage::kData, "");
  }
  Status Unknown(Context& ctx, std::string_view command) {
    FUZZ_CHECK(Enter<codec::Unknown>(ctx, Stage::kUnknown).command == command);
    return brain_->OnStage(ctx, Stage::kUnknown, command);
  }
  Status Header(Context& ctx, std::string_view name, std::string_view value) {
    const auto& c = Enter<codec::Header>(ctx, Stage::kHeader);
    FUZZ_CHECK(c.name == name);
    if (ctx.negotiated().emulated & protocol::kHeaderLeadingSpace) {
      FUZZ_CHECK(!value.empty() && value[0] == ' ' &&
                 value.substr(1) == c.value);
    } else {
      FUZZ_CHECK(value == c.value);
    }
    return brain_->OnStage(ctx, Stage::kHeader, value);
  }
  Status EndOfHeaders(Context& ctx) {
    Enter<codec::EndOfHeaders>(ctx, Stage::kEndOfHeaders);
    return brain_->OnStage(ctx, Stage::kEndOfHeaders, "");
  }
  Status Body(Context& ctx, std::string_view chunk) {
    FUZZ_CHECK(negotiated_ && !closed_ && brain_->command() != nullptr);
    const codec::Command& c = *brain_->command();
    if (const auto* b = std::get_if<codec::BodyChunk>(&c)) {
      FUZZ_CHECK(b->data == chunk);
    } else {
      const auto& e = std::get<codec::EndOfMessage>(c);
      FUZZ_CHECK(!chunk.empty() && e.data == chunk);
    }
    return brain_->OnStage(ctx, Stage::kBody, chunk);
  }
  Status EndOfMessage(Context& ctx) {
    Enter<codec::EndOfMessage>(ctx, Stage::kEndOfMessage);
    return brain_->OnStage(ctx, Stage::kEndOfMessage, "");
  }
  void Abort(Context& ctx) {
    FUZZ_CHECK(negotiated_ && !closed_);
    brain_->OnAbort(ctx);
  }
  void Close(Context& ctx) {
    FUZZ_CHECK(negotiated_ && !closed_);
    closed_ = true;
    brain_->OnClose(ctx);
  }
  Brain* brain_;

 private:
  bool negotiated_ = false;
  bool closed_ = false;
};

class SyncFuzzFilter : public Filter, Lifecycle {
 public:
  explicit SyncFuzzFilter(Brain* brain) : Lifecycle(brain) {}
  Status OnNegotiate(Context& c, Negotiation& n) override {
    return Negotiate(c, n);
  }
  Status OnConnect(Context& c, const ConnectionInfo& i) override {
    return Connect(c, i);
  }
  Status OnHelo(Context& c, std::string_view n) override { return Helo(c, n); }
  Status OnMailFrom(Context& c, std::string_view a, EsmtpArgs e) override {
    return Envelope<codec::Mail>(c, Stage::kMail, a, e);
  }
  Status OnRcptTo(Context& c, std::string_view a, EsmtpArgs e) override {
    return Envelope<codec::Rcpt>(c, Stage::kRcpt, a, e);
  }
  Status OnData(Context& c) override { return Data(c); }
  Status OnUnknown(Context& c, std::string_view u) override {
    return Unknown(c, u);
  }
  Status OnHeader(Context& c, std::string_view n, std::string_view v) override {
    return Header(c, n, v);
  }
  Status OnEndOfHeaders(Context& c) override { return EndOfHeaders(c); }
  Status OnBody(Context& c, std::string_view b) override { return Body(c, b); }
  Status OnEndOfMessage(Context& c) override { return EndOfMessage(c); }
  void OnAbort(Context& c) override { Abort(c); }
  void OnClose(Context& c) override { Close(c); }
};

// Suspends on the event loop before answering when the brain says so.
class CoroutineFuzzFilter : public CoroutineFilter, Lifecycle {
 public:
  explicit CoroutineFuzzFilter(Brain* brain) : Lifecycle(brain) {}
  asio::awaitable<Status> OnNegotiate(Context& c, Negotiation& n) override {
    co_return co_await Answer(Negotiate(c, n));
  }
  asio::awaitable<Status> OnConnect(Context& c,
                                    const ConnectionInfo& i) override {
    co_return co_await Answer(Connect(c, i));
  }
  asio::awaitable<Status> OnHelo(Context& c, std::string_view n) override {
    co_return co_await Answer(Helo(c, n));
  }
  asio::awaitable<Status> OnMailFrom(Context& c, std::string_view a,
                                     EsmtpArgs e) override {
    co_return co_await Answer(Envelope<codec::Mail>(c, Stage::kMail, a, e));
  }
  asio::awaitable<Status> OnRcptTo(Context& c, std::string_view a,
                                   EsmtpArgs e) override {
    co_return co_await Answer(Envelope<codec::Rcpt>(c, Stage::kRcpt, a, e));
  }
  asio::awaitable<Status> OnData(Context& c) override {
    co_return co_await Answer(Data(c));
  }
  asio::awaitable<Status> OnUnknown(Context& c, std::string_view u) override {
    co_return co_await Answer(Unknown(c, u));
  }
  asio::awaitable<Status> OnHeader(Context& c, std::string_view n,
                                   std::string_view v) override {
    co_return co_await Answer(Header(c, n, v));
  }
  asio::awaitable<Status> OnEndOfHeaders(Context& c) override {
    co_return co_await Answer(EndOfHeaders(c));
  }
  asio::awaitable<Status> OnBody(Context& c, std::string_view b) override {
    co_return co_await Answer(Body(c, b));
  }
  asio::awaitable<Status> OnEndOfMessage(Context& c) override {
    co_return co_await Answer(EndOfMessage(c));
  }
  asio::awaitable<void> OnAbort(Context& c) override {
    Abort(c);
    co_await Answer(Status::kContinue);
  }
  asio::awaitable<void> OnClose(Context& c) override {
    Close(c);
    co_await Answer(Status::kContinue);
  }

 private:
  asio::awaitable<Status> Answer(Status status) {
    if (brain_->suspend()) {
      co_await asio::post(co_await asio::this_coro::executor,
                          asio::use_awaitable);
    }
    co_return status;
  }
};

}  // namespace

FilterFactory MakeFuzzFilterFactory(Brain* brain) {
  FilterOptions options;
  options.callbacks = brain->config().callbacks;
  options.actions = brain->config().actions;
  options.protocol = brain->config().protocol;
  if (brain->config().coroutine) {
    return MakeFilterFactory<CoroutineFuzzFilter>(
        std::function<std::unique_ptr<CoroutineFuzzFilter>()>(
            [brain] { return std::make_unique<CoroutineFuzzFilter>(brain); }),
        options);
  }
  return MakeFilterFactory<SyncFuzzFilter>(
      std::function<std::unique_ptr<SyncFuzzFilter>()>(
          [brain] { return std::make_unique<SyncFuzzFilter>(brain); }),
      options);
}

}  // namespace milter::client::fuzz
