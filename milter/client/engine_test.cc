// Session engine behaviour, driven through milter::testing: negotiation,
// emulation, macros, replies, modifications and libmilter parity points.

#include "milter/client/engine.h"

#include <string>
#include <vector>

#include "asio/steady_timer.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "milter/client/filter_factory.h"
#include "milter/client/testing.h"

namespace milter::client {
namespace {

namespace p = codec::protocol;
namespace a = codec::action;
using ::testing::ElementsAre;
using testing::FilterTester;
using ::testing::HasSubstr;

// Records what it sees; behaviour set per test through the hooks.
class Recorder : public Filter {
 public:
  std::vector<std::string>* log = nullptr;
  std::function<Status(Context&)> at_eom;
  std::function<Status(Context&, std::string_view)> at_body;
  std::function<Status(Context&)> at_mail;

  Status OnConnect(Context& ctx, const ConnectionInfo& info) override {
    Log("connect " + info.hostname + " " + info.address + ":" +
        std::to_string(info.port) +
        " macro j=" + std::string(ctx.MacroOr("j", "-")));
    return Status::kContinue;
  }
  Status OnHelo(Context&, std::string_view name) override {
    Log("helo " + std::string(name));
    return Status::kContinue;
  }
  Status OnMailFrom(Context& ctx, std::string_view addr,
                    EsmtpArgs args) override {
    std::string s = "mail " + std::string(addr);
    for (auto arg : args) s += " " + std::string(arg);
    Log(s);
    return at_mail ? at_mail(ctx) : Status::kContinue;
  }
  Status OnRcptTo(Context&, std::string_view addr, EsmtpArgs) override {
    Log("rcpt " + std::string(addr));
    return Status::kContinue;
  }
  Status OnHeader(Context&, std::string_view name,
                  std::string_view value) override {
    Log("header " + std::string(name) + "=[" + std::string(value) + "]");
    return Status::kContinue;
  }
  Status OnBody(Context& ctx, std::string_view chunk) override {
    Log("body " + std::string(chunk));
    return at_body ? at_body(ctx, chunk) : Status::kContinue;
  }
  Status OnEndOfMessage(Context& ctx) override {
    Log("eom");
    return at_eom ? at_eom(ctx) : Status::kContinue;
  }
  void OnAbort(Context&) override { Log("abort"); }
  void OnClose(Context&) override { Log("close"); }

 private:
  void Log(std::string s) {
    if (log) log->push_back(std::move(s));
  }
};

struct Hooks {
  std::vector<std::string> log;
  std::function<Status(Context&)> at_eom;
  std::function<Status(Context&, std::string_view)> at_body;
  std::function<Status(Context&)> at_mail;
};

FilterFactory RecorderFactory(Hooks* hooks, FilterOptions options = {}) {
  return MakeFilterFactory<Recorder>(
      std::function<std::unique_ptr<Recorder>()>([hooks] {
        auto r = std::make_unique<Recorder>();
        r->log = &hooks->log;
        r->at_eom = hooks->at_eom;
        r->at_body = hooks->at_body;
        r->at_mail = hooks->at_mail;
        return r;
      }),
      options);
}

TEST(EngineTest, DerivesDontSendFlagsFromOverriddenCallbacks) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  auto r = t.Negotiate();
  ASSERT_TRUE(r.error.ok()) << r.error;
  ASSERT_TRUE(r.negotiation);
  uint32_t flags = r.negotiation->protocol;
  EXPECT_FALSE(flags & p::kNoConnect);
  EXPECT_FALSE(flags & p::kNoBody);
  EXPECT_TRUE(flags & p::kNoData);
  EXPECT_TRUE(flags & p::kNoUnknown);
  EXPECT_TRUE(flags & p::kNoEndOfHeaders);
  EXPECT_TRUE(flags & p::kSkip);  // OnBody overridden
  EXPECT_EQ(r.negotiation->actions, a::kAll & ~a::kSetSymbolList);
}

TEST(EngineTest, EmulatesDontSendTheMtaLacks) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  codec::OptionNegotiation offer{6, a::kAll, p::kNoConnect};  // no kNoData
  ASSERT_TRUE(t.Negotiate(offer).error.ok());
  EXPECT_TRUE(t.negotiated().emulated & p::kNoData);
  EXPECT_EQ(t.Data().status, Status::kContinue);  // answered by the library
}

TEST(EngineTest, CommandBeforeNegotiationIsAnError) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  auto r = t.Helo("x");
  EXPECT_FALSE(r.error.ok());
  EXPECT_TRUE(r.closed);
}

