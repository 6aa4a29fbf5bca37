// The teos API over TLS (OpenSSL via Beast), with a self-signed certificate
// made for the test by the openssl command line, spoken to by net::HttpClient
// verifying that certificate.
#include <doctest/doctest.h>

#include <cstdlib>

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
