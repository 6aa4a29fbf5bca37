// Connection exhaustion (issue #14 item 2): a crowd of slow-loris connections,
// larger than the connection cap, must not lock honest clients out of the teos
// API or the LND front door. Every peer is 127.0.0.1 here, as behind a Tor
// daemon, so per-source limits cannot help: the listeners must evict. Real
// sockets on loopback, both listeners in-process on port 0.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/block.h"
#include "server/api/wtwire_listener.h"
#include "tests/integration/tower_fixture.h"
#include "tests/support/wtclient/client.h"
#include "tests/support/wtclient/wtwire.h"

using namespace argus;
using namespace argus::test;
namespace wt = argus::test::wtclient;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force.
rlim_t raise_fd_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
    if (limit.rlim_cur < limit.rlim_max) {
        rlimit raised = limit;
        raised.rlim_cur = limit.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
    }
    return limit.rlim_cur;
}

int connect_loopback(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

bool send_now(int fd, std::string_view data) {
    if (data.empty()) return true;
    return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(data.size());
}

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
    return values[index];
}

// The attacker: `size` connections, each sends `opening`, then one `drip` byte
// every `interval` (none when `drip` is empty). A connection the server closes
// is reopened at once (at most `reopen_per_tick` every 20 ms), as an attacker
// keeping the pressure on would.
class TricklingCrowd {
public:
    TricklingCrowd(std::uint16_t port, std::size_t size, std::string opening, std::string drip, milliseconds interval)
        : port_(port), opening_(std::move(opening)), drip_(std::move(drip)), interval_(interval), slots_(size) {}
    ~TricklingCrowd() { stop(); }

    // Opens every connection, then trickles from a thread until stop().
    void start() {
        auto now = SteadyClock::now();
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            open(slots_[i], now + interval_ * static_cast<long>(i) / static_cast<long>(slots_.size()));
        }
        thread_ = std::thread([this] { run(); });
    }
    void stop() {
        stopping_ = true;
        if (thread_.joinable()) thread_.join();
        for (auto& slot : slots_) {
            if (slot.fd >= 0) ::close(slot.fd);
            slot.fd = -1;
        }
    }
    std::size_t reopened() const { return reopened_.load(); }

private:
    struct Slot {
        int fd = -1;
        SteadyClock::time_point next_drip{};
    };

    void open(Slot& slot, SteadyClock::time_point first_drip) {
        slot.fd = connect_loopback(port_);
        if (slot.fd >= 0 && !send_now(slot.fd, opening_)) {
            ::close(slot.fd);
            slot.fd = -1;
        }
        slot.next_drip = first_drip;
    }

    void run() {
        std::vector<pollfd> polled;
        std::vector<std::size_t> owner;
        while (!stopping_) {
            polled.clear();
            owner.clear();
            for (std::size_t i = 0; i < slots_.size(); ++i) {
                if (slots_[i].fd < 0) continue;
                polled.push_back(pollfd{slots_[i].fd, POLLIN, 0});
                owner.push_back(i);
            }
            ::poll(polled.data(), polled.size(), 20);
            for (std::size_t k = 0; k < polled.size(); ++k) {
                if (polled[k].revents == 0) continue;
                char sink[512];
                ssize_t n = ::recv(polled[k].fd, sink, sizeof sink, MSG_DONTWAIT);
                if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) continue;
                ::close(slots_[owner[k]].fd);  // closed by the server (or reset)
                slots_[owner[k]].fd = -1;
            }
            auto now = SteadyClock::now();
            std::size_t reopened = 0;
            for (auto& slot : slots_) {
                if (slot.fd < 0) {
                    if (reopened < reopen_per_tick) {
                        ++reopened;
                        ++reopened_;
                        open(slot, now + interval_);
                    }
                    continue;
                }
                if (drip_.empty() || now < slot.next_drip) continue;
                slot.next_drip = now + interval_;
                if (!send_now(slot.fd, drip_)) {
                    ::close(slot.fd);
                    slot.fd = -1;
                }
            }
        }
    }

    static constexpr std::size_t reopen_per_tick = 50;
    std::uint16_t port_;
    std::string opening_;
    std::string drip_;
    milliseconds interval_;
    std::vector<Slot> slots_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> reopened_{0};
    std::thread thread_;
};

