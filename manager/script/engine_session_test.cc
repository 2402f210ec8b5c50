// Engine calls with a Session: Call with a Milter::Session argument, RunFile
// (Pmilter's model), Defines; errors and timeouts inside them give the
// fallback with FILE:LINE; hot reload; a session object kept by a script.
#include <mruby.h>

#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "manager/script/engine.h"
#include "manager/script/test_util.h"

namespace milter::manager::script {
namespace {

using codec::Status;

class EngineSessionTest : public ScriptTest {
 protected:
  Engine::Outcome CallFile(Engine& engine, const std::string& path,
                           const std::string& handler,
                           absl::Duration limit = absl::Milliseconds(500)) {
    session_.Reset();
    return engine.Call(path, handler, session_, Value::Symbol("fallback"),
                       limit);
  }
  Engine::Outcome RunFile(Engine& engine, const std::string& path,
                          absl::Duration limit = absl::Milliseconds(500)) {
    session_.Reset();
    return engine.RunFile(path, session_, Value::Symbol("fallback"), limit);
  }
};

TEST_F(EngineSessionTest, ExceptionGivesFallbackWithFileAndLine) {
  Engine engine(Logged());
  std::string path = Write("boom.rb",
                           "def on_helo(s)\n  s.accept\n"
                           "  raise ArgumentError, 'bad helo'\n"
                           "end\n");
  Engine::Outcome out = CallFile(engine, path, "on_helo");
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_EQ(out.error.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(out.error.message(),
            absl::StrCat(path, ":3: ArgumentError: bad helo"));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0],
            absl::StrCat("script ", path, ":3: ArgumentError: bad helo"));

