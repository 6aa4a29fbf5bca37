// The binary COPY decoder (server/store/copy_binary.h): any bytes, split at
// any point, never crash; a split never changes what is decoded.
#include <vector>

#include "server/store/copy_binary.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    argus::ByteSpan input(data, size);
    argus::store::BigintCopyDecoder whole;
    std::vector<std::int64_t> whole_out;
    bool whole_ok = static_cast<bool>(whole.feed(input, whole_out));

    // The same bytes in two pieces, cut where the first byte says.
    std::size_t cut = size == 0 ? 0 : data[0] % (size + 1);
    argus::store::BigintCopyDecoder split;
    std::vector<std::int64_t> split_out;
    bool split_ok = static_cast<bool>(split.feed(input.first(cut), split_out)) &&
                    static_cast<bool>(split.feed(input.subspan(cut), split_out));
    FUZZ_ASSERT(whole_ok == split_ok);
    if (whole_ok) {
        FUZZ_ASSERT(whole_out == split_out);
        FUZZ_ASSERT(whole.finished() == split.finished());
    }
    return 0;
}