TEST(EngineTest, MissingActionFailsNegotiation) {
  Hooks h;
  FilterOptions o;
  o.actions = a::kQuarantine;
  FilterTester t(RecorderFactory(&h, o));
  auto r = t.Negotiate({6, a::kAddHeaders, 0x1FFFFF});
  EXPECT_FALSE(r.error.ok());
}

TEST(EngineTest, ConnectInfoAndMacroLookupBothSpellings) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Macros(codec::MacroStage::kConnect,
           {{"j", "mx.test"}, {"{daemon_name}", "smtpd"}});
  EXPECT_EQ(
      t.Connect("client.test", codec::Family::kInet, 4321, "192.0.2.9").status,
      Status::kContinue);
  EXPECT_EQ(h.log.back(), "connect client.test 192.0.2.9:4321 macro j=mx.test");
  t.Macros(codec::MacroStage::kMail, {{"i", "QID1"}, {"{mail_addr}", "a@b"}});
  t.Mail("<a@b>", {"SIZE=10", "BODY=8BITMIME"});
  EXPECT_EQ(h.log.back(), "mail <a@b> SIZE=10 BODY=8BITMIME");
  EXPECT_EQ(t.context().GetMacro("i"), "QID1");
  EXPECT_EQ(t.context().GetMacro("{i}"), "QID1");
  EXPECT_EQ(t.context().GetMacro("mail_addr"), "a@b");
  EXPECT_EQ(t.context().GetMacro("{daemon_name}"), "smtpd");  // earlier stage
  EXPECT_EQ(t.context().GetMacro("{nope}"), std::nullopt);
  EXPECT_EQ(t.context().connection().port, 4321);
}

TEST(EngineTest, NewMessageClearsLaterStageMacros) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Macros(codec::MacroStage::kRcpt, {{"{rcpt_addr}", "x@y"}});
  t.Rcpt("<x@y>");
  EXPECT_EQ(t.context().GetMacro("rcpt_addr"), "x@y");
  t.Abort();
  t.Macros(codec::MacroStage::kMail, {{"{mail_addr}", "n@m"}});
  t.Mail("<n@m>");
  EXPECT_EQ(t.context().GetMacro("rcpt_addr"), std::nullopt);
  EXPECT_EQ(t.context().GetMacro("mail_addr"), "n@m");
}

TEST(EngineTest, EmptyMacroPacketsAndEmptyValuesAreAccepted) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Macros(codec::MacroStage::kData, {});
  auto r = t.Send(codec::DefineMacros{'L', codec::StringList()});  // Postfix
  EXPECT_TRUE(r.error.ok());
  EXPECT_EQ(r.status, Status::kNoReply);
  EXPECT_EQ(t.Header("X-Empty", "").status, Status::kContinue);
  EXPECT_EQ(h.log.back(), "header X-Empty=[]");
}

TEST(EngineTest, ModificationsOnlyAtEndOfMessage) {
  Hooks h;
  absl::Status at_mail_status;
  h.at_mail = [&](Context& ctx) {
    at_mail_status = ctx.AddHeader("X", "y");
    return Status::kContinue;
  };
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Mail("<a@b>");
  EXPECT_EQ(at_mail_status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(at_mail_status.message()),
              HasSubstr("only allowed at end of message"));
}

TEST(EngineTest, ModificationNotNegotiatedIsAnError) {
  Hooks h;
  std::vector<absl::Status> got;
  h.at_eom = [&](Context& ctx) {
    got.push_back(ctx.AddHeader("X", "y"));
    got.push_back(ctx.ChangeFrom("<n@m>"));
    got.push_back(ctx.AddRecipient("<r@s>", "NOTIFY=NEVER"));
    got.push_back(ctx.Quarantine("why"));
    return Status::kContinue;
  };
  FilterOptions o;
  o.actions = a::kAddHeaders;
  FilterTester t(RecorderFactory(&h, o));
  t.Negotiate();
  t.Mail("<a@b>");
  auto r = t.EndOfMessage();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_TRUE(got[0].ok());
  for (int i = 1; i < 4; ++i) {
    EXPECT_THAT(std::string(got[i].message()), HasSubstr("not negotiated"));
  }
  EXPECT_EQ(r.modifications.size(), 1u);
}

