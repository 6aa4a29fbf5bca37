#include "common/bech32.h"

namespace argus {

namespace {
constexpr char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr std::uint32_t bech32_constant = 1;
constexpr std::uint32_t bech32m_constant = 0x2bc830a3;

std::uint32_t polymod(const std::vector<std::uint8_t>& values) {
    static constexpr std::uint32_t generator[] = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd,
                                                  0x2a1462b3};
    std::uint32_t chk = 1;
    for (std::uint8_t v : values) {
        std::uint32_t top = chk >> 25;
        chk = ((chk & 0x1ffffff) << 5) ^ v;
        for (int i = 0; i < 5; ++i) {
            if ((top >> i) & 1) chk ^= generator[i];
        }
    }
    return chk;
}

std::vector<std::uint8_t> expand_hrp(std::string_view hrp) {
    std::vector<std::uint8_t> out;
    out.reserve(hrp.size() * 2 + 1);
    for (char c : hrp) out.push_back(static_cast<std::uint8_t>(static_cast<unsigned char>(c) >> 5));
    out.push_back(0);
    for (char c : hrp) out.push_back(static_cast<std::uint8_t>(c & 31));
    return out;
}

int charset_value(char c) {
    for (int i = 0; i < 32; ++i) {
        if (charset[i] == c) return i;
    }
    return -1;
}

// Regroups bits; `pad` adds zero bits at the end (encoding), otherwise leftover
// bits must be fewer than `from` and zero (decoding, BIP173).
bool convert_bits(const std::vector<std::uint8_t>& in, int from, int to, bool pad,
                  std::vector<std::uint8_t>& out) {
    std::uint32_t acc = 0;
    int bits = 0;
    const std::uint32_t max = (1u << to) - 1;
    for (std::uint8_t value : in) {
        if ((value >> from) != 0) return false;
        acc = (acc << from) | value;
        bits += from;
        while (bits >= to) {
            bits -= to;
            out.push_back(static_cast<std::uint8_t>((acc >> bits) & max));
        }
    }
    if (pad) {
        if (bits > 0) out.push_back(static_cast<std::uint8_t>((acc << (to - bits)) & max));
    } else if (bits >= from || ((acc << (to - bits)) & max) != 0) {
        return false;
    }
    return true;
}

Error bad(const std::string& why) { return make_error(ErrorCode::invalid_encoding, why); }
}  // namespace

std::string bech32_encode(Bech32Variant variant, std::string_view hrp,
                          const std::vector<std::uint8_t>& data5) {
    std::vector<std::uint8_t> values = expand_hrp(hrp);
    values.insert(values.end(), data5.begin(), data5.end());
    values.insert(values.end(), 6, 0);
    std::uint32_t mod =
        polymod(values) ^ (variant == Bech32Variant::bech32 ? bech32_constant : bech32m_constant);
    std::string out(hrp);
    out.push_back('1');
    for (std::uint8_t v : data5) out.push_back(charset[v]);
    for (int i = 0; i < 6; ++i) out.push_back(charset[(mod >> (5 * (5 - i))) & 31]);
    return out;
}

Result<Bech32Decoded> bech32_decode(std::string_view text) {
    if (text.size() > 90) return bad("bech32 string longer than 90 characters");
    bool lower = false, upper = false;
    for (char c : text) {
        auto u = static_cast<unsigned char>(c);
        if (u < 33 || u > 126) return bad("bech32 character out of range");
        lower = lower || (c >= 'a' && c <= 'z');
        upper = upper || (c >= 'A' && c <= 'Z');
    }
    if (lower && upper) return bad("bech32 string mixes upper and lower case");
    std::size_t separator = text.rfind('1');
    if (separator == std::string_view::npos) return bad("bech32 string has no separator");
    if (separator == 0) return bad("bech32 human-readable part is empty");
    if (text.size() - separator - 1 < 6) return bad("bech32 checksum too short");
    Bech32Decoded out;
    for (std::size_t i = 0; i < separator; ++i) {
        char c = text[i];
        out.hrp.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
    }
    std::vector<std::uint8_t> values;
    for (std::size_t i = separator + 1; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        int v = charset_value(c);
        if (v < 0) return bad("invalid bech32 data character at offset " + std::to_string(i));
        values.push_back(static_cast<std::uint8_t>(v));
    }
    std::vector<std::uint8_t> check = expand_hrp(out.hrp);
    check.insert(check.end(), values.begin(), values.end());
    std::uint32_t mod = polymod(check);
    if (mod == bech32_constant) {
        out.variant = Bech32Variant::bech32;
    } else if (mod == bech32m_constant) {
        out.variant = Bech32Variant::bech32m;
    } else {
        return make_error(ErrorCode::invalid_checksum, "bech32 checksum mismatch");
    }
    out.data.assign(values.begin(), values.end() - 6);
    return out;
}

