// The client node against towers: real Argus towers (processes) and fake ones
// (in-process HTTP servers) that misbehave, answer garbage or hang.
#include <doctest/doctest.h>

#include <algorithm>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "client/backup/breach_report.h"
#include "client/node/channel_material.h"
#include "client/node/cln_plugin.h"
#include "client/node/client_node.h"
#include "common/message_signing.h"
#include "common/penalty_kit.h"
#include "net/http_server.h"
#include "tests/integration/breach_world.h"
#include "tests/support/run_command.h"
#include "tests/support/simulated_context.h"

using namespace argus;
using namespace argus::test;
using namespace argus::client;

namespace {

// Simulated time and seeded randomness for every node and worker in this file.
SimulatedClock sim_clock;
SeededRng sim_rng{5};
Context context() { return Context{sim_clock, sim_rng}; }

RevokedState revoked_state(std::uint32_t n) {
    // A structurally valid penalty spending output 0 of a made-up commitment.
    Transaction commitment;
    TxIn in;
    in.prevout.txid.bytes[0] = static_cast<std::uint8_t>(n);
    in.prevout.txid.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    commitment.inputs.push_back(in);
    commitment.outputs.push_back({100'000, Bytes(34, 1)});
    Transaction penalty;
    TxIn spend;
    spend.prevout = {commitment.txid(), 0};
    spend.witness = {Bytes(72, 2), Bytes{1}, Bytes(80, 3)};
    penalty.inputs.push_back(spend);
    penalty.outputs.push_back({99'000, Bytes(22, 4)});
    return RevokedState{commitment.txid().to_display_hex(), to_hex(penalty.serialize()), "chan", n, 144, {}, {}};
}

// A tower that speaks teos but signs receipts with `signing_key`, and can deny
// what it acknowledged, answer garbage, or never answer.
class FakeTower final : public api::Router {
public:
    enum class Mode { honest, wrong_key, denies, garbage, hangs };
    // Each mode has its own tower key: the tower id is a tower's identity.
    // `kits`: the register reply advertises Argus penalty kits up to that many bytes (0: a rust-teos tower).
    FakeTower(Mode mode, std::uint32_t kits = 0)
        : kits_(kits),
          mode_(mode),
          key_(PrivateKey::from_bytes(Bytes(32, static_cast<std::uint8_t>(0x50 + static_cast<int>(mode) + (kits ? 8 : 0)))).value()),
                           wrong_(PrivateKey::from_bytes(Bytes(32, 0x5f)).value()) {
        api::HttpServerOptions o;
        o.port = 0;
        server_ = std::make_unique<api::HttpServer>(o, *this);
        REQUIRE(server_->start());
    }
    ~FakeTower() override {
        std::vector<std::thread> hanging;
        {
            std::lock_guard lock(seen_mutex_);
            hanging.swap(hanging_);
        }
        for (auto& t : hanging) t.join();
        server_->stop();
    }
    std::string address() const { return to_hex(key_.public_key().bytes()) + "@127.0.0.1:" + std::to_string(server_->port()); }
    PublicKey id() const { return key_.public_key(); }
    std::size_t body_limit(api::Method, std::string_view) const override { return 100'000; }
    void handle(api::HttpRequest request, api::Reply reply) override {
        {
            std::lock_guard lock(seen_mutex_);
            ++requests;
            if (request.target == "/add_appointment") appointment_bodies.push_back(request.body);
        }
        seen_.notify_all();
        if (mode_ == Mode::hangs) {
            // Joined before the server stops: a reply must not outlive it.
            std::lock_guard lock(seen_mutex_);
            hanging_.emplace_back([reply] {
                std::this_thread::sleep_for(std::chrono::seconds(3));
                reply({200, "{}"});
            });
            return;
        }
        if (mode_ == Mode::garbage) return reply({200, "<html>not a tower</html>", "text/html"});
        auto j = json::parse(request.body);
        const PrivateKey& signer = mode_ == Mode::wrong_key ? wrong_ : key_;
        if (request.target == "/register") {
            ++registrations;
            auto user = parse_hex_array<33>(j["user_id"].get<std::string>()).value();
            std::string sig = sign_message(signer, teos::registration_receipt_message(user, 100, 1, 5000));
            json answer{{"user_id", j["user_id"]}, {"available_slots", 100}, {"subscription_start", 1},
                        {"subscription_expiry", 5000}, {"subscription_signature", sig}};
            if (kits_) answer["argus_penalty_kits"] = {{"version", 1}, {"max_encrypted_blob", kits_}};
            return reply({200, answer.dump()});
        }
        if (request.target == "/add_appointment") {
            std::string user_sig = j["signature"];
            std::string sig = sign_message(signer, teos::appointment_receipt_message(user_sig, 1));
            return reply({200, json{{"locator", j["appointment"]["locator"]}, {"start_block", 1}, {"signature", sig},
                                    {"available_slots", 99}, {"subscription_expiry", 5000}}.dump()});
        }
        if (request.target == "/get_appointment") {
            ++appointment_queries;
            if (mode_ == Mode::denies) return reply({404, R"({"error":"Appointment not found","error_code":36})"});
            std::lock_guard lock(seen_mutex_);
            if (auto it = disputes_.find(j["locator"].get<std::string>()); it != disputes_.end()) {
                return reply({200, json{{"appointment", it->second}, {"status", "dispute_responded"}}.dump()});
            }
            return reply({200, R"({"appointment":{},"status":"being_watched"})"});
        }
        reply({404, "{}"});
    }
    // Waits (real time, bounded) until the tower has seen `count` requests.
    bool await_requests(int count, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        std::unique_lock lock(seen_mutex_);
        return seen_.wait_for(lock, limit, [&] { return requests >= count; });
    }
    std::vector<std::string> appointments() {
        std::lock_guard lock(seen_mutex_);
        return appointment_bodies;
    }
    // From now on get_appointment for the state's locator answers that its
    // commitment was broadcast and `penalty_tx` (hex) sent.
    void report_dispute(const RevokedState& state, const std::string& penalty_tx) {
        Txid commitment = Txid::from_display_hex(state.commitment_txid).value();
        Transaction penalty = parse_transaction(parse_hex(penalty_tx).value()).value();
        std::lock_guard lock(seen_mutex_);
        disputes_[to_hex(teos::locator(commitment))] = {{"dispute_txid", state.commitment_txid},
                                                        {"penalty_txid", penalty.txid().to_display_hex()},
                                                        {"penalty_rawtx", penalty_tx}};
    }
    std::atomic<int> requests{0};
    std::atomic<int> registrations{0};
    std::atomic<int> appointment_queries{0};

private:
    std::mutex seen_mutex_;
    std::condition_variable seen_;
    std::vector<std::string> appointment_bodies;
    std::map<std::string, json> disputes_;  // locator hex -> dispute_responded appointment
    std::vector<std::thread> hanging_;      // Mode::hangs: replies still to come
    std::uint32_t kits_ = 0;
    Mode mode_;
    PrivateKey key_, wrong_;
    std::unique_ptr<api::HttpServer> server_;
};

std::unique_ptr<ClientNode> open_node(const std::string& dir, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    BackupWorkerOptions options;
    options.tower_timeout = timeout;
    return std::move(ClientNode::open(dir, context(), options).value());
}

// argus-client started the way lightningd starts a plugin (lightningd/plugin.c,
// plugin_send_getmanifest and plugins_init): argv is the plugin's path plus
// "--dev-debug-self" and "--developer" as lightningd adds them, the environment
// has LIGHTNINGD_PLUGIN=1 and LIGHTNINGD_VERSION, and JSON-RPC runs over the
// child's stdin and stdout. Its stderr goes to a log file.
class PluginProcess {
public:
    PluginProcess(const std::vector<std::string>& arguments, std::string stderr_path) : stderr_path_(std::move(stderr_path)) {
        signal(SIGPIPE, SIG_IGN);  // a plugin that exited makes our writes fail with EPIPE, not kill the tests
        std::vector<std::string> argv{ARGUS_CLIENT_BINARY};
        argv.insert(argv.end(), arguments.begin(), arguments.end());
        // Built before fork: the child of a threaded process may only exec.
        std::vector<std::string> environment{"LIGHTNINGD_PLUGIN=1", "LIGHTNINGD_VERSION=v25.05"};
        for (char** e = environ; *e != nullptr; ++e) {
            std::string_view entry(*e);
            if (!entry.starts_with("LIGHTNINGD_PLUGIN=") && !entry.starts_with("LIGHTNINGD_VERSION=")) environment.emplace_back(entry);
        }
        std::vector<char*> args, envp;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        for (auto& e : environment) envp.push_back(e.data());
        envp.push_back(nullptr);
        int to_child[2], from_child[2];
        REQUIRE(pipe2(to_child, O_CLOEXEC) == 0);
        REQUIRE(pipe2(from_child, O_CLOEXEC) == 0);
        int err = open(stderr_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        REQUIRE(err >= 0);
        pid_t parent = getpid();
        pid_ = fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(125);
            dup2(to_child[0], 0);
            dup2(from_child[1], 1);
            dup2(err, 2);
            execve(args[0], args.data(), envp.data());
            _exit(127);
        }
        close(to_child[0]);
        close(from_child[1]);
        close(err);
        stdin_ = to_child[1];
        stdout_ = from_child[0];
    }
    ~PluginProcess() {
        close_stdin();
        if (stdout_ >= 0) close(stdout_);
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    PluginProcess(const PluginProcess&) = delete;
    PluginProcess& operator=(const PluginProcess&) = delete;

    // lightningd ends every message with "\n\n" (lightningd/jsonrpc.c, jsonrpc_request_end).
    void send(const json& message) { send_raw(message.dump() + "\n\n"); }
    void send_raw(const std::string& text) {
        std::size_t done = 0;
        while (done < text.size()) {
            ssize_t n = write(stdin_, text.data() + done, text.size() - done);
            if (n <= 0) return;  // the plugin is gone; the checks on its replies say so
            done += static_cast<std::size_t>(n);
        }
    }
    void close_stdin() {
        if (stdin_ >= 0) close(stdin_);
        stdin_ = -1;
    }
    // The next message the plugin wrote (they end with "\n\n"), or nothing if
    // none came within `limit` or stdout closed first.
    std::optional<json> reply(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (auto end = unread_.find("\n\n"); end != std::string::npos) {
                std::string message = unread_.substr(0, end);
                unread_.erase(0, end + 2);
                return json::parse(message, nullptr, false);
            }
            if (!read_some(deadline)) return std::nullopt;
        }
    }
    // Waits for the exit status (-1 if it did not exit within `limit`), then
    // reads what stdout still held.
    int wait(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                while (read_some(std::chrono::steady_clock::now() + std::chrono::seconds(1))) {
                }
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }
    // What stdout carried that no reply() took.
    const std::string& unread() const { return unread_; }
    std::string stderr_text() const {
        std::ifstream in(stderr_path_);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }

private:
    bool read_some(std::chrono::steady_clock::time_point deadline) {
        if (stdout_ < 0) return false;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{stdout_, POLLIN, 0};
        if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char buffer[4096];
        ssize_t n = read(stdout_, buffer, sizeof buffer);
        if (n <= 0) {
            close(stdout_);
            stdout_ = -1;
            return false;
        }
        unread_.append(buffer, static_cast<std::size_t>(n));
        return true;
    }

    std::string stderr_path_;
    pid_t pid_ = -1;
    int stdin_ = -1, stdout_ = -1;
    std::string unread_;
};

// A JSON-RPC 2.0 request as lightningd sends it, with a string id
// (doc/lightningd-rpc.7.md, JSON IDS: "cln:METHOD#NUMBER").
json request(const json& id, const std::string& method, json params = json::object()) {
    return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}
// A notification: a request without "id" (doc/developers-guide/plugin-development/event-notifications.md).
json notification(const std::string& method, json params = json::object()) {
    return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

// The `init` configuration of doc/developers-guide/plugin-development/a-day-in-the-life-of-a-plugin.md,
// every field lightningd's plugin_populate_init_request writes.
json init_configuration(const std::string& lightning_dir) {
    return {{"lightning-dir", lightning_dir}, {"rpc-file", "lightning-rpc"}, {"startup", true}, {"network", "regtest"},
            {"feature_set", {{"init", "02aaa2"}, {"node", "8000000002aaa2"}, {"channel", ""}, {"invoice", "028200"}}},
            {"proxy", {{"type", "ipv4"}, {"address", "127.0.0.1"}, {"port", 9050}}}, {"torv3-enabled", true},
            {"always_use_proxy", false}};
}

// Runs the plugin in-process over `input` and returns every message it wrote
// (each ends with "\n\n"); `trailing` gets whatever followed the last one.
std::vector<json> run_plugin_in_process(const std::string& input, std::string* trailing = nullptr) {
    std::stringstream in(input), out;
    CHECK(run_cln_plugin(in, out, [](const std::string& d) { return ClientNode::open(d, context()); }) == 0);
    std::vector<json> replies;
    std::string text = out.str();
    std::size_t start = 0;
    for (std::size_t end; (end = text.find("\n\n", start)) != std::string::npos; start = end + 2) {
        replies.push_back(json::parse(text.substr(start, end - start), nullptr, false));
    }
    if (trailing != nullptr) *trailing = text.substr(start);
    return replies;
}

std::string framed(const json& message) { return message.dump() + "\n\n"; }

}  // namespace

TEST_CASE("client: receipts that do not verify against the tower id mark the tower misbehaving") {
    FakeTower liar(FakeTower::Mode::wrong_key);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(liar.address()));
    REQUIRE(node->backup(revoked_state(1)));
    BackupWorker worker(node->queue(), PrivateKey::from_bytes(Bytes(32, 9)).value(), sim_clock);
    worker.run_once();
    auto towers = node->towers_json();
    CHECK(towers[0]["standing"] == "misbehaving");
    CHECK(towers[0]["misbehavior"].get<std::string>().find("does not verify") != std::string::npos);
    CHECK(towers[0]["acknowledged"] == 0);
}

TEST_CASE("client: a tower denying an appointment it signed for is caught by the audit") {
    FakeTower denier(FakeTower::Mode::denies);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(denier.address()));
    REQUIRE(node->backup(revoked_state(2)));
    BackupWorker worker(node->queue(), PrivateKey::from_bytes(Bytes(32, 9)).value(), sim_clock);
    worker.run_once();
    CHECK(node->towers_json()[0]["acknowledged"] == 1);
    REQUIRE(worker.audit());
    CHECK(node->towers_json()[0]["standing"] == "misbehaving");
    CHECK(node->towers_json()[0]["misbehavior"].get<std::string>().find("denies appointment") != std::string::npos);
}

TEST_CASE("client: towers answering garbage or timing out are retried with backoff, and nothing is lost") {
    FakeTower garbage(FakeTower::Mode::garbage), hangs(FakeTower::Mode::hangs);
    TemporaryDirectory dir;
    auto node = open_node(dir.path(), std::chrono::milliseconds(300));
    REQUIRE(node->add_tower(garbage.address()));
    REQUIRE(node->add_tower(hangs.address()));
    REQUIRE(node->backup(revoked_state(3)));
    BackupWorkerOptions options;
    options.tower_timeout = std::chrono::milliseconds(300);
    BackupWorker worker(node->queue(), PrivateKey::from_bytes(Bytes(32, 9)).value(), sim_clock, options);
    worker.run_once();
    CHECK(node->towers_json().size() == 2);
    for (const auto& t : node->towers_json()) {
        CHECK(t["pending"] == 1);  // still queued, not failed
        CHECK(t["standing"] == "active");
    }
    int before = garbage.requests;
    worker.run_once();  // backoff: not yet due
    CHECK(garbage.requests == before);
    sim_clock.advance(std::chrono::seconds(120));
    worker.run_once();
    CHECK(garbage.requests > before);
}

TEST_CASE("client: tops up a subscription before its slots run out") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(tower.address()));
    BackupWorker worker(node->queue(), PrivateKey::from_bytes(Bytes(32, 9)).value(), sim_clock);
    REQUIRE(node->backup(revoked_state(20)));
    worker.run_once();
    CHECK(tower.registrations == 1);  // first contact registers
    REQUIRE(node->backup(revoked_state(21)));
    worker.run_once();
    CHECK(tower.registrations == 1);  // 99 slots left: no top-up
    // The tower reports few slots left: the next upload registers again first.
    auto id = PrivateKey::from_bytes(Bytes(32, 0x50)).value().public_key();
    REQUIRE(node->queue().set_slots(id, 3, 5000, 1));
    REQUIRE(node->backup(revoked_state(22)));
    worker.run_once();
    CHECK(tower.registrations == 2);
    CHECK(node->towers_json()[0]["acknowledged"] == 3);
}

TEST_CASE("client: a locked queue database is a clear error and loses nothing") {
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->backup(revoked_state(4)));
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open((dir.path() + "/backups.sqlite").c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
    auto blocked = node->backup(revoked_state(5));
    CHECK_FALSE(blocked);
    CHECK(blocked.error().code == ErrorCode::storage);
    sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(other);
    REQUIRE(node->backup(revoked_state(5)));
    CHECK(node->backups_json().size() == 2);
    // Bad input is refused before anything is written.
    RevokedState bad = revoked_state(6);
    bad.penalty_tx = "00";
    CHECK(node->backup(bad).error().code == ErrorCode::invalid_argument);
    bad = revoked_state(6);
    bad.commitment_txid = revoked_state(7).commitment_txid;  // penalty does not spend it
    CHECK(node->backup(bad).error().message.find("does not spend") != std::string::npos);
    CHECK(node->backups_json().size() == 2);
}

TEST_CASE("client: Core Lightning plugin protocol round trip") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    RevokedState state = revoked_state(8);
    std::stringstream in;
    in << json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "getmanifest"}, {"params", json::object()}}.dump() << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "init"},
               {"params", {{"options", {{"argus-data-dir", ""}, {"argus-tower", tower.address()}}},
                           {"configuration", {{"lightning-dir", dir.path()}, {"rpc-file", "lightning-rpc"}}}}}}.dump()
       << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 3}, {"method", "commitment_revocation"},
               {"params", {{"commitment_txid", state.commitment_txid}, {"penalty_tx", state.penalty_tx},
                           {"channel_id", "abc"}, {"commitnum", 8}}}}.dump()
       << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 4}, {"method", "commitment_revocation"}, {"params", {{"bogus", true}}}}.dump() << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 5}, {"method", "listbackups"}, {"params", json::object()}}.dump() << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 6}, {"method", "registertower"}, {"params", json::array({"nonsense"})}}.dump() << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 7}, {"method", "nosuchmethod"}, {"params", json::object()}}.dump() << "\n\n";
    std::stringstream out;
    REQUIRE(run_cln_plugin(in, out, [](const std::string& d) { return ClientNode::open(d, context()); }) == 0);
    std::vector<json> replies;
    std::string text = out.str();
    for (std::size_t start = 0, end; (end = text.find("\n\n", start)) != std::string::npos; start = end + 2) {
        replies.push_back(json::parse(text.substr(start, end - start)));
    }
    REQUIRE(replies.size() == 7);
    CHECK(replies[0]["result"]["hooks"][0]["name"] == "commitment_revocation");
    CHECK(replies[1]["result"] == json::object());
    CHECK(replies[2]["result"]["result"] == "continue");
    CHECK(replies[3]["result"]["result"] == "continue");  // malformed payload: reported, channel not blocked
    CHECK(replies[4]["result"]["backups"].size() == 1);
    CHECK(replies[4]["result"]["backups"][0]["commitnum"] == 8);
    CHECK(replies[5].contains("error"));
    CHECK(replies[6]["error"]["code"] == -32601);
    // The revoked state was queued durably in <lightning-dir>/argus.
    auto reopened = ClientNode::open(dir.path() + "/argus", context()).value();
    CHECK(reopened->backups_json().size() == 1);
}

