// Regexp, MatchData and the String methods on RE2, evaluated in a real
// mruby VM; each expectation is the Ruby inspect() of the result.
#include "manager/script/regexp.h"

#include <mruby.h>
#include <mruby/compile.h>
#include <mruby/string.h>

#include <string>

#include "gtest/gtest.h"

namespace milter::manager::script {
namespace {

class RegexpTest : public ::testing::Test {
 protected:
  RegexpTest() : mrb_(mrb_open()) { InstallRegexp(mrb_); }
  ~RegexpTest() override { mrb_close(mrb_); }

  // The inspect() of `code`'s value, or "Class: message" when it raises.
  std::string Eval(const char* code) {
    int ai = mrb_gc_arena_save(mrb_);
    mrb_value v = mrb_load_string(mrb_, code);
    std::string out;
    if (mrb_->exc != nullptr) {
      mrb_value exc = mrb_obj_value(mrb_->exc);
      mrb_->exc = nullptr;
      mrb_value message = mrb_funcall(mrb_, exc, "message", 0);
      out = std::string(mrb_obj_classname(mrb_, exc)) + ": " +
            std::string(RSTRING_PTR(message), RSTRING_LEN(message));
    } else {
      mrb_value s = mrb_inspect(mrb_, v);
      out = std::string(RSTRING_PTR(s), RSTRING_LEN(s));
    }
    mrb_gc_arena_restore(mrb_, ai);
    return out;
  }