TEST(EngineTest, EveryModificationOnTheWire) {
  Hooks h;
  std::string big(150000, 'x');
  h.at_eom = [&](Context& ctx) {
    EXPECT_TRUE(ctx.AddHeader("X-A", "1").ok());
    EXPECT_TRUE(ctx.InsertHeader(0, "X-First", "0").ok());
    EXPECT_TRUE(ctx.ChangeHeader("Subject", 2, "new").ok());
    EXPECT_TRUE(ctx.DeleteHeader("X-Old", 1).ok());
    EXPECT_TRUE(ctx.ChangeFrom("<n@m>", "SIZE=1").ok());
    EXPECT_TRUE(ctx.ChangeFrom("<o@m>").ok());
    EXPECT_TRUE(ctx.AddRecipient("<r@s>").ok());
    EXPECT_TRUE(ctx.AddRecipient("<t@s>", "NOTIFY=NEVER").ok());
    EXPECT_TRUE(ctx.DeleteRecipient("<u@s>").ok());
    EXPECT_TRUE(ctx.Quarantine("suspicious").ok());
    EXPECT_TRUE(ctx.ReplaceBody(big).ok());
    EXPECT_FALSE(ctx.AddHeader("Bad Name", "v").ok());
    EXPECT_FALSE(ctx.AddHeader("", "v").ok());
    return Status::kContinue;
  };
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Mail("<a@b>");
  auto r = t.EndOfMessage();
  EXPECT_EQ(r.status, Status::kContinue);
  EXPECT_THAT(
      r.modifications,
      ElementsAre(Modification(mod::AddHeader{"X-A", "1"}),
                  Modification(mod::InsertHeader{0, "X-First", "0"}),
                  Modification(mod::ChangeHeader{2, "Subject", "new"}),
                  Modification(mod::ChangeHeader{1, "X-Old", ""}),
                  Modification(mod::ChangeFrom{"<n@m>", "SIZE=1"}),
                  Modification(mod::ChangeFrom{"<o@m>", std::nullopt}),
                  Modification(mod::AddRecipient{"<r@s>", std::nullopt}),
                  Modification(mod::AddRecipient{"<t@s>", "NOTIFY=NEVER"}),
                  Modification(mod::DeleteRecipient{"<u@s>"}),
                  Modification(mod::Quarantine{"suspicious"}),
                  Modification(mod::ReplaceBody{big})));
  EXPECT_EQ(r.replace_body_packets, 3);  // 65535 + 65535 + 18930
}

TEST(EngineTest, ReplyCodesPairWithRejectAndTempfail) {
  Hooks h;
  int step = 0;
  h.at_mail = [&](Context& ctx) {
    switch (step++) {
      case 0:
        EXPECT_TRUE(ctx.SetReply("550", "5.7.1", "no 100%").ok());
        return Status::kReject;
      case 1:
        EXPECT_TRUE(ctx.SetReply("451", "4.3.0", "later").ok());
        return Status::kTempfail;
      case 2:  // 4xx text with reject: plain reject, as libmilter
        EXPECT_TRUE(ctx.SetReply("451", "", "x").ok());
        return Status::kReject;
      case 3: {
        std::string_view lines[] = {"one", "two"};
        EXPECT_TRUE(ctx.SetMultilineReply("550", "5.7.0", lines).ok());
        return Status::kReject;
      }
      default:
        EXPECT_FALSE(ctx.SetReply("250", "", "ok").ok());
        EXPECT_FALSE(ctx.SetReply("550", "4.7.1", "class").ok());
        EXPECT_FALSE(ctx.SetReply("550", "", "a\r\nb").ok());
        return Status::kReject;
    }
  };
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  auto r = t.Mail("<a@b>");
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, "550 5.7.1 no 100%%");
  r = t.Mail("<a@b>");
  EXPECT_EQ(r.status, Status::kTempfail);
  EXPECT_EQ(r.reply, "451 4.3.0 later");
  r = t.Mail("<a@b>");
  EXPECT_EQ(r.status, Status::kReject);
  EXPECT_EQ(r.reply, "");
  r = t.Mail("<a@b>");
  EXPECT_EQ(r.reply, "550-5.7.0 one\r\n550 5.7.0 two");
  r = t.Mail("<a@b>");
  EXPECT_EQ(r.reply, "");  // the reply does not leak into later stages
}