TEST_CASE("client: the plugin refuses a bad argus-tower option by disabling itself, naming it") {
    TemporaryDirectory dir;
    std::stringstream in, out;
    in << json{{"jsonrpc", "2.0"}, {"id", 1}, {"method", "init"},
               {"params", {{"options", {{"argus-data-dir", dir.path() + "/argus"}, {"argus-tower", "not-a-tower"}}},
                           {"configuration", {{"lightning-dir", dir.path()}}}}}}.dump()
       << "\n\n";
    in << json{{"jsonrpc", "2.0"}, {"id", 2}, {"method", "listtowers"}, {"params", json::object()}}.dump() << "\n\n";
    REQUIRE(run_cln_plugin(in, out, [](const std::string& d) { return ClientNode::open(d, context()); }) == 0);
    std::string text = out.str();
    auto first = json::parse(text.substr(0, text.find("\n\n")));
    REQUIRE(first["result"].contains("disable"));
    CHECK(first["result"]["disable"].get<std::string>().find("argus-tower not-a-tower") != std::string::npos);
    CHECK(text.find("argus plugin not initialised") != std::string::npos);  // nothing runs half-configured
}

// lightningd in developer mode starts every plugin as `<plugin> --developer`
// (and adds --dev-debug-self when debugging it), with LIGHTNINGD_PLUGIN=1 set:
// lightningd/plugin.c, plugin_send_getmanifest and plugins_init. The exchange
// follows doc/developers-guide/plugin-development/a-day-in-the-life-of-a-plugin.md;
// the shutdown notification is doc/schemas/notification/shutdown.json, sent only
// to plugins subscribed to it (lightningd/notification.c, notify_plugin_shutdown).
TEST_CASE("client: plugin started as lightningd --developer starts it - getmanifest, init, a command, the hook, then exit 0 on the shutdown notification (a-day-in-the-life-of-a-plugin.md)") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    std::string lightning_dir = dir.path() + "/regtest";
    std::filesystem::create_directories(lightning_dir);
    PluginProcess plugin({"--developer", "--dev-debug-self", "--an-option-argus-has-never-heard-of"}, dir.path() + "/plugin.log");

    plugin.send(request("cln:getmanifest#1", "getmanifest", {{"allow-deprecated-apis", false}}));
    auto manifest = plugin.reply();
    INFO("plugin stderr: " << plugin.stderr_text());
    REQUIRE(manifest);
    CHECK((*manifest)["jsonrpc"] == "2.0");
    CHECK((*manifest)["id"] == "cln:getmanifest#1");
    const json& m = (*manifest)["result"];
    CHECK(m["hooks"][0]["name"] == "commitment_revocation");
    // "if subscribed to "shutdown" notification, a plugin can exit cleanly".
    CHECK(std::find(m["subscriptions"].begin(), m["subscriptions"].end(), "shutdown") != m["subscriptions"].end());
    // "`nonnumericids` ... If present, this must be `true`".
    CHECK(m["nonnumericids"] == true);
    // "the `name` and `usage` fields are mandatory".
    for (const auto& method : m["rpcmethods"]) {
        CHECK(method["name"].is_string());
        CHECK(method["usage"].is_string());
    }

    plugin.send(request("cln:init#2", "init",
                        {{"options", {{"argus-data-dir", ""}, {"argus-tower", tower.address()}}},
                         {"configuration", init_configuration(lightning_dir)}}));
    auto init = plugin.reply();
    REQUIRE(init);
    CHECK((*init)["id"] == "cln:init#2");
    CHECK((*init)["result"] == json::object());  // no "disable"

    plugin.send(request("cli:listtowers#3/cln:listtowers#4", "listtowers"));
    auto towers = plugin.reply();
    REQUIRE(towers);
    CHECK((*towers)["id"] == "cli:listtowers#3/cln:listtowers#4");
    CHECK((*towers)["result"]["towers"].size() == 1);

    RevokedState state = revoked_state(40);
    plugin.send(request("cln:commitment_revocation#5", "commitment_revocation",
                        {{"commitment_txid", state.commitment_txid}, {"penalty_tx", state.penalty_tx},
                         {"channel_id", std::string(64, 'a')}, {"commitnum", 40}}));
    auto hook = plugin.reply();
    REQUIRE(hook);
    CHECK((*hook)["id"] == "cln:commitment_revocation#5");
    CHECK((*hook)["result"]["result"] == "continue");  // doc/schemas/hook/commitment_revocation.json

    // notify_plugin_shutdown: {"method":"shutdown","params":{"shutdown":{}}}, no id.
    // stdin stays open: the notification alone ends the plugin.
    plugin.send(notification("shutdown", {{"shutdown", json::object()}}));
    CHECK(plugin.wait() == 0);
    CHECK(plugin.unread().empty());  // stdout carried the four replies and nothing else
    // The revoked state was queued durably in <lightning-dir>/argus before "continue".
    auto reopened = ClientNode::open(lightning_dir + "/argus", context()).value();
    CHECK(reopened->backups_json().size() == 1);
}