// An honest HTTP/1.1 client on raw sockets: no hidden reconnects, so a
// connection the server drops or refuses is seen and counted.
class HonestHttpClient {
public:
    explicit HonestHttpClient(std::uint16_t port) : port_(port) {}
    ~HonestHttpClient() { disconnect(); }

    bool connected() const { return fd_ >= 0; }
    bool connect() {
        disconnect();
        fd_ = connect_loopback(port_);
        return fd_ >= 0;
    }
    void disconnect() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    // One request; the status, or nullopt if the connection failed, closed or
    // took longer than `wait`.
    std::optional<unsigned> get(const std::string& target, bool keep_alive, milliseconds wait) {
        std::string request = "GET " + target + " HTTP/1.1\r\nHost: t\r\n" +
                              (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
        if (fd_ < 0 || ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
            return std::nullopt;
        }
        auto deadline = SteadyClock::now() + wait;
        std::string in;
        std::size_t header_end = std::string::npos, total = 0;
        while (header_end == std::string::npos || in.size() < total) {
            auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
            pollfd p{fd_, POLLIN, 0};
            if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return std::nullopt;
            char buffer[4096];
            ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n <= 0) return std::nullopt;
            in.append(buffer, static_cast<std::size_t>(n));
            if (header_end == std::string::npos && (header_end = in.find("\r\n\r\n")) != std::string::npos) {
                std::size_t length = 0;
                if (auto at = in.find("Content-Length: "); at != std::string::npos && at < header_end) {
                    length = std::stoul(in.substr(at + 16));
                }
                total = header_end + 4 + length;
            }
        }
        if (in.rfind("HTTP/1.1 ", 0) != 0) return std::nullopt;
        return static_cast<unsigned>(std::stoul(in.substr(9, 3)));
    }

private:
    std::uint16_t port_;
    int fd_ = -1;
};

PrivateKey numbered_key(std::uint32_t n, std::uint8_t tag) {
    Bytes secret(32, tag);
    secret[28] = static_cast<std::uint8_t>(n >> 24);
    secret[29] = static_cast<std::uint8_t>(n >> 16);
    secret[30] = static_cast<std::uint8_t>(n >> 8);
    secret[31] = static_cast<std::uint8_t>(n);
    return PrivateKey::from_bytes(secret).value();
}

bool wait_for(const std::function<bool()>& condition, milliseconds limit) {
    auto deadline = SteadyClock::now() + limit;
    while (!condition()) {
        if (SteadyClock::now() > deadline) return false;
        std::this_thread::sleep_for(milliseconds(20));
    }
    return true;
}

}  // namespace

