// Parsing, defaults and validation of the manager's configuration.

#include "manager/config/config.h"

#include <grp.h>
#include <pwd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "manager/config/conditions_check.h"
#include "manager/config/locator.h"
#include "manager/config/scripts_check.h"
#include "milter/net/socket_spec.h"

namespace milter::manager {

std::optional<uint32_t> SocketMode(const ManagerConfig& config) {
  const std::string& text = config.unix_socket_mode();
  if (text.empty() || text.size() > 5) return std::nullopt;
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) return std::nullopt;
  return mode;
}

namespace {

using config_internal::Invalid;
using config_internal::Locator;
using config_internal::ValidName;
using google::protobuf::TextFormat;

constexpr char kDefaultSpec[] = "inet:10025@[127.0.0.1]";
constexpr char kDefaultSocketMode[] = "0660";
constexpr uint64_t kDefaultMessageMemory = 1024 * 1024;

// Collects the first parse error as "file:line:column: message".
class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  explicit FirstError(std::string_view file) : file_(file) {}
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ =
          absl::StrCat(file_, ":", line + 1, ":", column + 1, ": ", message);
    }
  }
  void AddWarning(int line, int column, const std::string& message) override {
    AddError(line, column, message);
  }
  const std::string& error() const { return error_; }

 private:
  std::string file_;
  std::string error_;
};

// Timeouts of 0 (or absent) mean the default; others must be sensible.
absl::Status CheckTimeouts(const Locator& at, int i, const ChildConfig& c) {
  for (auto [field, value] :
       {std::pair{"connect_timeout", c.connect_timeout()},
        std::pair{"write_timeout", c.write_timeout()},
        std::pair{"reading_timeout", c.reading_timeout()},
        std::pair{"end_of_message_timeout", c.end_of_message_timeout()}}) {
    if (!std::isfinite(value) || value < 0 || value > 86400) {
      return Invalid(at.Where("child", i, field),
                     absl::StrCat("child \"", c.name(), "\": ", field,
                                  " must be between 0 and 86400 seconds"));
    }
  }
  return absl::OkStatus();
}

// A user or group: a name that exists, or a number.
bool KnownId(const std::string& text, bool group) {
  if (text.empty()) return false;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    return text.size() <= 9;
  }
  return group ? ::getgrnam(text.c_str()) != nullptr
               : ::getpwnam(text.c_str()) != nullptr;
}

// An environment entry: NAME=VALUE, NAME letters, digits and '_', not
// starting with a digit.
bool ValidEnvironment(const std::string& entry) {
  size_t eq = entry.find('=');
  if (eq == 0 || eq == std::string::npos) return false;
  if (entry[0] >= '0' && entry[0] <= '9') return false;
  for (size_t k = 0; k < eq; ++k) {
    char ch = entry[k];
    bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '_';
    if (!ok) return false;
  }
  return entry.find('\0') == std::string::npos;
}

// The fields that launch a child (command and what goes with it).
absl::Status CheckLaunch(const Locator& at, int i, const ChildConfig& c) {
  std::string who = absl::StrCat("child \"", c.name(), "\": ");
  if (c.command().empty()) {
    for (auto [field, set] :
         {std::pair{"arguments", c.arguments_size() > 0},
          std::pair{"user", c.has_user()}, std::pair{"group", c.has_group()},
          std::pair{"working_directory", c.has_working_directory()},
          std::pair{"environment", c.environment_size() > 0}}) {
      if (set) {
        return Invalid(at.Where("child", i, field),
                       absl::StrCat(who, field, " needs a command"));
      }
    }
    return absl::OkStatus();
  }
  if (c.command()[0] != '/') {
    return Invalid(at.Where("child", i, "command"),
                   absl::StrCat(who, "command must be an absolute path, not \"",
                                c.command(), "\""));
  }
  if (c.has_user() && !KnownId(c.user(), false)) {
    return Invalid(at.Where("child", i, "user"),
                   absl::StrCat(who, "no such user \"", c.user(), "\""));
  }
  if (c.has_group() && !KnownId(c.group(), true)) {
    return Invalid(at.Where("child", i, "group"),
                   absl::StrCat(who, "no such group \"", c.group(), "\""));
  }
  if (c.has_working_directory() && c.working_directory()[0] != '/') {
    return Invalid(at.Where("child", i, "working_directory"),
                   absl::StrCat(who, "working_directory must be absolute"));
  }
  for (const std::string& e : c.environment()) {
    if (!ValidEnvironment(e)) {
      return Invalid(
          at.Where("child", i, "environment"),
          absl::StrCat(who, "environment entry \"", e, "\" is not NAME=VALUE"));
    }
  }
  return absl::OkStatus();
}

