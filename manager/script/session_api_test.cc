// Milter::Session: every reader and every request, on real script files,
// with assertions on the values scripts see and on the recorded requests.
#include "manager/script/session_api.h"

#include <string>
#include <variant>

#include "absl/strings/match.h"
#include "manager/script/engine.h"
#include "manager/script/test_util.h"

namespace milter::manager::script {
namespace {

using codec::Status;

class SessionApiTest : public ScriptTest {
 protected:
  // The String a handler returns, failing the test on an error.
  std::string Text(const std::string& body, Stage stage = Stage::kConnect) {
    Engine::Outcome out =
        Run(engine_, absl::StrCat("def handle(s)\n", body, "\nend\n"), stage);
    EXPECT_TRUE(out.error.ok()) << out.error;
    EXPECT_EQ(out.value.kind, Value::Kind::kString) << out.value.DebugString();
    return out.value.text;
  }
  // The error message of a handler that must raise.
  std::string Error(const std::string& body, Stage stage = Stage::kConnect) {
    Engine::Outcome out =
        Run(engine_, absl::StrCat("def handle(s)\n", body, "\nend\n"), stage);
    EXPECT_FALSE(out.error.ok()) << "no error from: " << body;
    EXPECT_EQ(out.value, Value::Symbol("fallback"));
    return std::string(out.error.message());
  }

