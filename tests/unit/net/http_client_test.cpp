// net::HttpClient against real loopback servers: net::HttpServer for the
// well-behaved cases (keep-alive, reconnect, body limit, TLS) and a scripted
// raw-socket server for the misbehaving ones (never answers, garbage).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "net/http_client.h"
#include "net/http_server.h"
#include "tests/support/run_command.h"
#include "tests/support/temporary_directory.h"

using namespace argus;
using argus::test::TemporaryDirectory;
using Kind = net::HttpClientError::Kind;
using Clock = std::chrono::steady_clock;

namespace {

// Answers every request with its method and body; /big answers `big_size` bytes.
class EchoRouter : public api::Router {
public:
    std::size_t big_size = 0;
    std::size_t body_limit(api::Method, std::string_view) const override { return 64 * 1024; }
    void handle(api::HttpRequest request, api::Reply reply) override {
        if (request.target == "/big") return reply({200, std::string(big_size, 'b'), "text/plain"});
        std::string method = request.method == api::Method::post ? "POST" : request.method == api::Method::get ? "GET" : "OTHER";
        reply({200, method + " " + request.target + " " + request.body + " " + request.authorization, "text/plain"});
    }
};

struct LoopbackServer {
    EchoRouter router;
    api::HttpServer server;
    explicit LoopbackServer(api::HttpServerOptions options = {}) : server(with_free_port(std::move(options)), router) {
        REQUIRE(server.start());
    }
    static api::HttpServerOptions with_free_port(api::HttpServerOptions options) {
        options.address = "127.0.0.1";
        options.port = 0;
        options.threads = 1;
        return options;
    }
    net::HttpClientOptions client_options() const {
        net::HttpClientOptions o;
        o.port = server.port();
        o.connect_timeout = o.write_timeout = o.read_timeout = std::chrono::seconds(10);
        return o;
    }
};

// A raw TCP listener on loopback: each accepted connection reads one request
// header, then gets `reply` verbatim (nothing when empty: it is held open),
// then is closed when `close_after_reply`.
class ScriptedServer {
public:
    ScriptedServer(std::string reply, bool close_after_reply) : reply_(std::move(reply)), close_(close_after_reply) {
        listener_ = socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(listener_ >= 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(listen(listener_, 16) == 0);
        socklen_t length = sizeof addr;
        REQUIRE(getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length) == 0);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~ScriptedServer() {
        stop_ = true;
        thread_.join();
        for (int fd : held_) close(fd);
        close(listener_);
    }
    std::uint16_t port() const { return port_; }
    std::size_t accepted() const { return accepted_; }

private:
    void run() {
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (poll(&p, 1, 20) <= 0) continue;
            int fd = accept(listener_, nullptr, nullptr);
            if (fd < 0) continue;
            ++accepted_;
            std::string request;
            char buffer[4096];
            while (request.find("\r\n\r\n") == std::string::npos && !stop_) {
                pollfd q{fd, POLLIN, 0};
                if (poll(&q, 1, 20) <= 0) continue;
                ssize_t n = recv(fd, buffer, sizeof buffer, 0);
                if (n <= 0) break;
                request.append(buffer, static_cast<std::size_t>(n));
            }
            if (!reply_.empty()) (void)send(fd, reply_.data(), reply_.size(), MSG_NOSIGNAL);
            if (close_) {
                close(fd);
            } else {
                held_.push_back(fd);
            }
        }
    }

    std::string reply_;
    bool close_;
    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> accepted_{0};
    std::vector<int> held_;
};

net::HttpClientOptions scripted_client(std::uint16_t port, std::chrono::milliseconds timeout) {
    net::HttpClientOptions o;
    o.port = port;
    o.connect_timeout = o.write_timeout = o.read_timeout = timeout;
    return o;
}

struct SelfSignedCertificate {
    TemporaryDirectory directory;
    std::string certificate = directory.path() + "/cert.pem";
    std::string key = directory.path() + "/key.pem";
    SelfSignedCertificate() {
        auto made = test::run_command("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 "
                                      "-addext subjectAltName=DNS:localhost -keyout " + key + " -out " + certificate);
        REQUIRE_MESSAGE(made.status == 0, made.output);
    }
    ByteArray<32> sha256_fingerprint() const {
        std::FILE* file = std::fopen(certificate.c_str(), "r");
        REQUIRE(file != nullptr);
        X509* x509 = PEM_read_X509(file, nullptr, nullptr, nullptr);
        std::fclose(file);
        REQUIRE(x509 != nullptr);
        ByteArray<32> out{};
        unsigned int length = 0;
        REQUIRE(X509_digest(x509, EVP_sha256(), out.data(), &length) == 1);
        X509_free(x509);
        REQUIRE(length == 32);
        return out;
    }
};

}  // namespace

