// The channel of BOLT 3 Appendix C/F ("common basic parameters") as Argus types.
#pragma once

#include "common/commitment.h"
#include "common/hash.h"
#include "tests/support/vectors.h"

namespace argus::test {

struct AppendixCChannel {
    bolt3::CommitmentParams params;
    bolt3::CommitmentKeys keys;
    PrivateKey local_funding_privkey;
    PrivateKey local_htlc_privkey;  // "local_privkey": the HTLC basepoint equals the payment basepoint
    PublicKey remote_funding_pubkey;
    std::vector<bolt3::Htlc> all_htlcs;  // htlcs 0..6
    std::vector<Hash256> preimages;
};

inline PrivateKey vector_privkey(const std::string& hex_with_compressed_suffix) {
    // Appendix C prints private keys with Bitcoin's trailing 01 "compressed" byte.
    return PrivateKey::from_bytes(hex_bytes(hex_with_compressed_suffix.substr(0, 64))).value();
}

inline PublicKey vector_pubkey(const std::string& hex) { return PublicKey::parse(hex_bytes(hex)).value(); }

inline AppendixCChannel appendix_c_channel(bool anchors) {
    auto local_payment_basepoint = vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa");
    auto remote_payment_basepoint = vector_pubkey("032c0b7cf95324a07d05398b240174dc0c2be444d96b159aa6c7f7b1e668680991");
    AppendixCChannel c{
        {},
        {vector_pubkey("0212a140cd0c6539d07cd08dfe09984dec3251ea808b892efeac3ede9402bf2b19"),
         vector_pubkey("03fd5960528dc152014952efdb702a88f71e3c1653b2314431701ec77e57fde83c"),
         vector_pubkey("030d417a46946384f88d5f3337267c5e579765875dc4daca813e21734b140639e7"),
         vector_pubkey("0394854aa6eab5b2a8122cc726e9dded053a2184d88256816826d6231c068d4a5b"),
         remote_payment_basepoint,
         vector_pubkey("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"),
         vector_pubkey("030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1")},
        vector_privkey("30ff4956bbdd3222d44cc5e8a1261dab1e07957bdac5ae88fe3261ef321f374901"),
        vector_privkey("bb13b121cdc357cd2e608b0aea294afca36e2b34cf958e2e6451a2f27469449101"),
        vector_pubkey("030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c1"),
        {},
        {}};
    c.params.funding_outpoint = {Txid::from_display_hex("8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be").value(), 0};
    c.params.funding_satoshis = 10'000'000;
    c.params.to_self_delay = 144;
    c.params.dust_limit_satoshis = 546;
    c.params.anchors = anchors;
    c.params.local_is_opener = true;
    c.params.obscuring_factor = bolt3::obscuring_factor(local_payment_basepoint, remote_payment_basepoint);

    struct Spec {
        bolt3::HtlcDirection direction;
        std::uint64_t amount_msat;
        std::uint32_t expiry;
        std::uint8_t preimage_byte;
    };
    using D = bolt3::HtlcDirection;
    // "remote->local" is received by the commitment's owner; "local->remote" offered.
    const Spec specs[] = {{D::received, 1000000, 500, 0}, {D::received, 2000000, 501, 1},
                          {D::offered, 2000000, 502, 2},  {D::offered, 3000000, 503, 3},
                          {D::received, 4000000, 504, 4}, {D::offered, 5000000, 506, 5},
                          {D::offered, 5000001, 505, 5}};
    for (const auto& s : specs) {
        Hash256 preimage;
        preimage.fill(s.preimage_byte);
        c.preimages.push_back(preimage);
        c.all_htlcs.push_back({s.direction, s.amount_msat, s.expiry, sha256(preimage)});
    }
    return c;
}

inline bolt3::CommitmentState appendix_c_state(const AppendixCChannel& channel, const nlohmann::json& v) {
    bolt3::CommitmentState state;
    state.commitment_number = 42;
    state.to_local_msat = v["to_local_msat"].get<std::uint64_t>();
    state.to_remote_msat = v["to_remote_msat"].get<std::uint64_t>();
    state.feerate_per_kw = v["local_feerate_per_kw"].get<std::uint32_t>();
    for (int id : v["htlc_set"]) state.htlcs.push_back(channel.all_htlcs[static_cast<std::size_t>(id)]);
    return state;
}

}  // namespace argus::test
