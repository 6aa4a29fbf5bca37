// Bounds on a listener's connections, shared by the teos API server
// (net/http_server) and the LND front door (server/api/wtwire_listener): a
// global cap and a per-source cap where, at the cap, the stalest connection
// is evicted instead of the newcomer refused.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace argus::api {

// What a listener's connections are doing, as the ConnectionTable sees them.
enum class ConnectionPhase : int {
    receiving,  // a request, message or handshake under way (from accept for the first one)
    waiting,    // between requests (keep-alive) or messages: nothing owed by either side
    busy,       // the server is working on or writing a reply: never evicted
};

// A connection the table may evict: called from any thread, without the
// table's lock; it must close the connection on its own executor.
class EvictableConnection {
public:
    virtual ~EvictableConnection() = default;
    virtual void evict() = 0;
    // A graceful stop's close: on the connection's own strand, only if it is
    // still waiting between requests there. A request whose bytes arrived
    // while the table still saw it waiting is then answered, not cut off
    // after it took effect.
    virtual void evict_if_waiting() { evict(); }
};

// A listener's bounds on connections, with a minimum transfer rate for what
// each connection sends.
struct ConnectionLimits {
    std::size_t max_connections = 1024;
    // Connections one source may hold; 0: no limit. A source is an IPv4
    // address or an IPv6 /64. Loopback peers are all one address (a Tor
    // daemon forwards every onion client from 127.0.0.1), so they are left
    // out of this limit unless `limit_loopback_sources`.
    std::size_t max_connections_per_source = 64;
    bool limit_loopback_sources = false;
};

// Counters of a listener's connection bounds (monotonic totals, `open` a gauge).
struct ConnectionStats {
    std::uint64_t accepted = 0;            // TCP connections accepted, admitted or not
    std::uint64_t open = 0;
    std::uint64_t refused = 0;             // closed at once: a cap was full and nothing was evictable
    std::uint64_t evicted_idle = 0;        // at the cap: waiting between requests longest
    std::uint64_t evicted_stalled = 0;     // at the cap: a request or handshake under way longest
    std::uint64_t evicted_per_source = 0;  // at its source's cap: that source's stalest connection
    std::uint64_t slow_transfer = 0;       // closed: sent slower than the minimum receive rate
};

class ConnectionSlot;

// Who holds a listener's connection slots, and which to give up when a new
// connection arrives at a cap. The teos API server and the LND front door
// (server/api/wtwire_listener) share it. Thread-safe; a scan per admission.
//
// Eviction order: the connection that has gone longest without finishing a
// request, whether waiting since its last reply (keep-alive) or receiving
// since its request (or handshake) began; busy ones never go. A client that
// keeps sending requests finishes one every few milliseconds and so is never
// the stalest; a slow loris never finishes one and ages until it is evicted.
// With the minimum receive rate on, no trickler lives past the rate's grace,
// so a connection idle for longer than that goes before any of them.
// At a source's own cap only that source's connections are candidates, so a
// greedy source evicts itself. A new connection is refused only when every
// candidate is busy.
class ConnectionTable {
public:
    using Clock = std::chrono::steady_clock;

    explicit ConnectionTable(ConnectionLimits limits) : limits_(limits) {}
    ConnectionTable(const ConnectionTable&) = delete;
    ConnectionTable& operator=(const ConnectionTable&) = delete;

    // A slot for a connection from `peer_address` (textual IP), evicting
    // another connection if a cap is full; nullptr: refused, close it. The
    // slot starts `receiving` at `now`; bind() it once its owner exists.
    std::shared_ptr<ConnectionSlot> admit(const std::string& peer_address, Clock::time_point now);
    void bind(const std::shared_ptr<ConnectionSlot>& slot, std::weak_ptr<EvictableConnection> owner);
    // When the connection ends (its owner's destructor); a no-op once evicted.
    void release(const std::shared_ptr<ConnectionSlot>& slot);
    void count_slow_transfer() { slow_transfer_.fetch_add(1, std::memory_order_relaxed); }
    // New caps for the next admissions (a reload); open connections over a
    // lowered cap stay until eviction makes room for newcomers.
    void set_limits(ConnectionLimits limits);
    // Asks every connection waiting between requests to close if it still is
    // (evict_if_waiting); each leaves the table when it ends. Called in a
    // loop by a graceful stop.
    void evict_waiting();
    // Open connections in each phase: receiving, waiting, busy.
    std::array<std::size_t, 3> phases() const;

    ConnectionStats stats() const;
    std::size_t open() const;

private:
    std::shared_ptr<ConnectionSlot> choose_victim_locked(const std::string* source, Clock::time_point now) const;
    void remove_locked(const std::shared_ptr<ConnectionSlot>& slot);

    ConnectionLimits limits_;
    mutable std::mutex mutex_;
    std::list<std::shared_ptr<ConnectionSlot>> slots_;
    std::unordered_map<std::string, std::size_t> per_source_;
    std::uint64_t accepted_ = 0, refused_ = 0, evicted_idle_ = 0, evicted_stalled_ = 0, evicted_per_source_ = 0;
    std::atomic<std::uint64_t> slow_transfer_{0};
};

// One connection's entry in its ConnectionTable; its owner reports phases.
class ConnectionSlot {
public:
    void enter(ConnectionPhase phase, ConnectionTable::Clock::time_point now) {
        since_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
        phase_.store(phase, std::memory_order_relaxed);
    }
    ConnectionPhase phase() const { return phase_.load(std::memory_order_relaxed); }

private:
    friend class ConnectionTable;
    std::atomic<ConnectionPhase> phase_{ConnectionPhase::receiving};
    std::atomic<ConnectionTable::Clock::rep> since_{0};
    // Guarded by the table's mutex.
    std::string source_;
    bool limited_ = false;  // counts against its source's cap
    bool removed_ = false;
    std::weak_ptr<EvictableConnection> owner_;
    std::list<std::shared_ptr<ConnectionSlot>>::iterator position_;
};

}  // namespace argus::api
