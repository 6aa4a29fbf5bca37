// The operator interface through the real binaries: argus-tower info, and
// argus-cli against the admin endpoint with the token from the data dir.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/hex.h"
#include "tests/support/child_process.h"
#include "tests/support/http_client.h"
#include "tests/support/teos_user.h"
#include "tests/support/run_command.h"
#include "tests/support/temporary_directory.h"

using namespace argus;
using namespace argus::test;
using json = nlohmann::json;

namespace {
}  // namespace

TEST_CASE("operator: tower key is created once (0600) and argus-cli drives the admin endpoint") {
    TemporaryDirectory dir;
    std::string data = dir.path() + "/data";
    auto first_id = run_command(std::string(ARGUS_TOWER_BINARY) + " --data-dir " + data + " info");
    REQUIRE(first_id.status == 0);
    struct stat st {};
    REQUIRE(stat((data + "/tower_key").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);

    ChildProcess sim({ARGUS_SIM_BINARY, "--port-file", dir.path() + "/sim.port"}, dir.path() + "/sim.log");
    std::string rpc_port = wait_for_file(dir.path() + "/sim.port");
    rpc_port.erase(rpc_port.find_last_not_of("\n") + 1);
    ChildProcess tower({ARGUS_TOWER_BINARY, "--data-dir", data, "--api-port", "0", "--wtwire-port", "0", "--electrum-port", "0", "--admin-port", "0", "--metrics-port", "0",
                        "--bitcoind-rpc-port", rpc_port, "--bitcoind-rpc-user", "any", "--bitcoind-rpc-password", "any",
                        "--ready-file", dir.path() + "/ready.json"},
                       dir.path() + "/tower.log");
    auto ready = json::parse(wait_for_file(dir.path() + "/ready.json"));
    CHECK(ready["tower_id"].get<std::string>() + "\n" == first_id.output);  // the key was reused

    HttpClient http(ready["api_port"].get<std::uint16_t>());
    TeosUser alice(1), bob(2);
    REQUIRE(http.post("/register", alice.register_body()).status == 200);
    REQUIRE(http.post("/register", bob.register_body()).status == 200);
    Locator l = test_locator(5);
    REQUIRE(http.post("/add_appointment", alice.add_appointment_body(l, Bytes(100, 1), 9)).status == 200);
    REQUIRE(http.post("/add_appointment", bob.add_appointment_body(l, Bytes(120, 1), 9)).status == 200);

    std::string cli = std::string(ARGUS_CLI_BINARY) + " --admin-port " +
                      std::to_string(ready["admin_port"].get<int>()) + " --data-dir " + data + " ";
    auto info = run_command(cli + "info --json");
    REQUIRE(info.status == 0);
    auto i = json::parse(info.output);
    CHECK(i["tower_id"] == ready["tower_id"]);
    CHECK(i["users"] == 2);
    CHECK(i["appointments"] == 2);
    CHECK(i["bitcoind_reachable"] == true);
    CHECK(i["chain_height"] == 0);
    CHECK(i["store"] == "sqlite");

    // --json before or after the command; the text form carries the same fields.
    auto users = json::parse(run_command(cli + "--json users").output);
    CHECK(users.size() == 2);
    auto users_text = run_command(cli + "users");
    REQUIRE(users_text.status == 0);
    // A table: a header line naming the JSON fields, then one row per user.
    std::string header = users_text.output.substr(0, users_text.output.find('\n'));
    CHECK(header.rfind("available_slots", 0) == 0);
    CHECK(header.find("user_id") != std::string::npos);
    CHECK(std::count(users_text.output.begin(), users_text.output.end(), '\n') == 3);
    CHECK(users_text.output.find(alice.id_hex()) != std::string::npos);
    CHECK(users_text.output.find(bob.id_hex()) != std::string::npos);
    auto info_text = run_command(cli + "info");
    CHECK(info_text.output.find("tower_id: " + ready["tower_id"].get<std::string>() + "\n") != std::string::npos);
    CHECK(info_text.output.find("appointments: 2\n") != std::string::npos);
    auto user = json::parse(run_command(cli + "user " + alice.id_hex() + " --json").output);
    CHECK(user["available_slots"] == 9999);
    CHECK(user["locators"] == json::array({to_hex(l)}));
    auto by_locator = json::parse(run_command(cli + "appointments " + to_hex(l) + " --json").output);
    CHECK(by_locator.size() == 2);

    auto removed = run_command(cli + "remove-user " + alice.id_hex() + " --json");
    CHECK(removed.status == 0);
    CHECK(json::parse(removed.output)["removed_appointments"] == 1);
    CHECK(json::parse(run_command(cli + "info --json").output)["users"] == 1);
    CHECK(http.post("/get_subscription_info", alice.get_subscription_info_body()).status == 401);

    // Wrong token, bad arguments, unknown user, unreachable endpoint: clear
    // errors and the exit codes of docs/operations.md ("Scripting the CLIs").
    std::string wrong = dir.path() + "/wrong_token";
    std::FILE* f = std::fopen(wrong.c_str(), "w");
    std::fputs("00\n", f);
    std::fclose(f);
    ::chmod(wrong.c_str(), 0600);
    auto denied = run_command(cli + "--token-file " + wrong + " info");
    CHECK(denied.status == 4);
    CHECK(denied.output.find("401") != std::string::npos);
    auto no_token = run_command(cli + "--token-file " + dir.path() + "/absent info");
    CHECK(no_token.status == 4);
    auto bad_user = run_command(cli + "user 1234");
    CHECK(bad_user.status == 2);
    CHECK(bad_user.output.find("33 bytes") != std::string::npos);
    auto no_command_argument = run_command(cli + "user");
    CHECK(no_command_argument.status == 2);
    auto unknown_flag = run_command(cli + "info --no-such-flag");
    CHECK(unknown_flag.status == 2);
    auto missing = run_command(cli + "user " + TeosUser(9).id_hex());
    CHECK(missing.status == 5);
    CHECK(missing.output.find("no such user") != std::string::npos);
    auto unreachable = run_command(std::string(ARGUS_CLI_BINARY) + " --admin-port 1 --data-dir " + data + " info");
    CHECK(unreachable.status == 3);
    CHECK(unreachable.output.find("cannot reach") != std::string::npos);

    tower.signal(SIGTERM);
    CHECK(tower.wait() == 0);  // clean shutdown
}
