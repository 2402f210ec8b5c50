// Pmilter handler files run unchanged under Engine::RunFile: handlers in
// the style of Pmilter's README and examples (reject by client address,
// headers at end of message, reading the current header, skipping the body)
// and every Pmilter call, with assertions on the recorded requests.
#include <string>

#include "absl/strings/match.h"
#include "manager/script/engine.h"
#include "manager/script/test_util.h"

namespace milter::manager::script {
namespace {

using codec::Status;

class PmilterTest : public ScriptTest {
 protected:
  Engine::Outcome RunPmilter(const std::string& source, Stage stage) {
    std::string path = Write(absl::StrCat("p", ++count_, ".rb"), source);
    session_.stage = stage;
    session_.Reset();
    return engine_.RunFile(path, session_, Value::Symbol("fallback"),
                           absl::Milliseconds(500));
  }
  Engine engine_{Logged()};
};

TEST_F(PmilterTest, RejectByClientAddress) {
  const std::string handler = R"(
# connect handler: refuse one address
if Pmilter::Session.new.client_ipaddr == "192.0.2.7"
  Pmilter.status = Pmilter::SMFIS_REJECT
end
)";
  Engine::Outcome out = RunPmilter(handler, Stage::kConnect);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(out.value, Value::Nil());  // the code's value is ignored
  EXPECT_EQ(session_.status, Status::kReject);
  EXPECT_EQ(ResolveStatus(out, session_), Status::kReject);

  session_.client.address = "198.51.100.1";
  out = RunPmilter(handler, Stage::kConnect);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(session_.status, Status::kContinue);
}

TEST_F(PmilterTest, ConnectAndHeloReadersAsInTheReadme) {
  Engine::Outcome out = RunPmilter(R"(
puts "hello pmilter handler called from #{Pmilter.name}"
puts "client ipaddr #{Pmilter::Session.new.client_ipaddr}"
puts "client hostname #{Pmilter::Session.new.client_hostname}"
puts "client daemon #{Pmilter::Session.new.client_daemon}"
puts "handler phase name: #{Pmilter::Session.new.handler_phase_name}"
puts "helo hostname: #{Pmilter::Session.new.helo_hostname}"
puts "tls client issuer: #{Pmilter::Session.new.cert_issuer}"
puts "tls client subject: #{Pmilter::Session.new.cert_subject}"
puts "tls session key size: #{Pmilter::Session.new.cipher_bits}"
puts "tls encrypt method: #{Pmilter::Session.new.cipher}"
puts "tls version: #{Pmilter::Session.new.tls_version}"
)",
                                   Stage::kHelo);
  ASSERT_TRUE(out.error.ok()) << out.error;
  std::vector<std::string> want = {
      "script output: hello pmilter handler called from pmilter",
      "script output: client ipaddr 192.0.2.7",
      "script output: client hostname client.example.com",
      "script output: client daemon mta-in",
      "script output: handler phase name: mruby_helo_handler",
      "script output: helo hostname: client.example.com",
      "script output: tls client issuer: CN=ca",
      "script output: tls client subject: CN=client",
      "script output: tls session key size: 256",
      "script output: tls encrypt method: TLS_AES_256_GCM",
      "script output: tls version: TLSv1.3"};
  EXPECT_EQ(log_, want);
  EXPECT_EQ(session_.status, Status::kContinue);
}

TEST_F(PmilterTest, EnvelopeHandlers) {
  const std::string mail_from = R"(
s = Pmilter::Session.new
puts "env from: #{s.envelope_from} symval: #{s.mail_addr}"
puts "SASL: #{s.auth_authen} #{s.auth_author} #{s.auth_type}"
if s.envelope_from == "<spam-from@example.com>"
  Pmilter.status = Pmilter::SMFIS_REJECT
end
)";
  Engine::Outcome out = RunPmilter(mail_from, Stage::kEnvelopeFrom);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(session_.status, Status::kContinue);
  session_.envelope_from = "<spam-from@example.com>";
  out = RunPmilter(mail_from, Stage::kEnvelopeFrom);
  EXPECT_EQ(session_.status, Status::kReject);
  out = RunPmilter(
      "puts \"env to: #{Pmilter::Session.new.envelope_to} symval: "
      "#{Pmilter::Session.new.rcpt_addr}\"",
      Stage::kEnvelopeRecipient);
  ASSERT_TRUE(out.error.ok()) << out.error;
  std::vector<std::string> want = {
      "script output: env from: <a@example.com> symval: a@example.com",
      "script output: SASL: alice bob PLAIN",
      "script output: env from: <spam-from@example.com> symval: "
      "a@example.com",
      "script output: SASL: alice bob PLAIN",
      "script output: env to: <c@example.net> symval: c@example.net"};
  EXPECT_EQ(log_, want);
}

