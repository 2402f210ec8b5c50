// rspamd's proxy worker as a detected milter (rspamd.h).

#include "manager/detect/rspamd.h"

#include "absl/strings/str_cat.h"

namespace milter::manager::detect_internal {

namespace {

constexpr char kDefaultBind[] = "localhost:11332";

// A worker setting and where it was written.
struct Found {
  std::string value;
  std::string where;  // "file:line"
};

struct ProxySettings {
  std::optional<Found> milter;
  std::optional<Found> bind_socket;
  std::optional<Found> enabled;
};

// Applies the entries of one layer (later layers win; within a layer the
// first bind_socket, the last of the others).
void Apply(const std::vector<UclEntry>& entries, absl::string_view section,
           const std::string& file, ProxySettings* out) {
  bool bind_seen = false;
  for (const UclEntry& e : entries) {
    if (e.section != section) continue;
    Found found{e.value, absl::StrCat(file, ":", e.line)};
    if (e.key == "milter") out->milter = found;
    if (e.key == "enabled") out->enabled = found;
    if (e.key == "bind_socket" && !bind_seen) {
      out->bind_socket = found;
      bind_seen = true;
    }
  }
}

// Reads one layer; a missing optional layer is silent, a broken one warns.
void ReadLayer(const Root& root, const char* path, absl::string_view section,
               bool optional, ProxySettings* out,
               std::vector<std::string>* warnings) {
  if (optional && !root.Exists(path)) return;
  absl::StatusOr<std::vector<std::string>> lines = root.ReadLines(path);
  absl::StatusOr<std::vector<UclEntry>> entries =
      lines.ok() ? ParseUcl(*lines, root.Path(path))
                 : absl::StatusOr<std::vector<UclEntry>>(lines.status());
  if (!entries.ok()) {
    warnings->push_back(
        absl::StrCat(entries.status().message(), " (rspamd: file ignored)"));
    return;
  }
  Apply(*entries, section, root.Path(path), out);
}

}  // namespace

std::optional<config::ChildConfig> DetectRspamd(
    const Root& root, std::vector<std::string>* warnings) {
  if (!root.Exists("/usr/bin/rspamd")) return std::nullopt;
  ProxySettings s;
  ReadLayer(root, "/etc/rspamd/rspamd.conf", "worker rspamd_proxy", false, &s,
            warnings);
  ReadLayer(root, "/etc/rspamd/worker-proxy.inc", "", false, &s, warnings);
  ReadLayer(root, "/etc/rspamd/local.d/worker-proxy.inc", "", true, &s,
            warnings);
  ReadLayer(root, "/etc/rspamd/override.d/worker-proxy.inc", "", true, &s,
            warnings);
  if (!s.milter.has_value()) return std::nullopt;
  std::optional<bool> milter = ParseBool(s.milter->value);
  if (!milter.has_value()) {
    warnings->push_back(absl::StrCat(s.milter->where, ": rspamd: milter = \"",
                                     s.milter->value,
                                     "\" is not yes or no; rspamd not used"));
    return std::nullopt;
  }
  if (!*milter) return std::nullopt;
  Found bind = s.bind_socket.value_or(
      Found{kDefaultBind, "rspamd's built-in default bind_socket"});
  absl::StatusOr<std::string> spec = RspamdSocketToSpec(bind.value);
  if (!spec.ok()) {
    warnings->push_back(absl::StrCat(
        bind.where, ": rspamd: bind_socket: ", spec.status().message(),
        "; rspamd not used"));
    return std::nullopt;
  }
  config::ChildConfig child;
  child.set_name("rspamd");
  child.set_description("rspamd spam filter (its proxy worker, milter mode)");
  bool enabled = root.StartsAtBoot("rspamd");
  if (s.enabled.has_value() && ParseBool(s.enabled->value) == false) {
    enabled = false;
  }
  child.set_enabled(enabled);
  child.set_connection_spec(*spec);
  child.set_origin(absl::StrCat(bind.where, " (rspamd; milter = yes at ",
                                s.milter->where, ")"));
  return child;
}

}  // namespace milter::manager::detect_internal