// Same source: getmanifest "may have `allow-deprecated-apis: false`, but you
// should accept, and ignore, other parameters"; init passes "options" and
// "configuration", whose fields grow with lightningd's versions.
TEST_CASE("client: plugin accepts getmanifest and init with every field lightningd sends plus unknown ones (a-day-in-the-life-of-a-plugin.md)") {
    TemporaryDirectory dir;
    json configuration = init_configuration(dir.path());
    configuration["a-field-from-a-later-lightningd"] = {{"nested", json::array({1, "two", nullptr})}};
    configuration["another-one"] = 7;
    std::string input = framed(request("cln:getmanifest#1", "getmanifest", {{"allow-deprecated-apis", true}, {"later-param", {{"x", 1}}}})) +
                        framed(request("cln:init#2", "init",
                                       {{"options", {{"argus-data-dir", ""}, {"argus-tower", ""}, {"not-our-option", 5}}},
                                        {"configuration", configuration}, {"a-later-init-param", true}})) +
                        framed(request("cln:listbackups#3", "listbackups"));
    auto replies = run_plugin_in_process(input);
    REQUIRE(replies.size() == 3);
    const json& m = replies[0]["result"];
    CHECK(m["nonnumericids"] == true);
    CHECK(m["dynamic"] == false);  // "Critical plugins that should not be stopped should set it to false"
    CHECK(std::find(m["subscriptions"].begin(), m["subscriptions"].end(), "shutdown") != m["subscriptions"].end());
    CHECK(replies[1]["id"] == "cln:init#2");
    CHECK(replies[1]["result"] == json::object());
    CHECK(replies[2]["result"]["backups"] == json::array());
    CHECK(std::filesystem::exists(dir.path() + "/argus/backups.sqlite"));
}

// doc/developers-guide/plugin-development/event-notifications.md quotes JSON-RPC
// 2.0: "A Notification is a Request object without an "id" member ... The
// Server MUST NOT reply to a Notification".
TEST_CASE("client: plugin never answers a notification, before or after init (event-notifications.md)") {
    TemporaryDirectory dir;
    std::string input = framed(notification("connect", {{"connect", {{"id", std::string(66, '2')}, {"direction", "in"}}}})) +
                        framed(request("cln:getmanifest#1", "getmanifest")) +
                        framed(notification("deprecated_oneshot", {{"deprecated_oneshot", {{"deprecated_ok", false}}}})) +
                        framed(request("cln:init#2", "init", {{"options", json::object()}, {"configuration", init_configuration(dir.path())}})) +
                        framed(notification("block_added", {{"block_added", {{"hash", std::string(64, '0')}, {"height", 7}}}})) +
                        framed(notification("a-topic-nobody-registered")) +
                        framed(request("cln:listtowers#3", "listtowers"));
    auto replies = run_plugin_in_process(input);
    REQUIRE(replies.size() == 3);
    CHECK(replies[0]["id"] == "cln:getmanifest#1");
    CHECK(replies[1]["id"] == "cln:init#2");
    CHECK(replies[2]["id"] == "cln:listtowers#3");
}

// doc/schemas/notification/shutdown.json: "It is expected that the plugin
// terminates it's own process when subscribing to this notification."
TEST_CASE("client: plugin stops at the shutdown notification, even before init, and answers nothing after it (shutdown.json)") {
    std::string input = framed(request("cln:getmanifest#1", "getmanifest")) +
                        framed(notification("shutdown", {{"shutdown", json::object()}})) +
                        framed(request("cln:listtowers#2", "listtowers"));
    auto replies = run_plugin_in_process(input);
    REQUIRE(replies.size() == 1);
    CHECK(replies[0]["id"] == "cln:getmanifest#1");
}

