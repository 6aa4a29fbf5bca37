// Operations: metrics named by the shipped dashboard and alert rules exist,
// /health and /ready behave, and --check-config judges the shipped configs.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/breach_world.h"
#include "tests/support/run_command.h"

using namespace argus;
using namespace argus::test;

namespace {
std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::set<std::string> metric_names_in(const std::string& text) {
    std::set<std::string> names;
    std::regex name("argus_[a-z_]+");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
        std::string n = it->str();
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
            std::string s(suffix);
            if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0) n = n.substr(0, n.size() - s.size());
        }
        names.insert(n);
    }
    return names;
}

}  // namespace

TEST_CASE("operations: every metric in the Grafana dashboard and alert rules exists in /metrics") {
    BreachWorld world;
    HttpClient metrics(world.metrics_port());
    auto exposed_text = metrics.get("/metrics").body;
    std::set<std::string> exposed;
    std::istringstream lines(exposed_text);
    for (std::string line; std::getline(lines, line);) {
        if (line.rfind("# TYPE ", 0) == 0) exposed.insert(line.substr(7, line.find(' ', 7) - 7));
    }
    CHECK(exposed.count("argus_build_info") == 1);
    for (const char* file : {"/deploy/grafana/argus-dashboard.json", "/deploy/prometheus/alerts.yml"}) {
        auto used = metric_names_in(read_file(std::string(ARGUS_SOURCE_DIR) + file));
        CHECK(used.size() > 5);
        for (const auto& name : used) {
            CAPTURE(file);
            CAPTURE(name);
            CHECK(exposed.count(name) == 1);
        }
    }
    // Naming rules: counters end in _total, durations in _seconds; no per-user labels.
    for (const auto& name : exposed) {
        CHECK(name.rfind("argus_", 0) == 0);
        CHECK(exposed_text.find(name + "{user") == std::string::npos);
    }
}

TEST_CASE("operations: /health, and /ready flips when bitcoind or PostgreSQL goes away") {
    auto pg = TemporaryPostgres::start();
    BreachWorld world({.tower_args = {"--chain-poll-ms", "200"}, .postgres = pg->connection_string()});
    HttpClient ops(world.metrics_port());
    CHECK(ops.get("/health").status == 200);
    REQUIRE(wait_until([&] { return ops.get("/ready").status == 200; }));

    world.kill_chain();
    REQUIRE(wait_until([&] { return ops.get("/ready").status == 503; }));
    CHECK(json::parse(ops.get("/ready").body)["bitcoind_reachable"] == false);
    CHECK(ops.get("/health").status == 200);
    world.start_chain();
    REQUIRE(wait_until([&] { return ops.get("/ready").status == 200; }, std::chrono::seconds(40)));

    pg->stop();
    REQUIRE(wait_until([&] { return ops.get("/ready").status == 503; }));
    CHECK(json::parse(ops.get("/ready").body)["store_reachable"] == false);
    pg->restart();
    REQUIRE(wait_until([&] { return ops.get("/ready").status == 200; }, std::chrono::seconds(40)));
    auto text = ops.get("/metrics").body;
    CHECK(text.find("argus_ready 1") != std::string::npos);
}

TEST_CASE("operations: --check-config accepts the shipped configs and rejects bad ones by name") {
    std::string tower = ARGUS_TOWER_BINARY;
    std::string source = ARGUS_SOURCE_DIR;
    for (const char* config : {"/deploy/config/argus-tower.conf", "/deploy/config/argus-tower-regtest.conf"}) {
        auto r = run_command(tower + " --config " + source + config + " --check-config");
        CAPTURE(r.output);
        CHECK(r.status == 0);
        CHECK(r.output.find("configuration ok") != std::string::npos);
    }
    TemporaryDirectory dir;
    struct Bad {
        const char* content;
        const char* message;
    };
    const Bad bad[] = {{"colour = blue\n", "colour"},
                       {"api-port = 99999\n", "api-port"},
                       {"network = moon\n", "moon"},
                       {"tls-certificate = /x.pem\n", "tls-private-key"},
                       {"admin-bind = 0.0.0.0\n", "loopback"},
                       {"bitcoind-zmq = 28332\n", "bitcoind-zmq"}};
    int i = 0;
    for (const auto& b : bad) {
        std::string path = dir.path() + "/bad" + std::to_string(i++) + ".conf";
        std::ofstream(path) << b.content;
        auto r = run_command(tower + " --config " + path + " --check-config");
        CAPTURE(b.content);
        CAPTURE(r.output);
        CHECK(r.status != 0);
        CHECK(r.output.find(b.message) != std::string::npos);
    }
    // Flags win over the environment, which wins over the file.
    std::string file = dir.path() + "/ok.conf";
    std::ofstream(file) << "api-port = 1111\n";
    auto env = run_command("ARGUS_API_PORT=2222 " + tower + " --config " + file + " --check-config --log-level debug");
    CHECK(env.status == 0);
}
