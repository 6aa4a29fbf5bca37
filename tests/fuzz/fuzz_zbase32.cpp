#include <string>

#include "common/message_signing.h"
#include "common/zbase32.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto decoded = argus::zbase32_decode(text);
    if (decoded) FUZZ_ASSERT(argus::zbase32_encode(*decoded) == text);
    // Signature recovery over the same input must fail cleanly or succeed.
    (void)argus::recover_message_signer(argus::as_bytes("fuzz"), text);
    return 0;
}