// The restart and circuit breaker settings.
absl::Status CheckSupervision(const ManagerConfig& c, const Locator& at) {
  for (auto [field, value, low] :
       {std::tuple{"restart_backoff_initial", c.restart_backoff_initial(),
                   0.01},
        std::tuple{"restart_backoff_maximum", c.restart_backoff_maximum(),
                   0.01},
        std::tuple{"circuit_probe_interval", c.circuit_probe_interval(), 0.01},
        std::tuple{"child_start_timeout", c.child_start_timeout(), 0.01}}) {
    if (!std::isfinite(value) || value < low || value > 86400) {
      return Invalid(
          at.Where(nullptr, 0, field),
          absl::StrCat(field, " must be between 0.01 and 86400 seconds"));
    }
  }
  if (c.restart_backoff_maximum() < c.restart_backoff_initial()) {
    return Invalid(at.Where(nullptr, 0, "restart_backoff_maximum"),
                   "restart_backoff_maximum must not be less than "
                   "restart_backoff_initial");
  }
  if (c.circuit_failures() > 1000000) {
    return Invalid(at.Where(nullptr, 0, "circuit_failures"),
                   "circuit_failures must be 0..1000000");
  }
  return absl::OkStatus();
}

bool KnownScriptStage(const std::string& stage) {
  static const char* const kStages[] = {
      "connect", "helo", "envfrom", "envrcpt", "data",  "unknown",
      "header",  "eoh",  "body",    "eom",     "abort", "close"};
  for (const char* known : kStages) {
    if (stage == known) return true;
  }
  return false;
}

// A child whose handlers are a script (no socket, nothing launched).
absl::Status CheckScriptChild(const Locator& at, int i, const ChildConfig& c) {
  std::string who = absl::StrCat("child \"", c.name(), "\": ");
  if (!c.connection_spec().empty() || !c.command().empty()) {
    return Invalid(
        at.Where("child", i,
                 c.command().empty() ? "connection_spec" : "command"),
        absl::StrCat(who, "a script child has no connection_spec or command"));
  }
  const config::ScriptConfig& s = c.script();
  if (s.file().empty() && s.handler_size() == 0) {
    return Invalid(at.Where("child", i, "script"),
                   absl::StrCat(who, "script needs a file or handlers"));
  }
  absl::flat_hash_set<std::string> stages;
  for (const config::ScriptHandler& h : s.handler()) {
    if (!KnownScriptStage(h.stage())) {
      return Invalid(at.Where("child", i, "script"),
                     absl::StrCat(who, "unknown handler stage \"", h.stage(),
                                  "\" (connect, helo, envfrom, envrcpt, data, "
                                  "unknown, header, eoh, body, eom, abort, "
                                  "close)"));
    }
    if (!stages.insert(h.stage()).second) {
      return Invalid(
          at.Where("child", i, "script"),
          absl::StrCat(who, "handler for ", h.stage(), " given twice"));
    }
    if (h.file().empty() && s.file().empty()) {
      return Invalid(at.Where("child", i, "script"),
                     absl::StrCat(who, "handler for ", h.stage(),
                                  " has no file (and the script none)"));
    }
    if (!std::isfinite(h.time_limit()) || h.time_limit() < 0 ||
        h.time_limit() > 60) {
      return Invalid(at.Where("child", i, "script"),
                     absl::StrCat(who, "handler for ", h.stage(),
                                  ": time_limit must be 0..60 seconds"));
    }
  }
  if (!std::isfinite(s.time_limit()) || s.time_limit() <= 0 ||
      s.time_limit() > 60) {
    return Invalid(
        at.Where("child", i, "script"),
        absl::StrCat(who, "time_limit must be over 0 and at most 60 seconds"));
  }
  return absl::OkStatus();
}

