// What the CLIs print and the exit codes they return (docs/operations.md,
// "Scripting the CLIs").
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "net/cli_call.h"

using namespace argus::net;
using json = nlohmann::json;

TEST_CASE("cli: each HTTP status of a local endpoint maps to its documented exit code") {
    CHECK(exit_code_for_status(200) == ExitCode::ok);
    CHECK(exit_code_for_status(400) == ExitCode::usage);
    CHECK(exit_code_for_status(401) == ExitCode::unauthorized);
    CHECK(exit_code_for_status(403) == ExitCode::unauthorized);
    CHECK(exit_code_for_status(404) == ExitCode::not_found);
    CHECK(exit_code_for_status(503) == ExitCode::unavailable);
    CHECK(exit_code_for_status(500) == ExitCode::failure);
    CHECK(exit_code_for_status(501) == ExitCode::failure);
    // The numbers themselves are the interface scripts rely on.
    CHECK(static_cast<int>(ExitCode::usage) == 2);
    CHECK(static_cast<int>(ExitCode::unreachable) == 3);
    CHECK(static_cast<int>(ExitCode::unauthorized) == 4);
    CHECK(static_cast<int>(ExitCode::not_found) == 5);
    CHECK(static_cast<int>(ExitCode::unavailable) == 6);
}

TEST_CASE("cli: an object renders as key: value lines, nested values indented") {
    json info = json::parse(R"({"tower_id":"02ab","users":2,"reachable":true,"uri":null,
                                "locators":["aa","bb"],"policy":{"slots":10}})");
    CHECK(render_text(info) ==
          "locators: aa, bb\n"
          "policy:\n"
          "  slots: 10\n"
          "reachable: true\n"
          "tower_id: 02ab\n"
          "uri: -\n"
          "users: 2\n");
}

TEST_CASE("cli: an array of objects renders as a table with one column per field") {
    json users = json::parse(R"([{"user_id":"02aa","slots":9999},{"user_id":"03bbbb","slots":7,"extra":"x"}])");
    CHECK(render_text(users) ==
          "slots  user_id  extra\n"
          "9999   02aa     -\n"
          "7      03bbbb   x\n");
    CHECK(render_text(json::array()) == "(none)\n");
}
