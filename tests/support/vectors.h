// Loads the JSON test vectors in tests/vectors (each names its source).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/bytes.h"

namespace argus::test {

nlohmann::json load_vectors(const std::string& file_name);
Bytes hex_bytes(const std::string& hex);  // aborts the test on bad hex: vectors are trusted
template <std::size_t N>
ByteArray<N> hex_array(const std::string& hex) {
    Bytes b = hex_bytes(hex);
    ByteArray<N> out{};
    if (b.size() != N) throw std::runtime_error("vector hex of wrong length: " + hex);
    std::copy(b.begin(), b.end(), out.begin());
    return out;
}

}  // namespace argus::test
