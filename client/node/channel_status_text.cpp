#include "client/node/channel_status_text.h"

namespace argus::client {

using json = nlohmann::json;

namespace {
std::string text_of(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return "-";
    return v.dump();
}
std::string field(const json& j, const char* name) {
    return j.contains(name) ? text_of(j[name]) : "-";
}
}  // namespace

// channel chan-1: open, 3 backups, highest commitnum 41
//   tower 02ab...: 3 acknowledged (latest commitnum 41), 0 pending, 0 failed
// channel chan-2: breach reported by 02ab..., 5 backups, highest commitnum 7
//   revoked commitment 3 broadcast: 9c1d...
//   penalty: 5f3a... (2 confirmations)
//   tower 02ab...: 5 acknowledged (latest commitnum 7), 0 pending, 0 failed
// channel chan-3: closed (unilateral) by 77e0... at height 812345 (6 confirmations), 2 backups, ...
std::string render_channel_status(const json& channels) {
    if (!channels.is_array() || channels.empty()) return "(no channels backed up)\n";
    std::string out;
    for (const auto& c : channels) {
        std::string id = field(c, "channel_id");
        out += "channel " + (id.empty() ? std::string("(no channel id)") : id) + ": ";
        bool breach = c.contains("close_type") && c["close_type"] == "breach";
        bool reported = c.contains("reported_by") && !c["reported_by"].is_null();
        bool on_chain = c.contains("closing_txid") && !c["closing_txid"].is_null();
        if (breach && reported) {
            out += "breach reported by " + field(c, "reported_by");
        } else if (on_chain) {
            out += "closed (" + field(c, "close_type") + ") by " + field(c, "closing_txid") + " at height " +
                   field(c, "close_height") + " (" + field(c, "close_confirmations") + " confirmations)";
        } else {
            out += field(c, "status");
        }
        out += ", " + field(c, "backups") + " backups, highest commitnum " +
               field(c, "highest_commitnum") + "\n";
        if (breach) {
            out += "  revoked commitment " + field(c, "breached_commitnum") +
                   " broadcast: " + field(c, "dispute_txid") + "\n";
            std::string confirmations =
                c.contains("penalty_confirmations") && !c["penalty_confirmations"].is_null()
                    ? text_of(c["penalty_confirmations"]) + " confirmations"
                    : "confirmations unknown: no chain view (argus-client daemon --bitcoind-rpc-port)";
            out += "  penalty: " + field(c, "penalty_txid") + " (" + confirmations + ")\n";
        }
        if (!c.contains("towers") || !c["towers"].is_array()) continue;
        for (const auto& t : c["towers"]) {
            out +=
                "  tower " + field(t, "tower") + ": " + field(t, "acknowledged") + " acknowledged";
            if (t.contains("last_acknowledged_commitnum") &&
                !t["last_acknowledged_commitnum"].is_null()) {
                out += " (latest commitnum " + text_of(t["last_acknowledged_commitnum"]) + ")";
            }
            out += ", " + field(t, "pending") + " pending, " + field(t, "failed") + " failed\n";
        }
    }
    return out;
}

}  // namespace argus::client
