#include "common/transaction.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    auto tx = argus::parse_transaction(input);
    if (!tx) return 0;
    argus::Bytes out = tx->serialize();
    FUZZ_ASSERT(out.size() == size && std::equal(out.begin(), out.end(), data));
    (void)tx->txid();
    return 0;
}
