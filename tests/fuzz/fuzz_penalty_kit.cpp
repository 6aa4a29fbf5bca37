// Argus penalty kits are decoded by the tower after decrypting a blob under a
// breach txid; blobs come from anyone. Decoding must fail cleanly on
// arbitrary bytes; a kit that decodes re-encodes to its bytes (before the
// zero padding), and every penalty it describes can be built.
#include <algorithm>

#include "common/penalty_kit.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    auto kit = argus::kit::decode(input);
    if (!kit) return 0;
    FUZZ_ASSERT(argus::kit::is_kit(input));
    auto encoded = argus::kit::encode(*kit);
    FUZZ_ASSERT(encoded.has_value());
    FUZZ_ASSERT(encoded->size() <= size);
    FUZZ_ASSERT(std::equal(encoded->begin(), encoded->end(), input.begin()));
    FUZZ_ASSERT(std::all_of(input.begin() + static_cast<std::ptrdiff_t>(encoded->size()), input.end(),
                            [](std::uint8_t b) { return b == 0; }));
    auto padded = argus::kit::decode(argus::kit::pad_to_bucket(*encoded));
    FUZZ_ASSERT(padded && *padded == *kit);
    argus::Txid commitment;
    commitment.bytes[0] = 1;
    for (const auto& part : kit->parts) {
        FUZZ_ASSERT(!argus::kit::witness_script(*kit, part).empty());
        for (std::size_t i = 0; i < part.rungs.size(); ++i) {
            argus::Transaction tx = argus::kit::signed_penalty(*kit, part, commitment, i);
            FUZZ_ASSERT(tx.outputs.size() == 1 && tx.outputs[0].value >= argus::kit::min_output);
        }
        // A spent transaction that does not hold the output: refused, no crash.
        argus::Transaction other;
        FUZZ_ASSERT(!argus::kit::verify_part(*kit, part, other, commitment));
    }
    return 0;
}
