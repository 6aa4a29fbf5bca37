// The logger's two formats carry the same fields; every JSON line parses.
#include <doctest/doctest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "log/log.h"

using namespace argus;
using json = nlohmann::json;

namespace {

// Logs one event in `format` into a temporary file and returns what was written.
std::string capture(LogFormat format, LogLevel level, const std::string& event, const std::string& key,
                    const std::string& value) {
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    format.stream = file;
    set_log_format(format);
    log_event(level, event, {{key, value}, {"count", "3"}});
    set_log_format({});
    std::rewind(file);
    std::string out;
    char buffer[4096];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, file)) out.append(buffer, n);
    std::fclose(file);
    return out;
}

}  // namespace

TEST_CASE("log: text format is `program level event key=value` with quoted values") {
    auto line = capture({.timestamp = false, .program = "argus-tower"}, LogLevel::warn, "waiting_for_bitcoind", "error",
                        "connection refused \"now\"");
    CHECK(line == "argus-tower warn waiting_for_bitcoind error=\"connection refused \\\"now\\\"\" count=3\n");
}

TEST_CASE("log: json format has the text format's fields, one object per line") {
    auto line = capture({.timestamp = true, .program = "argus-tower", .json = true}, LogLevel::info, "tower_ready",
                        "api", "127.0.0.1:9814");
    REQUIRE(line.size() > 1);
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    auto j = json::parse(line);
    CHECK(j["level"] == "info");
    CHECK(j["event"] == "tower_ready");
    CHECK(j["program"] == "argus-tower");
    CHECK(j["api"] == "127.0.0.1:9814");
    CHECK(j["count"] == "3");
    REQUIRE(j["time"].is_string());
    CHECK(j["time"].get<std::string>().size() == std::string("2026-12-02T03:00:00Z").size());
    CHECK(j.size() == 6);
}

TEST_CASE("log: json lines stay valid JSON for quotes, newlines, control bytes and bytes that are not UTF-8") {
    std::string nasty = "a\"b\\c\nd\te\x01" "f\xff" "g\xc3\xa9h";  // ..., 0xff is never UTF-8, c3 a9 is é
    auto line = capture({.timestamp = false, .program = "", .json = true}, LogLevel::error, "peer_said", "text", nasty);
    CHECK(line.find('\n') == line.size() - 1);  // the value's newline is escaped
    auto j = json::parse(line);
    CHECK(j["text"] == "a\"b\\c\nd\te\x01" "f\xef\xbf\xbd" "g\xc3\xa9h");
    CHECK(j.find("program") == j.end());  // no program set: no field, as in the text form
    CHECK(j.find("time") == j.end());
}

TEST_CASE("log: events below the level are dropped in both formats") {
    set_log_level(LogLevel::warn);
    CHECK(capture({.timestamp = false, .program = ""}, LogLevel::info, "chatter", "k", "v").empty());
    CHECK(capture({.timestamp = false, .program = "", .json = true}, LogLevel::info, "chatter", "k", "v").empty());
    CHECK(!capture({.timestamp = false, .program = "", .json = true}, LogLevel::error, "alarm", "k", "v").empty());
    set_log_level(LogLevel::info);
}
