// The tower decrypts blobs chosen by anyone; decryption and the penalty parse
// that follows must fail cleanly on arbitrary input.
#include "common/transaction.h"
#include "common/watchtower_crypto.h"
#include "tests/fuzz/fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 32) return 0;
    argus::Txid txid;
    std::copy(data, data + 32, txid.bytes.begin());
    argus::ByteSpan blob(data + 32, size - 32);
    auto plain = argus::teos::decrypt_penalty(blob, txid);
    if (plain) (void)argus::parse_transaction(*plain);
    // And encryption round trips.
    argus::Bytes sealed = argus::teos::encrypt_penalty(blob, txid);
    auto opened = argus::teos::decrypt_penalty(sealed, txid);
    FUZZ_ASSERT(opened && *opened == argus::Bytes(blob.begin(), blob.end()));
    return 0;
}
