#include "common/keys.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    auto der = argus::parse_der_signature(input);
    if (der) {
        // DER -> (r, s) -> DER -> (r, s) is stable.
        auto again = argus::parse_der_signature(argus::serialize_der(*der));
        FUZZ_ASSERT(again && *again == *der);
    }
    auto compact = argus::parse_compact_signature(input);
    if (compact) {
        FUZZ_ASSERT(std::equal(compact->compact.begin(), compact->compact.end(), data));
    }
    if (size == 65) {
        argus::RecoverableSignature sig;
        std::copy(data + 1, data + 65, sig.compact.begin());
        sig.recovery_id = data[0] % 5;  // 4 must be rejected cleanly
        argus::Hash256 digest{};
        (void)argus::ecdsa_recover(digest, sig);
    }
    return 0;
}