  Engine engine_{Logged()};
};

TEST_F(SessionApiTest, ConnectionFacts) {
  EXPECT_EQ(Text("[s.client_address, s.client_host, s.client_port, "
                 "s.client_family].inspect"),
            R"(["192.0.2.7", "client.example.com", 40123, :inet])");
  session_.client.family = codec::Family::kInet6;
  EXPECT_EQ(Text("s.client_family.inspect"), ":inet6");
  session_.client.family = codec::Family::kUnix;
  EXPECT_EQ(Text("s.client_family.inspect"), ":unix");
  EXPECT_EQ(Text("[s.helo, s.stage].inspect", Stage::kHelo),
            R"(["client.example.com", :helo])");
}

TEST_F(SessionApiTest, MacroFacts) {
  EXPECT_EQ(Text("[s.daemon_name, s.mta_hostname, s.queue_id].inspect"),
            R"(["mta-in", "mx.example.org", "4Qx1Abc"])");
  EXPECT_EQ(Text("[s.tls_version, s.cipher, s.cipher_bits, s.cert_subject, "
                 "s.cert_issuer].inspect"),
            R"(["TLSv1.3", "TLS_AES_256_GCM", "256", "CN=client", "CN=ca"])");
  EXPECT_EQ(Text("[s.auth_type, s.auth_authen, s.auth_author].inspect"),
            R"(["PLAIN", "alice", "bob"])");
  EXPECT_EQ(Text("[s.macro('i'), s.macro('{auth_authen}'), "
                 "s.macro('auth_authen'), s[:j], s['{nope}']].inspect"),
            R"(["4Qx1Abc", "alice", "alice", "mx.example.org", nil])");
  session_.macros = nullptr;
  EXPECT_EQ(Text("[s.queue_id, s['i']].inspect"), "[nil, nil]");
  EXPECT_NE(Error("s.macro(1)").find("TypeError"), std::string::npos);
}

TEST_F(SessionApiTest, EnvelopeFacts) {
  EXPECT_EQ(Text("[s.envelope_from, s.envelope_from_args].inspect"),
            R"(["<a@example.com>", ["SIZE=100", "BODY=8BITMIME"]])");
  EXPECT_EQ(Text("[s.recipients, s.recipient, s.recipient_args].inspect"),
            R"([["<b@example.net>", "<c@example.net>"], "<c@example.net>", )"
            R"(["NOTIFY=NEVER"]])");
}

TEST_F(SessionApiTest, HeaderBodyAndOtherFacts) {
  EXPECT_EQ(Text("[s.header_name, s.header_value].inspect", Stage::kHeader),
            R"(["Subject", "hello"])");
  EXPECT_EQ(
      Text("h = s.headers\n"
           "[h['subject'], h['SUBJECT'], h['received'], h.all('Received'),"
           " h.key?('from'), h.key?('x-no'), h['x-no'], h.size,"
           " h.names, h.to_a.first, h.map { |k, v| k }.size].inspect"),
      R"(["hello", "hello", "one", ["one", "two"], true, false, nil, 4, )"
      R"(["From", "Subject", "Received", "Received"], )"
      R"(["From", "a@example.com"], 4])");
  EXPECT_EQ(Text("[s.body_chunk, s.unknown_command, s.message_count].inspect"),
            R"(["body text", "XFOO bar", 2])");
  EXPECT_EQ(Text("t = s.receive_time\n[t.class, t.to_i, t.usec].inspect"),
            "[Time, 1700000000, 250000]");
  EXPECT_EQ(
      Text("[s.stage, s.status, s.reply_text].inspect", Stage::kEndOfMessage),
      R"([:eom, :continue, ""])");
}

TEST_F(SessionApiTest, ChildrenAndAnswers) {
  EXPECT_EQ(Text("s.children.inspect"), R"(["spamd", "clamav"])");
  EXPECT_EQ(Text("a = s.child_answers\n"
                 "a.map { |x| [x.child, x.stage, x.status, x.reply] }.inspect"),
            R"([["spamd", :envfrom, :continue, ""], )"
            R"(["clamav", :envfrom, :reject, "550 5.7.1 no"]])");
  EXPECT_EQ(Text("s.child_answer('clamav', :envfrom).status.inspect"),
            ":reject");
  EXPECT_EQ(Text("s.child_answer('clamav').inspect"), "nil");
  session_.child_names = nullptr;
  session_.child_answers = nullptr;
  EXPECT_EQ(Text("[s.children, s.child_answers].inspect"), "[[], []]");
}

TEST_F(SessionApiTest, Verdicts) {
  struct Case {
    const char* call;
    Status status;
    const char* reply;
  };
  const Case cases[] = {
      {"s.accept", Status::kAccept, ""},
      {"s.discard", Status::kDiscard, ""},
      {"s.skip", Status::kSkip, ""},
      {"s.reject; s.continue", Status::kContinue, ""},
      {"s.reject", Status::kReject, ""},
      {"s.tempfail", Status::kTempfail, ""},
      {"s.reject('go away')", Status::kReject, "550 5.7.1 go away"},
      {"s.tempfail('later')", Status::kTempfail, "451 4.7.1 later"},
      {"s.reject('554 5.7.0 no')", Status::kReject, "554 5.7.0 no"},
      {"s.tempfail(\"421-4.3.0 a\\r\\n421 4.3.0 b\")", Status::kTempfail,
       "421-4.3.0 a\r\n421 4.3.0 b"},
      {"s.reply(550, '5.7.1', 'a', 'b')", Status::kReject,
       "550-5.7.1 a\r\n550 5.7.1 b"},
      {"s.reply('451', nil, 'try later')", Status::kTempfail, "451 try later"},
      {"s.reply(554, '5.7.1')", Status::kReject, "554 5.7.1"},
  };
  for (const Case& c : cases) {
    Engine::Outcome out =
        Run(engine_, absl::StrCat("def handle(s)\n", c.call, "\nnil\nend\n"),
            Stage::kEnvelopeFrom);
    ASSERT_TRUE(out.error.ok()) << c.call << ": " << out.error;
    EXPECT_EQ(session_.status, c.status) << c.call;
    EXPECT_EQ(session_.reply, c.reply) << c.call;
  }
  // A verdict method returns its Symbol, so `return s.reject` works.
  EXPECT_EQ(Text("[s.accept, s.reject, s.reply(451, nil, 'x')].inspect"),
            "[:accept, :reject, :tempfail]");
}

TEST_F(SessionApiTest, BadRepliesRaiseAndRecordNothing) {
  for (const char* call :
       {"s.reply(250, nil, 'ok')", "s.reply(600, nil, 'x')",
        "s.reply('abc', nil, 'x')", "s.reply(550, '4.7.1', 'x')",
        "s.reply(550, '5.7', 'x')", "s.reply(550, nil, \"a\\r\\nb\")",
        "s.reject('451 4.7.1 wrong class')", "s.tempfail('550 wrong')",
        "s.reject(\"bad\\nline\")",
        "s.reject(\"550-5.7.1 a\\r\\n551 5.7.1 b\")",
        "s.reject(\"550 5.7.1 a\\r\\n550 5.7.1 b\")",
        "s.reject(\"550-5.7.1 a\\n550 5.7.1 b\")",
        "s.tempfail(\"451-4.7.1 a\\r\\n451-4.7.1 b\")"}) {
    std::string error = Error(call, Stage::kEnvelopeFrom);
    EXPECT_TRUE(absl::StrContains(error, "ArgumentError")) << call << error;
    EXPECT_EQ(session_.status, Status::kContinue) << call;
    EXPECT_EQ(session_.reply, "") << call;
  }
  EXPECT_TRUE(absl::StrContains(Error("s.reply(550, nil, 42)"), "TypeError"));
}

TEST_F(SessionApiTest, EveryModificationAtEndOfMessage) {
  Engine::Outcome out = Run(engine_, R"(
def handle(s)
  s.add_header("X-Spam", "yes")
  s.insert_header(0, "X-First", "1")
  s.change_header("Subject", 2, "new")
  s.change_header("X-Old", 1, nil)
  s.change_header("X-Older", 1, "")
  s.delete_header("Received")
  s.delete_header("Received", 2)
  s.change_from("<new@example.com>")
  s.change_from("<new@example.com>", "SIZE=1")
  s.add_recipient("<x@example.com>")
  s.add_recipient("<y@example.com>", "NOTIFY=NEVER")
  s.delete_recipient("<b@example.net>")
  s.replace_body("new body\r\n")
  s.quarantine("suspicious")
  nil
end
)",
                            Stage::kEndOfMessage);
  ASSERT_TRUE(out.error.ok()) << out.error;
  namespace mod = codec::mod;
  std::vector<codec::Modification> want = {
      mod::AddHeader{"X-Spam", "yes"},
      mod::InsertHeader{0, "X-First", "1"},
      mod::ChangeHeader{2, "Subject", "new"},
      mod::ChangeHeader{1, "X-Old", ""},
      mod::ChangeHeader{1, "X-Older", ""},
      mod::ChangeHeader{1, "Received", ""},
      mod::ChangeHeader{2, "Received", ""},
      mod::ChangeFrom{"<new@example.com>", std::nullopt},
      mod::ChangeFrom{"<new@example.com>", "SIZE=1"},
      mod::AddRecipient{"<x@example.com>", std::nullopt},
      mod::AddRecipient{"<y@example.com>", "NOTIFY=NEVER"},
      mod::DeleteRecipient{"<b@example.net>"},
      mod::ReplaceBody{"new body\r\n"},
      mod::Quarantine{"suspicious"},
  };
  ASSERT_EQ(session_.changes.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(session_.changes[i], want[i])
        << i << ": " << codec::ToString(want[i]);
  }
  EXPECT_EQ(session_.status, Status::kContinue);
}

TEST_F(SessionApiTest, ModificationsAreRefusedBeforeEndOfMessage) {
  for (const char* call :
       {"s.add_header('X-A', 'b')", "s.insert_header(0, 'X-A', 'b')",
        "s.change_header('X-A', 1, 'b')", "s.delete_header('X-A')",
        "s.change_from('<a@b>')", "s.add_recipient('<a@b>')",
        "s.delete_recipient('<a@b>')", "s.replace_body('x')",
        "s.quarantine('x')"}) {
    for (Stage stage : {Stage::kConnect, Stage::kEnvelopeRecipient,
                        Stage::kHeader, Stage::kEndOfHeaders, Stage::kBody}) {
      std::string error = Error(call, stage);
      EXPECT_TRUE(absl::StrContains(error, "ArgumentError")) << error;
      EXPECT_TRUE(
          absl::StrContains(error, absl::StrCat("end of message only, not at ",
                                                std::string(StageName(stage)))))
          << error;
      EXPECT_TRUE(session_.changes.empty()) << call;
    }
  }
}

TEST_F(SessionApiTest, BadModificationsRaise) {
  for (const char* call :
       {"s.add_header('', 'b')", "s.add_header('X A', 'b')",
        "s.add_header('X:A', 'b')", "s.add_header('X-A', \"a\\0b\")",
        "s.insert_header(-1, 'X-A', 'b')", "s.change_header('X-A', 0, 'b')",
        "s.delete_header('X-A', 0)", "s.change_from('')",
        "s.add_recipient(\"<a\\r\\n@b>\")", "s.quarantine('')"}) {
    std::string error = Error(call, Stage::kEndOfMessage);
    EXPECT_TRUE(absl::StrContains(error, "ArgumentError")) << call << error;
    EXPECT_TRUE(session_.changes.empty()) << call;
  }
}

TEST_F(SessionApiTest, ChildSwitchesAndMacros) {
  Engine::Outcome out = Run(engine_, R"(
def handle(s)
  s.disable_child("spamd")
  s.enable_child("clamav", :session)
  s.disable_child("clamav", :recipient)
  s.enable_child("spamd", :message)
  s.set_macro("{client_class}", "trusted")
  s.set_macro(:x, "1")
  nil
end
)",
                            Stage::kEnvelopeFrom);
  ASSERT_TRUE(out.error.ok()) << out.error;
  ASSERT_EQ(session_.switches.size(), 4u);
  EXPECT_EQ(session_.switches[0].child, "spamd");
  EXPECT_FALSE(session_.switches[0].enabled);
  EXPECT_EQ(session_.switches[0].scope, SwitchScope::kMessage);
  EXPECT_EQ(session_.switches[1].child, "clamav");
  EXPECT_TRUE(session_.switches[1].enabled);
  EXPECT_EQ(session_.switches[1].scope, SwitchScope::kSession);
  EXPECT_EQ(session_.switches[2].scope, SwitchScope::kRecipient);
  EXPECT_FALSE(session_.switches[2].enabled);
  EXPECT_TRUE(session_.switches[3].enabled);
  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(session_.macro_sets,
            (std::vector<Pair>{{"{client_class}", "trusted"}, {"x", "1"}}));

