#include "client/node/cln_plugin.h"

#include <nlohmann/json.hpp>

namespace argus::client {

using json = nlohmann::json;

namespace {
// lightningd writes JSON objects back to back (separated by blank lines);
// split the stream on complete top-level objects.
class JsonStream {
public:
    explicit JsonStream(std::istream& in) : in_(in) {}
    bool next(std::string& out) {
        out.clear();
        int depth = 0;
        bool in_string = false, escape = false;
        char c;
        while (in_.get(c)) {
            if (depth == 0 && c != '{') continue;  // whitespace between messages
            out.push_back(c);
            if (in_string) {
                if (escape) escape = false;
                else if (c == '\\') escape = true;
                else if (c == '"') in_string = false;
                continue;
            }
            if (c == '"') in_string = true;
            if (c == '{') ++depth;
            if (c == '}' && --depth == 0) return true;
        }
        return false;
    }

private:
    std::istream& in_;
};

void send(std::ostream& out, const json& id, const json& result) {
    out << json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}.dump(-1, ' ', false, json::error_handler_t::replace)
        << "\n\n";
    out.flush();
}

void send_error(std::ostream& out, const json& id, int code, const std::string& message) {
    out << json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}}.dump(
               -1, ' ', false, json::error_handler_t::replace)
        << "\n\n";
    out.flush();
}

std::string first_string_param(const json& params, const char* name) {
    if (params.is_array() && !params.empty() && params[0].is_string()) return params[0].get<std::string>();
    if (params.is_object() && params.contains(name) && params[name].is_string()) return params[name].get<std::string>();
    return "";
}
}  // namespace

int run_cln_plugin(std::istream& in, std::ostream& out,
                   const std::function<Result<std::unique_ptr<ClientNode>>(const std::string&)>& open_node) {
    JsonStream stream(in);
    std::unique_ptr<ClientNode> node;
    std::string text;
    while (stream.next(text)) {
        json msg = json::parse(text, nullptr, false);
        if (msg.is_discarded() || !msg.is_object() || !msg.contains("method") || !msg["method"].is_string()) continue;
        const std::string method = msg["method"].get<std::string>();
        const json id = msg.value("id", json());
        const json params = msg.value("params", json::object());
        if (method == "getmanifest") {
            send(out, id,
                 {{"options", json::array({{{"name", "argus-data-dir"}, {"type", "string"}, {"default", ""},
                                            {"description", "Argus client data dir (default: <lightning-dir>/argus)"}},
                                           {{"name", "argus-tower"}, {"type", "string"}, {"default", ""},
                                            {"description", "Tower to back up to (tower_id@host:port)"}}})},
                  {"rpcmethods",
                   json::array({{{"name", "registertower"}, {"usage", "tower_id@host:port"}, {"description", "Add a tower"}},
                                {{"name", "listtowers"}, {"usage", ""}, {"description", "Towers and backup status"}},
                                {{"name", "listbackups"}, {"usage", ""}, {"description", "Every backup and its status"}},
                                {{"name", "retrytower"}, {"usage", ""}, {"description", "Retry pending backups now"}},
                                {{"name", "abandontower"}, {"usage", "tower_id"}, {"description", "Remove a tower"}}})},
                  {"hooks", json::array({{{"name", "commitment_revocation"}}})},
                  {"subscriptions", json::array()},
                  {"dynamic", false}});
        } else if (method == "init") {
            std::string dir;
            if (params.contains("options") && params["options"].contains("argus-data-dir") &&
                params["options"]["argus-data-dir"].is_string()) {
                dir = params["options"]["argus-data-dir"].get<std::string>();
            }
            if (dir.empty() && params.contains("configuration") && params["configuration"].contains("lightning-dir")) {
                dir = params["configuration"]["lightning-dir"].get<std::string>() + "/argus";
            }
            auto opened = open_node(dir);
            if (!opened) {
                // lightningd disables a plugin whose init returns "disable".
                send(out, id, {{"disable", "argus: " + opened.error().message}});
                continue;
            }
            if (params.contains("options") && params["options"].contains("argus-tower") &&
                params["options"]["argus-tower"].is_string() && !params["options"]["argus-tower"].get<std::string>().empty()) {
                std::string tower = params["options"]["argus-tower"].get<std::string>();
                // As the daemon refuses a bad --tower: a watchtower plugin that silently
                // backs up to nothing would be worse than one lightningd reports disabled.
                if (auto added = (*opened)->add_tower(tower); !added) {
                    send(out, id, {{"disable", "argus: argus-tower " + tower + ": " + added.error().message}});
                    continue;
                }
            }
            node = std::move(*opened);
            node->start();
            send(out, id, json::object());
        } else if (!node) {
            send_error(out, id, -32600, "argus plugin not initialised");
        } else if (method == "commitment_revocation") {
            json payload = params.contains("commitment_txid") ? params : params.value("payload", json::object());
            auto state = parse_revoked_state(payload);
            if (state) {
                auto queued = node->backup(*state);
                if (!queued) std::fprintf(stderr, "argus: cannot back up revoked state: %s\n", queued.error().message.c_str());
            } else {
                std::fprintf(stderr, "argus: malformed commitment_revocation payload: %s\n", state.error().message.c_str());
            }
            // Never block the channel: lightningd continues either way.
            send(out, id, {{"result", "continue"}});
        } else if (method == "registertower") {
            auto added = node->add_tower(first_string_param(params, "tower_id"));
            if (added) send(out, id, {{"tower", *added}});
            else send_error(out, id, -32602, added.error().message);
        } else if (method == "listtowers") {
            send(out, id, {{"towers", node->towers_json()}});
        } else if (method == "listbackups") {
            send(out, id, {{"backups", node->backups_json()}});
        } else if (method == "retrytower") {
            auto r = node->retry_now();
            if (r) send(out, id, {{"retrying", true}});
            else send_error(out, id, -32603, r.error().message);
        } else if (method == "abandontower") {
            auto r = node->remove_tower(first_string_param(params, "tower_id"));
            if (r) send(out, id, {{"abandoned", true}});
            else send_error(out, id, -32602, r.error().message);
        } else if (!id.is_null()) {
            send_error(out, id, -32601, "unknown method " + method);
        }
    }
    if (node) node->stop();
    return 0;
}

}  // namespace argus::client
