// Transport-level bad input against the teos API server: limits, timeouts,
// the connection cap, unknown routes and garbage. Real sockets on loopback.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/integration/tower_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"

using namespace argus;
using namespace argus::test;

namespace {

int raw_connect(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    return fd;
}

void send_all(int fd, const std::string& data) { REQUIRE(::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size())); }

// Reads until the peer closes or `wait` passes. Returns what arrived and whether it closed.
std::pair<std::string, bool> read_until_close(int fd, std::chrono::milliseconds wait) {
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return {out, false};
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return {out, false};
        char buffer[4096];
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) return {out, true};
        out.append(buffer, static_cast<std::size_t>(n));
    }
}

}  // namespace

TEST_CASE("http: oversized bodies get 413 and a close, limits are per route") {
    TowerFixture tower(Backend::sqlite);
    int fd = raw_connect(tower.port());
    std::string body(88, 'x');  // /register allows 87 bytes
    send_all(fd, "POST /register HTTP/1.1\r\nHost: t\r\nContent-Length: 88\r\n\r\n" + body);
    auto [reply, closed] = read_until_close(fd, std::chrono::seconds(5));
    CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(closed);
    close(fd);
    // A chunked body over the limit is cut off too.
    fd = raw_connect(tower.port());
    send_all(fd, "POST /get_subscription_info HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "100\r\n" + std::string(256, 'a') + "\r\n0\r\n\r\n");
    auto [chunked, chunked_closed] = read_until_close(fd, std::chrono::seconds(5));
    CHECK(chunked.rfind("HTTP/1.1 413", 0) == 0);
    CHECK(chunked_closed);
    close(fd);
}

TEST_CASE("http: unknown paths, wrong methods and garbage") {
    TowerFixture tower(Backend::sqlite);
    HttpClient http(tower.port());
    CHECK(http.get("/nope").status == 404);
    CHECK(http.post("/ping", "").status == 405);
    CHECK(http.get("/register").status == 405);
    CHECK(http.request("PUT", "/add_appointment", "{}").status == 405);
    // With a small body (issue #14: POST /admin answered 413): still 404/405,
    // with a teos error body (code 6, invalid request format).
    auto admin = http.post("/admin", R"({"user_id":"02aa"})");
    CHECK(admin.status == 404);
    CHECK(admin.body == R"({"error":"Not found","error_code":6})");
    CHECK(http.post("/ping", "{}").status == 405);
    CHECK(http.request("DELETE", "/register", "{}").status == 405);
    auto wrong = http.request("PUT", "/get_subscription_info", "{}");
    CHECK(wrong.status == 405);
    CHECK(wrong.body == R"({"error":"Method not allowed","error_code":6})");
    // Bodies beyond the largest route's limit are refused unread, whatever the path.
    CHECK(http.post("/admin", std::string(4096, 'x')).status == 413);
    int fd = raw_connect(tower.port());
    send_all(fd, std::string("\x00\x01\x02 garbage\r\n\r\n", 15));
    auto [reply, closed] = read_until_close(fd, std::chrono::seconds(5));
    CHECK(closed);
    CHECK((reply.empty() || reply.rfind("HTTP/1.1 400", 0) == 0));
    close(fd);
    CHECK(http.get("/ping").status == 200);  // still serving
}

TEST_CASE("http: keep-alive serves many requests on one connection") {
    TowerFixture tower(Backend::sqlite);
    HttpClient http(tower.port());
    TeosUser alice(1);
    REQUIRE(http.post("/register", alice.register_body()).status == 200);
    for (int i = 0; i < 200; ++i) {
        auto r = http.post("/add_appointment", alice.add_appointment_body(test_locator(static_cast<std::uint32_t>(i)), Bytes(64, 1), 1));
        REQUIRE(r.status == 200);
        CHECK(r.keep_alive);
    }
    CHECK(tower.server->open_connections() == 1);
}

TEST_CASE("http: idle and slow connections are closed by timeouts") {
    TowerFixtureOptions options;
    options.http.idle_timeout = std::chrono::milliseconds(300);
    options.http.request_timeout = std::chrono::milliseconds(300);
    TowerFixture tower(Backend::sqlite, options);
    // Slow loris: half a header, then nothing.
    int slow = raw_connect(tower.port());
    send_all(slow, "POST /register HTTP/1.1\r\nHost: t\r\n");
    auto [partial, slow_closed] = read_until_close(slow, std::chrono::seconds(3));
    CHECK(slow_closed);
    close(slow);
    // Idle keep-alive connection after one request.
    int idle = raw_connect(tower.port());
    send_all(idle, "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n");
    auto [first, idle_closed] = read_until_close(idle, std::chrono::seconds(3));
    CHECK(first.rfind("HTTP/1.1 200", 0) == 0);
    CHECK(idle_closed);
    close(idle);
    // Body promised but never sent.
    int stalled = raw_connect(tower.port());
    send_all(stalled, "POST /register HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{\"user");
    auto [nothing, stalled_closed] = read_until_close(stalled, std::chrono::seconds(3));
    CHECK(stalled_closed);
    close(stalled);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(tower.server->open_connections() == 0);
}

TEST_CASE("http: a connection over the cap evicts the stalest one, the server keeps serving") {
    TowerFixtureOptions options;
    options.http.max_connections = 3;
    TowerFixture tower(Backend::sqlite, options);
    std::vector<int> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(raw_connect(tower.port()));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(tower.server->open_connections() == 3);
    // The newcomer is served; the oldest silent connection made room for it.
    HttpClient http(tower.port());
    CHECK(http.get("/ping").status == 200);
    auto [nothing, oldest_closed] = read_until_close(held[0], std::chrono::seconds(3));
    CHECK(oldest_closed);
    CHECK(nothing.empty());
    CHECK(tower.server->connection_stats().evicted_stalled == 1);
    CHECK(tower.server->connection_stats().refused == 0);
    for (int fd : held) close(fd);
}

namespace {

// A connect that may fail (the listener is closed during a drain).
bool can_connect(std::uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

}  // namespace

TEST_CASE("http: reconfigure changes the connection cap and the idle timeout of a running server") {
    TowerFixtureOptions options;
    options.http.max_connections = 100;
    TowerFixture tower(Backend::sqlite, options);
    std::vector<int> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(raw_connect(tower.port()));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(tower.server->connection_stats().evicted_stalled == 0);

    auto lowered = options.http;
    lowered.max_connections = 2;
    lowered.idle_timeout = std::chrono::milliseconds(300);
    tower.server->reconfigure(lowered);
    HttpClient http(tower.port());
    CHECK(http.get("/ping").status == 200);  // over the new cap: the stalest silent connection went
    auto [nothing, oldest_closed] = read_until_close(held[0], std::chrono::seconds(3));
    CHECK(oldest_closed);
    CHECK(tower.server->connection_stats().evicted_stalled >= 1);

    // The new idle timeout: a keep-alive connection is closed after 300 ms.
    int fd = raw_connect(tower.port());
    send_all(fd, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    auto start = std::chrono::steady_clock::now();
    auto [answer, closed] = read_until_close(fd, std::chrono::seconds(5));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(answer.find("200 OK") != std::string::npos);
    CHECK(closed);
    CHECK(took < std::chrono::seconds(3));  // the old idle timeout was 30 s
    close(fd);
    for (int h : held) close(h);
}

TEST_CASE("http: drain answers the request under way, closes idle connections and takes no new ones") {
    TowerFixture tower(Backend::sqlite);
    std::uint16_t port = tower.port();
    // An idle keep-alive connection, and one in the middle of sending a request.
    int idle = raw_connect(port);
    send_all(idle, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    auto [pong, idle_closed_early] = read_until_close(idle, std::chrono::milliseconds(300));
    REQUIRE(pong.find("200 OK") != std::string::npos);
    REQUIRE_FALSE(idle_closed_early);
    TeosUser alice(1);
    std::string body = alice.register_body();
    std::string head = "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n";
    int busy = raw_connect(port);
    send_all(busy, head + body.substr(0, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));

    std::atomic<bool> drained{false}, returned{false};
    std::thread stopper([&] {
        drained = tower.server->drain(std::chrono::seconds(5));
        returned = true;
    });
    auto [nothing, idle_closed] = read_until_close(idle, std::chrono::seconds(2));
    CHECK(idle_closed);
    CHECK(nothing.empty());
    bool refused = false;
    for (int i = 0; i < 200 && !refused; ++i) {
        refused = !can_connect(port);
        if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    CHECK(refused);
    CHECK_FALSE(returned);  // still waiting for the request under way

    send_all(busy, body.substr(10));
    auto [reply, busy_closed] = read_until_close(busy, std::chrono::seconds(5));
    CHECK(reply.find("HTTP/1.1 200 OK") == 0);
    CHECK(reply.find("Connection: close") != std::string::npos);
    CHECK(reply.find(alice.id_hex()) != std::string::npos);
    CHECK(busy_closed);
    stopper.join();
    CHECK(drained);
    close(idle);
    close(busy);
}

TEST_CASE("http: drain gives up on a request that never completes at its timeout") {
    TowerFixture tower(Backend::sqlite);
    int stuck = raw_connect(tower.port());
    send_all(stuck, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n{");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto start = std::chrono::steady_clock::now();
    bool drained = tower.server->drain(std::chrono::milliseconds(500));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK_FALSE(drained);
    CHECK(took >= std::chrono::milliseconds(500));
    CHECK(took < std::chrono::seconds(3));
    // Stopped: nothing is ever answered on it (the process exits next).
    auto [nothing, closed] = read_until_close(stuck, std::chrono::milliseconds(300));
    CHECK(nothing.empty());
    close(stuck);
}