absl::Status CheckChild(const Locator& at, int i, const ChildConfig& c,
                        absl::flat_hash_set<std::string>* names) {
  if (!ValidName(c.name())) {
    return Invalid(at.Where("child", i, "name"),
                   absl::StrCat("child ", i + 1,
                                ": name must be 1 to 64 letters, digits, '-', "
                                "'_' or '.', not \"",
                                c.name(), "\""));
  }
  std::string who = absl::StrCat("child \"", c.name(), "\": ");
  if (!names->insert(c.name()).second) {
    return Invalid(at.Where("child", i, "name"),
                   absl::StrCat(who, "name used twice"));
  }
  if (c.has_script()) return CheckScriptChild(at, i, c);
  if (c.connection_spec().empty()) {
    return Invalid(at.Where("child", i, "connection_spec"),
                   absl::StrCat(who, "connection_spec is missing"));
  }
  if (auto spec = net::ParseSocketSpec(c.connection_spec()); !spec.ok()) {
    return Invalid(
        at.Where("child", i, "connection_spec"),
        absl::StrCat(who, "connection_spec: ", spec.status().message()));
  }
  return CheckLaunch(at, i, c);
}

bool KnownFacility(const std::string& name) {
  static const char* const kNames[] = {"mail",   "daemon", "user",   "local0",
                                       "local1", "local2", "local3", "local4",
                                       "local5", "local6", "local7"};
  for (const char* known : kNames) {
    if (name == known) return true;
  }
  return false;
}

absl::Status CheckDaemonSettings(const ManagerConfig& c, const Locator& at) {
  if (!std::isfinite(c.shutdown_timeout()) || c.shutdown_timeout() < 0 ||
      c.shutdown_timeout() > 86400) {
    return Invalid(at.Where(nullptr, 0, "shutdown_timeout"),
                   "shutdown_timeout must be between 0 and 86400 seconds");
  }
  const std::string& dest = c.log_destination();
  if (dest != "stderr" && dest != "syslog" && dest.front() != '/') {
    return Invalid(at.Where(nullptr, 0, "log_destination"),
                   "log_destination must be \"stderr\", \"syslog\" or an "
                   "absolute file path");
  }
  if (!KnownFacility(c.syslog_facility())) {
    return Invalid(
        at.Where(nullptr, 0, "syslog_facility"),
        absl::StrCat("unknown syslog_facility \"", c.syslog_facility(),
                     "\" (mail, daemon, user, local0..local7)"));
  }
  if (!c.pid_file().empty() && c.pid_file().front() != '/') {
    return Invalid(at.Where(nullptr, 0, "pid_file"),
                   "pid_file must be absolute (a path from /)");
  }
  if (c.user().empty() && !c.group().empty()) {
    return Invalid(at.Where(nullptr, 0, "group"),
                   "group needs user (the user to run as)");
  }
  return absl::OkStatus();
}

