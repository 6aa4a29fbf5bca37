// BIP173 bech32 and BIP350 bech32m strings, and segwit addresses built on them.
#pragma once

#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "common/script.h"

namespace argus {

enum class Bech32Variant { bech32, bech32m };

struct Bech32Decoded {
    Bech32Variant variant;
    std::string hrp;            // lowercase
    std::vector<std::uint8_t> data;  // 5-bit values, checksum removed
};

std::string bech32_encode(Bech32Variant variant, std::string_view hrp,
                          const std::vector<std::uint8_t>& data5);
// Checks length (<= 90), character range, case, separator and checksum.
Result<Bech32Decoded> bech32_decode(std::string_view text);

enum class Network { mainnet, testnet, signet, regtest };
const char* to_string(Network network);
Result<Network> parse_network(std::string_view name);
std::string_view segwit_hrp(Network network);  // bc, tb, tb, bcrt

// Encodes a witness scriptPubKey (v0 with bech32, v1+ with bech32m).
Result<std::string> encode_address(ByteSpan script_pubkey, Network network);
// Decodes a segwit address of `network` into its scriptPubKey.
Result<Bytes> decode_address(std::string_view address, Network network);
// Decodes a segwit address for whichever hrp it carries (bc, tb or bcrt).
Result<WitnessProgram> decode_segwit_address(std::string_view address, std::string_view hrp);

}  // namespace argus
