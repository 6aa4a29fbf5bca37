// argus-client: the wallet-side node. `daemon` runs the backup worker and the
// local API; `plugin` (or being started by lightningd) runs as a Core
// Lightning plugin; the other commands talk to a running daemon.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string_view>

#include "client/node/client_api.h"
#include "client/node/cln_plugin.h"
#include "common/context.h"
#include "common/hex.h"
#include "common/version.h"
#include "log/log.h"
#include "net/http_client.h"

using namespace argus;
using json = nlohmann::json;

namespace {

// The real clock and RNG; everything below main() takes them from here.
Context system_context() { return Context{system_clock(), system_rng()}; }

int run_daemon(const std::string& data_dir, const std::string& bind, std::uint16_t port,
               const std::vector<std::string>& towers, const std::string& ready_file) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    auto node = client::ClientNode::open(data_dir, system_context());
    if (!node) {
        std::fprintf(stderr, "argus-client: %s\n", node.error().message.c_str());
        return 1;
    }
    for (const auto& t : towers) {
        auto added = (*node)->add_tower(t);
        if (!added) {
            std::fprintf(stderr, "argus-client: --tower %s: %s\n", t.c_str(), added.error().message.c_str());
            return 2;
        }
    }
    client::ChannelBook channels(**node);
    if (auto ok = channels.open(data_dir + "/channels.sqlite"); !ok) {
        std::fprintf(stderr, "argus-client: %s\n", ok.error().message.c_str());
        return 1;
    }
    client::ClientApi api(**node, &channels);
    api::HttpServerOptions options;
    options.address = bind;
    options.port = port;
    options.threads = 1;
    api::HttpServer server(options, api);
    if (auto ok = server.start(); !ok) {
        std::fprintf(stderr, "argus-client: %s\n", ok.error().message.c_str());
        return 1;
    }
    (*node)->start();
    std::fprintf(stderr, "argus-client ready user_id=%s api=%s:%u\n", to_hex((*node)->user_id().bytes()).c_str(),
                 bind.c_str(), server.port());
    if (!ready_file.empty()) {
        std::ofstream(ready_file + ".tmp") << json{{"api_port", server.port()}, {"user_id", to_hex((*node)->user_id().bytes())}}.dump()
                                          << "\n";
        std::rename((ready_file + ".tmp").c_str(), ready_file.c_str());
    }
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
    (*node)->stop();
    return 0;
}

int call_daemon(std::uint16_t port, net::HttpMethod method, const std::string& target, const std::string& body) {
    net::HttpClientOptions options;
    options.host = "127.0.0.1";
    options.port = port;
    options.connect_timeout = std::chrono::seconds(10);
    options.write_timeout = options.read_timeout = std::chrono::seconds(30);
    options.max_response_body = 256 * 1024 * 1024;  // every backup of a long-lived node
    options.keep_alive = false;
    net::HttpClient client(options);
    auto res = client.request({method, target, body, body.empty() ? "" : "application/json", ""});
    if (!res) {
        std::fprintf(stderr, "argus-client: cannot reach the daemon on 127.0.0.1:%u: %s\n", port,
                     res.error().message.c_str());
        return 1;
    }
    auto j = json::parse(res->body, nullptr, false);
    std::string text = j.is_discarded() ? res->body : j.dump(2);
    if (res->status != 200) {
        std::fprintf(stderr, "argus-client: %s\n", text.c_str());
        return 1;
    }
    std::printf("%s\n", text.c_str());
    return 0;
}

// Core Lightning plugin mode: JSON-RPC on stdin/stdout, so stdout carries
// nothing else.
int run_plugin() {
    signal(SIGPIPE, SIG_IGN);  // lightningd gone: writes fail and the plugin exits
    return client::run_cln_plugin(std::cin, std::cout, [](const std::string& dir) {
        return client::ClientNode::open(dir, system_context());
    });
}

// a-day-in-the-life-of-a-plugin.md: lightningd runs plugins with
// "LIGHTNINGD_PLUGIN" and "LIGHTNINGD_VERSION" set; lightningd/plugin.c sets
// LIGHTNINGD_PLUGIN to "1", as pyln-client's Plugin.run checks.
bool started_by_lightningd() {
    const char* plugin = std::getenv("LIGHTNINGD_PLUGIN");
    return plugin != nullptr && std::string_view(plugin) == "1";
}

}  // namespace

