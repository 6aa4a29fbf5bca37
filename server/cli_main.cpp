// argus-cli: the operator's command line. Talks to the tower's admin endpoint
// (loopback), authenticated with the token from the tower's data dir. Text
// for people by default, `--json` for scripts; exit codes in net/cli_call.h.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/version.h"
#include "net/cli_call.h"
#include "server/tower/secret_file.h"

namespace {

using argus::net::ExitCode;
using argus::net::HttpMethod;

int code(ExitCode c) { return static_cast<int>(c); }

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"argus-cli: operate an Argus tower through its admin endpoint"};
    app.fallthrough();  // --json and the endpoint options may follow the command
    std::string host = "127.0.0.1", data_dir, token_file;
    std::uint16_t port = 9815;
    bool version = false, json_output = false;
    const char* home = std::getenv("HOME");
    data_dir = std::string(home ? home : ".") + "/.argus/regtest";
    app.add_option("--admin-host", host, "Admin endpoint host")->envname("ARGUS_ADMIN_BIND")->capture_default_str();
    app.add_option("--admin-port", port, "Admin endpoint port")->envname("ARGUS_ADMIN_PORT")->capture_default_str();
    app.add_option("--data-dir", data_dir, "The tower's data dir (holds admin_token)")->envname("ARGUS_DATA_DIR")->capture_default_str();
    app.add_option("--token-file", token_file, "Token file [default: <data-dir>/admin_token]");
    app.add_flag("--json", json_output, "Print the answer as JSON (stable field names, docs/operations.md)");
    app.add_flag("--version", version, "Print the version and exit");
    app.require_subcommand(0, 1);
    auto* info = app.add_subcommand("info", "Tower id, users, appointments, trackers, chain tip, bitcoind reachability");
    auto* users = app.add_subcommand("users", "List users and their subscriptions");
    std::string user_id, locator, backup_path;
    auto* user = app.add_subcommand("user", "Show one user and its locators");
    user->add_option("user_id", user_id, "33-byte public key, hex")->required();
    auto* remove = app.add_subcommand("remove-user", "Delete a user and all its appointments");
    remove->add_option("user_id", user_id, "33-byte public key, hex")->required();
    auto* appointments = app.add_subcommand("appointments", "Appointments stored under a locator");
    appointments->add_option("locator", locator, "16-byte locator, hex")->required();
    auto* backup = app.add_subcommand("backup", "Online, consistent copy of the tower's SQLite store into a new file");
    backup->add_option("path", backup_path, "The new file (on the tower's machine; never overwritten)")->required();
    std::string username, password_file;
    auto* electrum_users = app.add_subcommand("electrum-users", "Electrum accounts, their subscriptions and channel counts");
    auto* electrum_add = app.add_subcommand(
        "electrum-add-user", "Create an Electrum account (password from --password-file, or generated and printed once)");
    electrum_add->add_option("username", username, "1-64 characters of A-Z a-z 0-9 . _ -")->required();
    electrum_add->add_option("--password-file", password_file, "File whose first line is the password ('-': stdin)");
    auto* electrum_remove = app.add_subcommand("electrum-remove-user", "Remove an Electrum account with its channels and sweeps");
    electrum_remove->add_option("username", username, "The account")->required();
    auto* all_channels = app.add_subcommand(
        "channels", "Every watched channel: account, funding outpoint, open or closed (cooperative, unilateral, breach), penalty");
    auto* electrum_channels = app.add_subcommand("electrum-channels", "The channels an Electrum account registered");
    electrum_channels->add_option("username", username, "The account")->required();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? code(ExitCode::ok) : code(ExitCode::usage);
    }

    if (version) {
        std::printf("argus-cli %s\n", argus::version_string);
        return code(ExitCode::ok);
    }
    if (app.get_subcommands().empty()) {
        std::printf("%s", app.help().c_str());
        return code(ExitCode::ok);
    }
    if (token_file.empty()) token_file = data_dir + "/admin_token";
    auto token = argus::tower::read_admin_token(token_file);
    if (!token) {
        std::fprintf(stderr, "argus-cli: %s\n", token.error().message.c_str());
        return code(ExitCode::unauthorized);
    }
    argus::net::CliCall call;
    call.program = "argus-cli";
    call.what = "the tower's admin endpoint";
    call.host = host;
    call.port = port;
    call.authorization = "Bearer " + *token;
    if (info->parsed()) {
        call.target = "/info";
    } else if (users->parsed()) {
        call.target = "/users";
    } else if (user->parsed()) {
        call.target = "/users/" + user_id;
    } else if (remove->parsed()) {
        call.method = HttpMethod::del;
        call.target = "/users/" + user_id;
    } else if (appointments->parsed()) {
        call.target = "/appointments/" + locator;
    } else if (all_channels->parsed()) {
        call.target = "/channels";
    } else if (electrum_users->parsed()) {
        call.target = "/electrum/users";
    } else if (electrum_channels->parsed()) {
        call.target = "/electrum/users/" + username + "/channels";
    } else if (electrum_remove->parsed()) {
        call.method = HttpMethod::del;
        call.target = "/electrum/users/" + username;
    } else if (electrum_add->parsed()) {
        std::string password;
        bool generated = false;
        if (password_file.empty()) {
            // 24 random bytes, base64url: what goes into watchtower_url.
            std::string raw(24, '\0');
            std::FILE* random = std::fopen("/dev/urandom", "rb");
            if (random == nullptr || std::fread(raw.data(), 1, raw.size(), random) != raw.size()) {
                std::fprintf(stderr, "argus-cli: cannot read /dev/urandom\n");
                if (random) std::fclose(random);
                return code(ExitCode::failure);
            }
            std::fclose(random);
            static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            for (unsigned char c : raw) password += alphabet[c % 64];
            generated = true;
        } else {
            std::FILE* in = password_file == "-" ? stdin : std::fopen(password_file.c_str(), "r");
            if (in == nullptr) {
                std::fprintf(stderr, "argus-cli: cannot read %s\n", password_file.c_str());
                return code(ExitCode::usage);
            }
            char line[512] = {};
            if (std::fgets(line, sizeof line, in) != nullptr) password = line;
            if (in != stdin) std::fclose(in);
            while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
        }
        call.method = HttpMethod::post;
        call.target = "/electrum/users";
        call.body = nlohmann::json{{"username", username}, {"password", password}}.dump();
        int result = argus::net::run_cli_call(call, json_output ? argus::net::OutputFormat::json : argus::net::OutputFormat::text);
        if (result == 0 && generated) {
            // Printed once, on stderr so --json output stays one document.
            std::fprintf(stderr, "password: %s\n(put it in Electrum's watchtower_url: http://%s:<password>@host:port)\n",
                         password.c_str(), username.c_str());
        }
        return result;
    } else if (backup->parsed()) {
        // The CLI runs beside the tower (the admin endpoint is loopback):
        // a relative path means the operator's working directory.
        std::error_code ec;
        auto absolute = std::filesystem::absolute(backup_path, ec);
        if (ec) {
            std::fprintf(stderr, "argus-cli: backup path %s: %s\n", backup_path.c_str(), ec.message().c_str());
            return code(ExitCode::usage);
        }
        call.method = HttpMethod::post;
        call.target = "/backup";
        call.body = nlohmann::json{{"path", absolute.lexically_normal().string()}}.dump();
    }
    return argus::net::run_cli_call(call, json_output ? argus::net::OutputFormat::json : argus::net::OutputFormat::text);
}