TEST_CASE("http client: keep-alive sends N requests over one connection") {
    LoopbackServer tower;
    net::HttpClient client(tower.client_options());
    for (int i = 0; i < 50; ++i) {
        auto r = client.post("/echo", "n=" + std::to_string(i), "text/plain", "Bearer t");
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "POST /echo n=" + std::to_string(i) + " Bearer t");
        CHECK(r->keep_alive);
    }
    auto got = client.get("/plain");
    REQUIRE(got);
    CHECK(got->body == "GET /plain  ");
    CHECK(tower.server.accepted_connections() == 1);
    CHECK(client.connections_opened() == 1);
}

TEST_CASE("http client: with keep_alive off every request opens its own connection") {
    LoopbackServer tower;
    auto options = tower.client_options();
    options.keep_alive = false;
    net::HttpClient client(options);
    for (int i = 0; i < 3; ++i) {
        auto r = client.get("/x");
        REQUIRE(r);
        CHECK_FALSE(r->keep_alive);
    }
    CHECK(tower.server.accepted_connections() == 3);
}

TEST_CASE("http client: reconnects transparently after the server closed an idle connection") {
    api::HttpServerOptions server_options;
    server_options.idle_timeout = std::chrono::milliseconds(150);
    LoopbackServer tower(server_options);
    net::HttpClient client(tower.client_options());
    REQUIRE(client.get("/first"));
    // Let the server's idle timeout close the keep-alive connection under us.
    auto waited = Clock::now();
    while (tower.server.open_connections() != 0 && Clock::now() - waited < std::chrono::seconds(5)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(tower.server.open_connections() == 0);
    auto second = client.post("/second", "again");
    REQUIRE_MESSAGE(second, (second ? "" : second.error().message));
    CHECK(second->body == "POST /second again ");
    CHECK(tower.server.accepted_connections() == 2);
    CHECK(client.connections_opened() == 2);
}

TEST_CASE("http client: a server that accepts and never answers hits the read timeout") {
    ScriptedServer silent("", false);
    net::HttpClient client(scripted_client(silent.port(), std::chrono::milliseconds(300)));
    auto start = Clock::now();
    auto r = client.get("/ping");
    auto elapsed = Clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::timeout);
    CHECK(elapsed >= std::chrono::milliseconds(290));
    CHECK(elapsed < std::chrono::seconds(3));
    // A timeout is not retried: the server may still be working on it.
    CHECK(silent.accepted() == 1);
}

TEST_CASE("http client: a TLS handshake nobody answers hits the connect timeout") {
    ScriptedServer silent("", false);
    auto options = scripted_client(silent.port(), std::chrono::milliseconds(300));
    options.tls = net::TlsClientOptions::insecure();
    net::HttpClient client(options);
    auto start = Clock::now();
    auto r = client.get("/ping");
    auto elapsed = Clock::now() - start;
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::timeout);
    CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE("http client: connection refused is a connect error, not an exception") {
    std::uint16_t port;
    {
        ScriptedServer gone("", true);
        port = gone.port();
    }
    net::HttpClient client(scripted_client(port, std::chrono::seconds(2)));
    auto r = client.get("/");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::connect);
}

TEST_CASE("http client: a response body over the limit is refused") {
    LoopbackServer tower;
    tower.router.big_size = 2 * 1024 * 1024;
    auto options = tower.client_options();
    options.max_response_body = 1024 * 1024;
    net::HttpClient client(options);
    auto r = client.get("/big");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::too_large);
    // Under the limit it passes, on a new connection.
    tower.router.big_size = 1024 * 1024;
    auto fits = client.get("/big");
    REQUIRE(fits);
    CHECK(fits->body.size() == 1024 * 1024);
}

