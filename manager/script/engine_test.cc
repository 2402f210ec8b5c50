// Engine tests on real files in a temporary directory: loading, caching,
// reloading, errors with positions, the time limit, isolation.
#include "manager/script/engine.h"

#include <fcntl.h>
#include <mruby.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "manager/script/test_util.h"

namespace milter::manager::script {
namespace {

using std::chrono::steady_clock;

// Scripts in a temporary directory (test_util.h), called with a plain
// context.
class EngineTest : public ScriptTest {
 protected:
  MapContext context_;
};

TEST_F(EngineTest, CallsHandlerWithContext) {
  std::string path = Write("helo.rb", R"(
def on_helo(ctx)
  return :tempfail unless ctx.key?("helo")
  ctx["helo"] == "good.example" && ctx["addr"].start_with?("192.0.2.") ?
    :accept : :reject
end
)");
  Engine engine(Logged());
  Value fallback = Value::Symbol("fallback");
  EXPECT_EQ(engine.Call(path, "on_helo", context_, fallback).value,
            Value::Symbol("tempfail"));
  context_.Set("helo", "good.example");
  context_.Set("addr", "192.0.2.7");
  Engine::Outcome outcome = engine.Call(path, "on_helo", context_, fallback);
  EXPECT_TRUE(outcome.error.ok()) << outcome.error;
  EXPECT_EQ(outcome.value, Value::Symbol("accept"));
  context_.Set("helo", "bad");
  EXPECT_EQ(engine.Call(path, "on_helo", context_, fallback).value,
            Value::Symbol("reject"));
  EXPECT_EQ(engine.compiles(), 1);  // compiled once, then cached
  EXPECT_TRUE(log_.empty());
}

TEST_F(EngineTest, MapsReturnValues) {
  std::string path = Write("values.rb", R"(
def a(c) nil end
def b(c) true end
def d(c) false end
def e(c) 42 end
def f(c) "text" end
def g(c) :sym end
def h(c) 1.5 end
)");
  Engine engine(Logged());
  Value fb = Value::String("fb");
  EXPECT_EQ(engine.Call(path, "a", context_, fb).value, Value::Nil());
  EXPECT_EQ(engine.Call(path, "b", context_, fb).value, Value::Bool(true));
  EXPECT_EQ(engine.Call(path, "d", context_, fb).value, Value::Bool(false));
  EXPECT_EQ(engine.Call(path, "e", context_, fb).value, Value::Integer(42));
  EXPECT_EQ(engine.Call(path, "f", context_, fb).value, Value::String("text"));
  EXPECT_EQ(engine.Call(path, "g", context_, fb).value, Value::Symbol("sym"));
  Engine::Outcome bad = engine.Call(path, "h", context_, fb);
  EXPECT_EQ(bad.value, fb);
  EXPECT_TRUE(absl::StrContains(bad.error.message(), "Float")) << bad.error;
  EXPECT_EQ(Value::Symbol("x").DebugString(), ":x");
}

TEST_F(EngineTest, CompileErrorNamesFileAndLine) {
  std::string path =
      Write("broken.rb", "def ok(c)\n  1\nend\ndef bad(c)\n  (1\nend\n");
  Engine engine(Logged());
  absl::Status status = engine.Load(path);
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StartsWith(status.message(), path + ":6:")) << status;
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0], absl::StrCat("script ", status.message()));
  Engine::Outcome outcome =
      engine.Call(path, "ok", context_, Value::Symbol("fb"));
  EXPECT_EQ(outcome.value, Value::Symbol("fb"));
  EXPECT_EQ(outcome.error.message(), status.message());
  EXPECT_EQ(log_.size(), 1u);  // reported once per version of the file
}

TEST_F(EngineTest, ExceptionGivesFallbackAndFileLine) {
  std::string path = Write("raise.rb", R"(def helper
  raise ArgumentError, "boom"
end
def on_rcpt(ctx)
  helper
end
)");
  Engine engine(Logged());
  Engine::Outcome outcome =
      engine.Call(path, "on_rcpt", context_, Value::Symbol("fb"));
  EXPECT_EQ(outcome.value, Value::Symbol("fb"));
  EXPECT_EQ(outcome.error.message(),
            absl::StrCat(path, ":2: ArgumentError: boom"));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_EQ(log_[0], absl::StrCat("script ", path, ":2: ArgumentError: boom"));
  // The VM is fine afterwards.
  EXPECT_EQ(engine.vm_depth(), 0);
}

