// The tower runs the BOLT 8 responder against anyone who connects: every act
// and every encrypted frame it reads is attacker-chosen. The first input byte
// picks what the rest is fed to (keys are the BOLT 8 Appendix A keys):
//   0: act one to a fresh responder
//   1: act three to a responder that read the Appendix A act one
//   2: act two to a fresh initiator
//   3: the bytes as a message must encrypt and decrypt back to themselves,
//      both ways; then they are fed to the responder as a frame (length
//      header, then body).
#include <algorithm>

#include "common/bolt8.h"
#include "common/hex.h"
#include "tests/fuzz/fuzz_target.h"

namespace {

argus::PrivateKey key(const char* hex) {
    return argus::PrivateKey::from_bytes(argus::parse_hex(hex).value()).value();
}

const argus::PrivateKey& initiator_static() {
    static const argus::PrivateKey k =
        key("1111111111111111111111111111111111111111111111111111111111111111");
    return k;
}
const argus::PrivateKey& initiator_ephemeral() {
    static const argus::PrivateKey k =
        key("1212121212121212121212121212121212121212121212121212121212121212");
    return k;
}
const argus::PrivateKey& responder_static() {
    static const argus::PrivateKey k =
        key("2121212121212121212121212121212121212121212121212121212121212121");
    return k;
}
const argus::PrivateKey& responder_ephemeral() {
    static const argus::PrivateKey k =
        key("2222222222222222222222222222222222222222222222222222222222222222");
    return k;
}
const argus::PublicKey& responder_public() {
    static const argus::PublicKey k = responder_static().public_key();
    return k;
}

void round_trip(argus::bolt8::Transport& from, argus::bolt8::Transport& to,
                argus::ByteSpan message) {
    auto sealed = from.encrypt(message);
    if (message.size() > argus::bolt8::max_message_size) {
        FUZZ_ASSERT(!sealed);
        return;
    }
    FUZZ_ASSERT(sealed && sealed->size() == argus::bolt8::length_header_size + message.size() + 16);
    argus::ByteSpan wire(*sealed);
    auto length = to.decrypt_length(wire.first(argus::bolt8::length_header_size));
    FUZZ_ASSERT(length && *length == message.size());
    auto body = to.decrypt_body(wire.subspan(argus::bolt8::length_header_size));
    FUZZ_ASSERT(body && argus::Bytes(message.begin(), message.end()) == *body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::uint8_t mode = data[0];
    const argus::ByteSpan input(data + 1, size - 1);
    constexpr std::size_t header = argus::bolt8::length_header_size;
    switch (mode % 4) {
        case 0: {
            argus::bolt8::Responder responder(responder_static(), responder_ephemeral());
            auto act_two = responder.read_act_one(input);
            if (act_two) FUZZ_ASSERT(act_two->size() == argus::bolt8::act_two_size);
            break;
        }
        case 1: {
            argus::bolt8::Responder responder(responder_static(), responder_ephemeral());
            argus::bolt8::Initiator initiator(initiator_static(), responder_public(),
                                              initiator_ephemeral());
            FUZZ_ASSERT(responder.read_act_one(initiator.act_one()));
            auto transport = responder.read_act_three(input);
            // Only the initiator's own act three (or one a holder of its key
            // built) can pass the final MAC; then the static key is its.
            if (transport)
                FUZZ_ASSERT(transport->remote_static() == initiator_static().public_key());
            break;
        }
        case 2: {
            argus::bolt8::Initiator initiator(initiator_static(), responder_public(),
                                              initiator_ephemeral());
            auto act_three = initiator.read_act_two(input);
            if (act_three) {
                FUZZ_ASSERT(act_three->size() == argus::bolt8::act_three_size);
                FUZZ_ASSERT(initiator.transport());
            } else {
                FUZZ_ASSERT(!initiator.transport());
            }
            break;
        }
        default: {
            argus::bolt8::Initiator initiator(initiator_static(), responder_public(),
                                              initiator_ephemeral());
            argus::bolt8::Responder responder(responder_static(), responder_ephemeral());
            auto act_two = responder.read_act_one(initiator.act_one());
            FUZZ_ASSERT(act_two);
            auto act_three = initiator.read_act_two(*act_two);
            FUZZ_ASSERT(act_three);
            auto from_responder = responder.read_act_three(*act_three);
            auto from_initiator = initiator.transport();
            FUZZ_ASSERT(from_responder && from_initiator);
            round_trip(*from_initiator, *from_responder, input);
            round_trip(*from_responder, *from_initiator, input);
            // Then the bytes as a frame from the initiator: a header, a body.
            argus::bolt8::Transport& transport = *from_responder;
            auto length = transport.decrypt_length(input.first(std::min(input.size(), header)));
            if (length && input.size() >= header)
                (void)transport.decrypt_body(input.subspan(header));
            break;
        }
    }
    return 0;
}