TEST_CASE("http client: a chunked body over the limit and a huge header are refused") {
    std::string chunk(4096, 'c');
    std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 8; ++i) chunked += "1000\r\n" + chunk + "\r\n";
    chunked += "0\r\n\r\n";
    ScriptedServer server(chunked, true);
    auto options = scripted_client(server.port(), std::chrono::seconds(5));
    options.max_response_body = 16 * 1024;
    net::HttpClient client(options);
    auto r = client.get("/");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::too_large);

    ScriptedServer header("HTTP/1.1 200 OK\r\nX-Filler: " + std::string(64 * 1024, 'h') + "\r\nContent-Length: 0\r\n\r\n", true);
    net::HttpClient header_client(scripted_client(header.port(), std::chrono::seconds(5)));
    auto h = header_client.get("/");
    REQUIRE_FALSE(h);
    CHECK(h.error().kind == Kind::too_large);
}

TEST_CASE("http client: garbage, or a close before any answer, is a clean error") {
    ScriptedServer garbage("\x01\x02 this is not http\r\n\r\n", true);
    net::HttpClient client(scripted_client(garbage.port(), std::chrono::seconds(5)));
    auto r = client.get("/");
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == Kind::malformed);

    ScriptedServer truncated("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true);
    net::HttpClient truncated_client(scripted_client(truncated.port(), std::chrono::seconds(5)));
    auto t = truncated_client.get("/");
    REQUIRE_FALSE(t);
    CHECK(t.error().kind == Kind::closed);

    ScriptedServer hangs_up("", true);
    net::HttpClient hangs_up_client(scripted_client(hangs_up.port(), std::chrono::seconds(5)));
    auto c = hangs_up_client.get("/");
    REQUIRE_FALSE(c);
    CHECK(c.error().kind == Kind::closed);
    // A fresh connection closed on us is not retried (only a reused one is).
    CHECK(hangs_up.accepted() == 1);
}

TEST_CASE("http client: TLS round trip with a self-signed certificate") {
    SelfSignedCertificate cert;
    api::HttpServerOptions server_options;
    server_options.tls = api::TlsOptions{cert.certificate, cert.key};
    LoopbackServer tower(server_options);
    auto base = tower.client_options();

    SUBCASE("verified against the certificate as trust root, by name") {
        base.tls = net::TlsClientOptions::verified(cert.certificate, "localhost");
        net::HttpClient client(base);
        for (int i = 0; i < 3; ++i) {
            auto r = client.post("/secure", "hello");
            REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
            CHECK(r->body == "POST /secure hello ");
        }
        CHECK(tower.server.accepted_connections() == 1);
    }
    SUBCASE("pinned to the certificate's SHA-256 fingerprint") {
        base.tls = net::TlsClientOptions::pinned(cert.sha256_fingerprint());
        net::HttpClient client(base);
        auto r = client.get("/pinned");
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        CHECK(r->status == 200);
    }
    SUBCASE("explicitly unverified") {
        base.tls = net::TlsClientOptions::insecure();
        net::HttpClient client(base);
        CHECK(client.get("/anything"));
    }
    SUBCASE("a wrong pin is refused") {
        auto pin = cert.sha256_fingerprint();
        pin[0] ^= 1;
        base.tls = net::TlsClientOptions::pinned(pin);
        net::HttpClient client(base);
        auto r = client.get("/pinned");
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == Kind::tls);
    }
    SUBCASE("the wrong name is refused") {
        base.tls = net::TlsClientOptions::verified(cert.certificate, "tower.example");
        net::HttpClient client(base);
        auto r = client.get("/");
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == Kind::tls);
    }
    SUBCASE("an untrusted self-signed certificate is refused by default") {
        base.tls = net::TlsClientOptions::verified("", "localhost");
        net::HttpClient client(base);
        auto r = client.get("/");
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == Kind::tls);
    }
    SUBCASE("plain HTTP to a TLS server gets no answer") {
        net::HttpClient client(base);
        auto r = client.get("/");
        REQUIRE_FALSE(r);
    }
}
