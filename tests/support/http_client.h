// A blocking HTTP/1.1 client for tests: net::HttpClient (one keep-alive
// connection, generous timeouts) behind a small string-typed interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace argus::test {

struct HttpResult {
    unsigned status = 0;  // 0: the connection failed, timed out or was closed
    std::string body;
    bool keep_alive = false;
};

class HttpClient {
public:
    explicit HttpClient(std::uint16_t port, std::string host = "127.0.0.1");
    ~HttpClient();
    HttpResult post(const std::string& target, const std::string& body, const std::string& authorization = "");
    HttpResult get(const std::string& target, const std::string& authorization = "");
    HttpResult del(const std::string& target, const std::string& authorization = "");
    // `method` is GET, HEAD, POST, PUT or DELETE.
    HttpResult request(const std::string& method, const std::string& target, const std::string& body,
                       const std::string& authorization = "");

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace argus::test
