#include <string>

#include "common/bech32.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    std::string lower = text;
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    auto decoded = argus::bech32_decode(text);
    if (decoded) {
        FUZZ_ASSERT(argus::bech32_encode(decoded->variant, decoded->hrp, decoded->data) == lower);
    }
    for (auto network : {argus::Network::mainnet, argus::Network::testnet, argus::Network::regtest}) {
        auto script = argus::decode_address(text, network);
        if (!script) continue;
        auto again = argus::encode_address(*script, network);
        FUZZ_ASSERT(again && *again == lower);
    }
    return 0;
}
