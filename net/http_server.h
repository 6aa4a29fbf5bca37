// HTTP/1.1 server on Boost.Beast: a fixed pool of threads running one
// io_context, each connection on its own strand (never a thread per
// connection). Keep-alive, per-route body limits, request and idle timeouts, a
// minimum receive rate, a cap on open connections (at the cap the stalest
// connection is evicted, see ConnectionTable) and per source, optional TLS.
// Handlers may answer from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace argus::api {

enum class Method { get, post, del, other };

struct HttpRequest {
    Method method = Method::other;
    std::string target;
    std::string body;
    std::string authorization;  // the Authorization header, if any
    std::string remote_address;
};

struct HttpResponse {
    unsigned status = 200;
    std::string body;
    std::string content_type = "application/json";
};

using Reply = std::function<void(HttpResponse)>;  // call exactly once, from any thread

class Router {
public:
    virtual ~Router() = default;
    // Largest body accepted for this route; bigger requests get 413 and a close.
    virtual std::size_t body_limit(Method method, std::string_view target) const = 0;
    virtual void handle(HttpRequest request, Reply reply) = 0;
};

struct TlsOptions {
    std::string certificate_chain_file;
    std::string private_key_file;
};

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

struct HttpServerOptions {
    std::string address = "127.0.0.1";
    std::uint16_t port = 9814;  // 0 picks a free port
    std::size_t threads = 2;
    std::size_t max_connections = 1024;  // at the cap the stalest connection is evicted
    std::size_t max_connections_per_source = 64;  // 0: no limit; see ConnectionLimits
    bool limit_loopback_sources = false;
    std::chrono::milliseconds request_timeout{10'000};  // to receive a whole request
    std::chrono::milliseconds idle_timeout{30'000};     // between keep-alive requests
    // Slow senders: once `receive_rate_grace` has passed since a request began
    // (its first byte; for a connection's first request, the accept or the TLS
    // handshake's end), the bytes received of it must average at least
    // `min_receive_rate` bytes/s, or the connection is closed. 0: no rule.
    // 128 B/s after 5 s: a request up to 640 bytes just has to arrive within
    // 5 s, a larger one must keep averaging 128 B/s until the request timeout;
    // a phone on GPRS sends 30x that, and a slow loris is cut after 5 s
    // instead of the request timeout.
    std::size_t min_receive_rate = 128;
    std::chrono::milliseconds receive_rate_grace{5'000};
    std::optional<TlsOptions> tls;
};

class HttpServer {
public:
    HttpServer(HttpServerOptions options, Router& router);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    Status start();  // binds, listens and starts the threads
    void stop();
    std::uint16_t port() const { return port_; }
    std::size_t open_connections() const;
    std::size_t accepted_connections() const;  // since start, including those closed over the cap
    ConnectionStats connection_stats() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
    std::uint16_t port_ = 0;
};

}  // namespace argus::api