TEST_F(PmilterTest, HeaderAndBodyHandlers) {
  Engine::Outcome out = RunPmilter(
      "h = Pmilter::Session::Headers.new.header\n"
      "puts \"header: #{h.keys.first}=#{h.values.first} #{h.class}\"\n",
      Stage::kHeader);
  ASSERT_TRUE(out.error.ok()) << out.error;
  out = RunPmilter(
      "puts \"body chunk; #{Pmilter::Session.new.body_chunk}\"\n"
      "Pmilter.status = Pmilter::SMFIS_SKIP\n",
      Stage::kBody);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(session_.status, Status::kSkip);
  std::vector<std::string> want = {"script output: header: Subject=hello Hash",
                                   "script output: body chunk; body text"};
  EXPECT_EQ(log_, want);
}

TEST_F(PmilterTest, EndOfMessageHandler) {
  const std::string eom = R"(
p = Pmilter::Session.new
h = Pmilter::Session::Headers.new
puts "myhostname: #{p.myhostname}"
puts "message_id: #{p.message_id}"
puts "receive_time: #{Time.at(p.receive_time).to_i}"
puts "add_header: #{h['X-Pmilter'] = 'Enable'}"
puts "subject: #{h['subject']}"
if p.envelope_from == "<a@example.com>"
  p.change_envelope_from "<new-from@example.com>"
end
if p.envelope_to == "<c@example.net>"
  p.add_envelope_to "<new-to@example.com>"
end
)";
  Engine::Outcome out = RunPmilter(eom, Stage::kEndOfMessage);
  ASSERT_TRUE(out.error.ok()) << out.error;
  namespace mod = codec::mod;
  std::vector<codec::Modification> want = {
      mod::AddHeader{"X-Pmilter", "Enable"},
      mod::ChangeFrom{"<new-from@example.com>", std::nullopt},
      mod::AddRecipient{"<new-to@example.com>", std::nullopt}};
  EXPECT_EQ(session_.changes, want);
  std::vector<std::string> lines = {"script output: myhostname: mx.example.org",
                                    "script output: message_id: 4Qx1Abc",
                                    "script output: receive_time: 1700000000",
                                    "script output: add_header: Enable",
                                    "script output: subject: hello"};
  EXPECT_EQ(log_, lines);
}

TEST_F(PmilterTest, ModificationsOutsideEndOfMessageFailLikeLibmilter) {
  Engine::Outcome out = RunPmilter(R"(
h = Pmilter::Session::Headers.new
s = Pmilter::Session.new
r = [h.send(:[]=, "X-A", "b"), s.change_envelope_from("<a@b>"),
     s.add_envelope_to("<c@d>")]
puts r.inspect
puts [h.send(:[]=, "bad name", "x")].inspect
)",
                                   Stage::kEnvelopeRecipient);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_TRUE(session_.changes.empty());
  std::vector<std::string> want = {"script output: [-1, -1, -1]",
                                   "script output: [-1]"};
  EXPECT_EQ(log_, want);
}