// JSON-RPC 2.0 (which doc/lightningd-rpc.7.md builds on): -32601 "Method not
// found", -32600 "Invalid Request"; lightningd passes a command's params as the
// user gave them, an array or an object (lightningd-rpc.7.md, JSON COMMANDS).
TEST_CASE("client: plugin answers unknown methods and malformed requests with JSON-RPC errors and never crashes (lightningd-rpc.7.md)") {
    TemporaryDirectory dir;
    std::string input = framed(request("cln:nosuchmethod#1", "nosuchmethod")) +
                        framed(json{{"jsonrpc", "2.0"}, {"id", "cln:bad#2"}, {"method", 42}}) +
                        framed(request("cln:init#3", "init", {{"options", json::object()}, {"configuration", init_configuration(dir.path())}})) +
                        framed(request("cln:nosuchmethod#4", "nosuchmethod", json::array({1, 2}))) +
                        framed(request("cln:commitment_revocation#5", "commitment_revocation", json::array({"not", "an", "object"}))) +
                        framed(request("cln:commitment_revocation#6", "commitment_revocation", nullptr)) +
                        framed(request("cli:registertower#7", "registertower", {{"tower_id", 5}})) +
                        framed(request("cli:abandontower#8", "abandontower", "a string")) +
                        framed(request("cln:init#9", "init", {{"options", json::object()}, {"configuration", init_configuration(dir.path())}})) +
                        framed(request(10, "listtowers"));  // an old lightningd's numeric id
    auto replies = run_plugin_in_process(input);
    REQUIRE(replies.size() == 10);
    for (const auto& r : replies) CHECK(r["jsonrpc"] == "2.0");
    CHECK(replies[0]["id"] == "cln:nosuchmethod#1");
    CHECK(replies[0]["error"]["code"] == -32601);
    CHECK(replies[1]["id"] == "cln:bad#2");
    CHECK(replies[1]["error"]["code"] == -32600);
    CHECK(replies[2]["result"] == json::object());
    CHECK(replies[3]["error"]["code"] == -32601);
    // A hook call the plugin cannot read still lets the channel go on.
    CHECK(replies[4]["result"]["result"] == "continue");
    CHECK(replies[5]["result"]["result"] == "continue");
    CHECK(replies[6]["error"]["code"] == -32602);
    CHECK(replies[7]["error"]["code"] == -32602);
    CHECK(replies[8]["id"] == "cln:init#9");
    CHECK(replies[8].contains("error"));  // one node per plugin: a second init is refused
    CHECK(replies[9]["id"] == 10);
    CHECK(replies[9]["result"]["towers"] == json::array());

    // A configuration whose lightning-dir is not a string disables the plugin, naming it.
    auto bad = run_plugin_in_process(framed(request("cln:init#1", "init", {{"options", json::array()}, {"configuration", {{"lightning-dir", 5}}}})));
    REQUIRE(bad.size() == 1);
    REQUIRE(bad[0]["result"].contains("disable"));
    CHECK(bad[0]["result"]["disable"].get<std::string>().find("lightning-dir") != std::string::npos);
}

TEST_CASE("client: plugin exits 0 at stdin EOF when started with lightningd --developer arguments (a-day-in-the-life-of-a-plugin.md)") {
    TemporaryDirectory dir;
    {
        PluginProcess plugin({"--developer"}, dir.path() + "/eof-after-getmanifest.log");
        plugin.send(request("cln:getmanifest#1", "getmanifest", {{"allow-deprecated-apis", false}}));
        auto manifest = plugin.reply();
        INFO("plugin stderr: " << plugin.stderr_text());
        REQUIRE(manifest);
        CHECK((*manifest)["id"] == "cln:getmanifest#1");
        plugin.close_stdin();  // lightningd --help stops here
        CHECK(plugin.wait() == 0);
        CHECK(plugin.unread().empty());
    }
    {
        PluginProcess plugin({"--developer", "--dev-debug-self"}, dir.path() + "/eof-after-init.log");
        plugin.send(request("cln:getmanifest#1", "getmanifest"));
        plugin.send(request("cln:init#2", "init", {{"options", json::object()}, {"configuration", init_configuration(dir.path())}}));
        REQUIRE(plugin.reply());
        auto init = plugin.reply();
        INFO("plugin stderr: " << plugin.stderr_text());
        REQUIRE(init);
        CHECK((*init)["result"] == json::object());
        plugin.close_stdin();  // lightningd died without a shutdown notification
        CHECK(plugin.wait() == 0);
        CHECK(plugin.unread().empty());
    }
}

