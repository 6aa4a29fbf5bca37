// SIGHUP's decision (server/config/reload): what a running tower applies, what
// needs a restart, and that secrets never show.
#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <set>

#include "server/config/reload.h"

using namespace argus;
using namespace argus::config;

namespace {

TowerOptions parse(std::vector<std::string> args) {
    args.insert(args.begin(), "argus-tower");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    auto parsed = parse_tower_options(static_cast<int>(argv.size()), argv.data());
    REQUIRE(parsed);
    return parsed->options;
}

const OptionChange* find(const std::vector<OptionChange>& changes, const std::string& option) {
    auto it = std::find_if(changes.begin(), changes.end(), [&](const OptionChange& c) { return c.option == option; });
    return it == changes.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("reload: the same configuration changes nothing") {
    auto o = parse({"--data-dir", "/tmp/x", "--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "p"});
    auto plan = plan_reload(o, o);
    CHECK(plan.empty());
    CHECK_FALSE(plan.reload_tls);
}

TEST_CASE("reload: log level, connection limits, timeouts and rates apply, listeners and store need a restart") {
    auto running = parse({"--data-dir", "/tmp/x"});
    auto next = parse({"--data-dir", "/tmp/x", "--log-level", "debug", "--max-connections", "10",
                       "--max-connections-per-source", "3", "--limit-loopback-sources", "true", "--min-receive-rate", "512",
                       "--wtwire-messages-per-second", "5", "--request-timeout-ms", "2000", "--api-port", "7777",
                       "--resolve-depth", "12"});
    auto plan = plan_reload(running, next);
    for (const char* option : {"log-level", "max-connections", "max-connections-per-source", "limit-loopback-sources",
                               "min-receive-rate", "wtwire-messages-per-second", "request-timeout-ms"}) {
        CAPTURE(option);
        CHECK(find(plan.applied, option) != nullptr);
        CHECK(find(plan.needs_restart, option) == nullptr);
    }
    REQUIRE(find(plan.applied, "log-level") != nullptr);
    CHECK(find(plan.applied, "log-level")->from == "info");
    CHECK(find(plan.applied, "log-level")->to == "debug");
    CHECK(find(plan.applied, "max-connections")->from == "1024");
    CHECK(find(plan.applied, "max-connections")->to == "10");
    REQUIRE(find(plan.needs_restart, "api-port") != nullptr);
    CHECK(find(plan.needs_restart, "api-port")->to == "7777");
    CHECK(find(plan.needs_restart, "resolve-depth") != nullptr);
    CHECK(plan.applied.size() == 7);
    CHECK(plan.needs_restart.size() == 2);

    auto after = options_after_reload(running, next);
    CHECK(after.log_level == "debug");
    CHECK(after.max_connections == 10);
    CHECK(after.limit_loopback_sources);
    CHECK(after.wtwire_messages_per_second == 5);
    CHECK(after.api_port == running.api_port);          // still the port it listens on
    CHECK(after.resolve_depth == running.resolve_depth);
    CHECK(plan_reload(after, next).applied.empty());    // the next SIGHUP sees what runs
    CHECK(plan_reload(after, next).needs_restart.size() == 2);
}

TEST_CASE("reload: a changed bitcoind password or PostgreSQL string is named, its values never shown") {
    auto running = parse({"--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "old-secret",
                          "--postgres", "postgresql://argus:pw1@db/argus"});
    auto next = parse({"--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "new-secret",
                       "--postgres", "postgresql://argus:pw2@db/argus"});
    auto plan = plan_reload(running, next);
    CHECK(plan.applied.empty());
    REQUIRE(plan.needs_restart.size() == 2);
    for (const auto& c : plan.needs_restart) {
        CHECK(c.from == "(hidden)");
        CHECK(c.to == "(hidden)");
    }
}

TEST_CASE("reload: TLS certificates are re-read while TLS stays on, turning TLS on or off needs a restart") {
    auto plain = parse({});
    auto tls = parse({"--tls-certificate", "/etc/argus/cert.pem", "--tls-private-key", "/etc/argus/key.pem"});
    auto moved = parse({"--tls-certificate", "/etc/argus/new.pem", "--tls-private-key", "/etc/argus/new.key"});

    auto same = plan_reload(tls, tls);
    CHECK(same.reload_tls);  // renewed in place: same paths, new files
    CHECK(same.empty());

    auto renamed = plan_reload(tls, moved);
    CHECK(renamed.reload_tls);
    CHECK(find(renamed.applied, "tls-certificate") != nullptr);
    CHECK(options_after_reload(tls, moved).tls_certificate == "/etc/argus/new.pem");

    auto on = plan_reload(plain, tls);
    CHECK_FALSE(on.reload_tls);
    CHECK(find(on.needs_restart, "tls-certificate") != nullptr);
    CHECK(options_after_reload(plain, tls).tls_certificate.empty());
    auto off = plan_reload(tls, plain);
    CHECK_FALSE(off.reload_tls);
    CHECK(find(off.needs_restart, "tls-private-key") != nullptr);
}

TEST_CASE("reload: every option the tower takes is classified") {
    std::vector<const char*> argv{"argus-tower", "--help"};
    auto help = parse_tower_options(2, argv.data());
    REQUIRE_FALSE(help);
    REQUIRE(help.error().exit_code == 0);
    std::set<std::string> in_help;
    std::regex flag("--([a-z0-9-]+)");
    const std::string& text = help.error().message;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), flag); it != std::sregex_iterator(); ++it) {
        in_help.insert((*it)[1]);
    }
    for (const char* meta : {"config", "check-config", "version", "help"}) in_help.erase(meta);
    auto known = reload_option_names();
    std::set<std::string> classified(known.begin(), known.end());
    CHECK(classified.size() == known.size());  // no option twice
    for (const auto& option : in_help) {
        CAPTURE(option);
        CHECK(classified.count(option) == 1);
    }
    for (const auto& option : classified) {
        CAPTURE(option);
        CHECK(in_help.count(option) == 1);
    }
}

TEST_CASE("options: the expiry budget per block is taken, and 0 is refused with its name") {
    CHECK(parse({"--data-dir", "/tmp/x"}).expiry_removals_per_block == 20'000);
    CHECK(parse({"--data-dir", "/tmp/x", "--expiry-removals-per-block", "5000"}).expiry_removals_per_block == 5'000);
    std::vector<const char*> argv = {"argus-tower", "--data-dir", "/tmp/x", "--expiry-removals-per-block", "0"};
    auto parsed = parse_tower_options(static_cast<int>(argv.size()), argv.data());
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.find("--expiry-removals-per-block must be at least 1") != std::string::npos);
    auto running = parse({"--data-dir", "/tmp/x"});
    auto next = parse({"--data-dir", "/tmp/x", "--expiry-removals-per-block", "5000"});
    auto plan = plan_reload(running, next);
    const OptionChange* change = find(plan.needs_restart, "expiry-removals-per-block");
    REQUIRE(change != nullptr);
    CHECK(change->to == "5000");
    CHECK(find(plan.applied, "expiry-removals-per-block") == nullptr);
}
