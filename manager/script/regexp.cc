#include "manager/script/regexp.h"

// mruby.h must come before <stdint.h>-using headers.
#include <mruby.h>
#include <mruby/array.h>
#include <mruby/class.h>
#include <mruby/compile.h>
#include <mruby/data.h>
#include <mruby/error.h>
#include <mruby/hash.h>
#include <mruby/string.h>
#include <mruby/variable.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace milter::manager::script {
namespace {

constexpr mrb_int kIgnoreCase = 1;
constexpr mrb_int kExtended = 2;
constexpr mrb_int kMultiline = 4;

struct RegexpData {
  std::unique_ptr<RE2> re;
  std::string source;
  mrb_int options = 0;
};

// A match: the subject copied, and byte offsets of each group (-1: unset).
struct MatchInfo {
  std::string subject;
  std::vector<std::pair<mrb_int, mrb_int>> groups;
  std::vector<std::pair<std::string, int>> names;  // in pattern order
};

void FreeRegexp(mrb_state*, void* p) { delete static_cast<RegexpData*>(p); }
void FreeMatch(mrb_state*, void* p) { delete static_cast<MatchInfo*>(p); }

const mrb_data_type kRegexpType = {"Regexp", FreeRegexp};
const mrb_data_type kMatchType = {"MatchData", FreeMatch};

RClass* RegexpError(mrb_state* mrb) {
  return mrb_class_get(mrb, "RegexpError");
}

RegexpData* GetRegexp(mrb_state* mrb, mrb_value self) {
  auto* data =
      static_cast<RegexpData*>(mrb_data_get_ptr(mrb, self, &kRegexpType));
  if (data == nullptr) mrb_raise(mrb, E_TYPE_ERROR, "uninitialized Regexp");
  return data;
}

MatchInfo* GetMatch(mrb_state* mrb, mrb_value self) {
  auto* data =
      static_cast<MatchInfo*>(mrb_data_get_ptr(mrb, self, &kMatchType));
  if (data == nullptr) mrb_raise(mrb, E_TYPE_ERROR, "uninitialized MatchData");
  return data;
}

std::string_view View(mrb_value s) {
  return std::string_view(RSTRING_PTR(s), RSTRING_LEN(s));
}

mrb_value Str(mrb_state* mrb, std::string_view s) {
  return mrb_str_new(mrb, s.data(), s.size());
}

// Options from an Integer, a String of flag letters ("imx", as regexp
// literals pass them), or any other truthy value (ignore case).
mrb_int ParseOptions(mrb_value opts) {
  if (mrb_nil_p(opts) || mrb_false_p(opts)) return 0;
  if (mrb_integer_p(opts)) return mrb_integer(opts);
  if (mrb_string_p(opts)) {
    mrb_int flags = 0;
    for (char c : View(opts)) {
      if (c == 'i') flags |= kIgnoreCase;
      if (c == 'x') flags |= kExtended;
      if (c == 'm') flags |= kMultiline;
    }
    return flags;
  }
  return kIgnoreCase;
}

// Ruby's named groups (?<name>...) in RE2's older spelling (?P<name>...);
// escapes and character classes are left alone.
std::string ToRe2Syntax(std::string_view source) {
  std::string out;
  out.reserve(source.size() + 8);
  bool in_class = false;
  for (size_t i = 0; i < source.size(); ++i) {
    char c = source[i];
    out.push_back(c);
    if (c == '\\' && i + 1 < source.size()) {
      out.push_back(source[++i]);
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
    } else if (c == '(' && source.substr(i + 1, 2) == "?<" &&
               i + 3 < source.size() &&
               (std::isalpha(static_cast<unsigned char>(source[i + 3])) ||
                source[i + 3] == '_')) {
      out.append("?P<");
      i += 2;
    }
  }
  return out;
}

// Regexp#initialize(source[, options])
mrb_value RegexpInit(mrb_state* mrb, mrb_value self) {
  mrb_value source, opts = mrb_nil_value();
  mrb_get_args(mrb, "o|o", &source, &opts);
  if (mrb_obj_is_kind_of(mrb, source, mrb_class_get(mrb, "Regexp"))) {
    RegexpData* other = GetRegexp(mrb, source);
    source = Str(mrb, other->source);
    if (mrb_nil_p(opts)) opts = mrb_int_value(mrb, other->options);
  }
  if (!mrb_string_p(source)) {
    mrb_raise(mrb, E_TYPE_ERROR, "Regexp source must be a String");
  }
  mrb_int options = ParseOptions(opts);
  if (options & kExtended) {
    mrb_raise(mrb, RegexpError(mrb), "EXTENDED (x) is not supported");
  }
  // C++ objects live only inside this block: mruby raises with longjmp,
  // which must not cross a frame that still owns any.
  mrb_value error = mrb_nil_value();
  {
    // Ruby's ^ and $ are line anchors; Ruby's /m is RE2's (?s).
    std::string prefix = "(?m";
    if (options & kIgnoreCase) prefix += "i";
    if (options & kMultiline) prefix += "s";
    prefix += ")";
    RE2::Options re_options;
    re_options.set_log_errors(false);
    auto data = std::make_unique<RegexpData>();
    data->source = std::string(View(source));
    data->options = options;
    data->re =
        std::make_unique<RE2>(prefix + ToRe2Syntax(data->source), re_options);
    if (data->re->ok()) {
      void* old = DATA_PTR(self);
      if (old != nullptr) FreeRegexp(mrb, old);
      mrb_data_init(self, data.release(), &kRegexpType);
    } else {
      std::string message = data->re->error();
      size_t at = message.find(prefix);
      if (at != std::string::npos) message.erase(at, prefix.size());
      message += ": /" + data->source + "/";
      error = Str(mrb, message);
    }
  }
  if (!mrb_nil_p(error)) {
    mrb_exc_raise(mrb, mrb_exc_new_str(mrb, RegexpError(mrb), error));
  }
  return self;
}

// Finds the first match at or after byte `start`; nullptr when none.
std::unique_ptr<MatchInfo> Search(const RegexpData& re, std::string_view text,
                                  mrb_int start) {
  if (start < 0 || start > static_cast<mrb_int>(text.size())) return nullptr;
  int n = re.re->NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> found(n);
  if (!re.re->Match(re2::StringPiece(text.data(), text.size()), start,
                    text.size(), RE2::UNANCHORED, found.data(), n)) {
    return nullptr;
  }
  auto info = std::make_unique<MatchInfo>();
  info->groups.reserve(n);
  for (const re2::StringPiece& g : found) {
    if (g.data() == nullptr) {
      info->groups.emplace_back(-1, -1);
    } else {
      mrb_int begin = g.data() - text.data();
      info->groups.emplace_back(begin, begin + g.size());
    }
  }
  for (const auto& [name, index] : re.re->NamedCapturingGroups()) {
    info->names.emplace_back(name, index);
  }
  std::sort(info->names.begin(), info->names.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  return info;
}

mrb_value NewMatch(mrb_state* mrb, std::unique_ptr<MatchInfo> info,
                   std::string_view subject) {
  info->subject = std::string(subject);
  RClass* cls = mrb_class_get(mrb, "MatchData");
  return mrb_obj_value(
      mrb_data_object_alloc(mrb, cls, info.release(), &kMatchType));
}

mrb_value Group(mrb_state* mrb, const MatchInfo& m, mrb_int i) {
  if (i < 0) i += m.groups.size();
  if (i < 0 || i >= static_cast<mrb_int>(m.groups.size())) {
    return mrb_nil_value();
  }
  auto [begin, end] = m.groups[i];
  if (begin < 0) return mrb_nil_value();
  return Str(mrb, std::string_view(m.subject).substr(begin, end - begin));
}

mrb_value String(mrb_state* mrb, mrb_value v) {
  if (mrb_symbol_p(v)) return mrb_sym_str(mrb, mrb_symbol(v));
  if (!mrb_string_p(v)) mrb_raise(mrb, E_TYPE_ERROR, "String expected");
  return v;
}

// Regexp#match(str[, pos]): MatchData or nil.
mrb_value RegexpMatch(mrb_state* mrb, mrb_value self) {
  mrb_value str;
  mrb_int pos = 0;
  mrb_get_args(mrb, "o|i", &str, &pos);
  if (mrb_nil_p(str)) return mrb_nil_value();
  str = String(mrb, str);
  std::string_view text = View(str);
  if (pos < 0) pos += text.size();
  auto info = Search(*GetRegexp(mrb, self), text, pos);
  if (info == nullptr) return mrb_nil_value();
  return NewMatch(mrb, std::move(info), text);
}

// Regexp#=~(str): byte offset of the match, or nil.
mrb_value RegexpMatchOp(mrb_state* mrb, mrb_value self) {
  mrb_value str;
  mrb_get_args(mrb, "o", &str);
  if (mrb_nil_p(str)) return mrb_nil_value();
  str = String(mrb, str);
  auto info = Search(*GetRegexp(mrb, self), View(str), 0);
  if (info == nullptr) return mrb_nil_value();
  return mrb_int_value(mrb, info->groups[0].first);
}

// Regexp#match?(str) and #===: true when it matches (=== is false for a
// non-String).
mrb_value RegexpMatchP(mrb_state* mrb, mrb_value self) {
  mrb_value str;
  mrb_get_args(mrb, "o", &str);
  if (!mrb_string_p(str) && !mrb_symbol_p(str)) return mrb_false_value();
  str = String(mrb, str);
  std::string_view text = View(str);
  return mrb_bool_value(RE2::PartialMatch(
      re2::StringPiece(text.data(), text.size()), *GetRegexp(mrb, self)->re));
}

mrb_value RegexpSource(mrb_state* mrb, mrb_value self) {
  return Str(mrb, GetRegexp(mrb, self)->source);
}

mrb_value RegexpOptions(mrb_state* mrb, mrb_value self) {
  return mrb_int_value(mrb, GetRegexp(mrb, self)->options);
}

mrb_value RegexpInspect(mrb_state* mrb, mrb_value self) {
  RegexpData* re = GetRegexp(mrb, self);
  std::string text = "/" + re->source + "/";
  if (re->options & kMultiline) text += "m";
  if (re->options & kIgnoreCase) text += "i";
  return Str(mrb, text);
}

mrb_value RegexpEscape(mrb_state* mrb, mrb_value) {
  mrb_value str;
  mrb_get_args(mrb, "S", &str);
  std::string_view text = View(str);
  return Str(mrb, RE2::QuoteMeta(re2::StringPiece(text.data(), text.size())));
}

// MatchData#[](index or name)
mrb_value MatchIndex(mrb_state* mrb, mrb_value self) {
  mrb_value key;
  mrb_get_args(mrb, "o", &key);
  MatchInfo* m = GetMatch(mrb, self);
  if (mrb_integer_p(key)) return Group(mrb, *m, mrb_integer(key));
  key = String(mrb, key);
  for (const auto& [name, index] : m->names) {
    if (name == View(key)) return Group(mrb, *m, index);
  }
  mrb_value message = mrb_str_new_lit(mrb, "undefined group name reference: ");
  mrb_str_cat_str(mrb, message, key);
  mrb_exc_raise(mrb, mrb_exc_new_str(mrb, E_INDEX_ERROR, message));
  return mrb_nil_value();
}

mrb_value MatchToA(mrb_state* mrb, mrb_value self) {
  MatchInfo* m = GetMatch(mrb, self);
  mrb_value list = mrb_ary_new_capa(mrb, m->groups.size());
  for (size_t i = 0; i < m->groups.size(); ++i) {
    mrb_ary_push(mrb, list, Group(mrb, *m, i));
  }
  return list;
}

mrb_value MatchCaptures(mrb_state* mrb, mrb_value self) {
  MatchInfo* m = GetMatch(mrb, self);
  mrb_value list = mrb_ary_new_capa(mrb, m->groups.size());
  for (size_t i = 1; i < m->groups.size(); ++i) {
    mrb_ary_push(mrb, list, Group(mrb, *m, i));
  }
  return list;
}

mrb_value MatchNamedCaptures(mrb_state* mrb, mrb_value self) {
  MatchInfo* m = GetMatch(mrb, self);
  mrb_value hash = mrb_hash_new(mrb);
  for (const auto& [name, index] : m->names) {
    mrb_hash_set(mrb, hash, Str(mrb, name), Group(mrb, *m, index));
  }
  return hash;
}

mrb_value MatchNames(mrb_state* mrb, mrb_value self) {
  MatchInfo* m = GetMatch(mrb, self);
  mrb_value list = mrb_ary_new(mrb);
  for (const auto& entry : m->names)
    mrb_ary_push(mrb, list, Str(mrb, entry.first));
  return list;
}

mrb_value MatchPre(mrb_state* mrb, mrb_value self) {
  MatchInfo* m = GetMatch(mrb, self);
  return Str(mrb, std::string_view(m->subject).substr(0, m->groups[0].first));
}

mrb_value MatchPost(mrb_state* mrb, mrb_value self) {
  MatchInfo* m = GetMatch(mrb, self);
  return Str(mrb, std::string_view(m->subject).substr(m->groups[0].second));
}

mrb_value MatchToS(mrb_state* mrb, mrb_value self) {
  return Group(mrb, *GetMatch(mrb, self), 0);
}

mrb_value MatchSize(mrb_state* mrb, mrb_value self) {
  return mrb_int_value(mrb, GetMatch(mrb, self)->groups.size());
}

mrb_value MatchOffset(mrb_state* mrb, mrb_value self, bool end) {
  mrb_int i;
  mrb_get_args(mrb, "i", &i);
  MatchInfo* m = GetMatch(mrb, self);
  if (i < 0 || i >= static_cast<mrb_int>(m->groups.size())) {
    mrb_raisef(mrb, E_INDEX_ERROR, "index %i out of matches", i);
  }
  mrb_int at = end ? m->groups[i].second : m->groups[i].first;
  return at < 0 ? mrb_nil_value() : mrb_int_value(mrb, at);
}

mrb_value MatchBegin(mrb_state* mrb, mrb_value self) {
  return MatchOffset(mrb, self, false);
}

mrb_value MatchEnd(mrb_state* mrb, mrb_value self) {
  return MatchOffset(mrb, self, true);
}

// Appends `replacement` with \0 \& \1..\9 \k<name> \\ expanded.
void Expand(std::string_view replacement, const MatchInfo& m,
            std::string* out) {
  auto group = [&](int i) {
    if (i < 0 || i >= static_cast<int>(m.groups.size())) return;
    auto [begin, end] = m.groups[i];
    if (begin >= 0) out->append(m.subject, begin, end - begin);
  };
  for (size_t i = 0; i < replacement.size(); ++i) {
    char c = replacement[i];
    if (c != '\\' || i + 1 == replacement.size()) {
      out->push_back(c);
      continue;
    }
    char next = replacement[++i];
    if (next >= '0' && next <= '9') {
      group(next - '0');
    } else if (next == '&') {
      group(0);
    } else if (next == '\\') {
      out->push_back('\\');
    } else if (next == 'k' && i + 1 < replacement.size() &&
               replacement[i + 1] == '<') {
      size_t close = replacement.find('>', i + 2);
      if (close == std::string_view::npos) {
        out->append("\\k");
        continue;
      }
      std::string_view name = replacement.substr(i + 2, close - i - 2);
      for (const auto& [n, index] : m.names) {
        if (n == name) group(index);
      }
      i = close;
    } else {
      out->push_back('\\');
      out->push_back(next);
    }
  }
}

// Where the next search starts after a match: past it, or one byte on
// after an empty match (so an empty pattern cannot loop forever).
mrb_int NextStart(const MatchInfo& m, std::string* copy_to,
                  std::string_view text) {
  auto [begin, end] = m.groups[0];
  if (end > begin) return end;
  if (copy_to != nullptr && end < static_cast<mrb_int>(text.size())) {
    copy_to->push_back(text[end]);
  }
  return end + 1;
}

struct YieldArgs {
  mrb_value block;
  mrb_value match;
};

mrb_value YieldBody(mrb_state* mrb, void* data) {
  auto* args = static_cast<YieldArgs*>(data);
  return mrb_obj_as_string(mrb, mrb_yield(mrb, args->block, args->match));
}

// Regexp#__sub(str, global[, replacement]) { |match| ... }
mrb_value RegexpSub(mrb_state* mrb, mrb_value self) {
  mrb_value str, replacement = mrb_nil_value(), block = mrb_nil_value();
  mrb_bool global;
  mrb_int argc =
      mrb_get_args(mrb, "Sb|S&", &str, &global, &replacement, &block);
  if (argc < 3 && mrb_nil_p(block)) {
    mrb_raise(mrb, E_ARGUMENT_ERROR, "replacement or block expected");
  }
  RegexpData* re = GetRegexp(mrb, self);
  // C++ objects live only inside this block; the block is called under
  // protection and whatever it raised is raised again after the block.
  mrb_value result = mrb_nil_value();
  mrb_bool failed = false;
  {
    std::string text(View(str));  // a copy: the block may change the String
    std::string out;
    mrb_int start = 0, copied = 0;
    while (start <= static_cast<mrb_int>(text.size())) {
      auto m = Search(*re, text, start);
      if (m == nullptr) break;
      m->subject = text;
      auto [begin, end] = m->groups[0];
      out.append(text, copied, begin - copied);
      if (argc >= 3) {
        Expand(View(replacement), *m, &out);
      } else {
        YieldArgs args{
            block, Str(mrb, std::string_view(text).substr(begin, end - begin))};
        int ai = mrb_gc_arena_save(mrb);
        mrb_value r = mrb_protect_error(mrb, YieldBody, &args, &failed);
        if (failed) {
          result = r;  // the exception, raised below
          break;
        }
        out.append(View(r));
        mrb_gc_arena_restore(mrb, ai);
      }
      copied = end;
      start = NextStart(*m, &out, text);
      if (end == begin && end < static_cast<mrb_int>(text.size())) ++copied;
      if (!global) break;
    }
    if (!failed) {
      if (copied < static_cast<mrb_int>(text.size())) out.append(text, copied);
      result = Str(mrb, out);
    }
  }
  if (failed) mrb_exc_raise(mrb, result);
  return result;
}

// Regexp#__scan(str): the matches, or arrays of groups when it has groups.
mrb_value RegexpScan(mrb_state* mrb, mrb_value self) {
  mrb_value str;
  mrb_get_args(mrb, "S", &str);
  RegexpData* re = GetRegexp(mrb, self);
  std::string text(View(str));
  mrb_value list = mrb_ary_new(mrb);
  int ai = mrb_gc_arena_save(mrb);
  mrb_int start = 0;
  while (start <= static_cast<mrb_int>(text.size())) {
    auto m = Search(*re, text, start);
    if (m == nullptr) break;
    m->subject = text;
    if (m->groups.size() == 1) {
      mrb_ary_push(mrb, list, Group(mrb, *m, 0));
    } else {
      mrb_value groups = mrb_ary_new_capa(mrb, m->groups.size() - 1);
      for (size_t i = 1; i < m->groups.size(); ++i) {
        mrb_ary_push(mrb, groups, Group(mrb, *m, i));
      }
      mrb_ary_push(mrb, list, groups);
    }
    mrb_gc_arena_restore(mrb, ai);
    start = NextStart(*m, nullptr, text);
  }
  return list;
}

// The String side, in Ruby: dispatches on the pattern's class so String
// patterns keep mruby's own implementation.
constexpr char kPrelude[] = R"ruby(
class Regexp
  def self.compile(*args)
    new(*args)
  end
end
class String
  alias __plain_sub sub
  alias __plain_gsub gsub
  def =~(re)
    raise TypeError, "wrong argument type String (expected Regexp)" if re.is_a?(String)
    re =~ self
  end
  def match(re, pos = 0)
    re = Regexp.new(re) if re.is_a?(String)
    re.match(self, pos)
  end
  def match?(re)
    re = Regexp.new(re) if re.is_a?(String)
    re.match?(self)
  end
  def scan(re, &block)
    re = Regexp.new(Regexp.escape(re)) if re.is_a?(String)
    list = re.__scan(self)
    return list unless block
    list.each { |m| block.call(m) }
    self
  end
  def sub(pattern, *args, &block)
    return __plain_sub(pattern, *args, &block) unless pattern.is_a?(Regexp)
    pattern.__sub(self, false, *args, &block)
  end
  def gsub(pattern, *args, &block)
    return __plain_gsub(pattern, *args, &block) unless pattern.is_a?(Regexp)
    pattern.__sub(self, true, *args, &block)
  end
  def sub!(*args, &block)
    r = sub(*args, &block)
    return nil if r == self
    replace(r)
  end
  def gsub!(*args, &block)
    r = gsub(*args, &block)
    return nil if r == self
    replace(r)
  end
end
)ruby";

}  // namespace