TEST(EngineTest, NoReplyFlagsNegotiatedAndEmulated) {
  Hooks h;
  FilterOptions o;
  o.protocol = p::kNoReplyHeader | p::kNoReplyRcpt;
  {
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate();
    EXPECT_EQ(t.Header("A", "b").status, Status::kNoReply);  // nothing sent
    EXPECT_EQ(t.Rcpt("<x@y>").status, Status::kNoReply);
    EXPECT_EQ(t.Mail("<x@y>").status, Status::kContinue);
  }
  {
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate({6, a::kAll, p::kNoReplyRcpt});  // MTA lacks NR_HDR
    EXPECT_TRUE(t.negotiated().emulated & p::kNoReplyHeader);
    EXPECT_EQ(t.Header("A", "b").status, Status::kContinue);  // faked
    EXPECT_EQ(t.Rcpt("<x@y>").status, Status::kNoReply);
  }
}

TEST(EngineTest, VerdictAtNoReplyStageIsReportedNotSent) {
  Hooks h;
  h.at_mail = [](Context&) { return Status::kReject; };
  FilterOptions o;
  o.protocol = p::kNoReplyMail | p::kNoReplyHeader;
  {
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate();
    t.Macros(codec::MacroStage::kMail, {{"i", "4QID"}});
    auto r = t.Mail("<x@y>");
    // The MTA reads no answer to MAIL: sending 'r' would desynchronise it.
    EXPECT_EQ(r.status, Status::kNoReply);
    ASSERT_EQ(r.diagnostics.size(), 1u);
    EXPECT_THAT(r.diagnostics[0],
                HasSubstr("filter returned reject at envelope-from"));
    EXPECT_THAT(r.diagnostics[0], HasSubstr("queue ID 4QID"));
    // kNoReply and kContinue at such a stage are fine and silent.
    auto hdr = t.Header("A", "b");
    EXPECT_EQ(hdr.status, Status::kNoReply);
    EXPECT_TRUE(hdr.diagnostics.empty());
  }
  {
    // Emulated (the MTA lacks NR_MAIL, so it waits for an answer): sent.
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate({6, a::kAll, p::kNoReplyHeader});
    auto r = t.Mail("<x@y>");
    EXPECT_EQ(r.status, Status::kReject);
    EXPECT_TRUE(r.diagnostics.empty());
  }
}

TEST(EngineTest, HeaderLeadingSpace) {
  Hooks h;
  std::vector<absl::Status> got;
  h.at_eom = [&](Context& ctx) {
    got.push_back(ctx.AddHeader("X-A", " spaced"));
    return Status::kContinue;
  };
  FilterOptions o;
  o.protocol = p::kHeaderLeadingSpace;
  {
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate();
    t.Header("Subject", " raw");
    EXPECT_EQ(h.log.back(), "header Subject=[ raw]");
    t.Mail("<a@b>");
    auto r = t.EndOfMessage();
    EXPECT_EQ(r.modifications[0],
              Modification(mod::AddHeader{"X-A", " spaced"}));
  }
  {
    // Emulated: the MTA stripped one space; the library puts it back and
    // takes it off outgoing values (the MTA adds it).
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate({6, a::kAll, 0});
    t.Header("Subject", "raw");
    EXPECT_EQ(h.log.back(), "header Subject=[ raw]");
    t.Mail("<a@b>");
    auto r = t.EndOfMessage();
    EXPECT_EQ(r.modifications[0],
              Modification(mod::AddHeader{"X-A", "spaced"}));
  }
  {
    // Not requested: values as the MTA sends them.
    FilterTester t(RecorderFactory(&h));
    t.Negotiate();
    t.Header("Subject", "raw");
    EXPECT_EQ(h.log.back(), "header Subject=[raw]");
  }
}

TEST(EngineTest, SkipNativeAndEmulated) {
  Hooks h;
  h.at_body = [](Context&, std::string_view) { return Status::kSkip; };
  {
    FilterTester t(RecorderFactory(&h));
    t.Negotiate();
    EXPECT_EQ(t.Body("one").status, Status::kSkip);
  }
  {
    h.log.clear();
    FilterTester t(RecorderFactory(&h));
    t.Negotiate({6, a::kAll, 0});  // MTA without SKIP
    EXPECT_EQ(t.Body("one").status, Status::kContinue);
    EXPECT_EQ(t.Body("two").status, Status::kContinue);
    EXPECT_EQ(t.EndOfMessage("three").status, Status::kContinue);
    EXPECT_THAT(h.log, ElementsAre("body one", "eom"));
  }
}

