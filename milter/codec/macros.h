// Macro storage per stage with libmilter's lookup rules: single-letter macros
// arrive bare ("i") and long ones braced ("{daemon_name}"); a lookup of either
// spelling finds the macro. Stages are searched from the highest index down,
// as libmilter's smfi_getsymval does, so later stages shadow earlier ones.

#ifndef MILTER_CODEC_MACROS_H_
#define MILTER_CODEC_MACROS_H_

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "milter/codec/message.h"
#include "milter/codec/protocol.h"

namespace milter::codec {

// "{i}" -> "i", "{daemon_name}" -> "daemon_name", "i" -> "i".
std::string_view CanonicalMacroName(std::string_view name);

class MacroMap {
 public:
  using Pairs = std::vector<std::pair<std::string, std::string>>;

  // Replaces the macros of `stage` with those of a 'D' packet's pairs. An odd
  // trailing name without a value is ignored, as libmilter does.
  void SetStage(MacroStage stage, const StringList& pairs);
  // Adds or replaces one macro of `stage`.
  void Set(MacroStage stage, std::string_view name, std::string_view value);

  // The value of `name` in any stage, highest stage index first.
  std::optional<std::string_view> Get(std::string_view name) const;
  // The value of `name` in `stage` only.
  std::optional<std::string_view> GetInStage(MacroStage stage,
                                             std::string_view name) const;

  // The macros of one stage, names as received.
  const Pairs& stage(MacroStage stage) const {
    return stages_[static_cast<int>(stage)];
  }

  // Forgets the macros of every stage whose index is above `stage` (libmilter
  // clears these when a command of `stage` arrives).
  void ClearAbove(MacroStage stage);
  void Clear();

 private:
  std::array<Pairs, kNumMacroStages> stages_;
};

}  // namespace milter::codec

#endif  // MILTER_CODEC_MACROS_H_