absl::Status Validate(const ManagerConfig& c, const Locator& at) {
  if (auto spec = net::ParseSocketSpec(c.connection_spec()); !spec.ok()) {
    return Invalid(at.Where(nullptr, 0, "connection_spec"),
                   absl::StrCat("connection_spec: ", spec.status().message()));
  }
  if (!c.status_listen().empty()) {
    if (auto spec = net::ParseSocketSpec(c.status_listen()); !spec.ok()) {
      return Invalid(at.Where(nullptr, 0, "status_listen"),
                     absl::StrCat("status_listen: ", spec.status().message()));
    }
  }
  if (!SocketMode(c).has_value()) {
    return Invalid(at.Where(nullptr, 0, "unix_socket_mode"),
                   "unix_socket_mode must be an octal permission mode such as "
                   "\"0660\"");
  }
  if (!std::isfinite(c.connection_check_interval()) ||
      c.connection_check_interval() < 0 ||
      c.connection_check_interval() > 3600) {
    return Invalid(at.Where(nullptr, 0, "connection_check_interval"),
                   "connection_check_interval must be between 0 and 3600 "
                   "seconds");
  }
  if (!c.detection_root().empty() && c.detection_root()[0] != '/') {
    return Invalid(at.Where(nullptr, 0, "detection_root"),
                   "detection_root must be an absolute path");
  }
  if (c.io_threads() > 256) {
    return Invalid(at.Where(nullptr, 0, "io_threads"),
                   "io_threads must be 0..256");
  }
  if (absl::Status s = CheckSupervision(c, at); !s.ok()) return s;
  if (absl::Status s = CheckDaemonSettings(c, at); !s.ok()) return s;
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < c.child_size(); ++i) {
    if (absl::Status s = CheckChild(at, i, c.child(i), &names); !s.ok()) {
      return s;
    }
  }
  return config_internal::CheckConditions(c, at);
}

double OrDefault(double value, double fallback) {
  return value > 0 ? value : fallback;
}