TEST_F(EngineTest, RunawayRecursionGivesTheFallback) {
  std::string path = Write("deep.rb", R"(
def down(n) down(n + 1) end
def h(ctx) down(0) end
def via_c(ctx) [1].map { via_c(ctx) } end
)");
  Engine engine(Logged());
  for (const char* handler : {"h", "via_c"}) {
    Engine::Outcome outcome =
        engine.Call(path, handler, context_, Value::Symbol("fb"));
    EXPECT_EQ(outcome.value, Value::Symbol("fb"));
    EXPECT_TRUE(absl::StrContains(outcome.error.message(), "SystemStackError"))
        << outcome.error;
    EXPECT_EQ(engine.vm_depth(), 0);
  }
}

TEST_F(EngineTest, MissingHandlerAndMissingFile) {
  std::string path = Write("empty.rb", "x = 1\n");
  Engine engine(Logged());
  Engine::Outcome outcome = engine.Call(path, "nope", context_, Value::Nil());
  EXPECT_EQ(outcome.error.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(outcome.error.message(), "no handler 'nope'"));
  outcome = engine.Call(dir_ + "/absent.rb", "h", context_, Value::Integer(7));
  EXPECT_EQ(outcome.value, Value::Integer(7));
  EXPECT_TRUE(absl::StrContains(outcome.error.message(), "absent.rb"));
}

// Runs an endless handler on a thread of its own, which must come back with
// the fallback once the limit is reached; then the same VM serves a normal
// call on that thread.
void ExpectStopped(Engine& engine, const std::string& path,
                   const std::string& handler, const MapContext& context) {
  Engine::Outcome outcome, after;
  bool returned = false, running = true;
  int depth = -1;
  std::thread worker([&] {
    outcome = engine.Call(path, handler, context, Value::Symbol("tempfail"));
    returned = true;
    running = engine.running();
    depth = engine.vm_depth();
    after = engine.Call(path, "fine", context, Value::Nil());
  });
  worker.join();  // the thread that ran the script has ended
  ASSERT_TRUE(returned);
  EXPECT_EQ(outcome.value, Value::Symbol("tempfail"));
  EXPECT_EQ(outcome.error.code(), absl::StatusCode::kDeadlineExceeded)
      << outcome.error;
  EXPECT_TRUE(absl::StrContains(outcome.error.message(), "ScriptTimeout"));
  // By state: nothing running on the VM, no Ruby frame left on it.
  EXPECT_FALSE(running);
  EXPECT_EQ(depth, 0);
  EXPECT_EQ(after.value, Value::Symbol("ok")) << after.error;
}

TEST_F(EngineTest, EndlessLoopIsStoppedEvenWhenItRescues) {
  std::string path = Write("loop.rb", R"(
def spin(ctx)
  while true; end
end
def stubborn(ctx)
  loop do
    begin
      while true; end
    rescue Exception
      retry
    end
  end
end
def ensures(ctx)
  while true; end
ensure
  while true; end
end
def recurse(ctx)
  [1].each { spin(ctx) }
end
def in_block(ctx)
  "aaa".gsub(/a/) { loop {} }
end
def in_fiber(ctx)
  Fiber.new { begin; loop {}; rescue Exception; loop {}; end }.resume
end
def fine(ctx) :ok end
)");
  Engine::Options options = Logged();
  options.time_limit = absl::Milliseconds(30);
  for (const char* handler :
       {"spin", "stubborn", "ensures", "recurse", "in_block", "in_fiber"}) {
    SCOPED_TRACE(handler);
    Engine engine(options);
    ExpectStopped(engine, path, handler, context_);
  }
  // The timeout line names where the loop was.
  ASSERT_FALSE(log_.empty());
  EXPECT_TRUE(absl::StartsWith(log_[0], absl::StrCat("script ", path, ":")))
      << log_[0];
}

TEST_F(EngineTest, EndlessTopLevelCodeIsStopped) {
  std::string path = Write("top.rb", "def h(c) 1 end\nwhile true; end\n");
  Engine::Options options = Logged();
  options.time_limit = absl::Milliseconds(30);
  Engine engine(options);
  absl::Status status = engine.Load(path);
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_EQ(engine.vm_depth(), 0);
}

