// The Electrum front door's internet-facing decoders: the JSON-RPC request
// body (parse_electrum_call), the Basic credentials and the "txid:n" outpoint.
#include <string_view>

#include "common/transaction.h"
#include "server/api/electrum_router.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto call = argus::api::parse_electrum_call(body);
    if (!call) {
        FUZZ_ASSERT(call.error().code <= -32000 && call.error().code >= -32768);
        FUZZ_ASSERT(!call.error().message.empty());
        // The error reply always serializes, whatever bytes the id held.
        FUZZ_ASSERT(!call.error().id.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).empty());
    } else if (auto* add = std::get_if<argus::api::AddSweepCall>(&call->call)) {
        // An accepted sweep parses and spends the prevout it names.
        auto tx = argus::parse_transaction(add->raw_tx);
        FUZZ_ASSERT(tx.has_value());
        bool spends = false;
        for (const auto& in : tx->inputs) spends = spends || in.prevout == add->prevout;
        FUZZ_ASSERT(spends);
        FUZZ_ASSERT(add->ctn >= 0);
    }
    (void)argus::api::parse_basic_authorization(body);
    if (auto o = argus::api::parse_electrum_outpoint(body)) FUZZ_ASSERT(body.size() >= 66);
    return 0;
}