// Fills every default in, so that the result says everything that runs.
void FillDefaults(ManagerConfig* c) {
  if (c->connection_spec().empty()) c->set_connection_spec(kDefaultSpec);
  if (!c->has_unix_socket_group()) c->set_unix_socket_group("");
  if (!c->has_status_listen()) c->set_status_listen("");
  if (!c->has_max_connections()) c->set_max_connections(0);
  if (!c->has_unix_socket_mode()) c->set_unix_socket_mode(kDefaultSocketMode);
  if (c->fallback_status() == config::FALLBACK_UNSET) {
    c->set_fallback_status(config::ACCEPT);
  }
  if (c->fallback_status_at_disconnect() == config::FALLBACK_UNSET) {
    c->set_fallback_status_at_disconnect(config::TEMPFAIL);
  }
  if (!c->has_connection_check_interval()) c->set_connection_check_interval(0);
  if (!c->has_max_message_memory_bytes()) {
    c->set_max_message_memory_bytes(kDefaultMessageMemory);
  }
  if (c->temporary_directory().empty()) {
    const char* tmp = std::getenv("TMPDIR");
    c->set_temporary_directory(tmp != nullptr && *tmp ? tmp : "/tmp");
  }
  if (c->io_threads() == 0) {
    c->set_io_threads(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (!c->has_shutdown_timeout()) c->set_shutdown_timeout(60);
  if (c->log_destination().empty()) c->set_log_destination("stderr");
  if (c->syslog_facility().empty()) c->set_syslog_facility("mail");
  if (!c->has_pid_file()) c->set_pid_file("");
  if (!c->has_user()) c->set_user("");
  if (!c->has_group()) c->set_group("");
  if (!c->has_max_open_files()) c->set_max_open_files(0);
  if (c->log_level() == config::LOG_LEVEL_UNSET) {
    c->set_log_level(config::INFO);
  }
  if (!c->has_detect_installed_milters()) {
    c->set_detect_installed_milters(true);
  }
  if (c->detection_root().empty()) c->set_detection_root("/");
  if (!c->has_restart_backoff_initial()) c->set_restart_backoff_initial(1);
  if (!c->has_restart_backoff_maximum()) {
    c->set_restart_backoff_maximum(
        std::max(60.0, c->restart_backoff_initial()));
  }
  if (!c->has_circuit_failures()) c->set_circuit_failures(3);
  if (!c->has_circuit_probe_interval()) c->set_circuit_probe_interval(10);
  if (!c->has_child_start_timeout()) c->set_child_start_timeout(30);
  config_internal::FillConditionDefaults(c);
  for (ChildConfig& child : *c->mutable_child()) {
    if (!child.has_origin()) child.set_origin("");
    if (!child.has_enabled()) child.set_enabled(true);
    if (!child.has_description()) child.set_description("");
    if (!child.has_evaluation_mode()) child.set_evaluation_mode(false);
    if (!child.has_concurrent_content()) child.set_concurrent_content(false);
    if (!child.has_reuse_connection()) child.set_reuse_connection(false);
    if (child.has_script()) {
      config::ScriptConfig& script = *child.mutable_script();
      // Zero (unset) is the default; a negative value is refused below.
      if (script.time_limit() == 0) script.set_time_limit(0.1);
      if (!script.has_file()) script.set_file("");
      if (child.fallback_status() == config::FALLBACK_UNSET) {
        child.set_fallback_status(config::TEMPFAIL);
      }
    }
    if (child.fallback_status() == config::FALLBACK_UNSET) {
      child.set_fallback_status(c->fallback_status());
    }
    child.set_connect_timeout(OrDefault(child.connect_timeout(), 30));
    child.set_write_timeout(OrDefault(child.write_timeout(), 30));
    child.set_reading_timeout(OrDefault(child.reading_timeout(), 30));
    child.set_end_of_message_timeout(
        OrDefault(child.end_of_message_timeout(), 300));
  }
}

// Each child's origin: where its block was written ("file:line:column").
void SetOrigins(const Locator& at, ManagerConfig* config) {
  for (int i = 0; i < config->child_size(); ++i) {
    ChildConfig* child = config->mutable_child(i);
    if (child->has_origin()) continue;
    std::string where = at.Where("child", i, nullptr);
    if (absl::EndsWith(where, ": ")) where.resize(where.size() - 2);
    child->set_origin(where);
  }
}

}  // namespace

ManagerConfig EmbeddedDefault() {
  ManagerConfig c;
  FillDefaults(&c);
  return c;
}

// Script paths are relative to the configuration file's directory.
void ResolveScriptPaths(std::string_view file_name, ManagerConfig* config) {
  size_t slash = file_name.rfind('/');
  if (slash == std::string_view::npos) return;
  std::string dir(file_name.substr(0, slash + 1));
  auto resolve = [&](std::string* path) {
    if (!path->empty() && (*path)[0] != '/') *path = dir + *path;
  };
  for (ChildConfig& child : *config->mutable_child()) {
    if (!child.has_script()) continue;
    if (child.script().has_file()) {
      resolve(child.mutable_script()->mutable_file());
    }
    for (config::ScriptHandler& h :
         *child.mutable_script()->mutable_handler()) {
      resolve(h.mutable_file());
    }
  }
  for (config::ApplicableCondition& c :
       *config->mutable_applicable_condition()) {
    if (c.has_script()) resolve(c.mutable_script()->mutable_file());
  }
}

absl::StatusOr<ManagerConfig> ParseConfig(std::string_view text,
                                          std::string_view file_name,
                                          const ConfigAugmenter& augment) {
  ManagerConfig config;
  TextFormat::Parser parser;
  FirstError errors(file_name);
  TextFormat::ParseInfoTree tree;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        errors.error().empty()
            ? absl::StrCat(std::string(file_name), ": cannot parse")
            : errors.error());
  }
  // Negative timeouts are refused before the defaults replace zeros.
  Locator at(file_name, &tree);
  for (int i = 0; i < config.child_size(); ++i) {
    if (absl::Status s = CheckTimeouts(at, i, config.child(i)); !s.ok()) {
      return s;
    }
  }
  SetOrigins(at, &config);
  ResolveScriptPaths(file_name, &config);
  if (augment) augment(&config);
  FillDefaults(&config);
  if (absl::Status s = Validate(config, at); !s.ok()) return s;
  if (absl::Status s = config_internal::CheckScripts(config); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(file_name), ": ", s.message()));
  }
  return config;
}

absl::StatusOr<ManagerConfig> LoadConfigFile(const std::string& path,
                                             const ConfigAugmenter& augment) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(path, ": cannot read: ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::DataLossError(
        absl::StrCat(path, ": read error: ", std::strerror(errno)));
  }
  return ParseConfig(text.str(), path, augment);
}

std::string ConfigToText(const ManagerConfig& config) {
  TextFormat::Printer printer;
  std::string out;
  printer.PrintToString(config, &out);
  return out;
}

}  // namespace milter::manager
