// Lowercase hex, as used by every JSON API Argus speaks.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"

namespace argus {

std::string to_hex(ByteSpan data);

// Accepts upper and lower case; rejects odd length and non-hex characters.
Result<Bytes> parse_hex(std::string_view text);

template <std::size_t N>
Result<ByteArray<N>> parse_hex_array(std::string_view text) {
    if (text.size() != 2 * N) {
        return make_error(ErrorCode::invalid_hex, "expected " + std::to_string(2 * N) +
                                                      " hex characters, got " +
                                                      std::to_string(text.size()));
    }
    auto bytes = parse_hex(text);
    if (!bytes) return bytes.error();
    ByteArray<N> out;
    for (std::size_t i = 0; i < N; ++i) out[i] = (*bytes)[i];
    return out;
}

}  // namespace argus
