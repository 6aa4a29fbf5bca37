// The tower decodes every wtwire message a client sends. Decoding must fail
// cleanly on anything; what decodes must re-encode to the same bytes (decode
// refuses trailing data and non-canonical lengths) and decode to an equal message.
#include "common/wtwire.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const argus::ByteSpan input(data, size);
    auto message = argus::wtwire::decode(input);
    if (!message) return 0;
    const argus::Bytes encoded = argus::wtwire::encode(*message);
    auto again = argus::wtwire::decode(encoded);
    FUZZ_ASSERT(again && *again == *message);
    FUZZ_ASSERT(encoded == argus::Bytes(input.begin(), input.end()));
    FUZZ_ASSERT(argus::wtwire::type_of(*again) == argus::wtwire::type_of(*message));
    return 0;
}
