#include "tests/support/http_client.h"

#include <optional>

#include "net/http_client.h"

namespace argus::test {

struct HttpClient::Impl {
    net::HttpClient client;
    explicit Impl(net::HttpClientOptions options) : client(std::move(options)) {}
};

namespace {
net::HttpClientOptions test_options(std::uint16_t port, std::string host) {
    net::HttpClientOptions o;
    o.host = std::move(host);
    o.port = port;
    o.connect_timeout = std::chrono::seconds(10);
    o.write_timeout = o.read_timeout = std::chrono::seconds(60);
    o.max_response_body = 64 * 1024 * 1024;
    return o;
}

std::optional<net::HttpMethod> method_of(const std::string& method) {
    if (method == "GET") return net::HttpMethod::get;
    if (method == "HEAD") return net::HttpMethod::head;
    if (method == "POST") return net::HttpMethod::post;
    if (method == "PUT") return net::HttpMethod::put;
    if (method == "DELETE") return net::HttpMethod::del;
    return std::nullopt;
}
}  // namespace

HttpClient::HttpClient(std::uint16_t port, std::string host)
    : impl_(std::make_unique<Impl>(test_options(port, std::move(host)))) {}

HttpClient::~HttpClient() = default;

HttpResult HttpClient::request(const std::string& method, const std::string& target, const std::string& body,
                               const std::string& authorization) {
    auto verb = method_of(method);
    if (!verb) return {};
    std::string content_type = *verb == net::HttpMethod::get ? "" : "application/json";
    auto response = impl_->client.request({*verb, target, body, content_type, authorization});
    if (!response) return {};
    return {response->status, std::move(response->body), response->keep_alive};
}

HttpResult HttpClient::post(const std::string& target, const std::string& body, const std::string& authorization) {
    return request("POST", target, body, authorization);
}
HttpResult HttpClient::get(const std::string& target, const std::string& authorization) {
    return request("GET", target, "", authorization);
}
HttpResult HttpClient::del(const std::string& target, const std::string& authorization) {
    return request("DELETE", target, "", authorization);
}

}  // namespace argus::test