void InstallRegexp(mrb_state* mrb) {
  int ai = mrb_gc_arena_save(mrb);
  mrb_define_class(mrb, "RegexpError", mrb->eStandardError_class);
  RClass* re = mrb_define_class(mrb, "Regexp", mrb->object_class);
  MRB_SET_INSTANCE_TT(re, MRB_TT_DATA);
  mrb_define_const(mrb, re, "IGNORECASE", mrb_int_value(mrb, kIgnoreCase));
  mrb_define_const(mrb, re, "EXTENDED", mrb_int_value(mrb, kExtended));
  mrb_define_const(mrb, re, "MULTILINE", mrb_int_value(mrb, kMultiline));
  mrb_define_method(mrb, re, "initialize", RegexpInit, MRB_ARGS_ARG(1, 1));
  mrb_define_class_method(mrb, re, "escape", RegexpEscape, MRB_ARGS_REQ(1));
  mrb_define_class_method(mrb, re, "quote", RegexpEscape, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, re, "match", RegexpMatch, MRB_ARGS_ARG(1, 1));
  mrb_define_method(mrb, re, "=~", RegexpMatchOp, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, re, "match?", RegexpMatchP, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, re, "===", RegexpMatchP, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, re, "source", RegexpSource, MRB_ARGS_NONE());
  mrb_define_method(mrb, re, "to_s", RegexpSource, MRB_ARGS_NONE());
  mrb_define_method(mrb, re, "options", RegexpOptions, MRB_ARGS_NONE());
  mrb_define_method(mrb, re, "inspect", RegexpInspect, MRB_ARGS_NONE());
  mrb_define_method(mrb, re, "__sub", RegexpSub, MRB_ARGS_ARG(2, 1));
  mrb_define_method(mrb, re, "__scan", RegexpScan, MRB_ARGS_REQ(1));

  RClass* md = mrb_define_class(mrb, "MatchData", mrb->object_class);
  MRB_SET_INSTANCE_TT(md, MRB_TT_DATA);
  mrb_undef_class_method(mrb, md, "new");
  mrb_define_method(mrb, md, "[]", MatchIndex, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, md, "to_a", MatchToA, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "captures", MatchCaptures, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "named_captures", MatchNamedCaptures,
                    MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "names", MatchNames, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "pre_match", MatchPre, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "post_match", MatchPost, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "to_s", MatchToS, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "size", MatchSize, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "length", MatchSize, MRB_ARGS_NONE());
  mrb_define_method(mrb, md, "begin", MatchBegin, MRB_ARGS_REQ(1));
  mrb_define_method(mrb, md, "end", MatchEnd, MRB_ARGS_REQ(1));

  mrb_load_string(mrb, kPrelude);
  if (mrb->exc != nullptr) {
    mrb_print_error(mrb);  // a bug in the prelude: visible in every test
    mrb->exc = nullptr;
  }
  mrb_gc_arena_restore(mrb, ai);
}

}  // namespace milter::manager::script
