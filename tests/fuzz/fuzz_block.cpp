#include "common/block.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    auto header = argus::parse_block_header(input);
    if (header) FUZZ_ASSERT(header->serialize() == argus::Bytes(data, data + size));
    auto block = argus::parse_block(input);
    if (!block) return 0;
    FUZZ_ASSERT(block->serialize() == argus::Bytes(data, data + size));
    (void)argus::compute_merkle_root(*block);
    return 0;
}
