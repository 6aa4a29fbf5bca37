// The teos API over TLS (OpenSSL via Beast), with a self-signed certificate
// made for the test by the openssl command line, spoken to by net::HttpClient
// verifying that certificate.
#include <doctest/doctest.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "common/hex.h"

#include "net/http_client.h"
#include "tests/integration/tower_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"

using namespace argus;
using namespace argus::test;

TEST_CASE("tls: the teos API serves HTTPS when given a certificate and key") {
    TemporaryDirectory certs;
    std::string cert = certs.path() + "/cert.pem", key = certs.path() + "/key.pem";
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1 </dev/null";
    REQUIRE(std::system(command.c_str()) == 0);

    TowerFixtureOptions options;
    options.http.tls = api::TlsOptions{cert, key};
    TowerFixture tower(Backend::sqlite, options);

    net::HttpClientOptions client_options;
    client_options.port = tower.port();
    client_options.tls = net::TlsClientOptions::verified(cert, "localhost");
    net::HttpClient https(client_options);

    TeosUser alice(1);
    auto res = https.post("/register", alice.register_body());
    REQUIRE_MESSAGE(res, (res ? "" : res.error().message));
    CHECK(res->status == 200);
    CHECK(res->body.find(alice.id_hex()) != std::string::npos);

    // A plaintext client gets no answer, only a closed connection.
    HttpClient plain(tower.port());
    CHECK(plain.get("/ping").status == 0);
}

namespace {

struct Certificate {
    std::string cert, key;
    ByteArray<32> fingerprint{};
};

Certificate make_certificate(const std::string& dir, const std::string& name) {
    Certificate c{dir + "/" + name + ".pem", dir + "/" + name + ".key", {}};
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + c.key +
                          " -out " + c.cert + " >/dev/null 2>&1 </dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    // The fingerprint as the openssl command line computes it, not as our code does.
    std::string fp_file = dir + "/" + name + ".fp";
    command = "openssl x509 -noout -fingerprint -sha256 -in " + c.cert + " > " + fp_file;
    REQUIRE(std::system(command.c_str()) == 0);
    std::FILE* f = std::fopen(fp_file.c_str(), "r");
    REQUIRE(f != nullptr);
    char line[256] = {};
    REQUIRE(std::fgets(line, sizeof line, f) != nullptr);
    std::fclose(f);
    std::string text(line);
    std::string hex;
    for (char ch : text.substr(text.find('=') + 1)) {
        if (std::isxdigit(static_cast<unsigned char>(ch))) hex += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    REQUIRE(hex.size() == 64);
    c.fingerprint = parse_hex_array<32>(hex).value();
    return c;
}

bool served_with(std::uint16_t port, const Certificate& c) {
    net::HttpClientOptions o;
    o.port = port;
    o.tls = net::TlsClientOptions::pinned(c.fingerprint);
    net::HttpClient https(o);
    auto res = https.get("/ping");
    return res && res->status == 200;
}

}  // namespace

TEST_CASE("tls: reload_tls serves the new certificate to new connections and keeps the old one when the new files are bad") {
    TemporaryDirectory certs;
    Certificate first = make_certificate(certs.path(), "first"), second = make_certificate(certs.path(), "second");
    TowerFixtureOptions options;
    options.http.tls = api::TlsOptions{first.cert, first.key};
    TowerFixture tower(Backend::sqlite, options);
    REQUIRE(served_with(tower.port(), first));
    CHECK_FALSE(served_with(tower.port(), second));

    // A connection opened before the reload keeps working after it.
    net::HttpClientOptions kept_options;
    kept_options.port = tower.port();
    kept_options.tls = net::TlsClientOptions::pinned(first.fingerprint);
    net::HttpClient kept(kept_options);
    REQUIRE(kept.get("/ping"));

    REQUIRE(tower.server->reload_tls({second.cert, second.key}));
    CHECK(served_with(tower.port(), second));
    CHECK_FALSE(served_with(tower.port(), first));
    auto again = kept.get("/ping");
    REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
    CHECK(again->status == 200);

    // A key that is not the certificate's, a missing file: refused, second stays.
    auto mismatched = tower.server->reload_tls({first.cert, second.key});
    REQUIRE_FALSE(mismatched);
    CHECK(mismatched.error().message.find("TLS private key " + second.key) == 0);
    auto missing = tower.server->reload_tls({certs.path() + "/absent.pem", second.key});
    REQUIRE_FALSE(missing);
    CHECK(served_with(tower.port(), second));
}
