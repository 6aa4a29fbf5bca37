// argus-cli: the operator's command line. Talks to the tower's admin endpoint
// (loopback), authenticated with the token from the tower's data dir.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/version.h"
#include "net/http_client.h"
#include "server/tower/secret_file.h"

namespace {

using argus::net::HttpMethod;

int request(const std::string& host, std::uint16_t port, const std::string& token, HttpMethod method,
            const std::string& target) {
    argus::net::HttpClientOptions options;
    options.host = host;
    options.port = port;
    options.connect_timeout = std::chrono::seconds(10);
    options.write_timeout = options.read_timeout = std::chrono::seconds(30);
    options.max_response_body = 256 * 1024 * 1024;  // every user of a large tower
    options.keep_alive = false;
    argus::net::HttpClient client(options);
    auto res = client.request({method, target, "", "", "Bearer " + token});
    if (!res) {
        std::fprintf(stderr, "argus-cli: cannot reach the tower's admin endpoint at %s:%u: %s\n", host.c_str(), port,
                     res.error().message.c_str());
        return 1;
    }
    auto body = nlohmann::json::parse(res->body, nullptr, false);
    std::string text = body.is_discarded() ? res->body : body.dump(2);
    if (res->status != 200) {
        std::fprintf(stderr, "argus-cli: tower answered %u: %s\n", res->status, text.c_str());
        return 1;
    }
    std::printf("%s\n", text.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"argus-cli: operate an Argus tower through its admin endpoint"};
    std::string host = "127.0.0.1", data_dir, token_file;
    std::uint16_t port = 9815;
    bool version = false;
    const char* home = std::getenv("HOME");
    data_dir = std::string(home ? home : ".") + "/.argus/regtest";
    app.add_option("--admin-host", host, "Admin endpoint host")->envname("ARGUS_ADMIN_BIND")->capture_default_str();
    app.add_option("--admin-port", port, "Admin endpoint port")->envname("ARGUS_ADMIN_PORT")->capture_default_str();
    app.add_option("--data-dir", data_dir, "The tower's data dir (holds admin_token)")->envname("ARGUS_DATA_DIR")->capture_default_str();
    app.add_option("--token-file", token_file, "Token file [default: <data-dir>/admin_token]");
    app.add_flag("--version", version, "Print the version and exit");
    app.require_subcommand(0, 1);
    auto* info = app.add_subcommand("info", "Tower id, users, appointments, trackers, chain tip, bitcoind reachability");
    auto* users = app.add_subcommand("users", "List users and their subscriptions");
    std::string user_id, locator;
    auto* user = app.add_subcommand("user", "Show one user and its locators");
    user->add_option("user_id", user_id, "33-byte public key, hex")->required();
    auto* remove = app.add_subcommand("remove-user", "Delete a user and all its appointments");
    remove->add_option("user_id", user_id, "33-byte public key, hex")->required();
    auto* appointments = app.add_subcommand("appointments", "Appointments stored under a locator");
    appointments->add_option("locator", locator, "16-byte locator, hex")->required();
    CLI11_PARSE(app, argc, argv);

    if (version) {
        std::printf("argus-cli %s\n", argus::version_string);
        return 0;
    }
    if (app.get_subcommands().empty()) {
        std::printf("%s", app.help().c_str());
        return 0;
    }
    if (token_file.empty()) token_file = data_dir + "/admin_token";
    auto token = argus::tower::read_admin_token(token_file);
    if (!token) {
        std::fprintf(stderr, "argus-cli: %s\n", token.error().message.c_str());
        return 1;
    }
    if (info->parsed()) return request(host, port, *token, HttpMethod::get, "/info");
    if (users->parsed()) return request(host, port, *token, HttpMethod::get, "/users");
    if (user->parsed()) return request(host, port, *token, HttpMethod::get, "/users/" + user_id);
    if (remove->parsed()) return request(host, port, *token, HttpMethod::del, "/users/" + user_id);
    if (appointments->parsed()) return request(host, port, *token, HttpMethod::get, "/appointments/" + locator);
    return 0;
}
