// The one logger of the tower and the client: one line per event on stderr.
// Text: `[time] [program] level event key=value ...`; values are quoted (with
// \" and \n escaped) when they hold spaces, quotes, '=' or newlines.
// JSON (`--log-format json`): one object per line with the same fields,
// `{"time":..., "program":..., "level":..., "event":..., key: value...}`
// (time and program only when the text form has them; every value a string).
// Never pass secrets, keys or blobs.
#pragma once

#include <cstdio>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace argus {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

struct LogFormat {
    bool timestamp = true;  // off where the supervisor (systemd, lightningd) stamps each line
    std::string program;    // a leading word naming the process, if any
    bool json = false;      // one JSON object per line instead of key=value text
    std::FILE* stream = stderr;
};
void set_log_format(LogFormat format);  // at start-up, before other threads log
void set_log_level(LogLevel level);
bool parse_log_level(std::string_view name, LogLevel& out);
LogLevel log_level();
void log_event(LogLevel level, std::string_view event,
               std::initializer_list<std::pair<std::string_view, std::string>> fields = {});

}  // namespace argus
