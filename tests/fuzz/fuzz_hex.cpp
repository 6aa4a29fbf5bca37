#include <string>

#include "common/hex.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto parsed = argus::parse_hex(text);
    if (!parsed) return 0;
    std::string lower = text;
    for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    FUZZ_ASSERT(argus::to_hex(*parsed) == lower);
    return 0;
}