TEST_CASE("http: 2000 trickling connections do not lock an honest keep-alive client out") {
    rlim_t fds = raise_fd_limit();
    if (fds < 4500) {
        MESSAGE("skipped: RLIMIT_NOFILE hard limit is " << fds << ", this test needs 4500 descriptors");
        return;
    }
    TowerFixture tower(Backend::sqlite);  // default HTTP options: cap 1024, 10 s request timeout
    const std::size_t cap = api::HttpServerOptions{}.max_connections;

    // Slow loris: a partial header, then one more header byte every 3 s.
    TricklingCrowd crowd(tower.port(), 2000, "POST /register HTTP/1.1\r\nHost: t\r\nX-Pad: ", "a", milliseconds(3000));
    crowd.start();
    REQUIRE_MESSAGE(wait_for([&] { return tower.server->open_connections() >= cap; }, milliseconds(10'000)),
                    "the crowd never filled the connection cap");

    // The honest clients: requests back to back on one keep-alive connection
    // for 15 s, and from another thread twice a second a request on a fresh
    // connection (a new phone arriving).
    std::vector<double> fresh_ms;
    std::size_t fresh_failures = 0;
    std::atomic<bool> probing{true};
    std::thread prober([&] {
        while (probing) {
            HonestHttpClient fresh(tower.port());
            auto sent = SteadyClock::now();
            auto status = fresh.connect() ? fresh.get("/ping", false, milliseconds(5000)) : std::nullopt;
            fresh_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
            if (!status || *status != 200) ++fresh_failures;
            std::this_thread::sleep_for(milliseconds(500));
        }
    });
    HonestHttpClient keep_alive(tower.port());
    std::vector<double> latencies_ms;
    std::size_t failures = 0;
    auto start = SteadyClock::now();
    while (SteadyClock::now() - start < std::chrono::seconds(15)) {
        auto sent = SteadyClock::now();
        bool ok = false;
        if (keep_alive.connected() || keep_alive.connect()) {
            auto status = keep_alive.get("/ping", true, milliseconds(5000));
            ok = status && *status == 200;
        }
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
        if (!ok) {
            ++failures;  // refused, dropped (evicted) or timed out: a fresh connection next time
            keep_alive.disconnect();
            std::this_thread::sleep_for(milliseconds(10));
        }
    }
    probing = false;
    prober.join();
    crowd.stop();
    double p99 = percentile(latencies_ms, 0.99);
    double fresh_p99 = percentile(fresh_ms, 0.99);
    api::ConnectionStats stats = tower.server->connection_stats();
    MESSAGE("keep-alive requests " << latencies_ms.size() << ", failures " << failures << ", p50 "
                                   << percentile(latencies_ms, 0.5) << " ms, p99 " << p99 << " ms; fresh connections "
                                   << fresh_ms.size() << ", failures " << fresh_failures << ", p99 " << fresh_p99
                                   << " ms; attacker reconnects " << crowd.reopened() << "; evicted idle "
                               << stats.evicted_idle << ", stalled " << stats.evicted_stalled << ", per source "
                               << stats.evicted_per_source << ", refused " << stats.refused << ", slow transfer "
                               << stats.slow_transfer);
    CHECK(failures == 0);
    CHECK(p99 <= 1000.0);
    CHECK(latencies_ms.size() > 100);
    CHECK(fresh_failures == 0);
    // A new connection's SYN may meet a listen backlog the attacker keeps
    // full; the kernel retries it after 1 s (seen under ASan on 2 cores). The
    // issue's bar (p99 <= 1 s) is the keep-alive client's, checked above.
    CHECK(fresh_p99 <= 3000.0);
    CHECK(stats.evicted_stalled > 0);
    CHECK(stats.refused == 0);
    CHECK(stats.evicted_per_source == 0);  // every peer is loopback: no per-source cap applies
}

TEST_CASE("wtwire: 1200 stalled BOLT 8 handshakes do not lock an honest client out") {
    rlim_t fds = raise_fd_limit();
    if (fds < 3000) {
        MESSAGE("skipped: RLIMIT_NOFILE hard limit is " << fds << ", this test needs 3000 descriptors");
        return;
    }
    TowerFixture tower(Backend::sqlite);
    api::WtwireListenerOptions options;  // defaults: cap 1024, 5 s handshake deadline
    options.bind_address = "127.0.0.1";
    options.port = 0;
    const std::size_t cap = options.max_connections;
    api::WtwireListener listener(*tower.service, *tower.tower_key, genesis_block_hash(Network::regtest), options,
                                 Context{system_clock(), system_rng()});
    std::uint16_t port = listener.start().value();

    // Half stall after TCP connects, half trickle act one (50 bytes) a byte a second.
    TricklingCrowd stalled(port, 600, "", "", milliseconds(1000));
    TricklingCrowd trickling(port, 600, std::string(1, '\0'), std::string(1, '\x02'), milliseconds(1000));
    stalled.start();
    trickling.start();
    REQUIRE_MESSAGE(wait_for([&] { return listener.stats().open >= cap; }, milliseconds(10'000)),
                    "the crowd never filled the connection cap");

    PublicKey tower_id = tower.tower_key->public_key();
    std::vector<double> latencies_ms;
    std::size_t failures = 0;
    std::string first_error;
    auto start = SteadyClock::now();
    for (std::uint32_t n = 0; SteadyClock::now() - start < std::chrono::seconds(10); ++n) {
        auto sent = SteadyClock::now();
        auto client = wt::Client::connect("127.0.0.1", port, tower_id, numbered_key(n, 0x41), numbered_key(n, 0x42),
                                          milliseconds(5000));
        Status init = client ? client->exchange_init(wt::lnd_client_features(0x0002), genesis_block_hash(Network::regtest))
                             : Status(client.error());
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
        if (!init) {
            if (failures++ == 0) first_error = init.error().message;
            std::this_thread::sleep_for(milliseconds(10));
        }
        if (client) client->close();
        std::this_thread::sleep_for(milliseconds(50));
    }
    stalled.stop();
    trickling.stop();
    double p99 = percentile(latencies_ms, 0.99);
    api::WtwireStats stats = listener.stats();
    MESSAGE("honest handshakes " << latencies_ms.size() << ", failures " << failures << " (" << first_error << "), p99 "
                                 << p99 << " ms; evicted idle " << stats.evicted_idle << ", stalled "
                                 << stats.evicted_stalled << ", per source " << stats.evicted_per_source << ", refused "
                                 << stats.refused << ", timeouts " << stats.timeouts);
    CHECK(failures == 0);
    CHECK(p99 <= 1000.0);
    CHECK(latencies_ms.size() > 20);
    CHECK(stats.evicted_stalled > 0);
    CHECK(stats.refused == 0);
    CHECK(stats.evicted_per_source == 0);
    listener.stop();
}

namespace {

// Reads until the peer closes or `wait` passes; true if it closed.
bool closed_within(int fd, milliseconds wait) {
    auto deadline = SteadyClock::now() + wait;
    for (;;) {
        auto left = std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
        char buffer[512];
        if (::recv(fd, buffer, sizeof buffer, 0) <= 0) return true;
    }
}

}  // namespace

TEST_CASE("http: a request slower than the minimum receive rate is closed after the grace") {
    TowerFixtureOptions options;
    options.http.min_receive_rate = 100;
    options.http.receive_rate_grace = milliseconds(300);
    TowerFixture tower(Backend::sqlite, options);  // the request timeout stays at 10 s
    // 20 bytes, then 10 bytes/s: below 100 B/s once the grace is over.
    int slow = connect_loopback(tower.port());
    REQUIRE(slow >= 0);
    REQUIRE(send_now(slow, "GET /ping HTTP/1.1\r\n"));
    auto start = SteadyClock::now();
    bool closed = false;
    for (int i = 0; i < 30 && !closed; ++i) {
        send_now(slow, "X");
        closed = closed_within(slow, milliseconds(100));
    }
    auto took = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
    CHECK(closed);
    CHECK(took < milliseconds(2000));
    ::close(slow);
    // The stream's timer closes the socket before the read handler counts it.
    CHECK(wait_for([&] { return tower.server->connection_stats().slow_transfer == 1; }, milliseconds(2000)));
    // A request that pauses within the grace is served.
    int fd = connect_loopback(tower.port());
    REQUIRE(fd >= 0);
    REQUIRE(send_now(fd, "GET /ping HTTP/1.1\r\n"));
    std::this_thread::sleep_for(milliseconds(150));
    REQUIRE(send_now(fd, "Host: t\r\nConnection: close\r\n\r\n"));
    std::string reply;
    char buffer[512];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) reply.append(buffer, static_cast<std::size_t>(n));
    CHECK(reply.rfind("HTTP/1.1 200", 0) == 0);
    ::close(fd);
    CHECK(tower.server->connection_stats().slow_transfer == 1);
}

TEST_CASE("http: at the cap the stalest trickler is evicted, not a keep-alive client that keeps sending") {
    TowerFixtureOptions options;
    options.http.max_connections = 3;
    TowerFixture tower(Backend::sqlite, options);
    HonestHttpClient active(tower.port());
    REQUIRE(active.connect());
    REQUIRE(active.get("/ping", true, milliseconds(5000)) == std::optional<unsigned>(200));
    int older = connect_loopback(tower.port());
    REQUIRE(send_now(older, "POST /register HTTP/1.1\r\nHost: t\r\n"));
    std::this_thread::sleep_for(milliseconds(100));
    int newer = connect_loopback(tower.port());
    REQUIRE(send_now(newer, "POST /register HTTP/1.1\r\nHost: t\r\n"));
    std::this_thread::sleep_for(milliseconds(100));
    REQUIRE(active.get("/ping", true, milliseconds(5000)) == std::optional<unsigned>(200));
    REQUIRE(tower.server->open_connections() == 3);

    HonestHttpClient arriving(tower.port());
    REQUIRE(arriving.connect());
    CHECK(arriving.get("/ping", true, milliseconds(5000)) == std::optional<unsigned>(200));
    CHECK(closed_within(older, milliseconds(2000)));
    CHECK_FALSE(closed_within(newer, milliseconds(200)));
    CHECK(active.get("/ping", true, milliseconds(5000)) == std::optional<unsigned>(200));
    api::ConnectionStats stats = tower.server->connection_stats();
    CHECK(stats.evicted_stalled == 1);
    CHECK(stats.evicted_idle == 0);
    CHECK(stats.refused == 0);
    ::close(older);
    ::close(newer);
}

TEST_CASE("http: at its per-source cap a source evicts its own stalest connection") {
    TowerFixtureOptions options;
    options.http.max_connections_per_source = 2;
    options.http.limit_loopback_sources = true;  // loopback is exempt by default
    TowerFixture tower(Backend::sqlite, options);
    int first = connect_loopback(tower.port());
    REQUIRE(send_now(first, "GET /ping HTTP/1.1\r\n"));
    std::this_thread::sleep_for(milliseconds(100));
    int second = connect_loopback(tower.port());
    REQUIRE(send_now(second, "GET /ping HTTP/1.1\r\n"));
    std::this_thread::sleep_for(milliseconds(100));
    HonestHttpClient third(tower.port());
    REQUIRE(third.connect());
    CHECK(third.get("/ping", true, milliseconds(5000)) == std::optional<unsigned>(200));
    CHECK(closed_within(first, milliseconds(2000)));
    CHECK_FALSE(closed_within(second, milliseconds(200)));
    api::ConnectionStats stats = tower.server->connection_stats();
    CHECK(stats.evicted_per_source == 1);
    CHECK(stats.evicted_stalled + stats.evicted_idle == 0);
    ::close(first);
    ::close(second);
}

TEST_CASE("http: loopback sources are exempt from the per-source cap by default") {
    TowerFixtureOptions options;
    options.http.max_connections_per_source = 2;
    TowerFixture tower(Backend::sqlite, options);
    std::vector<HonestHttpClient> clients;
    clients.reserve(5);  // no copies: each closes its socket
    for (int i = 0; i < 5; ++i) clients.emplace_back(tower.port());
    for (auto& c : clients) REQUIRE(c.connect());
    for (auto& c : clients) CHECK(c.get("/ping", true, milliseconds(5000)) == std::optional<unsigned>(200));
    CHECK(tower.server->open_connections() == 5);
    CHECK(tower.server->connection_stats().evicted_per_source == 0);
}
