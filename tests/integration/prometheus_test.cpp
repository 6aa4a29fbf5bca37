// A real Prometheus 2.42 and Alertmanager 0.25 against a real tower (issue #17):
// the shipped scrape config (deploy/prometheus/prometheus.yml), every query of
// the shipped dashboard (deploy/grafana/argus-dashboard.json) and the shipped
// alert rules (deploy/prometheus/alerts.yml), all on loopback with ports the
// kernel picked, every process killed with the test. Label `prometheus`.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "net/http_server.h"
#include "tests/integration/breach_world.h"

using namespace argus;
using namespace argus::test;

namespace {

constexpr std::chrono::seconds bounded_wait{60};

std::string read_text(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
    REQUIRE_MESSAGE(out.good(), "cannot write " << path);
}

// Replaces the one match of `pattern` in a shipped file; a file that no longer
// has exactly one (someone reshaped it) fails here rather than being tested
// half-templated.
std::string replace_once(const std::string& text, const std::string& pattern, const std::string& replacement,
                         const std::string& file) {
    std::regex re(pattern);
    auto matches = std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator());
    REQUIRE_MESSAGE(matches == 1, file << ": expected one match of /" << pattern << "/, found " << matches);
    return std::regex_replace(text, re, replacement);
}

std::string url_encode(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

std::string tail(const std::string& text, std::size_t n = 6000) {
    return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

// The alert rules as shipped, except that every `for:` is 60 times shorter
// (minutes become seconds: 2m -> 2s, 10m -> 10s) so that the test fires them
// in seconds. Nothing else changes: the expressions, labels and annotations
// are the shipped ones. The real durations are for promtool's rule unit
// tests, not for this one.
std::string shorten_for_durations(const std::string& rules, int& shortened) {
    std::regex duration(R"(^(\s*for:\s*)(\d+)([smhd])\s*$)");
    std::istringstream in(rules);
    std::ostringstream out;
    out << "# Copied by tests/integration/prometheus_test.cpp: every `for:` is 60 times shorter.\n";
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (std::regex_match(line, m, duration)) {
            long seconds = std::stol(m[2].str()) * (m[3] == "s" ? 1 : m[3] == "m" ? 60 : m[3] == "h" ? 3600 : 86400);
            line = m[1].str() + std::to_string(std::max(1L, seconds / 60)) + "s";
            ++shortened;
        } else {
            REQUIRE_MESSAGE(line.find("for:") == std::string::npos, "alerts.yml: a `for:` this test cannot read: " << line);
        }
        out << line << "\n";
    }
    return out.str();
}

// Alertmanager's webhook receiver: records each alert of each notification as
// (alertname, status), status being "firing" or "resolved".
class WebhookReceiver final : public api::Router {
public:
    std::size_t body_limit(api::Method, std::string_view) const override { return 1024 * 1024; }
    void handle(api::HttpRequest request, api::Reply reply) override {
        auto body = json::parse(request.body, nullptr, false);
        if (request.method != api::Method::post || body.is_discarded() || !body.contains("alerts")) {
            return reply({400, R"({"error":"expected an Alertmanager webhook notification"})"});
        }
        {
            std::lock_guard lock(mutex_);
            for (const auto& alert : body["alerts"]) {
                received_.push_back({alert["labels"].value("alertname", ""), alert.value("status", "")});
            }
        }
        reply({200, "{}"});
    }
    bool received(const std::string& alertname, const std::string& status) const {
        std::lock_guard lock(mutex_);
        for (const auto& r : received_) {
            if (r.first == alertname && r.second == status) return true;
        }
        return false;
    }
    bool received_any_of(const std::string& alertname) const {
        return received(alertname, "firing") || received(alertname, "resolved");
    }
    std::string summary() const {
        std::lock_guard lock(mutex_);
        std::string s;
        for (const auto& r : received_) s += r.first + "=" + r.second + " ";
        return s.empty() ? "(none)" : s;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, std::string>> received_;
};

// Prometheus scraping one tower with the shipped config and rules, and
// Alertmanager routing its alerts to a WebhookReceiver.
class Monitoring {
public:
    explicit Monitoring(std::uint16_t tower_metrics_port) : webhook_server_(webhook_options(), webhook_) {
        REQUIRE(webhook_server_.start());
        const std::string source = ARGUS_SOURCE_DIR;

        write_text(dir_.path() + "/alertmanager.yml",
                   "route:\n"
                   "  receiver: test-webhook\n"
                   "  group_by: [alertname]\n"
                   "  group_wait: 1s\n"
                   "  group_interval: 1s\n"
                   "  repeat_interval: 1h\n"
                   "receivers:\n"
                   "  - name: test-webhook\n"
                   "    webhook_configs:\n"
                   "      - url: http://127.0.0.1:" + std::to_string(webhook_server_.port()) + "/alerts\n"
                   "        send_resolved: true\n");
        alertmanager_ = start_server("alertmanager", alertmanager_port_, [&](int port) {
            return std::vector<std::string>{ARGUS_ALERTMANAGER_BINARY,
                                            "--config.file=" + dir_.path() + "/alertmanager.yml",
                                            "--storage.path=" + dir_.path() + "/alertmanager",
                                            "--web.listen-address=127.0.0.1:" + std::to_string(port),
                                            "--cluster.listen-address="};  // no gossip port (9094)
        });

        int shortened = 0;
        write_text(dir_.path() + "/alerts.yml",
                   shorten_for_durations(read_text(source + "/deploy/prometheus/alerts.yml"), shortened));
        CHECK(shortened > 0);
        const std::string file = "deploy/prometheus/prometheus.yml";
        std::string config = read_text(source + "/" + file);
        REQUIRE(config.find("alerting:") == std::string::npos);
        REQUIRE(config.find("job_name: argus-tower") != std::string::npos);
        config = replace_once(config, R"(scrape_interval: *\S+)", "scrape_interval: 1s", file);
        config = replace_once(config, R"(evaluation_interval: *\S+)", "evaluation_interval: 1s", file);
        config = replace_once(config, R"(rule_files: *\[[^\]]*\])", "rule_files: [" + dir_.path() + "/alerts.yml]", file);
        config = replace_once(config, R"(targets: *\[[^\]]*\])",
                              "targets: [\"127.0.0.1:" + std::to_string(tower_metrics_port) + "\"]", file);
        config += "alerting:\n"
                  "  alertmanagers:\n"
                  "    - static_configs:\n"
                  "        - targets: [\"127.0.0.1:" + std::to_string(alertmanager_port_) + "\"]\n";
        write_text(dir_.path() + "/prometheus.yml", config);
        prometheus_ = start_server("prometheus", prometheus_port_, [&](int port) {
            return std::vector<std::string>{ARGUS_PROMETHEUS_BINARY, "--config.file=" + dir_.path() + "/prometheus.yml",
                                            "--storage.tsdb.path=" + dir_.path() + "/prometheus",
                                            "--web.listen-address=127.0.0.1:" + std::to_string(port)};
        });
    }

    // GET on Prometheus's HTTP API; a discarded json when it did not answer JSON.
    json prometheus_get(const std::string& target) {
        HttpClient http(static_cast<std::uint16_t>(prometheus_port_));
        auto r = http.get(target);
        return json::parse(r.body, nullptr, false);
    }
    json query(const std::string& expression) { return prometheus_get("/api/v1/query?query=" + url_encode(expression)); }
    // The result vector of an instant query (empty when it failed).
    json samples(const std::string& expression) {
        json r = query(expression);
        if (r.is_discarded() || r.value("status", "") != "success") return json::array();
        return r["data"]["result"];
    }
    // The value of the first sample of an instant query.
    std::optional<double> value(const std::string& expression) {
        json s = samples(expression);
        if (!s.is_array() || s.empty()) return std::nullopt;
        return std::stod(s[0]["value"][1].get<std::string>());
    }
    // "firing", "pending" or "" (not active) in Prometheus's /api/v1/alerts.
    std::string alert_state(const std::string& alertname) {
        json r = prometheus_get("/api/v1/alerts");
        if (r.is_discarded() || !r.contains("data")) return "";
        for (const auto& a : r["data"]["alerts"]) {
            if (a["labels"].value("alertname", "") == alertname) return a.value("state", "");
        }
        return "";
    }
    const WebhookReceiver& webhook() const { return webhook_; }

    // Waits up to `timeout`; on failure says what the monitoring saw.
    bool wait_for(const std::string& what, const std::function<bool()>& condition,
                  std::chrono::milliseconds timeout = bounded_wait) {
        if (wait_until(condition, timeout)) return true;
        json alerts = prometheus_get("/api/v1/alerts");
        MESSAGE("timed out waiting for " << what << "\nPrometheus /api/v1/alerts: "
                                         << (alerts.is_discarded() ? std::string("(no answer)") : alerts.dump())
                                         << "\nwebhook received: " << webhook_.summary() << "\nPrometheus log:\n"
                                         << tail(prometheus_->log()) << "\nAlertmanager log:\n"
                                         << tail(alertmanager_->log()));
        return false;
    }

private:
    static api::HttpServerOptions webhook_options() {
        api::HttpServerOptions o;
        o.address = "127.0.0.1";
        o.port = 0;
        o.threads = 1;
        return o;
    }
    // Starts a server on a free port, answering GET /-/ready. The port is
    // probed free and then bound by the child, so a rare race can lose it:
    // a child that exits at once is started again on another port.
    std::unique_ptr<ChildProcess> start_server(const std::string& name, int& port,
                                               const std::function<std::vector<std::string>(int)>& argv) {
        for (int attempt = 1; attempt <= 3; ++attempt) {
            port = find_free_tcp_port();
            auto child = std::make_unique<ChildProcess>(argv(port), dir_.path() + "/" + name + ".log");
            bool ready = wait_until(
                [&] {
                    if (!child->running()) return true;
                    HttpClient http(static_cast<std::uint16_t>(port));
                    return http.get("/-/ready").status == 200;
                },
                std::chrono::seconds(30));
            if (ready && child->running()) return child;
            MESSAGE(name << " did not become ready on port " << port << " (attempt " << attempt << "):\n"
                         << tail(child->log()));
        }
        FAIL(name << " would not start");
        return nullptr;
    }

    TemporaryDirectory dir_;  // first: outlives the processes using it
    WebhookReceiver webhook_;
    api::HttpServer webhook_server_;
    int alertmanager_port_ = 0, prometheus_port_ = 0;
    std::unique_ptr<ChildProcess> alertmanager_, prometheus_;
};

// Every query of the dashboard, from panels at any depth (rows hold panels),
// with Grafana's interval variables replaced by what they mean at a 1 s scrape.
std::vector<std::string> dashboard_expressions(const json& dashboard) {
    std::vector<std::string> out;
    std::function<void(const json&)> walk = [&](const json& panels) {
        for (const auto& panel : panels) {
            for (const auto& target : panel.value("targets", json::array())) {
                if (!target.contains("expr")) continue;
                std::string e = target["expr"].get<std::string>();
                for (const auto& v : {std::pair<std::string, std::string>{"$__rate_interval", "1m"},
                                      {"${__rate_interval}", "1m"},
                                      {"$__interval", "1s"},
                                      {"${__interval}", "1s"},
                                      {"$__range", "1h"},
                                      {"${__range}", "1h"}}) {
                    for (auto at = e.find(v.first); at != std::string::npos; at = e.find(v.first)) {
                        e.replace(at, v.first.size(), v.second);
                    }
                }
                REQUIRE_MESSAGE(e.find('$') == std::string::npos, "a dashboard variable this test cannot fill: " << e);
                out.push_back(e);
            }
            if (panel.contains("panels")) walk(panel["panels"]);
        }
    };
    walk(dashboard.at("panels"));
    return out;
}

bool positive(double v) { return v > 0; }

}  // namespace

TEST_CASE("prometheus: the shipped scrape config scrapes the tower and every dashboard query answers after a breach") {
    BreachWorld world;
    Monitoring monitoring(world.metrics_port());

    // The scrape is up, by the target list and by the `up` series.
    REQUIRE(monitoring.wait_for("the argus-tower target to be up", [&] {
        json r = monitoring.prometheus_get("/api/v1/targets");
        if (r.is_discarded() || !r.contains("data")) return false;
        for (const auto& t : r["data"]["activeTargets"]) {
            if (t["labels"].value("job", "") == "argus-tower" && t.value("health", "") == "up" &&
                t.value("scrapeUrl", "") == "http://127.0.0.1:" + std::to_string(world.metrics_port()) + "/metrics") {
                return true;
            }
        }
        return false;
    }));
    CHECK(monitoring.value("up{job=\"argus-tower\"}") == 1);
    // increase() only counts what happened after a first sample: let
    // Prometheus see the counters at 0 before the breach.
    REQUIRE(monitoring.wait_for("two scrapes before the breach", [&] {
        return monitoring.value("count_over_time(argus_breaches_detected_total[1m])").value_or(0) >= 2;
    }));
    CHECK(monitoring.value("argus_breaches_detected_total") == 0);

    // The breach drill: an appointment, its dispute mined, the penalty
    // broadcast and confirmed; and a copy of the triggered appointment refused.
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    REQUIRE(world.add_appointment(dispute, penalty).status == 200);
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    REQUIRE(wait_until([&] { return world.get_appointment(dispute)["status"] == "dispute_responded"; }));
    CHECK(world.add_appointment(dispute, penalty).status == 400);
    world.mine(1);
    CHECK(world.confirmations(penalty.txid()) == 1);
    REQUIRE(wait_until([&] { return world.tower_at_tip(); }));
    const double height = world.chain_height();
    REQUIRE(monitoring.wait_for("Prometheus to scrape the confirmed penalty", [&] {
        return monitoring.value("argus_penalties_confirmed_total") == 1 &&
               monitoring.value("argus_processed_block_height") == height;
    }));

    auto dashboard = json::parse(read_text(std::string(ARGUS_SOURCE_DIR) + "/deploy/grafana/argus-dashboard.json"));
    auto expressions = dashboard_expressions(dashboard);
    REQUIRE(expressions.size() > 20);
    // Every query parses and, after the drill, returns data: every series the
    // dashboard reads is exported from the start (labelled families included).
    for (const auto& e : expressions) {
        CAPTURE(e);
        json r = monitoring.query(e);
        REQUIRE_FALSE(r.is_discarded());
        CHECK_MESSAGE(r.value("status", "") == "success", r.dump());
        if (r.value("status", "") == "success") CHECK_MESSAGE(!r["data"]["result"].empty(), r.dump());
    }

    // The core panels show what the drill did. Keyed by the dashboard's own
    // expressions: changing one in the dashboard means reviewing it here.
    struct Core {
        std::string expression;
        std::function<bool(double)> holds;  // for at least one series
        std::string meaning;
    };
    auto equals = [](double expected) { return [expected](double v) { return v == expected; }; };
    auto finite = [](double v) { return std::isfinite(v); };
    const std::vector<Core> core = {
        {"sum(rate(argus_appointments_accepted_total[5m]))", positive, "> 0"},
        {"sum by (reason) (rate(argus_appointments_rejected_total[5m]))", positive, "> 0 for the refused copy"},
        {"argus_users", equals(1), "== 1"},
        {"sum by (endpoint, status) (rate(argus_http_requests_total[5m]))", positive, "> 0"},
        {"histogram_quantile(0.99, sum by (le, endpoint) (rate(argus_http_request_duration_seconds_bucket[5m])))", finite,
         "a latency"},
        {"histogram_quantile(0.99, sum by (le) (rate(argus_block_processing_duration_seconds_bucket[30m])))", finite,
         "a latency"},
        {"argus_best_block_height", equals(height), "== the chain's height"},
        {"argus_processed_block_height", equals(height), "== the chain's height"},
        {"argus_blocks_behind", equals(0), "== 0"},
        {"argus_bitcoind_reachable", equals(1), "== 1"},
        {"argus_store_reachable", equals(1), "== 1"},
        {"argus_ready", equals(1), "== 1"},
        {"increase(argus_breaches_detected_total[1h])", positive, "> 0"},
        {"increase(argus_penalties_broadcast_total[1h])", positive, "> 0"},
        {"increase(argus_penalties_confirmed_total[1h])", positive, "> 0"},
        {"argus_trackers", equals(1), "== 1 (its penalty has 1 of the 3 confirmations that resolve it)"},
        {"histogram_quantile(0.99, sum by (le) (rate(argus_store_commit_duration_seconds_bucket[5m])))", finite,
         "a latency"},
        {"rate(argus_group_commit_batch_size_sum[5m]) / rate(argus_group_commit_batch_size_count[5m])",
         [](double v) { return v >= 1; }, ">= 1"},
        {"increase(argus_blocks_connected_total[1h])", positive, "> 0"},
        {"argus_build_info", equals(1), "== 1"},
    };
    for (const auto& c : core) {
        CAPTURE(c.expression);
        CHECK_MESSAGE(std::find(expressions.begin(), expressions.end(), c.expression) != expressions.end(),
                      "not in the dashboard any more");
        json result = monitoring.samples(c.expression);
        bool holds = false;
        for (const auto& s : result) holds = holds || c.holds(std::stod(s["value"][1].get<std::string>()));
        CHECK_MESSAGE(holds, "expected " << c.meaning << ", got " << result.dump());
    }
}

namespace {

// A tower following the simulator closely (200 ms polls, ZMQ) under Prometheus.
struct AlertedTower {
    AlertedTower() : world({.tower_args = {"--chain-poll-ms", "200"}, .postgres = ""}), monitoring(world.metrics_port()) {
        REQUIRE(monitoring.wait_for("the tower to be scraped ready",
                                    [&] { return monitoring.value("argus_ready{job=\"argus-tower\"}") == 1; }));
    }
    bool firing(const std::string& alert) { return monitoring.alert_state(alert) == "firing"; }
    bool inactive(const std::string& alert) { return monitoring.alert_state(alert).empty(); }
    void generate(int blocks) {
        auto address = encode_address(p2wpkh_script(world.funder.public_key()), Network::regtest).value();
        world.call("generatetoaddress", json::array({blocks, address}));
    }

    BreachWorld world;
    Monitoring monitoring;
};

}  // namespace

TEST_CASE("prometheus: blocks the tower cannot fetch fire ArgusTowerBehindChain through Alertmanager until they come") {
    if (!bitcoind_path().empty()) {
        MESSAGE("skipped: a real bitcoind cannot be told to withhold blocks (simulator_withhold_blocks)");
        return;
    }
    AlertedTower t;
    // bitcoind's tip moves on while the tower cannot get the blocks' data:
    // it knows it is 6 blocks behind and cannot catch up.
    t.world.call("simulator_withhold_blocks", json::array({true}));
    t.generate(6);
    REQUIRE(t.monitoring.wait_for("argus_blocks_behind 6 in Prometheus",
                                  [&] { return t.monitoring.value("argus_blocks_behind") == 6; }));
    REQUIRE(t.monitoring.wait_for("ArgusTowerBehindChain and ArgusNotReady firing", [&] {
        return t.firing("ArgusTowerBehindChain") && t.firing("ArgusNotReady");
    }));
    REQUIRE(t.monitoring.wait_for("Alertmanager to notify ArgusTowerBehindChain and ArgusNotReady", [&] {
        return t.monitoring.webhook().received("ArgusTowerBehindChain", "firing") &&
               t.monitoring.webhook().received("ArgusNotReady", "firing");
    }));
    // bitcoind answered all along: that alert stays quiet.
    CHECK(t.inactive("ArgusBitcoindUnreachable"));
    CHECK_FALSE(t.monitoring.webhook().received_any_of("ArgusBitcoindUnreachable"));

    // The blocks come; the next one wakes the tower, which catches up.
    t.world.call("simulator_withhold_blocks", json::array({false}));
    t.generate(1);
    REQUIRE(t.monitoring.wait_for("the alerts to clear in Prometheus", [&] {
        return t.inactive("ArgusTowerBehindChain") && t.inactive("ArgusNotReady");
    }));
    CHECK(t.monitoring.value("argus_processed_block_height") == t.world.chain_height());
    CHECK(t.monitoring.wait_for("Alertmanager to notify them resolved", [&] {
        return t.monitoring.webhook().received("ArgusTowerBehindChain", "resolved") &&
               t.monitoring.webhook().received("ArgusNotReady", "resolved");
    }));
}

TEST_CASE("prometheus: a killed chain fires ArgusBitcoindUnreachable through Alertmanager until it returns") {
    AlertedTower t;
    t.world.kill_chain();
    REQUIRE(t.monitoring.wait_for("ArgusBitcoindUnreachable and ArgusNotReady firing", [&] {
        return t.firing("ArgusBitcoindUnreachable") && t.firing("ArgusNotReady");
    }));
    REQUIRE(t.monitoring.wait_for("Alertmanager to notify ArgusBitcoindUnreachable and ArgusNotReady", [&] {
        return t.monitoring.webhook().received("ArgusBitcoindUnreachable", "firing") &&
               t.monitoring.webhook().received("ArgusNotReady", "firing");
    }));
    // Not behind: no block came while the chain was away.
    CHECK(t.inactive("ArgusTowerBehindChain"));
    CHECK_FALSE(t.monitoring.webhook().received_any_of("ArgusTowerBehindChain"));

    // The same chain on the same ports. The tower's polls back off while
    // bitcoind is away; a new block wakes it at once over ZMQ (once its
    // subscriber has reconnected, so a block every few seconds until then).
    t.world.start_chain();
    REQUIRE(t.monitoring.wait_for("the tower to reach bitcoind again", [&] {
        t.generate(1);
        return wait_until([&] { return t.world.metric("argus_bitcoind_reachable") == 1; }, std::chrono::seconds(3));
    }));
    REQUIRE(t.monitoring.wait_for("the alerts to clear in Prometheus", [&] {
        return t.inactive("ArgusBitcoindUnreachable") && t.inactive("ArgusNotReady");
    }));
    CHECK(t.monitoring.value("argus_bitcoind_reachable") == 1);
    CHECK(t.monitoring.wait_for("Alertmanager to notify them resolved", [&] {
        return t.monitoring.webhook().received("ArgusBitcoindUnreachable", "resolved") &&
               t.monitoring.webhook().received("ArgusNotReady", "resolved");
    }));
}
