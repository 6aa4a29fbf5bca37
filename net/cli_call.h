// What argus-cli and argus-client share: one request to a local JSON endpoint
// (the tower's admin endpoint, the client daemon's API) through the one HTTP
// client, its answer printed as JSON (`--json`, stable field names) or as
// text, and the process exit code it means. The exit codes are defined here
// and only here (docs/operations.md, "Scripting the CLIs").
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "net/http_client.h"

namespace argus::net {

enum class ExitCode : int {
    ok = 0,
    failure = 1,       // the endpoint refused the request for another reason
    usage = 2,         // bad arguments (locally, or the endpoint answered 400)
    unreachable = 3,   // nothing answers at the endpoint's address
    unauthorized = 4,  // missing or wrong token (the endpoint answered 401/403)
    not_found = 5,     // the user, locator, tower... does not exist (404)
    unavailable = 6,   // the endpoint is up but its store or bitcoind is not (503)
};

// The exit code an HTTP status of the local endpoint means.
ExitCode exit_code_for_status(unsigned status);

enum class OutputFormat { text, json };

// Text for people: an object as `key: value` lines (nested values indented),
// an array of objects as a table with one column per field, `(none)` for an
// empty array. Field names are the JSON's.
std::string render_text(const nlohmann::json& value);

struct CliCall {
    std::string program;  // prefix of error messages: "argus-cli"
    std::string what;     // "the tower's admin endpoint"
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    HttpMethod method = HttpMethod::get;
    std::string target;
    std::string body;           // JSON, if any
    std::string authorization;  // header value, if any
};

// Sends the call, prints the answer on stdout (errors on stderr, as
// `program: message`), returns the exit code.
int run_cli_call(const CliCall& call, OutputFormat format);

}  // namespace argus::net