// Found by the session API fuzzer: change_envelope_from and add_envelope_to
// recorded addresses with CR or LF (which Milter::Session#change_from and
// #add_recipient refuse), to be sent to the MTA as envelope addresses.
TEST_F(PmilterTest, EnvelopeAddressesWithLineBreaksFail) {
  Engine::Outcome out = RunPmilter(R"(
s = Pmilter::Session.new
puts [s.change_envelope_from("<a@b>\r\nRCPT TO:<x@y>"),
      s.add_envelope_to("<c@d>\n"), s.add_envelope_to("\r<e@f>"),
      s.change_envelope_from(""), s.add_envelope_to("<ok@example.com>")].inspect
)",
                                   Stage::kEndOfMessage);
  ASSERT_TRUE(out.error.ok()) << out.error;
  std::vector<std::string> want = {"script output: [-1, -1, -1, -1, 0]"};
  EXPECT_EQ(log_, want);
  ASSERT_EQ(session_.changes.size(), 1u);
  EXPECT_EQ(session_.changes[0], codec::Modification(codec::mod::AddRecipient{
                                     "<ok@example.com>", std::nullopt}));
}

TEST_F(PmilterTest, StatusConstantsAndAccessor) {
  Engine::Outcome out = RunPmilter(R"(
puts [Pmilter::SMFIS_CONTINUE, Pmilter::SMFIS_REJECT, Pmilter::SMFIS_DISCARD,
      Pmilter::SMFIS_ACCEPT, Pmilter::SMFIS_TEMPFAIL, Pmilter::SMFIS_NOREPLY,
      Pmilter::SMFIS_SKIP, Pmilter::SMFIS_ALL_OPTS].inspect
Pmilter.status = Pmilter::SMFIS_TEMPFAIL
puts Pmilter.status
)",
                                   Stage::kEnvelopeFrom);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(session_.status, Status::kTempfail);
  std::vector<std::string> want = {"script output: [0, 1, 2, 3, 4, 7, 8, 10]",
                                   "script output: 4"};
  EXPECT_EQ(log_, want);
  struct Case {
    const char* constant;
    Status status;
  };
  for (const Case& c : {Case{"SMFIS_ACCEPT", Status::kAccept},
                        Case{"SMFIS_DISCARD", Status::kDiscard},
                        Case{"SMFIS_NOREPLY", Status::kContinue},
                        Case{"SMFIS_CONTINUE", Status::kContinue}}) {
    out =
        RunPmilter(absl::StrCat("Pmilter.status = Pmilter::", c.constant, "\n"),
                   Stage::kEnvelopeFrom);
    ASSERT_TRUE(out.error.ok()) << out.error;
    EXPECT_EQ(session_.status, c.status) << c.constant;
  }
  out = RunPmilter("Pmilter.status = 5\n", Stage::kEnvelopeFrom);
  EXPECT_TRUE(absl::StrContains(out.error.message(),
                                "ArgumentError: Pmilter.status=: 5 is not"))
      << out.error;
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
}

TEST_F(PmilterTest, MissingMacrosReadAsEmptyStrings) {
  session_.macros = nullptr;
  Engine::Outcome out = RunPmilter(
      "s = Pmilter::Session.new\n"
      "puts [s.auth_authen, s.client_daemon, s.message_id].inspect\n",
      Stage::kEnvelopeFrom);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(log_,
            std::vector<std::string>{"script output: [\"\", \"\", \"\"]"});
}

TEST_F(PmilterTest, OwnApiInARunFileScript) {
  Engine::Outcome out = RunPmilter(R"(
s = Milter::Session.current
s.reject("no thanks") if s.client_address.start_with?("192.0.2.")
)",
                                   Stage::kConnect);
  ASSERT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(session_.status, Status::kReject);
  EXPECT_EQ(session_.reply, "550 5.7.1 no thanks");
}

TEST_F(PmilterTest, PmilterSessionOutsideACallRaises) {
  // A handler file's top-level code runs at load, with no session bound.
  std::string path = Write("top.rb",
                           "X = Pmilter::Session.new.client_ipaddr\n"
                           "def on_connect(s) = :accept\n");
  session_.stage = Stage::kConnect;
  Engine::Outcome out =
      engine_.Call(path, "on_connect", session_, Value::Symbol("fallback"),
                   absl::Milliseconds(500));
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_TRUE(absl::StrContains(out.error.message(),
                                "top.rb:1: RuntimeError: session used "
                                "outside its handler call"))
      << out.error;
}

}  // namespace
}  // namespace milter::manager::script