// doc/lightningd-rpc.7.md: every message "is followed by two '\n' characters,
// which should not appear in normal JSON". A garbled message costs only
// itself; nothing about it goes to stdout, the channel to lightningd.
TEST_CASE("client: plugin reports malformed JSON on stderr and keeps serving (lightningd-rpc.7.md)") {
    TemporaryDirectory dir;
    PluginProcess plugin({}, dir.path() + "/plugin.log");
    plugin.send_raw("this is not json\n\n");
    plugin.send_raw(R"({"jsonrpc":"2.0","id":"cln:getmanifest#1","method":"getman)" "\n\n");  // cut short
    plugin.send_raw("[1,2,3]\n\n");
    plugin.send_raw(R"({"jsonrpc":"2.0","id":"cln:x#2","method":"init","params":{"options":{},"configuration":)" "\n\n");
    plugin.send(request("cln:getmanifest#3", "getmanifest"));
    auto manifest = plugin.reply();
    INFO("plugin stderr: " << plugin.stderr_text());
    REQUIRE(manifest);
    CHECK((*manifest)["id"] == "cln:getmanifest#3");
    plugin.send_raw(R"({"jsonrpc":"2.0","id":"cln:y#4")");  // and EOF in the middle of one
    plugin.close_stdin();
    CHECK(plugin.wait() == 0);
    CHECK(plugin.unread().empty());
    std::string log = plugin.stderr_text();
    std::size_t reported = 0;
    for (std::size_t at = 0; (at = log.find("plugin_malformed_message", at)) != std::string::npos; ++at) ++reported;
    CHECK(reported == 5);
}

TEST_CASE("client: a receipt the queue cannot record is not taken for done, and the identical re-send is then recorded") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(tower.address()));
    REQUIRE(node->backup(revoked_state(30)));
    // Another connection makes every write to deliveries fail, as a failing disk would.
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open((dir.path() + "/backups.sqlite").c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "CREATE TRIGGER broken BEFORE UPDATE ON deliveries BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    BackupWorker& worker = node->worker();
    CHECK(worker.run_once() == 1);
    CHECK(tower.appointments().size() == 1);  // the tower has it and sent a valid receipt...
    auto towers = node->towers_json();
    CHECK(towers[0]["acknowledged"] == 0);  // ...but no receipt is on disk: still pending
    CHECK(towers[0]["pending"] == 1);
    CHECK(towers[0]["standing"] == "active");
    CHECK(worker.queue_errors()["mark_acked"] == 1);
    CHECK(worker.queue_errors()["mark_retry"] == 1);  // backing off failed too: the old due time stands
    std::string metrics = node->metrics_text();
    CHECK(metrics.find("argus_client_queue_errors_total{operation=\"mark_acked\"} 1") != std::string::npos);
    CHECK(metrics.find("argus_client_queue_errors_total{operation=\"mark_retry\"} 1") != std::string::npos);

    REQUIRE(sqlite3_exec(other, "DROP TRIGGER broken", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    CHECK(worker.run_once() == 1);  // sent again
    auto sent = tower.appointments();
    REQUIRE(sent.size() == 2);
    // Byte for byte the same request (locator, blob, signature): for a teos
    // tower an update of the same size, which charges no slot.
    CHECK(sent[0] == sent[1]);
    towers = node->towers_json();
    CHECK(towers[0]["acknowledged"] == 1);
    CHECK(towers[0]["pending"] == 0);
    CHECK(worker.run_once() == 0);  // done now, and never sent again
    CHECK(tower.appointments().size() == 2);
}

TEST_CASE("client: a queue that cannot be read is counted and retried, not crashed on") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(tower.address()));
    REQUIRE(node->backup(revoked_state(31)));
    sqlite3* other = nullptr;
    REQUIRE(sqlite3_open((dir.path() + "/backups.sqlite").c_str(), &other) == SQLITE_OK);
    REQUIRE(sqlite3_exec(other, "ALTER TABLE backups RENAME TO backups_away", nullptr, nullptr, nullptr) == SQLITE_OK);
    CHECK(node->worker().run_once() == 0);
    CHECK(node->worker().queue_errors()["due"] == 1);
    CHECK(tower.appointments().empty());
    REQUIRE(sqlite3_exec(other, "ALTER TABLE backups_away RENAME TO backups", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(other);
    CHECK(node->worker().run_once() == 1);
    CHECK(node->towers_json()[0]["acknowledged"] == 1);
}

TEST_CASE("client: the worker thread backs off on the injected clock, not on real time") {
    FakeTower garbage(FakeTower::Mode::garbage);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(garbage.address()));
    node->start();
    REQUIRE(node->backup(revoked_state(32)));  // wakes the worker
    REQUIRE(garbage.await_requests(1));
    // Backed off in simulated time, which does not pass by itself: no retry.
    CHECK_FALSE(garbage.await_requests(2, std::chrono::milliseconds(300)));
    // Move time past the backoff (again if the worker had not yet recorded it).
    bool retried = false;
    for (int i = 0; i < 50 && !retried; ++i) {
        sim_clock.advance(std::chrono::minutes(2));
        retried = garbage.await_requests(2, std::chrono::milliseconds(200));
    }
    CHECK(retried);
    node->stop();
    CHECK(node->towers_json()[0]["pending"] == 1);  // garbage answers never lose the backup
}

TEST_CASE("client: two towers, one down then up, and the queue survives kill -9 of the client") {
    TemporaryDirectory dir;
    // Two real towers against one chain.
    BreachWorld world;  // chain + tower A
    // B's first start binds port 0 and reports it; it comes back on that port,
    // the address the client was given.
    std::uint16_t port_b = 0;
    std::string tower_b_dir = dir.path() + "/tower-b";
    auto start_b = [&] {
        auto p = std::make_unique<ChildProcess>(
            std::vector<std::string>{ARGUS_TOWER_BINARY, "--data-dir", tower_b_dir, "--wtwire-port", "0", "--electrum-port", "0", "--api-port", std::to_string(port_b),
                                     "--admin-port", "0", "--metrics-port", "0", "--bitcoind-rpc-port", std::to_string(world.rpc_port()),
                                     "--bitcoind-rpc-user", "u", "--bitcoind-rpc-password", "p", "--ready-file",
                                     tower_b_dir + ".ready"},
            dir.path() + "/tower-b.log");
        port_b = json::parse(wait_for_file(tower_b_dir + ".ready"))["api_port"].get<std::uint16_t>();
        return p;
    };
    auto tower_b = start_b();
    std::string b_id = json::parse(wait_for_file(tower_b_dir + ".ready"))["tower_id"];
    tower_b->signal(SIGKILL);  // B is down from the start
    tower_b->wait();
    std::filesystem::remove(tower_b_dir + ".ready");

    std::string client_dir = dir.path() + "/client";
    auto start_client = [&](int generation) {
        std::string ready = client_dir + ".ready" + std::to_string(generation);
        auto p = std::make_unique<ChildProcess>(
            std::vector<std::string>{ARGUS_CLIENT_BINARY, "--api-port", "0", "daemon", "--data-dir", client_dir,
                                     "--tower", world.tower_id() + "@127.0.0.1:" + std::to_string(world.api_port()),
                                     "--tower", b_id + "@127.0.0.1:" + std::to_string(port_b), "--ready-file", ready},
            dir.path() + "/client.log");
        auto port = json::parse(wait_for_file(ready))["api_port"].get<std::uint16_t>();
        return std::make_pair(std::move(p), port);
    };
    auto [client, client_port] = start_client(1);
    HttpClient api(client_port);
    constexpr std::uint32_t backups = 30;
    std::uint32_t queued = 0;
    for (std::uint32_t n = 0; n < backups; ++n) {
        auto s = revoked_state(100 + n);
        auto r = api.post("/backups", json{{"commitment_txid", s.commitment_txid}, {"penalty_tx", s.penalty_tx},
                                           {"channel_id", "c"}, {"commitnum", n}}.dump());
        if (r.status == 200) ++queued;
        if (n == 20) client->signal(SIGKILL);  // mid-stream: everything answered 200 must survive
        if (n >= 20) break;
    }
    client->wait();
    auto [client2, port2] = start_client(2);
    HttpClient api2(port2);
    auto listed = json::parse(api2.get("/backups").body);
    CHECK(listed.size() == queued);  // nothing acknowledged to the wallet was lost
    // A acknowledges everything; B is down, so its deliveries stay pending.
    REQUIRE(wait_until([&] {
        auto t = json::parse(api2.get("/towers").body);
        for (const auto& x : t) {
            if (x["tower"].get<std::string>().rfind(world.tower_id(), 0) == 0 && x["acknowledged"] == queued) return true;
        }
        return false;
    }));
    for (const auto& x : json::parse(api2.get("/towers").body)) {
        if (x["tower"].get<std::string>().rfind(b_id, 0) == 0) CHECK(x["acknowledged"] == 0);
    }
    // The CLI talks to the same daemon.
    std::string cli = std::string(ARGUS_CLIENT_BINARY) + " --api-port " + std::to_string(port2) + " ";
    auto status = run_command(cli + "status");
    CHECK(status.status == 0);
    CHECK(status.output.find("queue_depth") != std::string::npos);
    auto towers_out = run_command(cli + "towers --json");
    CHECK(towers_out.status == 0);
    CHECK(json::parse(towers_out.output).size() == 2);
    auto towers_text = run_command(cli + "towers");
    CHECK(towers_text.status == 0);
    CHECK(std::count(towers_text.output.begin(), towers_text.output.end(), '\n') == 3);  // header + 2 towers
    CHECK(towers_text.output.find(b_id) != std::string::npos);
    // Exit codes of docs/operations.md ("Scripting the CLIs").
    auto bad_backup = run_command(cli + "backup --commitment-txid 00 --penalty-tx 00");
    CHECK(bad_backup.status == 2);
    CHECK(bad_backup.output.find("commitment_txid") != std::string::npos);
    auto unknown_tower = run_command(cli + "remove-tower 0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798");  // G: a key no tower has
    CHECK(unknown_tower.status == 5);
    auto no_daemon = run_command(std::string(ARGUS_CLIENT_BINARY) + " --api-port 1 status");
    CHECK(no_daemon.status == 3);
    CHECK(no_daemon.output.find("cannot reach the daemon") != std::string::npos);

    // The client's metrics: B unreachable, A acknowledged everything.
    auto text = api2.get("/metrics").body;
    CHECK(text.find("argus_client_tower_reachable{tower=\"" + b_id + "\"} 0") != std::string::npos);
    CHECK(text.find("argus_client_backups{status=\"acknowledged\",tower=\"" + world.tower_id() + "\"} " +
                    std::to_string(queued)) != std::string::npos);
    CHECK(text.find("argus_client_queue_depth " + std::to_string(queued)) != std::string::npos);
    tower_b = start_b();  // B comes back
    REQUIRE(api2.post("/retry", "").status == 200);
    REQUIRE(wait_until([&] {
        for (const auto& x : json::parse(api2.get("/towers").body)) {
            if (x["tower"].get<std::string>().rfind(b_id, 0) == 0) return x["acknowledged"] == queued;
        }
        return false;
    }, std::chrono::seconds(30)));
}

// POST /channels material for Alice's side of a 0.01 BTC channel with Bob
// (Alice the opener): only her revocation basepoint secret, public basepoints.
json channel_material(const std::string& id, const ChannelSecrets& alice, const ChannelSecrets& bob, const Txid& funding,
                      bool anchors) {
    auto point = [](const PrivateKey& k) { return to_hex(k.public_key().bytes()); };
    return {{"channel_id", id}, {"funding_txid", funding.to_display_hex()}, {"funding_output_index", 0},
            {"funding_satoshis", 1'000'000}, {"local_is_opener", true}, {"anchors", anchors},
            {"sweep_address", encode_address(p2wpkh_script(alice.payment_basepoint.public_key()), Network::regtest).value()},
            {"local_secrets", {{"revocation_basepoint", to_hex(alice.revocation_basepoint.bytes())}}},
            {"local_basepoints", {{"funding", point(alice.funding)}, {"payment", point(alice.payment_basepoint)},
                                  {"htlc", point(alice.htlc_basepoint)}}},
            {"remote_basepoints", {{"funding", point(bob.funding)}, {"revocation", point(bob.revocation_basepoint)},
                                   {"payment", point(bob.payment_basepoint)},
                                   {"delayed_payment", point(bob.delayed_payment_basepoint)},
                                   {"htlc", point(bob.htlc_basepoint)}}}};
}

TEST_CASE("client: channel material mode builds, checks and backs up the justice transaction itself") {
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    ChannelBook book(*node);
    REQUIRE(book.open(dir.path() + "/channels.sqlite"));
    Hash256 a{}, b{};
    a.fill(0xa1);
    b.fill(0xb0);
    auto alice = ChannelSecrets::from_seed(a);
    auto bob = ChannelSecrets::from_seed(b);
    Txid funding;
    funding.bytes[0] = 7;
    json material = channel_material("chan-1", alice, bob, funding, true);
    auto added = book.add_channel(material);
    INFO((added ? std::string("ok") : added.error().message));
    REQUIRE(added);
    CHECK_FALSE(book.add_channel(material));  // duplicate
    PublicKey tower_id = PrivateKey::from_bytes(Bytes(32, 0x44)).value().public_key();
    REQUIRE(node->add_tower(to_hex(tower_id.bytes()) + "@127.0.0.1:1"));
    json state = {{"local_msat", 600'000'000}, {"remote_msat", 390'000'000}, {"feerate_per_kw", 1000},
                  {"htlcs", json::array({{{"direction", "offered"}, {"amount_msat", 10'000'000}, {"cltv_expiry", 800},
                                          {"payment_hash", std::string(64, '0')}}})}};
    json revocation = {{"commitment_number", 3}, {"per_commitment_secret", to_hex(bob.per_commitment_secret(3))}, {"state", state}};
    auto locator = book.revoke("chan-1", revocation);
    REQUIRE(locator);

    // Independently: Bob's own engine builds the commitment he could broadcast.
    ChannelConfig bob_config;
    bob_config.funding_outpoint = {funding, 0};
    bob_config.funding_satoshis = 1'000'000;
    bob_config.local_is_opener = false;
    bob_config.anchors = true;
    Channel bob_channel(bob_config, bob, ChannelBasepoints::of(alice));
    ChannelState bobs{3, 390'000'000, 600'000'000, 1000, {{bolt3::HtlcDirection::received, 10'000'000, 800, Hash256{}}}};
    Transaction commitment = bob_channel.local_commitment(bobs).tx;
    CHECK(*locator == to_hex(teos::locator(commitment.txid())));
    // The queued blob opens with that txid into a justice transaction spending it.
    auto due = node->queue().due(tower_id, sim_clock.system_ms() + 1, 10).value();
    REQUIRE(due.size() == 1);
    auto plain = teos::decrypt_penalty(due[0].backup.encrypted_blob, commitment.txid());
    REQUIRE(plain);
    auto justice = parse_transaction(*plain).value();
    CHECK(justice.inputs.size() == 2);  // Bob's to_local and the HTLC
    for (const auto& in : justice.inputs) CHECK(in.prevout.txid == commitment.txid());
    auto backups = node->backups_json();
    REQUIRE(backups.size() == 1);
    CHECK(backups[0]["commitment_txid"] == commitment.txid().to_display_hex());

    // Bad input: unknown channel, balances that do not add up, a wrong secret.
    CHECK(book.revoke("nope", revocation).error().code == ErrorCode::not_found);
    json wrong_sum = revocation;
    wrong_sum["state"]["local_msat"] = 1;
    wrong_sum["commitment_number"] = 2;
    wrong_sum["per_commitment_secret"] = to_hex(bob.per_commitment_secret(2));
    CHECK(book.revoke("chan-1", wrong_sum).error().message.find("capacity") != std::string::npos);
    // BOLT 3: a wrong secret is only detectable once a later secret that derives
    // it arrives. A bogus #4 is accepted; Bob's real #5 then exposes it.
    json bogus = revocation;
    bogus["commitment_number"] = 4;
    bogus["per_commitment_secret"] = to_hex(alice.per_commitment_secret(4));  // not Bob's chain
    CHECK(book.revoke("chan-1", bogus));
    json next = revocation;
    next["commitment_number"] = 5;
    next["per_commitment_secret"] = to_hex(bob.per_commitment_secret(5));
    auto refused = book.revoke("chan-1", next);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::inconsistent_secret);
    CHECK(node->backups_json().size() == 2);
    // After a restart the book reloads channels and revealed secrets.
    ChannelBook reloaded(*node);
    REQUIRE(reloaded.open(dir.path() + "/channels.sqlite"));
    CHECK(reloaded.list().size() == 1);
}

TEST_CASE("client: channel material mode sends a penalty kit to a tower that advertises kits, the classic penalty to a rust-teos tower, and believes either's report") {
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    ChannelBook book(*node);  // the default kit policy
    REQUIRE(book.open(dir.path() + "/channels.sqlite"));
    Hash256 a{}, b{};
    a.fill(0xa2);
    b.fill(0xb2);
    auto alice = ChannelSecrets::from_seed(a);
    auto bob = ChannelSecrets::from_seed(b);
    Txid funding;
    funding.bytes[0] = 8;
    json material = channel_material("chan-k", alice, bob, funding, false);
    REQUIRE(book.add_channel(material));
    FakeTower argus(FakeTower::Mode::honest, 20'000), teos(FakeTower::Mode::honest);
    REQUIRE(node->add_tower(argus.address()));
    REQUIRE(node->add_tower(teos.address()));
    json state = {{"local_msat", 600'000'000}, {"remote_msat", 390'000'000}, {"feerate_per_kw", 1000},
                  {"htlcs", json::array({{{"direction", "offered"}, {"amount_msat", 10'000'000}, {"cltv_expiry", 800},
                                          {"payment_hash", std::string(64, '0')}}})}};
    json revocation = {{"commitment_number", 3}, {"per_commitment_secret", to_hex(bob.per_commitment_secret(3))}, {"state", state}};
    REQUIRE(book.revoke("chan-k", revocation));
    BackupWorker worker(node->queue(), PrivateKey::from_bytes(Bytes(32, 9)).value(), sim_clock);
    worker.run_once();
    REQUIRE(argus.appointments().size() == 1);
    REQUIRE(teos.appointments().size() == 1);

    // Bob's commitment, from his own engine.
    ChannelConfig bob_config;
    bob_config.funding_outpoint = {funding, 0};
    bob_config.funding_satoshis = 1'000'000;
    bob_config.local_is_opener = false;
    Channel bob_channel(bob_config, bob, ChannelBasepoints::of(alice));
    ChannelState bobs{3, 390'000'000, 600'000'000, 1000, {{bolt3::HtlcDirection::received, 10'000'000, 800, Hash256{}}}};
    Transaction commitment = bob_channel.local_commitment(bobs).tx;
    auto blob_of = [&](const std::string& body) {
        return parse_hex(json::parse(body)["appointment"]["encrypted_blob"].get<std::string>()).value();
    };
    // The Argus tower got a kit: padded to a bucket, one part per output of Bob's commitment.
    auto kit_plain = teos::decrypt_penalty(blob_of(argus.appointments()[0]), commitment.txid());
    REQUIRE(kit_plain);
    CHECK(kit::is_kit(*kit_plain));
    CHECK(kit_plain->size() == kit::bucket_size(kit_plain->size()));
    auto k = kit::decode(*kit_plain);
    REQUIRE(k);
    std::size_t parts_on_commitment = 0;
    for (const auto& part : k->parts) {
        if (part.kind == kit::PartKind::second_stage) continue;
        ++parts_on_commitment;
        CHECK(kit::verify_part(*k, part, commitment, commitment.txid()));
    }
    CHECK(parts_on_commitment == 2);  // to_local and the HTLC
    // rust-teos got the classic justice transaction.
    auto classic = teos::decrypt_penalty(blob_of(teos.appointments()[0]), commitment.txid());
    REQUIRE(classic);
    CHECK_FALSE(kit::is_kit(*classic));
    REQUIRE(parse_transaction(*classic));

    // A report of one of the kit's penalties is believed; an unrelated one is not.
    auto backup = node->queue().breach_check_candidates(argus.id(), Locator{}, 10).value();
    REQUIRE(backup.size() == 1);
    const kit::Part& htlc = k->parts[1];
    Transaction rung = kit::signed_penalty(*k, htlc, commitment.txid(), htlc.rungs.size() - 1);
    AppointmentState report;
    report.status = AppointmentState::Status::dispute_responded;
    report.dispute_txid = commitment.txid();
    report.penalty_txid = rung.txid();
    report.penalty_rawtx = rung.serialize();
    CHECK(check_dispute_report(backup[0], report, argus.id(), 1));
    Transaction other = rung;
    other.outputs[0].value -= 1;
    report.penalty_txid = other.txid();
    report.penalty_rawtx = other.serialize();
    CHECK_FALSE(check_dispute_report(backup[0], report, argus.id(), 1));
}

namespace {

// The events after `after` in the node's feed, as GET /events would answer.
json events_after(ClientNode& node, std::uint64_t after) { return node.events().page(EventPoll{after, {}, ""}); }

json find_channel(const json& channels, const std::string& id) {
    for (const auto& c : channels) {
        if (c["channel_id"] == id) return c;
    }
    return nullptr;
}

}  // namespace

TEST_CASE("client: a breach a tower reports is checked, recorded, shown per channel and published, also after reopening") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    RevokedState breached = revoked_state(50);
    RevokedState quiet = revoked_state(51);
    quiet.channel_id = "quiet";
    std::string tower_id = tower.address().substr(0, 66);
    {
        auto node = open_node(dir.path());
        REQUIRE(node->add_tower(tower.address()));
        REQUIRE(node->backup(breached));
        REQUIRE(node->backup(quiet));
        CHECK(node->worker().run_once() == 2);
        auto acknowledged = events_after(*node, 0);
        REQUIRE(acknowledged["events"].size() == 2);
        for (const auto& e : acknowledged["events"]) {
            CHECK(e["type"] == "backup_acknowledged");
            CHECK(e["tower"] == tower_id);
            CHECK(e["locator"].get<std::string>().size() == 32);
        }
        CHECK(find_channel(acknowledged["events"], "chan")["commitnum"] == 50);

        CHECK(node->worker().check_breaches().value() == 0);  // both being watched
        CHECK(tower.appointment_queries == 2);
        auto open_channels = node->channels_json().value();
        CHECK(find_channel(open_channels, "chan")["status"] == "open");
        CHECK(find_channel(open_channels, "chan")["close_type"] == nullptr);

        tower.report_dispute(breached, breached.penalty_tx);
        CHECK(node->worker().check_breaches().value() == 1);
        Transaction penalty = parse_transaction(parse_hex(breached.penalty_tx).value()).value();
        auto channels = node->channels_json().value();
        REQUIRE(channels.size() == 2);
        json chan = find_channel(channels, "chan");
        CHECK(chan["status"] == "closed");
        CHECK(chan["close_type"] == "breach");
        CHECK(chan["breached_commitnum"] == 50);
        CHECK(chan["dispute_txid"] == breached.commitment_txid);
        CHECK(chan["penalty_txid"] == penalty.txid().to_display_hex());
        CHECK(chan["reported_by"] == tower_id);
        CHECK(chan["penalty_confirmations"] == nullptr);
        CHECK(chan["highest_commitnum"] == 50);
        REQUIRE(chan["towers"].size() == 1);
        CHECK(chan["towers"][0]["acknowledged"] == 1);
        CHECK(chan["towers"][0]["last_acknowledged_commitnum"] == 50);
        CHECK(find_channel(channels, "quiet")["status"] == "open");

        auto reported = events_after(*node, 2);
        REQUIRE(reported["events"].size() == 1);
        const json& e = reported["events"][0];
        CHECK(e["seq"] == 3);
        CHECK(e["type"] == "breach_reported");
        CHECK(e["channel_id"] == "chan");
        CHECK(e["dispute_txid"] == breached.commitment_txid);
        CHECK(e["penalty_txid"] == penalty.txid().to_display_hex());
        CHECK(e["tower"] == tower_id);

        // A closed channel is not asked about again; the open one is.
        int before = tower.appointment_queries;
        CHECK(node->worker().check_breaches().value() == 0);
        CHECK(tower.appointment_queries == before + 1);
        CHECK(events_after(*node, 3)["events"].empty());
        CHECK(node->metrics_text().find("argus_client_breaches_reported 1") != std::string::npos);
        // The tower forgets the resolved penalty later: that is no denial.
        REQUIRE(node->audit());
        CHECK(node->towers_json()[0]["standing"] == "active");
    }
    auto reopened = open_node(dir.path());
    json chan = find_channel(reopened->channels_json().value(), "chan");
    CHECK(chan["close_type"] == "breach");
    CHECK(chan["dispute_txid"] == breached.commitment_txid);
    auto replayed = events_after(*reopened, 0);
    REQUIRE(replayed["events"].size() == 1);  // breaches are reloaded, acknowledgments are not
    CHECK(replayed["events"][0]["type"] == "breach_reported");
    CHECK(replayed["events"][0]["seq"] == 1);
    CHECK(replayed["events"][0]["channel_id"] == "chan");
}

TEST_CASE("client: a breach report that contradicts the backup marks the tower misbehaving and records nothing") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    auto node = open_node(dir.path());
    REQUIRE(node->add_tower(tower.address()));
    RevokedState state = revoked_state(52);
    REQUIRE(node->backup(state));
    CHECK(node->worker().run_once() == 1);
    // A penalty the tower could not have decrypted from our blob.
    tower.report_dispute(state, revoked_state(53).penalty_tx);
    CHECK(node->worker().check_breaches().value() == 0);
    CHECK(node->towers_json()[0]["standing"] == "misbehaving");
    CHECK(node->towers_json()[0]["misbehavior"].get<std::string>().find("breach report") != std::string::npos);
    CHECK(find_channel(node->channels_json().value(), "chan")["status"] == "open");
    CHECK(events_after(*node, 1)["events"].empty());
}

TEST_CASE("client: the worker checks for breaches on the injected clock, a bounded number per tower per round") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    BackupWorkerOptions options;
    options.breach_check_interval = std::chrono::minutes(10);
    options.breach_check_budget = 2;
    auto node = std::move(ClientNode::open(dir.path(), context(), options).value());
    REQUIRE(node->add_tower(tower.address()));
    std::vector<RevokedState> states;
    for (std::uint32_t n = 60; n < 63; ++n) {
        states.push_back(revoked_state(n));
        states.back().channel_id = "chan-" + std::to_string(n);
        REQUIRE(node->backup(states.back()));
    }
    node->start();
    auto queries_reach = [&](int count) {
        return wait_until([&] { return tower.appointment_queries >= count; }, std::chrono::seconds(10));
    };
    // The first round comes right after the first pass: two of the three (the budget).
    REQUIRE(queries_reach(2));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK(tower.appointment_queries == 2);  // the next round waits for simulated time
    // Ten minutes later the round goes on with the third, then starts over.
    bool next_round = false;
    for (int i = 0; i < 50 && !next_round; ++i) {
        sim_clock.advance(std::chrono::minutes(10));
        next_round = queries_reach(3);
    }
    REQUIRE(next_round);
    // A breach is found on a later round, with no call from outside.
    tower.report_dispute(states[1], states[1].penalty_tx);
    std::uint64_t last = events_after(*node, 0)["last_seq"].get<std::uint64_t>();
    bool found = false;
    for (int i = 0; i < 50 && !found; ++i) {
        sim_clock.advance(std::chrono::minutes(10));
        found = wait_until([&] { return !events_after(*node, last)["events"].empty(); }, std::chrono::milliseconds(300));
    }
    REQUIRE(found);
    node->stop();
    auto reported = events_after(*node, last);
    REQUIRE(reported["events"].size() == 1);
    CHECK(reported["events"][0]["type"] == "breach_reported");
    CHECK(reported["events"][0]["channel_id"] == "chan-61");
    CHECK(find_channel(node->channels_json().value(), "chan-61")["close_type"] == "breach");
}