  EXPECT_TRUE(absl::StrContains(Error("s.disable_child('nope')"),
                                "ArgumentError: disable_child: no child "
                                "named \"nope\""));
  EXPECT_TRUE(absl::StrContains(Error("s.enable_child('spamd', :forever)"),
                                "scope must be :session, :message or "
                                ":recipient"));
  EXPECT_TRUE(
      absl::StrContains(Error("s.set_macro('', 'x')"), "ArgumentError"));
  EXPECT_TRUE(session_.switches.empty());
}

TEST_F(SessionApiTest, ResolveStatusAppliesTheReturnValueRules) {
  // A returned status Symbol wins; a reply for another verdict is dropped.
  Engine::Outcome out =
      Run(engine_, "def handle(s)\n s.reject('no')\n :accept\nend\n",
          Stage::kEnvelopeFrom);
  EXPECT_EQ(ResolveStatus(out, session_), Status::kAccept);
  EXPECT_EQ(session_.reply, "");
  // The same status keeps its reply.
  out = Run(engine_, "def handle(s)\n s.reject('no')\nend\n",
            Stage::kEnvelopeFrom);
  EXPECT_EQ(out.value, Value::Symbol("reject"));
  EXPECT_EQ(ResolveStatus(out, session_), Status::kReject);
  EXPECT_EQ(session_.reply, "550 5.7.1 no");
  // nil, other Symbols, Strings...: the actions decide.
  for (const char* ret : {"nil", ":maybe", "'reject'", "42", "true"}) {
    out = Run(engine_,
              absl::StrCat("def handle(s)\n s.discard\n ", ret, "\nend\n"),
              Stage::kEnvelopeFrom);
    EXPECT_EQ(ResolveStatus(out, session_), Status::kDiscard) << ret;
  }
  out = Run(engine_, "def handle(s)\n :tempfail\nend\n", Stage::kHelo);
  EXPECT_EQ(ResolveStatus(out, session_), Status::kTempfail);
  // An error drops the requests; the fallback decides (continue otherwise).
  session_.Reset();
  out = Run(engine_, "def handle(s)\n s.reject('x')\n raise 'boom'\nend\n",
            Stage::kEnvelopeFrom);
  Engine::Outcome failed{Value::Symbol("tempfail"), out.error};
  EXPECT_EQ(ResolveStatus(failed, session_), Status::kTempfail);
  EXPECT_EQ(session_.reply, "");
  failed.value = Value::Nil();
  session_.status = Status::kReject;
  EXPECT_EQ(ResolveStatus(failed, session_), Status::kContinue);
  EXPECT_EQ(StatusFromName("skip"), Status::kSkip);
  EXPECT_EQ(StatusFromName("no_reply"), std::nullopt);
}

