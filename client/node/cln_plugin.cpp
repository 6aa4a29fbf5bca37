#include "client/node/cln_plugin.h"

#include <nlohmann/json.hpp>

#include "log/log.h"

namespace argus::client {

using json = nlohmann::json;

namespace {

// JSON-RPC 2.0 error codes (lightningd's JSON-RPC is JSON-RPC 2.0: doc/lightningd-rpc.7.md).
constexpr int invalid_request = -32600;
constexpr int method_not_found = -32601;
constexpr int invalid_params = -32602;
constexpr int internal_error = -32603;

// Splits what lightningd writes into messages. lightningd-rpc.7.md: "Every
// response given by lightningd(8) is followed by two '\n' characters, which
// should not appear in normal JSON"; lightningd ends its requests and
// notifications the same way (lightningd/jsonrpc.c, jsonrpc_request_end). A
// message ends at that blank line or where its top-level object closes,
// whichever comes first, so a truncated or garbled message costs only itself.
class MessageReader {
public:
    explicit MessageReader(std::istream& in) : in_(in) {}
    // The next message's text, possibly malformed; false at end of input.
    bool next(std::string& out) {
        out.clear();
        int depth = 0;
        bool in_string = false, escape = false, after_newline = false;
        char c;
        while (in_.get(c)) {
            const bool blank_line = c == '\n' && after_newline;
            after_newline = c == '\n';
            if (blank_line) {
                if (!out.empty()) return true;
                continue;
            }
            if (out.empty() && std::isspace(static_cast<unsigned char>(c))) continue;
            out.push_back(c);
            if (out[0] != '{' && out[0] != '[') continue;  // not JSON: runs to the blank line
            if (in_string) {
                if (escape) escape = false;
                else if (c == '\\') escape = true;
                else if (c == '"') in_string = false;
                continue;
            }
            if (c == '"') in_string = true;
            else if (c == '{' || c == '[') ++depth;
            else if ((c == '}' || c == ']') && --depth == 0) return true;
        }
        return !out.empty();  // what end of input cut short is reported as malformed
    }

private:
    std::istream& in_;
};

void write_message(std::ostream& out, const json& message) {
    out << message.dump(-1, ' ', false, json::error_handler_t::replace) << "\n\n";
    out.flush();
}

void send(std::ostream& out, const json& id, const json& result) {
    write_message(out, {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}

void send_error(std::ostream& out, const json& id, int code, const std::string& message) {
    write_message(out, {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

// A string member of an object, or "" when absent or of another type.
std::string string_member(const json& object, const char* name) {
    if (!object.is_object()) return "";
    auto it = object.find(name);
    return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

const json& object_member(const json& object, const char* name) {
    static const json empty = json::object();
    if (!object.is_object()) return empty;
    auto it = object.find(name);
    return it != object.end() && it->is_object() ? *it : empty;
}

std::string first_string_param(const json& params, const char* name) {
    if (params.is_array() && !params.empty() && params[0].is_string()) return params[0].get<std::string>();
    return string_member(params, name);
}

bool has_string_param(const json& params, const char* name) {
    return (params.is_array() && !params.empty() && params[0].is_string()) ||
           (params.is_object() && params.contains(name) && params[name].is_string());
}

json manifest() {
    // a-day-in-the-life-of-a-plugin.md, "The getmanifest method".
    return {{"options", json::array({{{"name", "argus-data-dir"}, {"type", "string"}, {"default", ""},
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
            // "if subscribed to "shutdown" notification, a plugin can exit cleanly";
            // unsubscribed plugins are killed at once (lightningd/plugin.c, shutdown_plugins).
            {"subscriptions", json::array({"shutdown"})},
            // "Critical plugins that should not be stopped should set it to false."
            {"dynamic", false},
            // "the plugin can handle string JSON request `id` fields ... If present, this must be `true`".
            {"nonnumericids", true}};
}

class Plugin {
public:
    Plugin(std::ostream& out, const std::function<Result<std::unique_ptr<ClientNode>>(const std::string&)>& open_node)
        : out_(out), open_node_(open_node) {}
    ~Plugin() {
        // Every revoked state was committed to the queue before its "continue";
        // stopping joins the upload worker.
        if (node_) node_->stop();
    }

    // Handles one message; false once the plugin should exit.
    bool handle(const std::string& text) {
        json msg = json::parse(text, nullptr, false);
        if (msg.is_discarded()) return malformed(text, "not JSON");
        if (!msg.is_object()) return malformed(text, "not a JSON object");
        // pyln-client (contrib/pyln-client/pyln/client/plugin.py, _multi_dispatch)
        // takes a message whose id is absent or null for a notification;
        // event-notifications.md: "The Server MUST NOT reply to a Notification".
        auto id_it = msg.find("id");
        const bool is_request = id_it != msg.end() && !id_it->is_null();
        auto method_it = msg.find("method");
        if (method_it == msg.end() || !method_it->is_string()) {
            if (!is_request) return malformed(text, "no method");
            send_error(out_, *id_it, invalid_request, "invalid request: `method` must be a string");
            return true;
        }
        const std::string method = method_it->get<std::string>();
        if (!is_request) return notify(method);
        auto params_it = msg.find("params");
        const json params = params_it == msg.end() || params_it->is_null() ? json::object() : *params_it;
        try {
            request(*id_it, method, params);
        } catch (const json::exception& e) {
            // Every handler checks its input; this is the boundary that keeps
            // a slip from taking lightningd's channel down with the plugin.
            log_event(LogLevel::error, "plugin_request_failed", {{"method", method}, {"reason", e.what()}});
            send_error(out_, *id_it, internal_error, "argus: internal error handling " + method);
        }
        return static_cast<bool>(out_);  // stdout gone: lightningd is gone
    }

private:
    bool malformed(const std::string& text, const char* reason) {
        // The text itself is not logged: it may hold a penalty transaction.
        log_event(LogLevel::warn, "plugin_malformed_message", {{"reason", reason}, {"bytes", std::to_string(text.size())}});
        return true;
    }

    bool notify(const std::string& method) {
        // shutdown.json: "It is expected that the plugin terminates it's own
        // process when subscribing to this notification."
        if (method == "shutdown") {
            log_event(LogLevel::info, "plugin_shutdown");
            return false;
        }
        log_event(LogLevel::debug, "plugin_notification_ignored", {{"method", method}});
        return true;
    }

    void request(const json& id, const std::string& method, const json& params) {
        if (method == "getmanifest") {
            // "it may have `allow-deprecated-apis: false`, but you should accept,
            // and ignore, other parameters": Argus has no deprecated options or
            // commands, so it needs none of them.
            send(out_, id, manifest());
        } else if (method == "init") {
            init(id, params);
        } else if (method == "commitment_revocation") {
            commitment_revocation(id, params);
        } else if (method == "registertower" || method == "listtowers" || method == "listbackups" ||
                   method == "retrytower" || method == "abandontower") {
            command(id, method, params);
        } else {
            send_error(out_, id, method_not_found, "unknown method " + method);
        }
    }

    void init(const json& id, const json& params) {
        if (node_) {
            send_error(out_, id, invalid_request, "argus plugin already initialised");
            return;
        }
        // a-day-in-the-life-of-a-plugin.md, "The init method": params hold
        // "options" and "configuration"; fields Argus does not use (rpc-file,
        // network, feature_set, proxy, startup, always_use_proxy and any a
        // later lightningd adds) are ignored.
        const json& options = object_member(params, "options");
        const json& configuration = object_member(params, "configuration");
        std::string dir = string_member(options, "argus-data-dir");
        if (dir.empty()) {
            std::string lightning_dir = string_member(configuration, "lightning-dir");
            if (lightning_dir.empty()) {
                // lightningd disables a plugin whose init result holds "disable".
                send(out_, id, {{"disable", "argus: init configuration has no lightning-dir string and argus-data-dir is unset"}});
                return;
            }
            dir = lightning_dir + "/argus";
        }
        auto opened = open_node_(dir);
        if (!opened) {
            send(out_, id, {{"disable", "argus: " + opened.error().message}});
            return;
        }
        if (std::string tower = string_member(options, "argus-tower"); !tower.empty()) {
            // As the daemon refuses a bad --tower: a watchtower plugin that silently
            // backs up to nothing would be worse than one lightningd reports disabled.
            if (auto added = (*opened)->add_tower(tower); !added) {
                send(out_, id, {{"disable", "argus: argus-tower " + tower + ": " + added.error().message}});
                return;
            }
        }
        node_ = std::move(*opened);
        node_->start();
        send(out_, id, json::object());
    }

    void commitment_revocation(const json& id, const json& params) {
        if (!node_) {
            send_error(out_, id, invalid_request, "argus plugin not initialised");
            return;
        }
        // doc/schemas/hook/commitment_revocation.json: the request's params hold
        // commitment_txid, penalty_tx, channel_id, commitnum (older lightningd
        // wrapped hook payloads in "payload").
        const json& payload = params.is_object() && params.contains("commitment_txid") ? params : object_member(params, "payload");
        auto state = parse_revoked_state(payload);
        if (state) {
            auto queued = node_->backup(*state);
            if (!queued) log_event(LogLevel::error, "plugin_backup_failed", {{"reason", queued.error().message}});
        } else {
            log_event(LogLevel::warn, "plugin_malformed_commitment_revocation", {{"reason", state.error().message}});
        }
        // Never block the channel: "Plugins should always return "continue"".
        send(out_, id, {{"result", "continue"}});
    }

    void command(const json& id, const std::string& method, const json& params) {
        if (!node_) {
            send_error(out_, id, invalid_request, "argus plugin not initialised");
            return;
        }
        if (method == "registertower" || method == "abandontower") {
            const char* name = "tower_id";  // the named parameter of both commands
            if (!has_string_param(params, name)) {
                send_error(out_, id, invalid_params, std::string("expected a string parameter `") + name + "`");
                return;
            }
            std::string value = first_string_param(params, name);
            if (method == "registertower") {
                auto added = node_->add_tower(value);
                if (added) send(out_, id, {{"tower", *added}});
                else send_error(out_, id, invalid_params, added.error().message);
            } else {
                auto removed = node_->remove_tower(value);
                if (removed) send(out_, id, {{"abandoned", true}});
                else send_error(out_, id, invalid_params, removed.error().message);
            }
        } else if (method == "listtowers") {
            send(out_, id, {{"towers", node_->towers_json()}});
        } else if (method == "listbackups") {
            send(out_, id, {{"backups", node_->backups_json()}});
        } else {
            auto r = node_->retry_now();
            if (r) send(out_, id, {{"retrying", true}});
            else send_error(out_, id, internal_error, r.error().message);
        }
    }

    std::ostream& out_;
    const std::function<Result<std::unique_ptr<ClientNode>>(const std::string&)>& open_node_;
    std::unique_ptr<ClientNode> node_;
};

}  // namespace

int run_cln_plugin(std::istream& in, std::ostream& out,
                   const std::function<Result<std::unique_ptr<ClientNode>>(const std::string&)>& open_node) {
    MessageReader reader(in);
    Plugin plugin(out, open_node);
    std::string text;
    while (reader.next(text)) {
        if (!plugin.handle(text)) break;
    }
    return 0;
}

}  // namespace argus::client
