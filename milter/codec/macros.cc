// MacroMap: per-stage macro storage with libmilter's lookup rules.

#include "milter/codec/macros.h"

namespace milter::codec {

std::string_view CanonicalMacroName(std::string_view name) {
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}') {
    return name.substr(1, name.size() - 2);
  }
  return name;
}

void MacroMap::SetStage(MacroStage stage, const StringList& pairs) {
  Pairs& out = stages_[static_cast<int>(stage)];
  out.clear();
  for (auto it = pairs.begin(); it != pairs.end();) {
    std::string_view name = *it++;
    if (it == pairs.end()) break;
    std::string_view value = *it++;
    out.emplace_back(std::string(name), std::string(value));
  }
}

void MacroMap::Set(MacroStage stage, std::string_view name,
                   std::string_view value) {
  Pairs& pairs = stages_[static_cast<int>(stage)];
  std::string_view canonical = CanonicalMacroName(name);
  for (auto& [n, v] : pairs) {
    if (CanonicalMacroName(n) == canonical) {
      v.assign(value);
      return;
    }
  }
  pairs.emplace_back(std::string(name), std::string(value));
}

std::optional<std::string_view> MacroMap::GetInStage(
    MacroStage stage, std::string_view name) const {
  std::string_view canonical = CanonicalMacroName(name);
  for (const auto& [n, v] : stages_[static_cast<int>(stage)]) {
    if (CanonicalMacroName(n) == canonical) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> MacroMap::Get(std::string_view name) const {
  for (int i = kNumMacroStages - 1; i >= 0; --i) {
    if (auto v = GetInStage(static_cast<MacroStage>(i), name)) return v;
  }
  return std::nullopt;
}

void MacroMap::ClearAbove(MacroStage stage) {
  for (int i = static_cast<int>(stage) + 1; i < kNumMacroStages; ++i) {
    stages_[i].clear();
  }
}

void MacroMap::Clear() {
  for (Pairs& p : stages_) p.clear();
}

}  // namespace milter::codec
