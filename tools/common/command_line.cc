// Command-line parsing shared by the tools (see command_line.h).

#include "tools/common/command_line.h"

#include <cstdio>
#include <iostream>

#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/usage.h"

namespace milter_tools {

std::vector<std::string> RewriteToolArgs(
    int argc, char** argv, const std::vector<ShortOption>& short_options) {
  std::vector<std::string> args;
  if (argc > 0) args.push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (; i < argc; ++i) args.push_back(argv[i]);
      break;
    }
    const ShortOption* short_option = nullptr;
    if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
      for (const ShortOption& o : short_options) {
        if (o.letter == a[1]) short_option = &o;
      }
    }
    if (short_option != nullptr) {
      std::string flag = std::string("--") + short_option->flag;
      if (!short_option->takes_value) {
        args.push_back(flag);
      } else if (a.size() > 2) {
        args.push_back(flag + "=" + a.substr(a[2] == '=' ? 3 : 2));
      } else if (i + 1 < argc) {
        args.push_back(flag + "=" + argv[++i]);
      } else {
        args.push_back(flag);  // Abseil reports the missing value
      }
      continue;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      size_t name_end = a.find('=');
      if (name_end == std::string::npos) name_end = a.size();
      for (size_t k = 2; k < name_end; ++k) {
        if (a[k] == '-') a[k] = '_';
      }
    }
    args.push_back(a);
  }
  return args;
}

std::optional<int> ParseToolCommandLine(
    int argc, char** argv, const std::vector<ShortOption>& short_options,
    const char* program, const char* positional_hint) {
  std::vector<std::string> args = RewriteToolArgs(argc, argv, short_options);
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  std::vector<char*> positional = absl::flags_internal::ParseCommandLineImpl(
      static_cast<int>(cargs.size()), cargs.data(),
      absl::flags_internal::ArgvListAction::kRemoveParsedArgs,
      absl::flags_internal::UsageFlagsAction::kIgnoreUsage,
      absl::flags_internal::OnUndefinedFlag::kAbortIfUndefined);
  if (absl::flags_internal::HandleUsageFlags(
          std::cout, absl::ProgramUsageMessage()) >= 0) {
    return 0;  // --help, --helpfull, --version, ...
  }
  if (positional.size() > 1) {
    std::fprintf(stderr, "%s: unexpected argument \"%s\" (%s)\n", program,
                 positional[1], positional_hint);
    return 2;
  }
  return std::nullopt;
}

}  // namespace milter_tools
