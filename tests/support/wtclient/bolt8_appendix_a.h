// BOLT #8 Appendix A (lightning/bolts 08-transport.md), "transport-initiator
// successful handshake", the act two failure cases, and "transport-message test":
// typed in by hand from the BOLT text.
#pragma once

namespace argus::test::wtclient::bolt8_vectors {

inline constexpr const char* remote_static_pub =
    "028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7";
inline constexpr const char* local_static_priv =
    "1111111111111111111111111111111111111111111111111111111111111111";
inline constexpr const char* local_static_pub =
    "034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa";
inline constexpr const char* ephemeral_priv =
    "1212121212121212121212121212121212121212121212121212121212121212";

inline constexpr const char* act_one_output =
    "00036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c1"
    "95782c6a";
inline constexpr const char* act_two_input =
    "0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafc"
    "a3f730ae";
inline constexpr const char* act_three_output =
    "00b9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71"
    "ad0c38228dc68b1c466263b47fdf31e560e139ba";
inline constexpr const char* send_key =
    "969ab31b4d288cedf6218839b27a3e2140827047f2c0f01bf5c04435d43511a9";
inline constexpr const char* receive_key =
    "bb9020b8965f4df047e07f955f3c4b88418984aadc5cdb35096b9ea8fa5c3442";
inline constexpr const char* final_chaining_key =
    "919219dbb2920afa8db80f9a51787a840bcf111ed8d588caf9ab4be716e42b01";

// act2 short read / bad version / bad key serialization / bad MAC
inline constexpr const char* act_two_short =
    "0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafc"
    "a3f730";
inline constexpr const char* act_two_bad_version =
    "0102466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafc"
    "a3f730ae";
inline constexpr const char* act_two_bad_key =
    "0004466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafc"
    "a3f730ae";
inline constexpr const char* act_two_bad_mac =
    "0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafc"
    "a3f730af";

// "transport-message test": the initiator sends "hello" 1001 times.
struct MessageVector {
    int index;
    const char* output;
};
inline constexpr MessageVector message_outputs[] = {
    {0, "cf2b30ddf0cf3f80e7c35a6e6730b59fe802473180f396d88a8fb0db8cbcf25d2f214cf9ea1d95"},
    {1, "72887022101f0b6753e0c7de21657d35a4cb2a1f5cde2650528bbc8f837d0f0d7ad833b1a256a1"},
    {500, "178cb9d7387190fa34db9c2d50027d21793c9bc2d40b1e14dcf30ebeeeb220f48364f7a4c68bf8"},
    {501, "1b186c57d44eb6de4c057c49940d79bb838a145cb528d6e8fd26dbe50a60ca2c104b56b60e45bd"},
    {1000, "4a2f3cc3b5e78ddb83dcb426d9863d9d9a723b0337c89dd0b005d89f8d3c05c52b76b29b740f09"},
    {1001, "2ecd8c8a5629d0d02ab457a0fdd0f7b90a192cd46be5ecb6ca570bfc5e268338b1a16cf4ef2d36"},
};

}  // namespace argus::test::wtclient::bolt8_vectors
