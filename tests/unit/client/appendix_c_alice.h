// BOLT 3 Appendix C's channel as Argus's client engine holds it: from the
// side of the appendix's "remote" (Alice), who watches Bob's commitments.
#pragma once

#include "client/channel/channel.h"
#include "tests/unit/common/bolt3_appendix_c_fixture.h"

namespace argus::test {

inline PrivateKey secret_of(char digit) { return vector_privkey(std::string(64, digit)); }

// BOLT 3 Appendix C from the side of its "remote": Alice holds the remote
// revocation (2222..), payment and htlc (4444..) basepoint secrets and the
// remote funding key; Bob is the appendix's "local", the opener.
inline client::Channel appendix_c_alice(bool anchors) {
    client::ChannelSecrets alice{vector_privkey("1552dfba4f6cf29a62a0af13c8d6981d36d0ef8d61ba10fb0fe90da7634d7e1301"),
                         secret_of('2'), secret_of('4'), secret_of('5'), secret_of('4'), Hash256{}};
    client::ChannelBasepoints bob{vector_pubkey("023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb"),
                          secret_of('6').public_key(),  // Bob's revocation basepoint: unused on his own commitment
                          vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa"),
                          vector_pubkey("023c72addb4fdf09af94f0c94d7fe92a386a7e70cf8a1d85916386bb2535c7b1b1"),
                          vector_pubkey("034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa")};
    client::ChannelConfig config;
    config.funding_outpoint = {Txid::from_display_hex("8984484a580b825b9972d7adb15050b3ab624ccd731946b3eeddb92f4e7ef6be").value(), 0};
    config.funding_satoshis = 10'000'000;
    config.local_is_opener = false;
    config.anchors = anchors;
    config.remote_to_self_delay = 144;
    return client::Channel(config, alice, bob);
}

inline client::ChannelState alice_view(const nlohmann::json& v, const AppendixCChannel& spec) {
    client::ChannelState s;
    s.commitment_number = 42;
    s.local_msat = v["to_remote_msat"].get<std::uint64_t>();
    s.remote_msat = v["to_local_msat"].get<std::uint64_t>();
    s.feerate_per_kw = v["local_feerate_per_kw"].get<std::uint32_t>();
    for (int id : v["htlc_set"]) {
        auto h = spec.all_htlcs[static_cast<std::size_t>(id)];
        h.direction = h.direction == bolt3::HtlcDirection::offered ? bolt3::HtlcDirection::received
                                                                   : bolt3::HtlcDirection::offered;
        s.htlcs.push_back(h);
    }
    return s;
}

}  // namespace argus::test
