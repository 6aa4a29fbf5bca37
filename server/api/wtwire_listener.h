// The LND front door: lnd's watchtower protocol (wtwire) over BOLT 8, the
// socket adapter around common/bolt8 (the Noise state machine) and
// common/wtwire (the messages), with lnd wtserver's conversation:
//
//   client: BOLT 8 acts one and three (its static key is the session key)
//   client: Init            tower: Init (then closes if chain or required features differ)
//   client: CreateSession   tower: CreateSessionReply, closes
//        or DeleteSession   tower: DeleteSessionReply, closes
//        or StateUpdate...  tower: StateUpdateReply each; closes after is_complete or a failure code
//
// One connection per session key at a time (lnd: ErrPeerAlreadyConnected).
// Bounded: a connection cap (at which the stalest connection is evicted, see
// net/connection_table.h) and a per-source cap, a handshake
// deadline, a read deadline per message (idle), a minimum receive rate for a
// message's body, a write deadline, and a per-connection message-rate limit.
// Session decisions and durability are the TowerService's.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "common/context.h"
#include "common/keys.h"
#include "net/connection_table.h"
#include "server/tower/tower_service.h"

namespace argus::api {

struct WtwireListenerOptions {
    std::string bind_address = "0.0.0.0";
    std::uint16_t port = 9911;                          // lnd's default tower port
    std::size_t threads = 2;
    std::size_t max_connections = 1024;               // at the cap the stalest connection is evicted
    std::size_t max_connections_per_source = 64;      // 0: no limit; see api::ConnectionLimits
    bool limit_loopback_sources = false;              // Tor's daemon forwards every onion peer from loopback
    std::chrono::milliseconds handshake_timeout{5'000};
    std::chrono::milliseconds read_timeout{15'000};     // lnd watchtower DefaultReadTimeout
    std::chrono::milliseconds write_timeout{15'000};    // lnd watchtower DefaultWriteTimeout
    double messages_per_second = 50;                    // per connection, token bucket
    double message_burst = 200;
    // Once a message's length header has arrived, its body must arrive within
    // max(grace, body bytes / rate), and within the read deadline; 0: no rule.
    std::size_t min_receive_rate = 128;                 // bytes/s
    std::chrono::milliseconds receive_rate_grace{5'000};
};

struct WtwireStats {
    std::uint64_t connections = 0;          // accepted
    std::uint64_t refused = 0;              // closed at once: a cap was full and every connection busy
    std::uint64_t evicted_idle = 0;         // at the cap: waiting between messages longest
    std::uint64_t evicted_stalled = 0;      // at the cap: a handshake or message under way longest
    std::uint64_t evicted_per_source = 0;   // at its source's cap: that source's stalest connection
    std::uint64_t slow_transfer = 0;        // a message body slower than the minimum receive rate
    std::uint64_t open = 0;
    std::uint64_t handshakes_failed = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t rate_limited = 0;
    std::uint64_t protocol_errors = 0;      // undecodable or unexpected message, wrong chain, unknown required feature
    std::uint64_t duplicate_connections = 0;
    std::uint64_t sessions_created = 0;
    std::uint64_t updates_accepted = 0;
    std::uint64_t updates_rejected = 0;     // a StateUpdateReply with a failure code
    std::uint64_t sessions_deleted = 0;
};

class WtwireListener {
public:
    // `chain_hash`: the genesis block hash of the tower's network (internal order).
    WtwireListener(tower::TowerService& service, PrivateKey tower_key, const Hash256& chain_hash,
                   WtwireListenerOptions options, Context context);
    ~WtwireListener();
    WtwireListener(const WtwireListener&) = delete;
    WtwireListener& operator=(const WtwireListener&) = delete;

    // Binds and starts serving; returns the bound port (options.port 0 picks one).
    Result<std::uint16_t> start();
    void stop();
    // Graceful stop: no new connections, connections between messages
    // closed, a message under way answered (its commit awaited) and the
    // connection closed after its reply, until `timeout`; then stop(). True
    // when every connection had gone by then.
    bool drain(std::chrono::milliseconds timeout);
    // While running (SIGHUP): caps, timeouts, the message rate and the
    // minimum receive rate of `options` apply from now on (bind address,
    // port and threads need a restart).
    void reconfigure(const WtwireListenerOptions& options);
    WtwireStats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The features Argus's tower advertises in its Init: altruist sessions,
// anchor and taproot commitments, all optional (lnd's tower sends the first two).
Bytes tower_init_features();
// lnd wtwire CheckRemoteInit: the chain must match and every required (even)
// feature bit the client sets must be one we know.
Status check_remote_init(const Hash256& our_chain, const Hash256& their_chain, ByteSpan their_features);

}  // namespace argus::api
