#include "common/block.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    auto header = argus::parse_block_header(input);
    if (header) FUZZ_ASSERT(header->serialize() == argus::Bytes(data, data + size));
    auto block = argus::parse_block(input);
    if (!block) return 0;
    FUZZ_ASSERT(block->serialize() == argus::Bytes(data, data + size));
    // The txids hashed from the input's bytes equal those of the parsed transactions.
    FUZZ_ASSERT(block->txids.size() == block->transactions.size());
    for (std::size_t i = 0; i < block->txids.size(); ++i) FUZZ_ASSERT(block->txids[i] == block->transactions[i].txid());
    (void)argus::compute_merkle_root(*block);
    return 0;
}
