#include "tests/support/vectors.h"

#include <fstream>
#include <stdexcept>

#include "common/hex.h"

namespace argus::test {

nlohmann::json load_vectors(const std::string& file_name) {
    std::string path = std::string(ARGUS_VECTORS_DIR) + "/" + file_name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open vector file " + path);
    return nlohmann::json::parse(in);
}

Bytes hex_bytes(const std::string& hex) {
    auto parsed = parse_hex(hex);
    if (!parsed) throw std::runtime_error("bad hex in vector: " + parsed.error().message);
    return *parsed;
}

}  // namespace argus::test
