// Regexp and MatchData for mruby, on RE2 (mruby itself has no regular
// expressions). Installed into every script engine's VM.
//
// Ruby side:
//   Regexp.new(str[, opts]) / Regexp.compile, regexp literals /.../imx,
//   Regexp.escape / quote, Regexp#source, #options, #to_s, #inspect,
//   #=~ (index or nil), #match(str[, pos]) (MatchData or nil), #match?, #===,
//   Regexp::IGNORECASE, MULTILINE (dot matches newline);
//   MatchData#[] (index or group name), #captures, #named_captures, #names,
//   #pre_match, #post_match, #to_a, #to_s, #begin(n), #end(n), #size;
//   String#=~, #match, #match?, #scan, #sub, #gsub, #sub!, #gsub! with a
//   Regexp (a String pattern keeps mruby's own behaviour). Replacement
//   strings understand \0 \& \1..\9 \k<name> \\; a block gets the match.
//
// Contract: the syntax is RE2's (no backreferences or lookaround, linear
// time in the subject, so a pattern cannot make a script hang); `^`/`$`
// match at line boundaries as in Ruby. A pattern RE2 rejects, or the
// unsupported EXTENDED option, raises RegexpError with RE2's message.
// Offsets are byte offsets (mruby strings are bytes). $~ and $1 are not set.

#ifndef MANAGER_SCRIPT_REGEXP_H_
#define MANAGER_SCRIPT_REGEXP_H_

struct mrb_state;

namespace milter::manager::script {

// Defines Regexp, MatchData, RegexpError and the String methods in `mrb`.
void InstallRegexp(mrb_state* mrb);

}  // namespace milter::manager::script

#endif  // MANAGER_SCRIPT_REGEXP_H_