  std::string run = Write("run_boom.rb", "x = 1\nraise 'top boom'\n");
  out = RunFile(engine, run);
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_EQ(out.error.message(),
            absl::StrCat(run, ":2: RuntimeError: top boom"));
  EXPECT_FALSE(engine.running());
  EXPECT_EQ(engine.vm_depth(), 0);
}

TEST_F(EngineSessionTest, PerCallTimeLimitStopsLoopsInBothModels) {
  Engine engine(Logged());  // default limit 100 ms; the calls give their own
  std::string path = Write("loop.rb", R"(
def on_body(s)
  n = 0
  begin
    loop { n += 1 }
  rescue Exception
    retry
  end
end
)");
  Engine::Outcome out =
      CallFile(engine, path, "on_body", absl::Milliseconds(20));
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_EQ(out.error.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(absl::StrContains(out.error.message(),
                                "ScriptTimeout: time limit of 20ms exceeded"))
      << out.error;
  EXPECT_TRUE(absl::StrContains(out.error.message(), path + ":5")) << out.error;
  EXPECT_EQ(engine.vm_depth(), 0);

  std::string run = Write("run_loop.rb", "n = 0\nwhile true\n  n += 1\nend\n");
  out = RunFile(engine, run, absl::Milliseconds(30));
  EXPECT_EQ(out.error.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(absl::StrContains(out.error.message(), "time limit of 30ms"))
      << out.error;
  // FILE:LINE (mruby attributes a top-level loop to its first lines).
  EXPECT_TRUE(absl::StartsWith(out.error.message(), run + ":")) << out.error;
  EXPECT_FALSE(engine.running());

  // The engine works normally afterwards, with each call's own limit.
  std::string ok = Write("ok.rb", "def on_body(s) = s.skip\n");
  out = CallFile(engine, ok, "on_body", absl::Seconds(1));
  EXPECT_TRUE(out.error.ok()) << out.error;
  EXPECT_EQ(out.value, Value::Symbol("skip"));
  EXPECT_EQ(session_.status, Status::kSkip);
}

TEST_F(EngineSessionTest, RunFileCompilesOnceAndKeepsItsInstance) {
  Engine engine(Logged());
  std::string path = Write("count.rb", R"(
@calls = (@calls || 0) + 1
Pmilter.status = Pmilter::SMFIS_REJECT if @calls >= 3
)");
  for (int i = 1; i <= 50; ++i) {
    Engine::Outcome out = RunFile(engine, path);
    ASSERT_TRUE(out.error.ok()) << out.error;
    EXPECT_EQ(session_.status, i >= 3 ? Status::kReject : Status::kContinue);
  }
  EXPECT_EQ(engine.compiles(), 1);
  // Call-style use of the same file is a separate load (its own instance).
  EXPECT_FALSE(engine.Defines(path, "anything"));
  EXPECT_EQ(engine.compiles(), 2);
}

TEST_F(EngineSessionTest, RunFileIsReloadedAndABrokenEditKeepsTheOldCode) {
  Engine engine(Logged());
  std::string path =
      Write("hot.rb", "Pmilter.status = Pmilter::SMFIS_ACCEPT\n");
  ASSERT_TRUE(RunFile(engine, path).error.ok());
  EXPECT_EQ(session_.status, Status::kAccept);
  Write("hot.rb", "Pmilter.status = Pmilter::SMFIS_DISCARD\n", 1);
  ASSERT_TRUE(RunFile(engine, path).error.ok());
  EXPECT_EQ(session_.status, Status::kDiscard);
  Write("hot.rb", "Pmilter.status = (\n", 2);
  Engine::Outcome out = RunFile(engine, path);
  EXPECT_TRUE(out.error.ok()) << out.error;  // the old code ran
  EXPECT_EQ(session_.status, Status::kDiscard);
  ASSERT_FALSE(log_.empty());
  EXPECT_TRUE(absl::StrContains(log_.back(), path + ":2:")) << log_.back();
  EXPECT_EQ(engine.compiles(), 2);
}

TEST_F(EngineSessionTest, HandlerFilesAreReloadedToo) {
  Engine engine(Logged());
  std::string path = Write("h.rb", "def on_connect(s) = :accept\n");
  EXPECT_EQ(CallFile(engine, path, "on_connect").value,
            Value::Symbol("accept"));
  Write("h.rb", "def on_connect(s) = s.reject('no')\n", 1);
  EXPECT_EQ(CallFile(engine, path, "on_connect").value,
            Value::Symbol("reject"));
  EXPECT_EQ(session_.reply, "550 5.7.1 no");
}

TEST_F(EngineSessionTest, AKeptSessionObjectRaisesAfterItsCall) {
  Engine engine(Logged());
  std::string path = Write("keep.rb", R"(
def on_connect(s)
  first = @kept.nil?
  @kept ||= s
  return s.client_address if first
  @kept.client_address
end
def on_helo(s)
  @kept.reject
rescue RuntimeError => e
  e.message
end
)");
  Engine::Outcome out = CallFile(engine, path, "on_connect");
  EXPECT_EQ(out.value, Value::String("192.0.2.7"));
  out = CallFile(engine, path, "on_connect");
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_TRUE(absl::StrContains(
      out.error.message(),
      "RuntimeError: Milter::Session used outside its handler call"))
      << out.error;
  out = CallFile(engine, path, "on_helo");
  EXPECT_EQ(out.value,
            Value::String("Milter::Session used outside its handler call"));
  EXPECT_EQ(session_.status, Status::kContinue);  // nothing recorded
  // Milter::Session.current outside any call raises too.
  std::string top = Write("top.rb", "S = Milter::Session.current\n");
  EXPECT_TRUE(absl::StrContains(engine.Load(top).message(),
                                "top.rb:1: RuntimeError: session used "
                                "outside its handler call"));
}

TEST_F(EngineSessionTest, DefinesTellsWhichHandlersAFileHas) {
  Engine engine(Logged());
  std::string path = Write("d.rb",
                           "def on_connect(s) = nil\n"
                           "def on_eom(s) = nil\n");
  EXPECT_TRUE(engine.Defines(path, "on_connect"));
  EXPECT_TRUE(engine.Defines(path, "on_eom"));
  EXPECT_FALSE(engine.Defines(path, "on_helo"));
  EXPECT_FALSE(engine.Defines(path, "on_body"));
  EXPECT_FALSE(engine.Defines(dir_ + "/missing.rb", "on_connect"));
  std::string broken = Write("broken.rb", "def on_connect(s\n");
  EXPECT_FALSE(engine.Defines(broken, "on_connect"));
  EXPECT_EQ(engine.compiles(), 1);
}

TEST_F(EngineSessionTest, MissingHandlerGivesTheFallback) {
  Engine engine(Logged());
  std::string path = Write("m.rb", "def on_connect(s) = :accept\n");
  Engine::Outcome out = CallFile(engine, path, "on_helo");
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_EQ(out.error.code(), absl::StatusCode::kNotFound);
  out = RunFile(engine, dir_ + "/missing.rb");
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_EQ(out.error.code(), absl::StatusCode::kNotFound);
}

TEST_F(EngineSessionTest, ContextAndSessionCallsShareAnEngine) {
  Engine engine(Logged());
  std::string path = Write("both.rb", R"(
def by_context(ctx) = ctx["a"]
def by_session(s) = s.helo
)");
  MapContext context;
  context.Set("a", "b");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(engine.Call(path, "by_context", context, Value::Nil()).value,
              Value::String("b"));
    EXPECT_EQ(CallFile(engine, path, "by_session").value,
              Value::String("client.example.com"));
  }
}

TEST_F(EngineSessionTest, RefusesASecondThread) {
  Engine engine(Logged());
  std::string path = Write("t.rb", "def h(s) = 1\n");
  EXPECT_EQ(CallFile(engine, path, "h").value, Value::Integer(1));
  Engine::Outcome call, run;
  std::thread([&] {
    Session other;
    call = engine.Call(path, "h", other, Value::Integer(-1), absl::Seconds(1));
    run = engine.RunFile(path, other, Value::Integer(-2), absl::Seconds(1));
  }).join();
  EXPECT_EQ(call.value, Value::Integer(-1));
  EXPECT_EQ(call.error.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(run.value, Value::Integer(-2));
  EXPECT_EQ(run.error.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineSessionTest, ArenaIsRestoredAcrossSessionCalls) {
  Engine engine(Logged());
  std::string path = Write("gc.rb", R"(
def h(s) = s.headers["subject"].size + s.recipients.size
def boom(s) = raise("x" * 10)
)");
  std::string run = Write("run.rb", "Pmilter::Session.new.client_ipaddr * 3\n");
  int arena = mrb_gc_arena_save(engine.vm());
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(CallFile(engine, path, "h").value, Value::Integer(7));
    CallFile(engine, path, "boom");
    ASSERT_TRUE(RunFile(engine, run).error.ok());
  }
  EXPECT_EQ(mrb_gc_arena_save(engine.vm()), arena);
}

}  // namespace
}  // namespace milter::manager::script
