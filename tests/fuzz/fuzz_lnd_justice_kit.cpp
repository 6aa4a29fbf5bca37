// The tower decodes lnd justice kits only after decrypting a blob under a
// breach txid, but blobs come from anyone: decoding and decryption must fail
// cleanly on arbitrary bytes, and a kit that decodes re-encodes to its bytes.
#include "common/lnd_justice.h"
#include "tests/fuzz/fuzz_target.h"

namespace {
constexpr std::uint16_t blob_types[] = {
    argus::lnd::blob_type_altruist_legacy, argus::lnd::blob_type_reward,
    argus::lnd::blob_type_altruist_anchor, argus::lnd::blob_type_altruist_taproot,
    argus::lnd::blob_type_altruist_taproot_final};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    // First byte: one of the five blob types, or (from 0xf0 up) any type given by the next two
    // bytes.
    std::uint16_t blob_type = blob_types[data[0] % 5];
    if (data[0] >= 0xf0 && size >= 3)
        blob_type = static_cast<std::uint16_t>(data[1] << 8 | data[2]);
    argus::ByteSpan rest(data + 1, size - 1);

    auto kit = argus::lnd::decode_justice_kit(blob_type, rest);
    if (kit) {
        FUZZ_ASSERT(argus::lnd::is_supported_blob_type(blob_type));
        argus::Bytes encoded = argus::lnd::encode_justice_kit(blob_type, *kit);
        FUZZ_ASSERT(encoded == argus::Bytes(rest.begin(), rest.end()));
        // Sealed and opened again under some txid, it decodes equal.
        argus::Txid txid;
        txid.bytes[0] = data[0];
        argus::ByteArray<24> nonce{};
        argus::Bytes blob = argus::lnd::encrypt_justice_kit(blob_type, *kit, txid, nonce);
        auto opened = argus::lnd::decrypt_justice_kit(blob_type, blob, txid);
        FUZZ_ASSERT(opened && *opened == *kit);
    }

    // Arbitrary bytes as an encrypted blob: the first 32 bytes name the txid.
    if (rest.size() >= 32) {
        argus::Txid txid;
        std::copy(rest.begin(), rest.begin() + 32, txid.bytes.begin());
        auto opened = argus::lnd::decrypt_justice_kit(blob_type, rest.subspan(32), txid);
        (void)opened;
    }
    return 0;
}