int main(int argc, char** argv) {
    // systemd and lightningd stamp each line themselves.
    set_log_format({.timestamp = false, .program = "argus-client"});
    if (started_by_lightningd()) {
        // lightningd passes its own arguments: "--developer" in developer mode,
        // "--dev-debug-self" when debugging the plugin (lightningd/plugin.c,
        // plugin_send_getmanifest). Whatever they are, they are not ours.
        for (int i = 1; i < argc; ++i) log_event(LogLevel::debug, "plugin_argument_ignored", {{"argument", argv[i]}});
        return run_plugin();
    }
    CLI::App app{"argus-client: back up revoked Lightning states to teos-compatible watchtowers"};
    bool version = false;
    std::uint16_t port = 9816;
    app.add_flag("--version", version, "Print the version and exit");
    app.add_option("--api-port", port, "The daemon's local API port")->envname("ARGUS_CLIENT_API_PORT")->capture_default_str();
    app.require_subcommand(0, 1);

    std::string data_dir, bind = "127.0.0.1", ready_file;
    const char* home = std::getenv("HOME");
    data_dir = std::string(home ? home : ".") + "/.argus-client";
    std::vector<std::string> towers;
    auto* daemon = app.add_subcommand("daemon", "Run the backup worker and the local API");
    daemon->add_option("--data-dir", data_dir, "Data directory")->capture_default_str();
    daemon->add_option("--api-bind", bind, "Local API address (loopback)")->capture_default_str();
    daemon->add_option("--tower", towers, "Tower to back up to: tower_id@host:port (repeatable)");
    daemon->add_option("--ready-file", ready_file, "Write {api_port, user_id} here once serving");
    auto* plugin = app.add_subcommand("plugin", "Run as a Core Lightning plugin (stdin/stdout)");
    std::string tower, tower_id;
    auto* add_tower = app.add_subcommand("add-tower", "Add a tower");
    add_tower->add_option("tower", tower, "tower_id@host:port")->required();
    auto* remove_tower = app.add_subcommand("remove-tower", "Remove a tower");
    remove_tower->add_option("tower_id", tower_id, "33-byte tower id, hex")->required();
    auto* list_towers = app.add_subcommand("towers", "Towers and their backup status (pending, acknowledged, failed)");
    auto* list_backups = app.add_subcommand("backups", "Every backup and its status at each tower");
    auto* status = app.add_subcommand("status", "User id, queue depth and towers");
    auto* retry = app.add_subcommand("retry", "Retry pending backups now");
    auto* audit = app.add_subcommand("audit", "Check that towers still hold what they acknowledged");
    std::string commitment_txid, penalty_tx, channel_id;
    std::uint64_t commitnum = 0;
    auto* backup = app.add_subcommand("backup", "Hand a revoked state to the daemon");
    backup->add_option("--commitment-txid", commitment_txid, "Revoked commitment txid (display hex)")->required();
    backup->add_option("--penalty-tx", penalty_tx, "Signed justice transaction (hex)")->required();
    backup->add_option("--channel-id", channel_id, "Channel id");
    backup->add_option("--commitnum", commitnum, "Commitment number");
    CLI11_PARSE(app, argc, argv);

    using net::HttpMethod;
    if (version) {
        std::printf("argus-client %s\n", version_string);
        return 0;
    }
    if (daemon->parsed()) return run_daemon(data_dir, bind, port, towers, ready_file);
    if (plugin->parsed()) return run_plugin();
    if (add_tower->parsed()) return call_daemon(port, HttpMethod::post, "/towers", json{{"tower", tower}}.dump());
    if (remove_tower->parsed()) return call_daemon(port, HttpMethod::del, "/towers/" + tower_id, "");
    if (list_towers->parsed()) return call_daemon(port, HttpMethod::get, "/towers", "");
    if (list_backups->parsed()) return call_daemon(port, HttpMethod::get, "/backups", "");
    if (status->parsed()) return call_daemon(port, HttpMethod::get, "/status", "");
    if (retry->parsed()) return call_daemon(port, HttpMethod::post, "/retry", "");
    if (audit->parsed()) return call_daemon(port, HttpMethod::post, "/audit", "");
    if (backup->parsed()) {
        return call_daemon(port, HttpMethod::post, "/backups",
                           json{{"commitment_txid", commitment_txid}, {"penalty_tx", penalty_tx},
                                {"channel_id", channel_id}, {"commitnum", commitnum}}.dump());
    }
    std::printf("%s", app.help().c_str());
    return 0;
}