TEST(EngineTest, SkipUnderNoReplyBodyStopsBodyCalls) {
  Hooks h;
  h.at_body = [](Context&, std::string_view) { return Status::kSkip; };
  FilterOptions o;
  o.protocol = p::kNoReplyBody;
  for (uint32_t offer : {p::kNoReplyBody | p::kSkip, p::kNoReplyBody}) {
    h.log.clear();
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate({6, a::kAll, offer});
    t.Mail("<a@b>");
    auto r = t.Body("one");
    EXPECT_EQ(r.status, Status::kNoReply);  // nothing may be sent
    EXPECT_TRUE(r.diagnostics.empty());
    EXPECT_EQ(t.Body("two").status, Status::kNoReply);
    EXPECT_EQ(t.EndOfMessage("three").status, Status::kContinue);
    // The next message gets its body again.
    t.Abort();
    t.Mail("<c@d>");
    t.Body("four");
    EXPECT_THAT(h.log, ElementsAre("mail <a@b>", "body one", "eom", "abort",
                                   "mail <c@d>", "body four"));
  }
  {
    // Emulated no-reply-body, native SKIP: the 's' goes out.
    h.log.clear();
    FilterTester t(RecorderFactory(&h, o));
    t.Negotiate({6, a::kAll, p::kSkip});
    EXPECT_EQ(t.Body("one").status, Status::kSkip);
  }
}

TEST(EngineTest, ConnectionClosedBeforeNegotiationMakesNoFilter) {
  Hooks h;
  int made = 0;
  auto factory = MakeFilterFactory<Recorder>(
      std::function<std::unique_ptr<Recorder>()>([&] {
        ++made;
        auto r = std::make_unique<Recorder>();
        r->log = &h.log;
        return r;
      }));
  {
    FilterTester t(factory);  // a probe: connects, closes
  }
  EXPECT_EQ(made, 0);
  EXPECT_TRUE(h.log.empty());  // no OnClose
  {
    FilterTester t(factory);
    t.Negotiate();
    t.QuitNewConnection();
    auto q = t.Quit();  // then the MTA quits without negotiating again
    EXPECT_TRUE(q.closed);
    EXPECT_TRUE(q.error.ok()) << q.error;  // a clean close, not an error
  }
  EXPECT_EQ(made, 1);
  EXPECT_THAT(h.log, ElementsAre("close"));
}

TEST(EngineTest, EndOfMessageDataGoesToBodyFirst) {
  Hooks h;
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Mail("<a@b>");
  t.EndOfMessage("tail");
  EXPECT_THAT(h.log, ElementsAre("mail <a@b>", "body tail", "eom"));
}

TEST(EngineTest, AbortBetweenMessagesAndCloseOnce) {
  Hooks h;
  {
    FilterTester t(RecorderFactory(&h));
    t.Negotiate();
    t.Mail("<a@b>");
    EXPECT_EQ(t.Abort().status, Status::kNoReply);
    t.Abort();  // Postfix sometimes sends two
    t.Mail("<c@d>");
    t.EndOfMessage();
    t.Abort();  // Postfix after end of message
    auto q = t.Quit();
    EXPECT_TRUE(q.closed);
  }
  EXPECT_THAT(h.log, ElementsAre("mail <a@b>", "abort", "abort", "mail <c@d>",
                                 "eom", "abort", "close"));
}

TEST(EngineTest, ConnectionLostMidMessageAbortsThenCloses) {
  Hooks h;
  {
    FilterTester t(RecorderFactory(&h));
    t.Negotiate();
    t.Mail("<a@b>");
  }
  EXPECT_THAT(h.log, ElementsAre("mail <a@b>", "abort", "close"));
}

TEST(EngineTest, QuitNewConnectionStartsAFreshSession) {
  Hooks h;
  int made = 0;
  auto factory = MakeFilterFactory<Recorder>(
      std::function<std::unique_ptr<Recorder>()>([&] {
        ++made;
        auto r = std::make_unique<Recorder>();
        r->log = &h.log;
        return r;
      }));
  FilterTester t(factory);
  t.Negotiate();
  t.Macros(codec::MacroStage::kConnect, {{"j", "one"}});
  t.Connect();
  auto k = t.QuitNewConnection();
  EXPECT_FALSE(k.closed);
  EXPECT_EQ(h.log.back(), "close");
  EXPECT_EQ(made, 1);  // the next filter object comes with the negotiation
  EXPECT_FALSE(t.Helo("x").error.ok());  // must negotiate again
  EXPECT_TRUE(t.Negotiate().error.ok());
  EXPECT_EQ(made, 2);
  EXPECT_EQ(t.context().GetMacro("j"), std::nullopt);
  EXPECT_EQ(t.Helo("again").status, Status::kContinue);
}

