// The teos API over TLS (OpenSSL via Beast), with a self-signed certificate
// made for the test by the openssl command line.
#include <doctest/doctest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>

#include "tests/integration/tower_fixture.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"

using namespace argus;
using namespace argus::test;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;

TEST_CASE("tls: the teos API serves HTTPS when given a certificate and key") {
    TemporaryDirectory certs;
    std::string cert = certs.path() + "/cert.pem", key = certs.path() + "/key.pem";
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1 </dev/null";
    REQUIRE(std::system(command.c_str()) == 0);

    TowerFixtureOptions options;
    options.http.tls = api::TlsOptions{cert, key};
    TowerFixture tower(Backend::sqlite, options);

    net::io_context io;
    ssl::context context(ssl::context::tls_client);
    context.load_verify_file(cert);
    context.set_verify_mode(ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> stream(io, context);
    beast::get_lowest_layer(stream).connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), tower.port()));
    stream.handshake(ssl::stream_base::client);

    TeosUser alice(1);
    http::request<http::string_body> req(http::verb::post, "/register", 11);
    req.set(http::field::host, "localhost");
    req.body() = alice.register_body();
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    CHECK(res.result_int() == 200);
    CHECK(res.body().find(alice.id_hex()) != std::string::npos);

    // A plaintext client gets no answer, only a closed connection.
    HttpClient plain(tower.port());
    CHECK(plain.get("/ping").status == 0);
}