namespace {

// argus-client daemon as a process, on a free API port reported in its ready file.
struct ClientDaemon {
    std::unique_ptr<ChildProcess> process;
    std::uint16_t port = 0;
    std::string cli() const { return std::string(ARGUS_CLIENT_BINARY) + " --api-port " + std::to_string(port) + " "; }
};

ClientDaemon start_client_daemon(const std::string& work_dir, const std::string& tower, int generation,
                                 const std::vector<std::string>& extra = {}) {
    std::string ready = work_dir + "/client.ready" + std::to_string(generation);
    ClientDaemon d;
    std::vector<std::string> argv{ARGUS_CLIENT_BINARY, "--api-port", "0", "daemon", "--data-dir", work_dir + "/client",
                                  "--tower", tower, "--breach-check-interval", "1", "--ready-file", ready};
    argv.insert(argv.end(), extra.begin(), extra.end());
    d.process = std::make_unique<ChildProcess>(argv, work_dir + "/client.log");
    d.port = json::parse(wait_for_file(ready))["api_port"].get<std::uint16_t>();
    return d;
}

}  // namespace

TEST_CASE("client: a breach the tower punishes shows in argus-client channels and on GET /events, also after a daemon restart") {
    BreachWorld world;
    TemporaryDirectory dir;
    std::string tower = world.tower_id() + "@127.0.0.1:" + std::to_string(world.api_port());
    Transaction dispute = world.make_dispute();
    Transaction penalty = world.make_penalty(dispute);
    auto daemon = start_client_daemon(dir.path(), tower, 1);
    HttpClient api(daemon.port);
    REQUIRE(api.post("/backups", json{{"commitment_txid", dispute.txid().to_display_hex()},
                                      {"penalty_tx", to_hex(penalty.serialize())},
                                      {"channel_id", "chan-breached"},
                                      {"commitnum", 7}}.dump())
                .status == 200);
    RevokedState quiet = revoked_state(70);
    REQUIRE(api.post("/backups", json{{"commitment_txid", quiet.commitment_txid}, {"penalty_tx", quiet.penalty_tx},
                                      {"channel_id", "chan-quiet"}, {"commitnum", 3}}.dump())
                .status == 200);
    // Both acknowledged, as events.
    std::uint64_t after = 0;
    std::string stream;
    int acknowledged = 0;
    REQUIRE(wait_until([&] {
        auto page = json::parse(api.get("/events?after=" + std::to_string(after) + "&timeout_ms=1000").body);
        stream = page["stream"];
        after = page["next_after"];
        for (const auto& e : page["events"]) acknowledged += e["type"] == "backup_acknowledged" ? 1 : 0;
        return acknowledged == 2;
    }));
    auto open_channels = run_command(daemon.cli() + "channels --json");
    REQUIRE(open_channels.status == 0);
    CHECK(find_channel(json::parse(open_channels.output), "chan-breached")["status"] == "open");

    // The revoked commitment is broadcast and mined; the tower sends the penalty.
    world.send(dispute);
    world.mine(1);
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }));
    // A long-poll parked before the client's next check is woken by the breach.
    json reported;
    REQUIRE(wait_until([&] {
        auto page = json::parse(api.get("/events?after=" + std::to_string(after) + "&timeout_ms=10000").body);
        after = page["next_after"];
        for (const auto& e : page["events"]) {
            if (e["type"] == "breach_reported") reported = e;
        }
        return !reported.is_null();
    }, std::chrono::seconds(60)));
    CHECK(reported["channel_id"] == "chan-breached");
    CHECK(reported["commitnum"] == 7);
    CHECK(reported["dispute_txid"] == dispute.txid().to_display_hex());
    CHECK(reported["penalty_txid"] == penalty.txid().to_display_hex());
    CHECK(reported["tower"] == world.tower_id());

    auto check_channels = [&](const ClientDaemon& d) {
        auto out = run_command(d.cli() + "channels --json");
        REQUIRE(out.status == 0);
        json channels = json::parse(out.output);
        REQUIRE(channels.size() == 2);
        json breached = find_channel(channels, "chan-breached");
        CHECK(breached["status"] == "closed");
        CHECK(breached["close_type"] == "breach");
        CHECK(breached["breached_commitnum"] == 7);
        CHECK(breached["dispute_txid"] == dispute.txid().to_display_hex());
        CHECK(breached["penalty_txid"] == penalty.txid().to_display_hex());
        CHECK(breached["reported_by"] == world.tower_id());
        CHECK(breached["penalty_confirmations"] == nullptr);
        REQUIRE(breached["towers"].size() == 1);
        CHECK(breached["towers"][0]["tower"] == world.tower_id());
        CHECK(breached["towers"][0]["acknowledged"] == 1);
        CHECK(breached["towers"][0]["last_acknowledged_commitnum"] == 7);
        CHECK(find_channel(channels, "chan-quiet")["status"] == "open");
        auto text = run_command(d.cli() + "channels");
        CHECK(text.status == 0);
        CHECK(text.output.find("channel chan-breached: breach reported by " + world.tower_id()) != std::string::npos);
        CHECK(text.output.find("penalty: " + penalty.txid().to_display_hex()) != std::string::npos);
        CHECK(text.output.find("channel chan-quiet: open") != std::string::npos);
    };
    check_channels(daemon);

    // kill -9 and restart: the breach is on disk, and in the new stream's events.
    daemon.process->signal(SIGKILL);
    daemon.process->wait();
    auto restarted = start_client_daemon(dir.path(), tower, 2);
    check_channels(restarted);
    HttpClient api2(restarted.port);
    auto page = json::parse(api2.get("/events?after=" + std::to_string(after) + "&stream=" + stream + "&timeout_ms=10000").body);
    CHECK(page["stream"] != stream);
    CHECK(page["reset"] == true);  // answered at once, from the new stream's start
    REQUIRE_FALSE(page["events"].empty());
    CHECK(page["events"][0]["seq"] == 1);
    CHECK(page["events"][0]["type"] == "breach_reported");
    CHECK(page["events"][0]["penalty_txid"] == penalty.txid().to_display_hex());
    CHECK(api2.get("/metrics").body.find("argus_client_breaches_reported 1") != std::string::npos);
    auto no_daemon = run_command(std::string(ARGUS_CLIENT_BINARY) + " --api-port 1 channels");
    CHECK(no_daemon.status == 3);
}

