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

#include "client/node/channel_status_text.h"
#include "client/node/client_api.h"
#include "client/node/cln_plugin.h"
#include "common/context.h"
#include "common/hex.h"
#include "common/version.h"
#include "log/log.h"
#include "net/cli_call.h"

using namespace argus;
using json = nlohmann::json;

namespace {

// The real clock and RNG; everything below main() takes them from here.
Context system_context() { return Context{system_clock(), system_rng()}; }

int run_daemon(const std::string& data_dir, const std::string& bind, std::uint16_t port,
               const std::vector<std::string>& towers, const std::string& ready_file,
               const client::BackupWorkerOptions& worker_options, client::ChainWatchOptions chain_options,
               std::optional<client::KitPolicy> kits) {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    signal(SIGPIPE, SIG_IGN);
    auto node = client::ClientNode::open(data_dir, system_context(), worker_options, std::move(chain_options));
    if (!node) {
        log_event(LogLevel::error, "client_open_failed", {{"error", node.error().message}});
        return 1;
    }
    for (const auto& t : towers) {
        auto added = (*node)->add_tower(t);
        if (!added) {
            log_event(LogLevel::error, "bad_tower_option", {{"tower", t}, {"error", added.error().message}});
            return 2;
        }
    }
    client::ChannelBook channels(**node, kits);
    if (auto ok = channels.open(data_dir + "/channels.sqlite"); !ok) {
        log_event(LogLevel::error, "channels_open_failed", {{"error", ok.error().message}});
        return 1;
    }
    client::ClientApi api(**node, &channels);
    api::HttpServerOptions options;
    options.address = bind;
    options.port = port;
    options.threads = 1;
    api::HttpServer server(options, api);
    if (auto ok = server.start(); !ok) {
        log_event(LogLevel::error, "api_listen_failed", {{"error", ok.error().message}});
        return 1;
    }
    (*node)->start();
    log_event(LogLevel::info, "client_ready",
              {{"user_id", to_hex((*node)->user_id().bytes())}, {"api", bind + ":" + std::to_string(server.port())}});
    if (!ready_file.empty()) {
        std::ofstream(ready_file + ".tmp") << json{{"api_port", server.port()}, {"user_id", to_hex((*node)->user_id().bytes())}}.dump()
                                          << "\n";
        std::rename((ready_file + ".tmp").c_str(), ready_file.c_str());
    }
    int received = 0;
    sigwait(&signals, &received);
    log_event(LogLevel::info, "client_stopping", {{"signal", std::to_string(received)}});
    // Parked long-polls are answered (with what there is) before the server
    // goes: none may outlive it.
    (*node)->events().stop();
    server.stop();
    (*node)->stop();
    log_event(LogLevel::info, "client_stopped");
    return 0;
}

int call_daemon(std::uint16_t port, net::HttpMethod method, const std::string& target, const std::string& body,
                net::OutputFormat format) {
    net::CliCall call;
    call.program = "argus-client";
    call.what = "the daemon";
    call.port = port;
    call.method = method;
    call.target = target;
    call.body = body;
    return net::run_cli_call(call, format);
}

// `channels`: --json prints the daemon's JSON as every command does; text is
// a layout of its own (towers nest under each channel), so the call is made here.
int show_channels(std::uint16_t port, net::OutputFormat format) {
    if (format == net::OutputFormat::json) return call_daemon(port, net::HttpMethod::get, "/channels/status", "", format);
    net::HttpClientOptions options;
    options.port = port;
    options.connect_timeout = std::chrono::seconds(10);
    options.write_timeout = options.read_timeout = std::chrono::seconds(60);
    options.max_response_body = 64 * 1024 * 1024;
    options.keep_alive = false;
    net::HttpClient client(options);
    auto res = client.get("/channels/status");
    if (!res) {
        std::fprintf(stderr, "argus-client: cannot reach the daemon at 127.0.0.1:%u: %s\n", port, res.error().message.c_str());
        auto kind = res.error().kind;
        bool unreachable = kind == net::HttpClientError::Kind::connect || kind == net::HttpClientError::Kind::resolve;
        return static_cast<int>(unreachable ? net::ExitCode::unreachable : net::ExitCode::failure);
    }
    auto body = json::parse(res->body, nullptr, false);
    auto code = net::exit_code_for_status(res->status);
    if (code != net::ExitCode::ok || body.is_discarded()) {
        std::string message = !body.is_discarded() && body.is_object() && body.contains("error") && body["error"].is_string()
                                  ? body["error"].get<std::string>()
                                  : res->body;
        std::fprintf(stderr, "argus-client: the daemon answered %u: %s\n", res->status, message.c_str());
        return static_cast<int>(code != net::ExitCode::ok ? code : net::ExitCode::failure);
    }
    std::fputs(client::render_channel_status(body).c_str(), stdout);
    return static_cast<int>(net::ExitCode::ok);
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
    app.fallthrough();  // --json and --api-port may follow the command
    bool version = false, json_output = false;
    std::uint16_t port = 9816;
    std::string log_format = "text";
    app.add_flag("--version", version, "Print the version and exit");
    app.add_flag("--json", json_output, "Print the answer as JSON (stable field names, docs/operations.md)");
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
    daemon->add_option("--log-format", log_format, "text or json (one JSON object per line)")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
    client::BackupWorkerOptions worker_options;
    std::uint64_t breach_check_seconds = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(worker_options.breach_check_interval).count());
    daemon->add_option("--breach-check-interval", breach_check_seconds,
                       "Seconds between rounds asking towers whether a backed-up commitment was broadcast (0: never)")
        ->check(CLI::Range(std::uint64_t{0}, std::uint64_t{86'400}))
        ->capture_default_str();
    daemon->add_option("--breach-check-budget", worker_options.breach_check_budget,
                       "Backups asked about per tower per round")
        ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}))
        ->capture_default_str();
    // The chain view: the client's own reading of the chain (optional).
    std::string rpc_host = "127.0.0.1", rpc_user, rpc_password, rpc_cookie;
    std::uint16_t rpc_port = 0;
    std::uint64_t chain_poll_ms = 5'000;
    std::int64_t chain_start_height = -1;
    daemon->add_option("--bitcoind-rpc-port", rpc_port,
                       "bitcoind RPC port: the daemon follows the chain itself and sees each channel's close "
                       "(0: no chain view)")
        ->capture_default_str();
    daemon->add_option("--bitcoind-rpc-host", rpc_host, "bitcoind RPC host")->capture_default_str();
    daemon->add_option("--bitcoind-rpc-user", rpc_user, "bitcoind rpcuser (else the cookie file is used)");
    daemon->add_option("--bitcoind-rpc-password", rpc_password, "bitcoind rpcpassword")->envname("ARGUS_CLIENT_BITCOIND_RPC_PASSWORD");
    daemon->add_option("--bitcoind-cookie-file", rpc_cookie, "bitcoind .cookie file");
    daemon->add_option("--chain-poll-ms", chain_poll_ms, "How often the chain view asks bitcoind for new blocks (ms)")
        ->check(CLI::Range(std::uint64_t{50}, std::uint64_t{600'000}))
        ->capture_default_str();
    daemon->add_option("--chain-start-height", chain_start_height,
                       "First block the chain view reads when it has read none (default: the tip at first start)")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{100'000'000}));
    // Penalty kits (channel-material mode): sent to towers that advertise them.
    client::KitPolicy kit_policy;
    bool no_kits = false;
    daemon->add_flag("--no-penalty-kits", no_kits, "Send only classic penalties, also to towers that take penalty kits");
    daemon->add_option("--kit-floor-feerate", kit_policy.floor_feerate, "Lowest rung of each kit penalty, sat per 1000 vbytes")
        ->check(CLI::Range(std::int64_t{0}, std::int64_t{100'000'000}))
        ->capture_default_str();
    daemon->add_option("--kit-max-fee-share", kit_policy.max_fee_share,
                       "Top rung: at most this share of each output's value goes to fees")
        ->check(CLI::Range(0.01, 1.0))
        ->capture_default_str();
    daemon->add_option("--kit-max-fee", kit_policy.max_fee, "Top rung: at most this many satoshis of fees per output")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{4'294'967'295}))
        ->capture_default_str();
    daemon->add_option("--kit-rungs", kit_policy.rungs, "Fee rates pre-signed per output, floor to top")
        ->check(CLI::Range(std::size_t{1}, kit::max_rungs))
        ->capture_default_str();
    auto* plugin = app.add_subcommand("plugin", "Run as a Core Lightning plugin (stdin/stdout)");
    std::string tower, tower_id;
    auto* add_tower = app.add_subcommand("add-tower", "Add a tower");
    add_tower->add_option("tower", tower, "tower_id@host:port")->required();
    auto* remove_tower = app.add_subcommand("remove-tower", "Remove a tower");
    remove_tower->add_option("tower_id", tower_id, "33-byte tower id, hex")->required();
    auto* list_towers = app.add_subcommand("towers", "Towers and their backup status (pending, acknowledged, failed)");
    auto* list_backups = app.add_subcommand("backups", "Every backup and its status at each tower");
    auto* list_channels = app.add_subcommand(
        "channels", "Each channel backed up: its towers, latest commitnum, and its close (breach, unilateral, cooperative) with the "
        "penalty's confirmations");
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
    std::string funding_outpoint;
    backup->add_option("--funding-outpoint", funding_outpoint, "The channel's funding outpoint txid:vout, for the chain view");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : static_cast<int>(net::ExitCode::usage);
    }

    using net::HttpMethod;
    if (version) {
        std::printf("argus-client %s\n", version_string);
        return 0;
    }
    if (daemon->parsed()) {
        set_log_format({.timestamp = false, .program = "argus-client", .json = log_format == "json"});
        worker_options.breach_check_interval = std::chrono::seconds(breach_check_seconds);
        client::ChainWatchOptions chain_options;
        if (rpc_port != 0) {
            if (rpc_user.empty() && rpc_cookie.empty()) {
                std::fprintf(stderr, "argus-client: --bitcoind-rpc-port needs --bitcoind-rpc-user or --bitcoind-cookie-file\n");
                return static_cast<int>(net::ExitCode::usage);
            }
            chain::RpcEndpoint rpc;
            rpc.host = rpc_host;
            rpc.port = rpc_port;
            rpc.user = rpc_user;
            rpc.password = rpc_password;
            rpc.cookie_file = rpc_cookie;
            chain_options.rpc = rpc;
        }
        chain_options.poll = std::chrono::milliseconds(chain_poll_ms);
        if (chain_start_height >= 0) chain_options.start_height = static_cast<std::uint32_t>(chain_start_height);
        std::optional<client::KitPolicy> kits;
        if (!no_kits) kits = kit_policy;
        return run_daemon(data_dir, bind, port, towers, ready_file, worker_options, std::move(chain_options), kits);
    }
    if (plugin->parsed()) return run_plugin();
    auto format = json_output ? net::OutputFormat::json : net::OutputFormat::text;
    if (add_tower->parsed()) return call_daemon(port, HttpMethod::post, "/towers", json{{"tower", tower}}.dump(), format);
    if (remove_tower->parsed()) return call_daemon(port, HttpMethod::del, "/towers/" + tower_id, "", format);
    if (list_towers->parsed()) return call_daemon(port, HttpMethod::get, "/towers", "", format);
    if (list_backups->parsed()) return call_daemon(port, HttpMethod::get, "/backups", "", format);
    if (list_channels->parsed()) return show_channels(port, format);
    if (status->parsed()) return call_daemon(port, HttpMethod::get, "/status", "", format);
    if (retry->parsed()) return call_daemon(port, HttpMethod::post, "/retry", "", format);
    if (audit->parsed()) return call_daemon(port, HttpMethod::post, "/audit", "", format);
    if (backup->parsed()) {
        json request{{"commitment_txid", commitment_txid}, {"penalty_tx", penalty_tx},
                     {"channel_id", channel_id}, {"commitnum", commitnum}};
        if (!funding_outpoint.empty()) request["funding_outpoint"] = funding_outpoint;
        return call_daemon(port, HttpMethod::post, "/backups", request.dump(), format);
    }
    std::printf("%s", app.help().c_str());
    return 0;
}
