// Reading and parsing other packages' files for manager/detect.

#include "manager/detect/files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "milter/net/socket_spec.h"

namespace milter::manager::detect_internal {

namespace {

constexpr size_t kMaxFileBytes = 1 << 20;

absl::Status Refused(absl::string_view where, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(where), ": ", std::string(why)));
}

}  // namespace

Root::Root(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_ == "/") root_.clear();
}

std::string Root::Path(absl::string_view path) const {
  return absl::StrCat(root_, std::string(path));
}

bool Root::Exists(absl::string_view path) const {
  struct stat st;
  return ::lstat(Path(path).c_str(), &st) == 0;
}

absl::StatusOr<std::vector<std::string>> Root::ReadLines(
    absl::string_view path) const {
  std::string name = Path(path);
  struct stat st;
  if (::stat(name.c_str(), &st) != 0) {
    return absl::NotFoundError(
        absl::StrCat(name, ": cannot read: ", std::strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) return Refused(name, "not a regular file");
  if (static_cast<size_t>(st.st_size) > kMaxFileBytes) {
    return Refused(name, "larger than 1 MiB");
  }
  std::ifstream in(name, std::ios::binary);
  if (!in) {
    return absl::PermissionDeniedError(
        absl::StrCat(name, ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Refused(name, "read error");
  std::string all = text.str();
  if (all.find('\0') != std::string::npos) {
    return Refused(name, "contains NUL bytes: not a text file");
  }
  std::vector<std::string> lines = absl::StrSplit(all, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  for (std::string& line : lines) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
  }
  return lines;
}

bool Root::StartsAtBoot(absl::string_view service) const {
  std::string unit = absl::StrCat(std::string(service), ".service");
  std::error_code error;
  std::string masked = Path(absl::StrCat("/etc/systemd/system/", unit));
  if (std::filesystem::is_symlink(masked, error) &&
      std::filesystem::read_symlink(masked, error) == "/dev/null") {
    return false;
  }
  std::filesystem::directory_iterator dirs(Path("/etc/systemd/system"), error);
  for (; !error && dirs != std::filesystem::directory_iterator();
       dirs.increment(error)) {
    if (absl::EndsWith(dirs->path().filename().string(), ".wants") &&
        Exists(absl::StrCat(dirs->path().string().substr(root_.size()), "/",
                            unit))) {
      return true;
    }
  }
  for (char level : std::string("2345")) {
    std::filesystem::directory_iterator links(
        Path(absl::StrCat("/etc/rc", std::string(1, level), ".d")), error);
    for (; !error && links != std::filesystem::directory_iterator();
         links.increment(error)) {
      std::string name = links->path().filename().string();
      if (name.size() == service.size() + 3 && name[0] == 'S' &&
          absl::ascii_isdigit(name[1]) && absl::ascii_isdigit(name[2]) &&
          absl::EndsWith(name, service)) {
        return true;
      }
    }
    error.clear();
  }
  return false;
}

std::optional<Setting> FindKeyValue(const std::vector<std::string>& lines,
                                    absl::string_view key) {
  std::optional<Setting> found;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    size_t end = line.find_first_of(" \t");
    if (end == absl::string_view::npos) continue;
    if (!absl::EqualsIgnoreCase(line.substr(0, end), key)) continue;
    found = Setting{std::string(absl::StripAsciiWhitespace(line.substr(end))),
                    static_cast<int>(i + 1)};
  }
  return found;
}

std::optional<bool> ParseBool(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(std::string(text));
  if (lower == "yes" || lower == "true" || lower == "on" || lower == "1") {
    return true;
  }
  if (lower == "no" || lower == "false" || lower == "off" || lower == "0") {
    return false;
  }
  return std::nullopt;
}

absl::StatusOr<std::string> MilterSocketToSpec(absl::string_view socket) {
  std::string text(absl::StripAsciiWhitespace(socket));
  if (text.empty()) return absl::InvalidArgumentError("empty socket");
  absl::string_view rest = text;
  bool unix_path = absl::ConsumePrefix(&rest, "local:") ||
                   absl::ConsumePrefix(&rest, "unix:") || rest[0] == '/';
  if (unix_path && (rest.empty() || rest[0] != '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": a relative socket path"));
  }
  absl::StatusOr<net::SocketSpec> spec = net::ParseSocketSpec(text);
  if (!spec.ok()) return spec.status();
  if (spec->kind == net::SocketSpec::Kind::kInet &&
      (spec->host == "0.0.0.0" || spec->host == "*")) {
    spec->host = "127.0.0.1";
  } else if (spec->kind == net::SocketSpec::Kind::kInet6 &&
             (spec->host == "::" || spec->host == "*")) {
    spec->host = "::1";
  }
  return spec->ToString();
}

absl::StatusOr<std::string> RspamdSocketToSpec(absl::string_view bind) {
  absl::string_view text = absl::StripAsciiWhitespace(bind);
  if (text.empty()) return absl::InvalidArgumentError("empty bind_socket");
  if (text[0] == '/') {
    // "/path mode=0666 owner=...": the path is the first word.
    std::string path(text.substr(0, text.find_first_of(" \t")));
    return MilterSocketToSpec(path);
  }
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", std::string(text), "\": not HOST:PORT or a path"));
  }
  std::string host(text.substr(0, colon));
  std::string port(text.substr(colon + 1));
  std::string family = "inet";
  if (host == "*" || host == "*v4" || host.empty()) {
    host = "127.0.0.1";
  } else if (host == "*v6") {
    family = "inet6";
    host = "[::1]";
  } else if (host.front() == '[') {
    family = "inet6";
    if (host == "[::]") host = "[::1]";
  }
  return MilterSocketToSpec(absl::StrCat(family, ":", port, "@", host));
}

}  // namespace milter::manager::detect_internal