TEST_CASE("client: its own chain view sees each channel close - breach, unilateral, cooperative - the penalty's confirmations, and a reorg, also after kill -9") {
    BreachWorld world;
    TemporaryDirectory dir;
    std::string tower = world.tower_id() + "@127.0.0.1:" + std::to_string(world.api_port());
    const std::vector<std::string> chain_view{"--bitcoind-rpc-port", std::to_string(world.rpc_port()), "--bitcoind-rpc-user",
                                              "u", "--bitcoind-rpc-password", "p", "--chain-poll-ms", "200"};
    auto daemon = start_client_daemon(dir.path(), tower, 1, chain_view);
    HttpClient api(daemon.port);
    auto channels = [&](const ClientDaemon& d) {
        auto out = run_command(d.cli() + "channels --json");
        REQUIRE_MESSAGE(out.status == 0, out.output);
        return json::parse(out.output);
    };
    auto post_backup = [&](const json& body) { return api.post("/backups", body.dump()); };
    auto outpoint_text = [](const OutPoint& o) { return o.txid.to_display_hex() + ":" + std::to_string(o.index); };
    // Each "funding output" here is one of the world's coinbases (P2WPKH, so
    // every spend below is signed and valid on a real bitcoind too).
    // 1. chan-breach: its revoked commitment is backed up with the funding outpoint.
    Transaction revoked = world.make_dispute();
    Transaction penalty = world.make_penalty(revoked);
    REQUIRE(post_backup({{"commitment_txid", revoked.txid().to_display_hex()}, {"penalty_tx", to_hex(penalty.serialize())},
                         {"channel_id", "chan-breach"}, {"commitnum", 9},
                         {"funding_outpoint", outpoint_text(revoked.inputs[0].prevout)}})
                .status == 200);
    // 2. chan-unilateral: closed by a transaction with BOLT 3's commitment marks
    //    (locktime 0x20..., a time long past; sequence 0x80...: no relative lock).
    OutPoint unilateral_funding = world.take_coinbase();
    Transaction unilateral = sign_p2wpkh_spend(world.funder, unilateral_funding, 50'0000'0000,
                                               {{49'9999'0000, p2wpkh_script(world.victim.public_key())}}, 0x20001234, 0x80000042);
    // 3. chan-cooperative: closed by a plain spend.
    OutPoint mutual_funding = world.take_coinbase();
    Transaction mutual = sign_p2wpkh_spend(world.funder, mutual_funding, 50'0000'0000,
                                           {{49'9999'0000, p2wpkh_script(world.victim.public_key())}});
    RevokedState other_u = revoked_state(81), other_m = revoked_state(82);
    REQUIRE(post_backup({{"commitment_txid", other_u.commitment_txid}, {"penalty_tx", other_u.penalty_tx},
                         {"channel_id", "chan-unilateral"}, {"commitnum", 1}, {"funding_outpoint", outpoint_text(unilateral_funding)}})
                .status == 200);
    REQUIRE(post_backup({{"commitment_txid", other_m.commitment_txid}, {"penalty_tx", other_m.penalty_tx},
                         {"channel_id", "chan-cooperative"}, {"commitnum", 1}, {"funding_outpoint", outpoint_text(mutual_funding)}})
                .status == 200);
    // Bad outpoints are refused, naming the field; nothing is queued.
    auto bad = post_backup({{"commitment_txid", other_m.commitment_txid}, {"penalty_tx", other_m.penalty_tx},
                            {"channel_id", "x"}, {"funding_outpoint", "abc:1"}});
    CHECK(bad.status == 400);
    CHECK(bad.body.find("funding_outpoint") != std::string::npos);
    auto no_channel = post_backup({{"commitment_txid", other_m.commitment_txid}, {"penalty_tx", other_m.penalty_tx},
                                   {"funding_outpoint", outpoint_text(mutual_funding)}});
    CHECK(no_channel.status == 400);
    REQUIRE(wait_until([&] { return !channels(daemon)[0]["chain_view"]["tip_height"].is_null(); }));
    json open = channels(daemon);
    REQUIRE(open.size() == 3);
    CHECK(find_channel(open, "chan-breach")["status"] == "open");
    CHECK(find_channel(open, "chan-breach")["funding_outpoint"] == outpoint_text(revoked.inputs[0].prevout));
    CHECK(find_channel(open, "chan-breach")["chain_view"]["bitcoind_reachable"] == true);

    // The breach and the unilateral close in one block, the penalty in the next.
    world.send(revoked);
    world.send(unilateral);
    world.mine(1);
    const std::uint32_t close_height = world.chain_height();
    REQUIRE(wait_until([&] { return world.in_mempool(penalty.txid()); }, std::chrono::seconds(60)));
    world.mine(1);
    json seen;
    REQUIRE_MESSAGE(wait_until([&] {
        seen = channels(daemon);
        return find_channel(seen, "chan-breach")["penalty_confirmations"] == 1 &&
               find_channel(seen, "chan-unilateral")["status"] == "closed";
    }), seen.dump());
    json breach = find_channel(seen, "chan-breach");
    CHECK(breach["status"] == "closed");
    CHECK(breach["close_type"] == "breach");
    CHECK(breach["closing_txid"] == revoked.txid().to_display_hex());
    CHECK(breach["close_height"] == close_height);
    CHECK(breach["close_confirmations"] == 2);
    CHECK(breach["breached_commitnum"] == 9);
    CHECK(breach["penalty_txid"] == penalty.txid().to_display_hex());
    json uni = find_channel(seen, "chan-unilateral");
    CHECK(uni["close_type"] == "unilateral");
    CHECK(uni["closing_txid"] == unilateral.txid().to_display_hex());
    CHECK(uni["penalty_txid"] == nullptr);
    CHECK(find_channel(seen, "chan-cooperative")["status"] == "open");
    auto text = run_command(daemon.cli() + "channels");
    CHECK(text.output.find("channel chan-unilateral: closed (unilateral) by " + unilateral.txid().to_display_hex()) !=
          std::string::npos);
    CHECK(text.output.find("penalty: " + penalty.txid().to_display_hex() + " (1 confirmations)") != std::string::npos);

    // The cooperative close, then a reorg takes its block away: open again.
    world.send(mutual);
    world.mine(1);
    REQUIRE(wait_until([&] { return find_channel(channels(daemon), "chan-cooperative")["close_type"] == "cooperative"; }));
    world.reorg(1, 2);
    REQUIRE_MESSAGE(wait_until([&] {
        seen = channels(daemon);
        return find_channel(seen, "chan-cooperative")["status"] == "open" &&
               seen[0]["chain_view"]["tip_height"] == world.chain_height();
    }), seen.dump());
    CHECK(find_channel(seen, "chan-breach")["penalty_confirmations"] == 3);  // older blocks untouched
    // Wallets were told, in order.
    auto page = json::parse(api.get("/events?after=0&timeout_ms=0").body);
    std::vector<std::string> told;
    for (const auto& e : page["events"]) {
        std::string type = e["type"];
        if (type == "channel_closed") told.push_back(type + ":" + e["channel_id"].get<std::string>() + ":" + e["close_type"].get<std::string>());
        if (type == "penalty_confirmed" || type == "channel_close_reorged") told.push_back(type + ":" + e["channel_id"].get<std::string>());
    }
    REQUIRE(told.size() == 5);
    std::sort(told.begin(), told.begin() + 2);  // two closes of one block: in the block's order
    CHECK(told == std::vector<std::string>{"channel_closed:chan-breach:breach", "channel_closed:chan-unilateral:unilateral",
                                           "penalty_confirmed:chan-breach", "channel_closed:chan-cooperative:cooperative",
                                           "channel_close_reorged:chan-cooperative"});

    // kill -9: the records are on disk; the view goes on from where it was.
    daemon.process->signal(SIGKILL);
    daemon.process->wait();
    auto restarted = start_client_daemon(dir.path(), tower, 2, chain_view);
    REQUIRE(wait_until([&] { return channels(restarted)[0]["chain_view"]["tip_height"] == world.chain_height(); }));
    seen = channels(restarted);
    CHECK(find_channel(seen, "chan-breach")["penalty_confirmations"] == 3);
    CHECK(find_channel(seen, "chan-unilateral")["close_type"] == "unilateral");
    CHECK(find_channel(seen, "chan-cooperative")["status"] == "open");
    world.mine(1);
    CHECK(wait_until([&] { return find_channel(channels(restarted), "chan-breach")["penalty_confirmations"] == 4; }));
}

