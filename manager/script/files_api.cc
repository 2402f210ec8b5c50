// Milter.read_lines / Milter.read_set: list files for scripts, cached.

#include "manager/script/files_api.h"

#include <mruby.h>
#include <mruby/array.h>
#include <mruby/class.h>
#include <mruby/debug.h>
#include <mruby/hash.h>
#include <mruby/irep.h>
#include <mruby/proc.h>
#include <mruby/string.h>
#include <mruby/variable.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "manager/script/engine.h"

namespace milter::manager::script {
namespace {

constexpr off_t kMaxFileBytes = 64 << 20;

// One cached file: its identity when read, the Ruby objects made from it
// (kept reachable from the Milter module's @__list_files Hash), and when it
// was last checked.
struct CachedFile {
  struct timespec mtime = {};
  off_t size = -1;
  ino_t inode = 0;
  absl::Time checked = absl::InfinitePast();
};

// The directory (with its '/') of the Ruby file that called the running C
// method, as a view into the VM's debug information; empty if unknown.
std::string_view CallerDirectory(mrb_state* mrb) {
  const mrb_callinfo* ci = mrb->c->ci;
  for (; ci > mrb->c->cibase; --ci) {
    const mrb_callinfo* caller = ci - 1;
    if (caller->proc == nullptr || MRB_PROC_CFUNC_P(caller->proc)) continue;
    const mrb_irep* irep = caller->proc->body.irep;
    if (irep == nullptr || caller->pc == nullptr) continue;
    uint32_t pc = static_cast<uint32_t>(caller->pc - irep->iseq);
    const char* file = mrb_debug_get_filename(mrb, irep, pc > 0 ? pc - 1 : 0);
    if (file == nullptr) continue;
    std::string_view path(file);
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? "" : path.substr(0, slash + 1);
  }
  return "";
}

// The lines of `text` that count (see the header).
std::vector<std::string> ListLines(const std::string& text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    lines.emplace_back(line);
  }
  return lines;
}

// Reads `path` if it changed; the error text, or "" when the cache is good.
// No Ruby calls here (nothing can longjmp past the C++ objects).
std::string Refresh(const std::string& path, absl::Duration recheck,
                    CachedFile* cached, std::vector<std::string>* lines,
                    bool* changed) {
  *changed = false;
  absl::Time now = absl::Now();
  if (cached->size >= 0 && now - cached->checked < recheck) return "";
  cached->checked = now;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (cached->size >= 0) return "";  // gone: keep the last contents
    return path + ": " + std::strerror(errno);
  }
  // A device, FIFO or directory has no size to check against the limit and
  // may never end (/dev/zero) or block (a FIFO without a writer).
  if (!S_ISREG(st.st_mode)) return path + ": not a regular file";
  if (cached->size == st.st_size && cached->inode == st.st_ino &&
      cached->mtime.tv_sec == st.st_mtim.tv_sec &&
      cached->mtime.tv_nsec == st.st_mtim.tv_nsec) {
    return "";
  }
  if (st.st_size > kMaxFileBytes) {
    return path + ": larger than 64 MiB";
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return path + ": " + std::strerror(errno);
  *lines = ListLines(text.str());
  cached->mtime = st.st_mtim;
  cached->size = st.st_size;
  cached->inode = st.st_ino;
  *changed = true;
  return "";
}

// The per-VM cache: path => [CachedFile bytes, Array, Hash].
mrb_value CacheHash(mrb_state* mrb) {
  RClass* milter = mrb_module_get(mrb, "Milter");
  mrb_sym name = mrb_intern_lit(mrb, "@__list_files");
  mrb_value h = mrb_iv_get(mrb, mrb_obj_value(milter), name);
  if (!mrb_hash_p(h)) {
    h = mrb_hash_new(mrb);
    mrb_iv_set(mrb, mrb_obj_value(milter), name, h);
  }
  return h;
}

// The cached [state, lines, set] entry for the method's path argument;
// raises IOError.
mrb_value Entry(mrb_state* mrb) {
  const char* arg = nullptr;
  mrb_get_args(mrb, "z", &arg);
  mrb_value full = mrb_str_new_lit(mrb, "");
  if (arg[0] != '/') {
    std::string_view dir = CallerDirectory(mrb);
    mrb_str_cat(mrb, full, dir.data(), dir.size());
  }
  mrb_str_cat_cstr(mrb, full, arg);
  mrb_value cache = CacheHash(mrb);
  mrb_value entry = mrb_hash_get(mrb, cache, full);
  if (!mrb_array_p(entry)) {
    entry = mrb_ary_new_capa(mrb, 3);
    CachedFile fresh;
    mrb_ary_push(
        mrb, entry,
        mrb_str_new(mrb, reinterpret_cast<const char*>(&fresh), sizeof(fresh)));
    mrb_ary_push(mrb, entry, mrb_nil_value());
    mrb_ary_push(mrb, entry, mrb_nil_value());
    mrb_hash_set(mrb, cache, full, entry);
  }
  mrb_value state = mrb_ary_ref(mrb, entry, 0);
  auto* cached = reinterpret_cast<CachedFile*>(RSTRING_PTR(state));
  // The C++ work in its own scope: its objects are gone before any raise.
  std::string* error = new std::string;
  std::vector<std::string>* lines = new std::vector<std::string>;
  bool changed = false;
  *error = Refresh(std::string(RSTRING_PTR(full), RSTRING_LEN(full)),
                   static_cast<Engine*>(mrb->ud)->recheck(), cached, lines,
                   &changed);
  if (error->empty() && changed) {
    int ai = mrb_gc_arena_save(mrb);
    mrb_value array =
        mrb_ary_new_capa(mrb, static_cast<mrb_int>(lines->size()));
    mrb_value set = mrb_hash_new_capa(mrb, static_cast<mrb_int>(lines->size()));
    for (const std::string& line : *lines) {
      mrb_value s = mrb_str_new(mrb, line.data(), line.size());
      mrb_obj_freeze(mrb, s);
      mrb_ary_push(mrb, array, s);
      mrb_hash_set(mrb, set, s, mrb_true_value());
      mrb_gc_arena_restore(mrb, ai);
    }
    mrb_obj_freeze(mrb, array);
    mrb_obj_freeze(mrb, set);
    mrb_ary_set(mrb, entry, 1, array);
    mrb_ary_set(mrb, entry, 2, set);
  }
  mrb_value message = mrb_nil_value();
  if (!error->empty()) message = mrb_str_new(mrb, error->data(), error->size());
  delete error;
  delete lines;
  // A path never read is not kept: the cache holds only files that exist,
  // however many paths (perhaps made from client data) fail.
  if (!mrb_nil_p(message) && cached->size < 0) {
    mrb_hash_delete_key(mrb, cache, full);
  }
  if (!mrb_nil_p(message)) {
    mrb_raise(mrb, mrb_class_get(mrb, "IOError"), RSTRING_PTR(message));
  }
  return entry;
}

mrb_value ReadLines(mrb_state* mrb, mrb_value) {
  return mrb_ary_ref(mrb, Entry(mrb), 1);
}

mrb_value ReadSet(mrb_state* mrb, mrb_value) {
  return mrb_ary_ref(mrb, Entry(mrb), 2);
}

}  // namespace

void InstallFilesApi(mrb_state* mrb) {
  RClass* milter = mrb_define_module(mrb, "Milter");
  if (!mrb_class_defined(mrb, "IOError")) {
    mrb_define_class(mrb, "IOError", mrb->eStandardError_class);
  }
  mrb_define_module_function(mrb, milter, "read_lines", ReadLines,
                             MRB_ARGS_REQ(1));
  mrb_define_module_function(mrb, milter, "read_set", ReadSet, MRB_ARGS_REQ(1));
}

}  // namespace milter::manager::script
