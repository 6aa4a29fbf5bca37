// JSON-RPC 1.0 client for bitcoind over net::HttpClient: Basic auth from
// user/password or the cookie file (read again after a failure, since
// bitcoind rewrites it at start), one keep-alive connection, timeouts.
#pragma once

#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.h"
#include "net/http_client.h"

namespace argus::chain {

struct RpcEndpoint {
    std::string host = "127.0.0.1";
    std::uint16_t port = 18443;
    std::string user;
    std::string password;
    std::string cookie_file;  // used when user is empty
    std::chrono::milliseconds timeout{5'000};  // for each of connect, send and receive
};

struct RpcError {
    enum class Kind { transport, http, rpc, malformed } kind = Kind::transport;
    int code = 0;  // bitcoind's error code for Kind::rpc (e.g. -25, -26, -27)
    std::string message;
};

class BitcoindRpc {
public:
    explicit BitcoindRpc(RpcEndpoint endpoint);
    ~BitcoindRpc();
    Result<nlohmann::json, RpcError> call(const std::string& method, const nlohmann::json& params = nlohmann::json::array());

private:
    RpcEndpoint endpoint_;
    std::mutex mutex_;
    net::HttpClient http_;
    std::string authorization_;  // "Basic ...", empty until read
    std::uint64_t next_id_ = 1;
};

}  // namespace argus::chain
