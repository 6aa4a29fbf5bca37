#include "net/cli_call.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace argus::net {

using json = nlohmann::json;

ExitCode exit_code_for_status(unsigned status) {
    if (status >= 200 && status < 300) return ExitCode::ok;
    switch (status) {
        case 400: return ExitCode::usage;
        case 401:
        case 403: return ExitCode::unauthorized;
        case 404: return ExitCode::not_found;
        case 503: return ExitCode::unavailable;
        default: return ExitCode::failure;
    }
}

namespace {

std::string scalar_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "-";
    return v.dump();
}

bool is_scalar_array(const json& v) {
    return v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_primitive(); });
}

bool is_object_array(const json& v) {
    return v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_object(); });
}

void render_into(std::string& out, const json& value, const std::string& indent);

void render_table(std::string& out, const json& rows, const std::string& indent) {
    std::vector<std::string> columns;
    for (const auto& row : rows) {
        for (const auto& [key, _] : row.items()) {
            if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
        }
    }
    auto cell = [](const json& row, const std::string& column) -> std::string {
        if (!row.contains(column)) return "-";
        const json& v = row[column];
        if (v.is_primitive()) return scalar_text(v);
        if (is_scalar_array(v)) {
            std::string joined;
            for (const auto& e : v) joined += (joined.empty() ? "" : ",") + scalar_text(e);
            return joined.empty() ? "-" : joined;
        }
        return v.dump();
    };
    std::vector<std::size_t> width;
    for (const auto& c : columns) width.push_back(c.size());
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < columns.size(); ++i) width[i] = std::max(width[i], cell(row, columns[i]).size());
    }
    auto line = [&](auto&& text_of) {
        std::string l = indent;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            std::string t = text_of(i);
            l += t;
            if (i + 1 < columns.size()) l += std::string(width[i] - t.size() + 2, ' ');
        }
        out += l + "\n";
    };
    line([&](std::size_t i) { return columns[i]; });
    for (const auto& row : rows) line([&](std::size_t i) { return cell(row, columns[i]); });
}

void render_into(std::string& out, const json& value, const std::string& indent) {
    if (value.is_object()) {
        for (const auto& [key, v] : value.items()) {
            if (v.is_primitive()) {
                out += indent + key + ": " + scalar_text(v) + "\n";
            } else if (is_scalar_array(v)) {
                std::string joined;
                for (const auto& e : v) joined += (joined.empty() ? "" : ", ") + scalar_text(e);
                out += indent + key + ": " + (joined.empty() ? "(none)" : joined) + "\n";
            } else {
                out += indent + key + ":\n";
                render_into(out, v, indent + "  ");
            }
        }
    } else if (value.is_array()) {
        if (value.empty()) {
            out += indent + "(none)\n";
        } else if (is_object_array(value)) {
            render_table(out, value, indent);
        } else {
            for (const auto& e : value) {
                if (e.is_primitive()) {
                    out += indent + scalar_text(e) + "\n";
                } else {
                    out += indent + "-\n";
                    render_into(out, e, indent + "  ");
                }
            }
        }
    } else {
        out += indent + scalar_text(value) + "\n";
    }
}

}  // namespace

std::string render_text(const json& value) {
    std::string out;
    render_into(out, value, "");
    return out;
}

int run_cli_call(const CliCall& call, OutputFormat format) {
    HttpClientOptions options;
    options.host = call.host;
    options.port = call.port;
    options.connect_timeout = std::chrono::seconds(10);
    // A backup of a large store takes a while; nothing else comes close.
    options.write_timeout = options.read_timeout = std::chrono::seconds(600);
    options.max_response_body = 256 * 1024 * 1024;  // every user of a large tower
    options.keep_alive = false;
    HttpClient client(options);
    auto res = client.request({call.method, call.target, call.body, call.body.empty() ? "" : "application/json",
                               call.authorization});
    if (!res) {
        std::fprintf(stderr, "%s: cannot reach %s at %s:%u: %s\n", call.program.c_str(), call.what.c_str(),
                     call.host.c_str(), call.port, res.error().message.c_str());
        auto kind = res.error().kind;
        bool unreachable = kind == HttpClientError::Kind::connect || kind == HttpClientError::Kind::resolve ||
                           kind == HttpClientError::Kind::tls;
        return static_cast<int>(unreachable ? ExitCode::unreachable : ExitCode::failure);
    }
    ExitCode code = exit_code_for_status(res->status);
    auto body = json::parse(res->body, nullptr, false);
    if (code != ExitCode::ok) {
        std::string message = !body.is_discarded() && body.is_object() && body.contains("error") && body["error"].is_string()
                                  ? body["error"].get<std::string>()
                                  : res->body;
        std::fprintf(stderr, "%s: %s answered %u: %s\n", call.program.c_str(), call.what.c_str(), res->status,
                     message.c_str());
        return static_cast<int>(code);
    }
    if (body.is_discarded()) {
        std::fprintf(stderr, "%s: %s answered something that is not JSON\n", call.program.c_str(), call.what.c_str());
        return static_cast<int>(ExitCode::failure);
    }
    std::string text = format == OutputFormat::json
                           ? body.dump(2, ' ', false, json::error_handler_t::replace) + "\n"
                           : render_text(body);
    std::fputs(text.c_str(), stdout);
    return static_cast<int>(ExitCode::ok);
}

}  // namespace argus::net
