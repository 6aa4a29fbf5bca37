#include "common/script.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto ops = argus::decode_script(argus::ByteSpan(data, size));
    if (!ops) return 0;
    // Re-encode each operation exactly as written (non-minimal pushes included).
    argus::Bytes out;
    for (const auto& op : *ops) {
        out.push_back(op.opcode);
        std::size_t width = op.opcode == argus::OP_PUSHDATA1   ? 1
                            : op.opcode == argus::OP_PUSHDATA2 ? 2
                            : op.opcode == argus::OP_PUSHDATA4 ? 4
                                                               : 0;
        for (std::size_t b = 0; b < width; ++b) {
            out.push_back(static_cast<std::uint8_t>(op.data.size() >> (8 * b)));
        }
        out.insert(out.end(), op.data.begin(), op.data.end());
    }
    FUZZ_ASSERT(out == argus::Bytes(data, data + size));
    (void)argus::classify_script(argus::ByteSpan(data, size));
    return 0;
}