  mrb_state* mrb_;
};

TEST_F(RegexpTest, NewSourceOptionsAndLiterals) {
  EXPECT_EQ(Eval(R"(Regexp.new("a.c").source)"), R"("a.c")");
  EXPECT_EQ(Eval(R"(Regexp.new("abc", Regexp::IGNORECASE).match?("xABCx"))"),
            "true");
  EXPECT_EQ(Eval(R"(Regexp.new("abc", true).options)"), "1");
  EXPECT_EQ(Eval(R"(Regexp.new("abc").match?("ABC"))"), "false");
  EXPECT_EQ(Eval(R"(/ab+c/i.match?("xABBC"))"), "true");  // literal
  EXPECT_EQ(Eval(R"(/ab+c/i)"), "/ab+c/i");
  EXPECT_EQ(Eval(R"(Regexp.new(/x/i).options)"), "1");
  EXPECT_EQ(Eval(R"(/a.b/ =~ "a\nb")"), "nil");
  EXPECT_EQ(Eval(R"(/a.b/m =~ "a\nb")"), "0");    // MULTILINE: dot matches \n
  EXPECT_EQ(Eval(R"(/^b$/ =~ "a\nb\nc")"), "2");  // line anchors, as in Ruby
}

TEST_F(RegexpTest, BadPatternRaisesRegexpErrorWithRe2Message) {
  EXPECT_EQ(Eval(R"(Regexp.new("a(b"))"), "RegexpError: missing ): a(b: /a(b/");
  EXPECT_EQ(
      Eval(
          R"(begin; Regexp.new("(?<n>x)\\k<n>"); rescue RegexpError => e; :caught; end)"),
      ":caught");
  EXPECT_EQ(Eval(R"(Regexp.new("a", "x"))"),
            "RegexpError: EXTENDED (x) is not supported");
  EXPECT_EQ(Eval(R"(RegexpError.ancestors.include?(StandardError))"), "true");
}

TEST_F(RegexpTest, MatchOperators) {
  EXPECT_EQ(Eval(R"(/b+/ =~ "aabbc")"), "2");
  EXPECT_EQ(Eval(R"("aabbc" =~ /c/)"), "4");
  EXPECT_EQ(Eval(R"("aabbc" =~ /z/)"), "nil");
  EXPECT_EQ(Eval(R"(/x/ =~ nil)"), "nil");
  EXPECT_EQ(Eval(R"("a" =~ "a")"),
            "TypeError: wrong argument type String (expected Regexp)");
  EXPECT_EQ(
      Eval(R"(case "spam.example" when /^ham/ then 1 when /spam/ then 2 end)"),
      "2");
  EXPECT_EQ(Eval(R"(/x/ === 42)"), "false");
  EXPECT_EQ(Eval(R"("abc".match?(/b/))"), "true");
}

TEST_F(RegexpTest, MatchData) {
  EXPECT_EQ(
      Eval(
          R"(m = /(\w+)@(\w+)\.com/.match("mail bob@example.com now"); [m[0], m[1], m[2], m[3], m[-1]])"),
      R"(["bob@example.com", "bob", "example", nil, "example"])");
  EXPECT_EQ(
      Eval(
          R"(m = "x=1;y=2".match(/y=(\d)/); [m.pre_match, m.post_match, m.to_s, m.begin(1), m.end(0), m.size])"),
      R"(["x=1;", "", "y=2", 6, 7, 2])");
  EXPECT_EQ(Eval(R"(/(a)(b)?/.match("ac").captures)"), R"(["a", nil])");
  EXPECT_EQ(Eval(R"(/(a)(b)?/.match("ac").to_a)"), R"(["a", "a", nil])");
  EXPECT_EQ(Eval(R"(/b/.match("abcb", 2).begin(0))"), "3");
  EXPECT_EQ(Eval(R"(/z/.match("abc"))"), "nil");
  EXPECT_EQ(Eval(R"("abc".match("b.").to_s)"), R"("bc")");
}

TEST_F(RegexpTest, NamedCaptures) {
  const char* code =
      R"(m = /(?P<user>[^@]+)@(?P<domain>.+)/.match("ann@example.org"); )";
  EXPECT_EQ(
      Eval((std::string(code) + "[m[:user], m[\"domain\"], m.names]").c_str()),
      R"(["ann", "example.org", ["user", "domain"]])");
  EXPECT_EQ(Eval((std::string(code) + "m.named_captures").c_str()),
            R"({"user"=>"ann", "domain"=>"example.org"})");
  EXPECT_EQ(Eval((std::string(code) + "m[:nope]").c_str()),
            "IndexError: undefined group name reference: nope");
  // Ruby's spelling of named groups, also inside a larger pattern.
  EXPECT_EQ(Eval(R"(/(?<word>\w+)/.match("hi")["word"])"), R"("hi")");
  EXPECT_EQ(Eval(R"(/[(?<]x(?<_n>y)\(?<z/.match("<xy(<z")[:_n])"), R"("y")");
}

TEST_F(RegexpTest, Scan) {
  EXPECT_EQ(Eval(R"("a1b22c333".scan(/\d+/))"), R"(["1", "22", "333"])");
  EXPECT_EQ(Eval(R"("k1=v1,k2=v2".scan(/(\w+)=(\w+)/))"),
            R"([["k1", "v1"], ["k2", "v2"]])");
  EXPECT_EQ(Eval(R"(n = []; "ab".scan(/./) { |c| n << c.upcase }; n)"),
            R"(["A", "B"])");
  EXPECT_EQ(Eval(R"("abc".scan(//).size)"), "4");  // empty matches advance
  EXPECT_EQ(Eval(R"("a.b.c".scan("."))"), R"([".", "."])");  // literal
}

TEST_F(RegexpTest, SubAndGsub) {
  EXPECT_EQ(Eval(R"("hello world".sub(/o/, "0"))"), R"("hell0 world")");
  EXPECT_EQ(Eval(R"("hello world".gsub(/o/, "0"))"), R"("hell0 w0rld")");
  EXPECT_EQ(Eval(R"("john smith".gsub(/(\w+) (\w+)/, "\\2, \\1"))"),
            R"("smith, john")");
  EXPECT_EQ(Eval(R"("ab".gsub(/(?P<x>a)/, "<\\k<x>\\0\\&\\\\>"))"),
            R"("<aaa\\>b")");
  EXPECT_EQ(Eval(R"("a1b2".gsub(/\d/) { |d| (d.to_i * 2).to_s })"),
            R"("a2b4")");
  EXPECT_EQ(Eval(R"("abc".gsub(//, "-"))"), R"("-a-b-c-")");
  EXPECT_EQ(Eval(R"("aaa".sub(/x/, "y"))"), R"("aaa")");
  EXPECT_EQ(Eval(R"(s = "aXbX"; [s.gsub!(/X/, "y"), s, s.sub!(/Z/, "")])"),
            R"(["ayby", "ayby", nil])");
  EXPECT_EQ(Eval(R"("a.b".gsub(".", "-"))"), R"("a-b")");  // String pattern
  EXPECT_EQ(
      Eval(
          R"(begin; "ab".gsub(/a/) { raise "in block" }; rescue => e; e.message; end)"),
      R"("in block")");
  EXPECT_EQ(Eval(R"("x".gsub(/x/))"),
            "ArgumentError: replacement or block expected");
}

TEST_F(RegexpTest, Escape) {
  EXPECT_EQ(Eval(R"(Regexp.escape("a.b*c"))"), R"("a\\.b\\*c")");
  EXPECT_EQ(Eval(R"(Regexp.new(Regexp.escape("1+1=2")).match?("so 1+1=2"))"),
            "true");
  EXPECT_EQ(Eval(R"rb(Regexp.quote("(x)"))rb"), R"rb("\\(x\\)")rb");
}

TEST_F(RegexpTest, BinarySubjectsAreSafe) {
  EXPECT_EQ(Eval(R"("\xff\xfeabc\x00d" =~ /abc/)"), "2");
  EXPECT_EQ(Eval(R"("\xff\x00x".gsub(/x/, "y").bytesize)"), "3");
}

}  // namespace
}  // namespace milter::manager::script
