// Command-line parsing shared by the tools built on absl/flags: short options
// mapped to long ones, dashes in long option names accepted ("--n-sessions"
// for the flag n_sessions), --help exiting 0 (Abseil's own handler exits 1),
// and stray positional arguments refused.

#ifndef TOOLS_COMMON_COMMAND_LINE_H_
#define TOOLS_COMMON_COMMAND_LINE_H_

#include <optional>
#include <string>
#include <vector>

namespace milter_tools {

struct ShortOption {
  char letter;       // 's' for "-s"
  const char* flag;  // the absl flag it stands for: "connection_spec"
  bool takes_value;  // "-s SPEC" / "-sSPEC"; false: "-v" means "--verbose"
};

// "-s X" -> "--connection_spec=X", "--connection-spec=X" ->
// "--connection_spec=X"; anything after "--" is left alone.
std::vector<std::string> RewriteToolArgs(
    int argc, char** argv, const std::vector<ShortOption>& short_options);

// Parses the command line into the absl flags. Returns an exit status when the
// program should stop at once (0 after printing --help or --version, 2 after
// reporting a stray argument on stderr, naming `program`), std::nullopt to go
// on. An unknown flag or a bad value exits 1 inside Abseil, with its message.
std::optional<int> ParseToolCommandLine(
    int argc, char** argv, const std::vector<ShortOption>& short_options,
    const char* program, const char* positional_hint);

}  // namespace milter_tools

#endif  // TOOLS_COMMON_COMMAND_LINE_H_
