#include "common/keys.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    auto key = argus::PublicKey::parse(input);
    if (key) {
        auto again = argus::PublicKey::parse(key->bytes());
        FUZZ_ASSERT(again && *again == *key);
        if (size == 33) FUZZ_ASSERT(std::equal(key->bytes().begin(), key->bytes().end(), data));
    }
    auto x_only = argus::XOnlyPublicKey::parse(input);
    if (x_only) FUZZ_ASSERT(std::equal(x_only->bytes().begin(), x_only->bytes().end(), data));
    auto secret = argus::PrivateKey::from_bytes(input);
    if (secret) FUZZ_ASSERT(argus::PublicKey::parse(secret->public_key().bytes()).has_value());
    return 0;
}