TEST_F(EngineTest, ChangedFileIsPickedUpWithinASecond) {
  std::string path = Write("change.rb", "def v(c) 1 end\n", 0);
  Engine engine(Logged(absl::Seconds(1)));  // the production recheck
  ASSERT_EQ(engine.Call(path, "v", context_, Value::Nil()).value,
            Value::Integer(1));
  Write("change.rb", "def v(c) 2 end\n", 1);
  auto start = steady_clock::now();
  Value seen;
  // Waits for the event (the new value), bounded.
  while (steady_clock::now() - start < std::chrono::seconds(5)) {
    seen = engine.Call(path, "v", context_, Value::Nil()).value;
    if (seen == Value::Integer(2)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(seen, Value::Integer(2));
  EXPECT_LT(steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_EQ(engine.compiles(), 2);
}

TEST_F(EngineTest, BrokenEditKeepsTheOldCode) {
  std::string path = Write("edit.rb", "def v(c) :old end\n", 0);
  Engine engine(Logged());  // recheck 0: every call looks at the file
  ASSERT_EQ(engine.Call(path, "v", context_, Value::Nil()).value,
            Value::Symbol("old"));
  Write("edit.rb", "def v(c)\n  :new\n  end end\n", 1);
  for (int i = 0; i < 3; ++i) {
    Engine::Outcome outcome = engine.Call(path, "v", context_, Value::Nil());
    EXPECT_EQ(outcome.value, Value::Symbol("old"));
    EXPECT_TRUE(outcome.error.ok());
  }
  ASSERT_EQ(log_.size(), 1u);  // reported once, not on every call
  EXPECT_TRUE(absl::StartsWith(log_[0], absl::StrCat("script ", path, ":3:")))
      << log_[0];
  EXPECT_FALSE(engine.Load(path).ok());  // Load tells the caller too
  Write("edit.rb", "def v(c) :new end\n", 2);
  EXPECT_EQ(engine.Call(path, "v", context_, Value::Nil()).value,
            Value::Symbol("new"));
}

TEST_F(EngineTest, DeletedFileKeepsTheOldCode) {
  std::string path = Write("gone.rb", "def v(c) :kept end\n");
  Engine engine(Logged());
  ASSERT_EQ(engine.Call(path, "v", context_, Value::Nil()).value,
            Value::Symbol("kept"));
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(engine.Call(path, "v", context_, Value::Nil()).value,
            Value::Symbol("kept"));
  EXPECT_EQ(engine.Call(path, "v", context_, Value::Nil()).value,
            Value::Symbol("kept"));
  ASSERT_EQ(log_.size(), 1u);
  EXPECT_TRUE(absl::StrContains(log_[0], "cannot stat")) << log_[0];
}

TEST_F(EngineTest, FilesAreIsolatedAndKeepState) {
  std::string a =
      Write("a.rb", "@n = 0\ndef h(c) @n += 1; [:a, @n].inspect end\n");
  std::string b = Write("b.rb", "def h(c) :b end\n");
  Engine engine(Logged());
  EXPECT_EQ(engine.Call(a, "h", context_, Value::Nil()).value,
            Value::String("[:a, 1]"));
  EXPECT_EQ(engine.Call(b, "h", context_, Value::Nil()).value,
            Value::Symbol("b"));
  EXPECT_EQ(engine.Call(a, "h", context_, Value::Nil()).value,
            Value::String("[:a, 2]"));
}

TEST_F(EngineTest, ContextIsDeadAfterTheCall) {
  std::string path = Write("keep.rb", R"(
def keep(ctx) @saved = ctx; ctx["k"] end
def later(ctx) @saved["k"].nil? end
)");
  Engine engine(Logged());
  context_.Set("k", "v");
  EXPECT_EQ(engine.Call(path, "keep", context_, Value::Nil()).value,
            Value::String("v"));
  MapContext other;
  EXPECT_EQ(engine.Call(path, "later", other, Value::Nil()).value,
            Value::Bool(true));
}

TEST_F(EngineTest, RefusesASecondThread) {
  std::string path = Write("t.rb", "def h(c) 1 end\n");
  Engine engine(Logged());
  ASSERT_EQ(engine.Call(path, "h", context_, Value::Nil()).value,
            Value::Integer(1));
  Engine::Outcome outcome;
  std::thread([&] {
    outcome = engine.Call(path, "h", context_, Value::Integer(-1));
  }).join();
  EXPECT_EQ(outcome.value, Value::Integer(-1));
  EXPECT_EQ(outcome.error.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(EngineTest, ArenaIsRestoredAcrossCalls) {
  std::string path = Write("gc.rb", R"(
def h(ctx) ("x" * 100 + ctx["a"].to_s).size end
def boom(ctx) raise "x" * 10 end
)");
  Engine engine(Logged());
  context_.Set("a", "abc");
  int arena = mrb_gc_arena_save(engine.vm());
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(engine.Call(path, "h", context_, Value::Nil()).value,
              Value::Integer(103));
    engine.Call(path, "boom", context_, Value::Nil());
  }
  EXPECT_EQ(mrb_gc_arena_save(engine.vm()), arena);
}

}  // namespace
}  // namespace milter::manager::script
