#include "common/hex.h"

namespace argus {

namespace {
int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

std::string to_hex(ByteSpan data) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out(data.size() * 2, '0');
    for (std::size_t i = 0; i < data.size(); ++i) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 0x0f];
    }
    return out;
}

Result<Bytes> parse_hex(std::string_view text) {
    if (text.size() % 2 != 0) {
        return make_error(ErrorCode::invalid_hex, "hex string has odd length");
    }
    Bytes out(text.size() / 2);
    for (std::size_t i = 0; i < out.size(); ++i) {
        int high = hex_value(text[2 * i]);
        int low = hex_value(text[2 * i + 1]);
        if (high < 0 || low < 0) {
            return make_error(ErrorCode::invalid_hex,
                              "non-hex character at offset " + std::to_string(high < 0 ? 2 * i : 2 * i + 1));
        }
        out[i] = static_cast<std::uint8_t>((high << 4) | low);
    }
    return out;
}

}  // namespace argus