TEST_CASE("client: GET /events answers at once with pending events, waits out its timeout, wakes on an event, holds no API thread, and refuses bad parameters") {
    FakeTower tower(FakeTower::Mode::honest);
    TemporaryDirectory dir;
    auto daemon = start_client_daemon(dir.path(), tower.address(), 1);
    HttpClient api(daemon.port);
    auto elapsed_ms = [](auto start) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    };

    // Nothing yet: a bounded wait, then an empty answer.
    auto start = std::chrono::steady_clock::now();
    auto empty = api.get("/events?after=0&timeout_ms=400");
    REQUIRE(empty.status == 200);
    CHECK(elapsed_ms(start) >= 350);
    json page = json::parse(empty.body);
    CHECK(page["events"].empty());
    CHECK(page["next_after"] == 0);
    CHECK(page["stream"].get<std::string>().size() == 16);

    // A long-poll parked on the daemon's single API thread...
    std::atomic<bool> done{false};
    HttpResult woken;
    std::thread poller([&] {
        HttpClient own(daemon.port);
        woken = own.get("/events?after=0&timeout_ms=30000");
        done = true;
    });
    REQUIRE(wait_until([&] {
        auto metrics = api.get("/metrics").body;
        return metrics.find("argus_client_event_polls_waiting 1") != std::string::npos;
    }));
    // ...leaves it free for other requests...
    start = std::chrono::steady_clock::now();
    CHECK(api.get("/status").status == 200);
    CHECK(elapsed_ms(start) < 2'000);
    CHECK_FALSE(done);
    // ...and is answered as soon as an event comes: the tower acknowledges a backup.
    RevokedState state = revoked_state(80);
    start = std::chrono::steady_clock::now();
    REQUIRE(api.post("/backups", json{{"commitment_txid", state.commitment_txid}, {"penalty_tx", state.penalty_tx},
                                      {"channel_id", "chan-e"}, {"commitnum", 80}}.dump())
                .status == 200);
    poller.join();
    CHECK(elapsed_ms(start) < 10'000);
    REQUIRE(woken.status == 200);
    page = json::parse(woken.body);
    REQUIRE(page["events"].size() == 1);
    const json& e = page["events"][0];
    CHECK(e["seq"] == 1);
    CHECK(e["type"] == "backup_acknowledged");
    CHECK(e["channel_id"] == "chan-e");
    CHECK(e["commitnum"] == 80);
    CHECK(e["tower"] == tower.address().substr(0, 66));

    // Pending events are answered at once, whatever the timeout.
    start = std::chrono::steady_clock::now();
    page = json::parse(api.get("/events?after=0&timeout_ms=30000").body);
    CHECK(elapsed_ms(start) < 2'000);
    CHECK(page["events"].size() == 1);
    CHECK(page["next_after"] == 1);

    for (const char* bad : {"/events?after=x", "/events?after=1&after=2", "/events?timeout_ms=60001",
                            "/events?wait=5", "/events?stream=not-hex"}) {
        INFO(bad);
        auto r = api.get(bad);
        CHECK(r.status == 400);
        CHECK(json::parse(r.body)["error"].is_string());
    }
    CHECK(json::parse(api.get("/events?since=1").body)["error"].get<std::string>().find("`since`") != std::string::npos);
}
