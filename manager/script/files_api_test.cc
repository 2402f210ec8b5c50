// Milter.read_lines / read_set on real files: relative paths, comments,
// caching and re-reading, errors.
#include "manager/script/files_api.h"

#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "manager/script/engine.h"
#include "manager/script/test_util.h"

namespace milter::manager::script {
namespace {

using ::testing::HasSubstr;

// Scripts and lists in a temporary directory; every call re-stats.
class FilesApiTest : public ScriptTest {
 protected:
  Engine::Options Options() { return Logged(); }
};

TEST_F(FilesApiTest, ReadsListsRelativeToTheScriptAndRereadsOnChange) {
  Write("domains.txt", "# blocked\n  spam.example \n\nbad.example\n");
  std::string script = Write("policy.rb", R"(
def lines(ctx) = Milter.read_lines("domains.txt").join(",")
def listed(ctx) = Milter.read_set("domains.txt").key?(ctx["d"])
def frozen(ctx) = Milter.read_lines("domains.txt").frozen?
)");
  Engine engine(Options());
  MapContext ctx;
  ctx.Set("d", "bad.example");
  EXPECT_EQ(engine.Call(script, "lines", ctx, Value::Nil()).value,
            Value::String("spam.example,bad.example"));
  EXPECT_EQ(engine.Call(script, "listed", ctx, Value::Nil()).value,
            Value::Bool(true));
  EXPECT_EQ(engine.Call(script, "frozen", ctx, Value::Nil()).value,
            Value::Bool(true));
  Write("domains.txt", "other.example\n", 1);
  EXPECT_EQ(engine.Call(script, "listed", ctx, Value::Nil()).value,
            Value::Bool(false));
  EXPECT_EQ(engine.Call(script, "lines", ctx, Value::Nil()).value,
            Value::String("other.example"));
  // Gone after reading: the last contents stay.
  unlink(absl::StrCat(dir_, "/domains.txt").c_str());
  EXPECT_EQ(engine.Call(script, "lines", ctx, Value::Nil()).value,
            Value::String("other.example"));
}

TEST_F(FilesApiTest, AMissingFileRaisesIOErrorNamingIt) {
  std::string script = Write("policy.rb", R"(
def missing(ctx) = Milter.read_lines("/nonexistent/list.txt")
def rescued(ctx)
  Milter.read_set("nope.txt")
rescue IOError => e
  e.message
end
)");
  Engine engine(Options());
  MapContext ctx;
  Engine::Outcome out =
      engine.Call(script, "missing", ctx, Value::Symbol("fallback"));
  EXPECT_EQ(out.value, Value::Symbol("fallback"));
  EXPECT_THAT(std::string(out.error.message()),
              HasSubstr("IOError: /nonexistent/list.txt: No such file"));
  EXPECT_EQ(engine.Call(script, "rescued", ctx, Value::Nil()).value,
            Value::String(absl::StrCat(dir_,
                                       "/nope.txt: No such file or "
                                       "directory")));
}

// Found while writing the session API fuzzer: a device or a FIFO was read
// as a file (stat() gives size 0, under the limit): /dev/zero grew without
// bound, a FIFO blocked the call past its time limit, a directory read as an
// empty list.
TEST_F(FilesApiTest, APathThatIsNotARegularFileRaisesIOError) {
  std::string fifo = absl::StrCat(dir_, "/fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  files_.push_back(fifo);
  std::string script = Write("policy.rb", R"(
def read(ctx)
  Milter.read_lines(ctx["path"])
rescue IOError => e
  e.message
end
)");
  Engine engine(Options());
  for (const std::string& path : {std::string("/dev/zero"), fifo, dir_}) {
    MapContext ctx;
    ctx.Set("path", path);
    EXPECT_EQ(engine.Call(script, "read", ctx, Value::Nil()).value,
              Value::String(path + ": not a regular file"));
  }
}

// Found by the session API fuzzer (its memory grew with every input): each
// failing path got a cache entry that was never removed, so a script reading
// "lists/#{s.helo}.txt" grew its Engine for every HELO name a client sent.
TEST_F(FilesApiTest, FailingPathsAreNotCached) {
  Write("l.txt", "a\n");
  std::string script = Write("policy.rb", R"(
def read(ctx)
  Milter.read_lines(ctx["path"]).size
rescue IOError
  -1
end
def cached(ctx) = Milter.instance_variable_get(:@__list_files).size
)");
  Engine engine(Options());
  MapContext ctx;
  for (int i = 0; i < 1000; ++i) {
    ctx.Set("path", absl::StrCat("missing-", i, ".txt"));
    ASSERT_EQ(engine.Call(script, "read", ctx, Value::Nil()).value,
              Value::Integer(-1));
  }
  EXPECT_EQ(engine.Call(script, "cached", ctx, Value::Nil()).value,
            Value::Integer(0));
  ctx.Set("path", "l.txt");
  EXPECT_EQ(engine.Call(script, "read", ctx, Value::Nil()).value,
            Value::Integer(1));
  EXPECT_EQ(engine.Call(script, "cached", ctx, Value::Nil()).value,
            Value::Integer(1));
  // Gone after reading: still cached, the last contents kept.
  unlink(absl::StrCat(dir_, "/l.txt").c_str());
  EXPECT_EQ(engine.Call(script, "read", ctx, Value::Nil()).value,
            Value::Integer(1));
}

TEST_F(FilesApiTest, ManyCallsKeepTheArenaBalanced) {
  Write("l.txt", "a\nb\n");
  std::string script =
      Write("p.rb", "def f(ctx) = Milter.read_set(\"l.txt\").size\n");
  Engine engine(Options());
  MapContext ctx;
  for (int i = 0; i < 20000; ++i) {
    ASSERT_EQ(engine.Call(script, "f", ctx, Value::Nil()).value,
              Value::Integer(2));
  }
}

}  // namespace
}  // namespace milter::manager::script
