// A watchtower client that speaks to a tower the way lnd's wtclient does:
// BOLT 8 (Noise_XK) over TCP, the session key as the static key, then wtwire.
// Independent of the tower's code; see tests/support/wtclient/README in the
// commit message and the doc comments for what lnd's client and tower do.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/keys.h"
#include "common/result.h"
#include "tests/support/wtclient/noise.h"
#include "tests/support/wtclient/tcp_connection.h"
#include "tests/support/wtclient/wtwire.h"

namespace argus::test::wtclient {

// A decoded reply from the tower: CreateSessionReply (603), StateUpdateReply
// (605), DeleteSessionReply (607), or Error (601) where a reply was expected.
struct Reply {
    std::uint16_t type = 0;
    std::uint16_t code = 0;
    std::uint16_t last_applied = 0;  // 603 and 605
    Bytes data;                      // 603 (reward script) and 601
};

// One BOLT 8 connection to a tower. lnd's tower serves one request per
// connection: after Init, either one CreateSession, one DeleteSession, or a
// run of StateUpdates ending with is_complete = 1; it hangs up after the reply
// to the first two, after the complete update, and after any non-OK reply.
class Client {
public:
    static Result<Client> connect(const std::string& host, std::uint16_t port,
                                  const PublicKey& tower, const PrivateKey& session_key,
                                  const PrivateKey& ephemeral, std::chrono::milliseconds timeout);

    // lnd's client sends its Init first, as soon as the handshake completes.
    Status send_init(Bytes features, const Hash256& chain_hash);
    Result<InitMessage> receive_init();
    // send_init, receive_init, then wtwire.Init.CheckRemoteInit as lnd's client does.
    Status exchange_init(Bytes features, const Hash256& chain_hash);

    Result<Reply> create_session(std::uint16_t blob_type, std::uint16_t max_updates,
                                 std::uint32_t reward_base, std::uint32_t reward_rate,
                                 std::uint64_t sweep_fee_rate);
    Result<Reply> state_update(std::uint16_t seqnum, std::uint16_t last_applied, bool is_complete,
                               const ByteArray<16>& hint, ByteSpan blob);
    Result<Reply> delete_session();

    Status send_message(const WireMessage& message);
    Result<WireMessage> receive_message();
    // Sends any plaintext as one BOLT 8 message (up to 65535 bytes).
    Status send_raw_message(ByteSpan plaintext_wtwire);
    Result<Bytes> receive_raw_message();
    // Discards whatever arrives; true once the tower closes, false if `wait` passes first.
    bool closed_by_peer(std::chrono::milliseconds wait);
    void close();

    const PublicKey& session_id() const { return session_id_; }

private:
    Client(TcpConnection connection, TransportCipher cipher, PublicKey session_id)
        : connection_(std::move(connection)), cipher_(std::move(cipher)),
          session_id_(session_id) {}
    Result<Reply> receive_reply(std::uint16_t expected_type);

    TcpConnection connection_;
    TransportCipher cipher_;
    PublicKey session_id_;
    std::optional<InitMessage> local_init_;
};

// Handshakes broken on purpose, to check that the tower hangs up.
enum class HandshakeFault {
    short_act_one,          // 49 of the 50 bytes, then silence
    bad_act_one_version,    // version byte 1
    bad_act_one_key,        // ephemeral key prefix 0x04
    bad_act_one_mac,        // last MAC byte flipped
    bad_act_three_version,  // valid acts one and two, act three version 1
    bad_act_three_mac,      // act three with a flipped MAC byte
    short_act_three,        // 65 of the 66 bytes, then silence
    wrong_tower_key,        // act one addressed to a different static key
};

// Runs the handshake with `fault` and reports whether the tower closed the
// connection within `wait` (for the short variants the tower must time out).
Result<bool> tower_hangs_up_after(const std::string& host, std::uint16_t port,
                                  const PublicKey& tower, const PrivateKey& session_key,
                                  const PrivateKey& ephemeral, HandshakeFault fault,
                                  std::chrono::milliseconds wait);

// A state update as lnd's client keeps it once committed (wtdb.CommittedUpdate).
struct BackupUpdate {
    ByteArray<16> hint{};
    Bytes encrypted_blob;
};

struct SessionQueueOptions {
    std::string host;
    std::uint16_t port = 0;
    PublicKey tower;
    Bytes features;  // lnd_client_features(blob_type)
    Hash256 chain_hash{};
    std::chrono::milliseconds timeout{5000};
};

// lnd's sessionQueue (watchtower/wtclient/session_queue.go) in miniature:
// updates are queued as pending; drain() dials, exchanges Init once, then sends
// first every committed-but-unacknowledged update (same seqnum as before) and
// then the pending ones, each with seqnum = last allocated + 1 and last_applied
// = the last value the tower acknowledged; the last update of the pass carries
// is_complete = 1 and ends the connection. A failure (send, read, or a non-OK
// code) stops the pass and keeps the update committed, to resend it with its
// seqnum on the next drain().
class SessionQueue {
public:
    SessionQueue(SessionQueueOptions options, const PrivateKey& session_key);

    void enqueue(BackupUpdate update) { pending_.push_back(std::move(update)); }
    // One drainBackups pass with a fresh ephemeral key. Returns the first error.
    Status drain(const PrivateKey& ephemeral);

    std::uint16_t seqnum() const { return seqnum_; }              // highest allocated
    std::uint16_t last_applied() const { return last_applied_; }  // highest acked by the tower
    std::size_t committed_count() const { return committed_.size(); }
    std::size_t pending_count() const { return pending_.size(); }
    // The replies of the last drain(), in order.
    const std::vector<Reply>& replies() const { return replies_; }

private:
    struct Committed {
        std::uint16_t seqnum;
        BackupUpdate update;
    };
    SessionQueueOptions options_;
    PrivateKey session_key_;
    std::vector<Committed> committed_;
    std::vector<BackupUpdate> pending_;
    std::uint16_t seqnum_ = 0;
    std::uint16_t last_applied_ = 0;
    std::vector<Reply> replies_;
};

}  // namespace argus::test::wtclient