const char* to_string(Network network) {
    switch (network) {
        case Network::mainnet: return "mainnet";
        case Network::testnet: return "testnet";
        case Network::signet: return "signet";
        case Network::regtest: return "regtest";
    }
    return "unknown";
}

Result<Network> parse_network(std::string_view name) {
    if (name == "mainnet" || name == "bitcoin" || name == "main") return Network::mainnet;
    if (name == "testnet" || name == "test") return Network::testnet;
    if (name == "signet") return Network::signet;
    if (name == "regtest") return Network::regtest;
    return make_error(ErrorCode::invalid_argument, "unknown network '" + std::string(name) + "'");
}

std::string_view segwit_hrp(Network network) {
    switch (network) {
        case Network::mainnet: return "bc";
        case Network::testnet:
        case Network::signet: return "tb";
        case Network::regtest: return "bcrt";
    }
    return "bc";
}

Result<std::string> encode_address(ByteSpan script_pubkey, Network network) {
    auto wp = witness_program(script_pubkey);
    if (!wp) return make_error(ErrorCode::invalid_argument, "script is not a witness program");
    if (wp->version == 0 && wp->program.size() != 20 && wp->program.size() != 32) {
        return make_error(ErrorCode::invalid_argument, "v0 witness program must be 20 or 32 bytes");
    }
    std::vector<std::uint8_t> data5{static_cast<std::uint8_t>(wp->version)};
    convert_bits(wp->program, 8, 5, true, data5);
    return bech32_encode(wp->version == 0 ? Bech32Variant::bech32 : Bech32Variant::bech32m,
                         segwit_hrp(network), data5);
}

Result<WitnessProgram> decode_segwit_address(std::string_view address, std::string_view hrp) {
    auto decoded = bech32_decode(address);
    if (!decoded) return decoded.error();
    if (decoded->hrp != hrp) {
        return bad("address is for '" + decoded->hrp + "', expected '" + std::string(hrp) + "'");
    }
    if (decoded->data.empty()) return bad("address has an empty data section");
    int version = decoded->data[0];
    if (version > 16) return bad("invalid witness version " + std::to_string(version));
    // BIP350: v0 uses bech32, v1..v16 use bech32m.
    Bech32Variant expected = version == 0 ? Bech32Variant::bech32 : Bech32Variant::bech32m;
    if (decoded->variant != expected) {
        return make_error(ErrorCode::invalid_checksum,
                          version == 0 ? "witness v0 address needs a bech32 checksum"
                                       : "witness v1+ address needs a bech32m checksum");
    }
    WitnessProgram wp;
    wp.version = version;
    std::vector<std::uint8_t> data5(decoded->data.begin() + 1, decoded->data.end());
    if (!convert_bits(data5, 5, 8, false, wp.program)) {
        return bad("invalid padding in address data");
    }
    if (wp.program.size() < 2 || wp.program.size() > 40) {
        return bad("witness program of " + std::to_string(wp.program.size()) + " bytes");
    }
    if (version == 0 && wp.program.size() != 20 && wp.program.size() != 32) {
        return bad("witness v0 program must be 20 or 32 bytes");
    }
    return wp;
}

Result<Bytes> decode_address(std::string_view address, Network network) {
    auto wp = decode_segwit_address(address, segwit_hrp(network));
    if (!wp) return wp.error();
    return witness_script_pubkey(*wp);
}

}  // namespace argus
