// FilterFactory: one filter object per MTA connection, and the negotiation
// derived from the callbacks a filter class overrides.

#include "milter/client/filter_factory.h"

namespace milter::client {

namespace protocol = codec::protocol;
namespace action = codec::action;

FilterFactory::FilterFactory(MakeSync make, uint32_t overridden,
                             FilterOptions options)
    : make_sync_(std::move(make)),
      callbacks_(options.callbacks.value_or(overridden)),
      options_(std::move(options)) {}

FilterFactory::FilterFactory(MakeCoroutine make, uint32_t overridden,
                             FilterOptions options)
    : make_coroutine_(std::move(make)),
      callbacks_(options.callbacks.value_or(overridden)),
      options_(std::move(options)) {}

Negotiation FilterFactory::DefaultNegotiation(
    const codec::OptionNegotiation& offer) const {
  Negotiation n;
  n.offer = offer;
  n.symbol_lists = options_.symbol_lists;
  uint32_t offered_actions =
      offer.actions == 0 ? action::kVersion1Default : offer.actions;
  n.request.version = codec::kMaxVersion;
  bool want_symlists = false;
  for (const auto& list : n.symbol_lists) want_symlists |= list.has_value();
  if (options_.actions) {
    n.request.actions = *options_.actions;
  } else {
    n.request.actions =
        offered_actions & action::kAll & ~action::kSetSymbolList;
  }
  if (want_symlists && (offered_actions & action::kSetSymbolList)) {
    n.request.actions |= action::kSetSymbolList;
  }
  uint32_t p = options_.protocol;
  static constexpr struct {
    uint32_t callback;
    uint32_t no_send;
  } kNoSend[] = {
      {callback::kConnect, protocol::kNoConnect},
      {callback::kHelo, protocol::kNoHelo},
      {callback::kMail, protocol::kNoMail},
      {callback::kRcpt, protocol::kNoRcpt},
      {callback::kData, protocol::kNoData},
      {callback::kUnknown, protocol::kNoUnknown},
      {callback::kHeader, protocol::kNoHeaders},
      {callback::kEndOfHeaders, protocol::kNoEndOfHeaders},
      {callback::kBody, protocol::kNoBody},
  };
  for (const auto& e : kNoSend) {
    if (!(callbacks_ & e.callback)) p |= e.no_send;
  }
  if (callbacks_ & callback::kBody) p |= protocol::kSkip;
  n.request.protocol = p;
  return n;
}

}  // namespace milter::client