TEST(EngineTest, SymbolListsAreSentWhenOffered) {
  Hooks h;
  FilterOptions o;
  o.symbol_lists[static_cast<int>(codec::MacroStage::kMail)] = "{mail_addr} i";
  FilterTester t(RecorderFactory(&h, o));
  auto r = t.Negotiate();
  ASSERT_TRUE(r.negotiation);
  EXPECT_TRUE(r.negotiation->actions & a::kSetSymbolList);
  EXPECT_EQ(r.symbol_lists[2], "{mail_addr} i");
}

TEST(EngineTest, ProgressIsSentImmediately) {
  Hooks h;
  h.at_eom = [](Context& ctx) {
    EXPECT_TRUE(ctx.Progress().ok());
    EXPECT_TRUE(ctx.Progress().ok());
    return Status::kAccept;
  };
  FilterTester t(RecorderFactory(&h));
  t.Negotiate();
  t.Mail("<a@b>");
  auto r = t.EndOfMessage();
  EXPECT_EQ(r.progress, 2);
  EXPECT_EQ(r.status, Status::kAccept);
}

// A coroutine filter that awaits the event loop before answering.
class Waiter : public CoroutineFilter {
 public:
  asio::awaitable<Status> OnHelo(Context& ctx, std::string_view) override {
    asio::steady_timer timer(co_await asio::this_coro::executor,
                             std::chrono::milliseconds(5));
    co_await timer.async_wait(asio::use_awaitable);
    EXPECT_TRUE(ctx.SetReply("421", "4.3.2", "busy").ok());
    co_return Status::kTempfail;
  }
};

TEST(EngineTest, CoroutineFilterAwaits) {
  FilterTester t(MakeFilterFactory<Waiter>());
  auto n = t.Negotiate();
  EXPECT_TRUE(n.negotiation->protocol & p::kNoConnect);
  EXPECT_FALSE(n.negotiation->protocol & p::kNoHelo);
  auto r = t.Helo("x");
  EXPECT_EQ(r.status, Status::kTempfail);
  EXPECT_EQ(r.reply, "421 4.3.2 busy");
}

// Adjusts negotiation itself: asks for HDR_LEADSPC and one action, or
// refuses an MTA that cannot change headers.
class Negotiator : public Filter {
 public:
  Status OnNegotiate(Context&, Negotiation& n) override {
    if (!(n.offer.actions & a::kChangeHeaders)) return Status::kReject;
    n.request.actions = a::kChangeHeaders;
    n.request.protocol |= p::kHeaderLeadingSpace;
    n.symbol_lists[static_cast<int>(codec::MacroStage::kConnect)] = "j";
    return Status::kContinue;
  }
  Status OnUnknown(Context&, std::string_view command) override {
    return command == "XBAD" ? Status::kReject : Status::kContinue;
  }
};

TEST(EngineTest, OnNegotiateAdjustsOrRefuses) {
  {
    FilterTester t(MakeFilterFactory<Negotiator>());
    auto r = t.Negotiate();
    ASSERT_TRUE(r.error.ok()) << r.error;
    EXPECT_EQ(r.negotiation->actions, a::kChangeHeaders | a::kSetSymbolList);
    EXPECT_TRUE(r.negotiation->protocol & p::kHeaderLeadingSpace);
    EXPECT_FALSE(r.negotiation->protocol & p::kNoUnknown);
    EXPECT_TRUE(r.negotiation->protocol & p::kNoHelo);
    EXPECT_EQ(r.symbol_lists[0], "j");
    EXPECT_EQ(t.Unknown("XBAD").status, Status::kReject);
    EXPECT_EQ(t.Unknown("XOK").status, Status::kContinue);
  }
  {
    FilterTester t(MakeFilterFactory<Negotiator>());
    auto r = t.Negotiate({6, a::kAddHeaders, 0x1FFFFF});
    EXPECT_FALSE(r.error.ok());
    EXPECT_TRUE(r.closed);
  }
}

TEST(EngineTest, ExplicitCallbackMaskOverridesDetection) {
  Hooks h;
  FilterOptions o;
  o.callbacks = callback::kHelo;
  FilterTester t(RecorderFactory(&h, o));
  auto r = t.Negotiate();
  EXPECT_FALSE(r.negotiation->protocol & p::kNoHelo);
  EXPECT_TRUE(r.negotiation->protocol & p::kNoConnect);
  EXPECT_TRUE(r.negotiation->protocol & p::kNoMail);
}

}  // namespace
}  // namespace milter::client