TEST_F(SessionApiTest, StageAndHandlerNames) {
  const char* names[] = {"connect", "helo",    "envfrom", "envrcpt",
                         "data",    "unknown", "header",  "eoh",
                         "body",    "eom",     "abort",   "close"};
  for (int i = 0; i < kNumStages; ++i) {
    Stage stage = static_cast<Stage>(i);
    EXPECT_EQ(StageName(stage), names[i]);
    EXPECT_EQ(HandlerName(stage), absl::StrCat("on_", names[i]));
  }
  EXPECT_EQ(session_.Macro("i"), "4Qx1Abc");
  EXPECT_EQ(session_.Macro("{i}"), "4Qx1Abc");
  EXPECT_EQ(session_.Macro("{auth_authen}"), "alice");
  EXPECT_EQ(session_.Macro("auth_authen"), "alice");
  EXPECT_EQ(session_.Macro("nope"), "");
}

TEST_F(SessionApiTest, PutsGoesToTheLog) {
  EXPECT_EQ(Text("puts 'hello', ['a', 'b']\nprint 'x', 1\np :sym\n'done'"),
            "done");
  std::vector<std::string> want = {"script output: hello", "script output: a",
                                   "script output: b", "script output: x1",
                                   "script output: :sym"};
  EXPECT_EQ(log_, want);
}

}  // namespace
}  // namespace milter::manager::script
