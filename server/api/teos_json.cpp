#include "server/api/teos_json.h"

#include "common/penalty_kit.h"

#include <nlohmann/json.hpp>

#include "common/hex.h"

namespace argus::api {

namespace {
using json = nlohmann::json;
namespace err = teos::error;

ApiError error(std::uint8_t code, std::string message) { return ApiError{code, std::move(message)}; }

std::string type_name(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "boolean `" + v.dump() + "`";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer `" + v.dump() + "`";
        case json::value_t::number_float: return "floating point `" + v.dump() + "`";
        case json::value_t::string: return "string " + v.dump();
        case json::value_t::array: return "sequence";
        case json::value_t::object: return "map";
        default: return "value";
    }
}

// serde: "invalid type: <found>, expected <what>"
ApiError wrong_type(const json& v, const char* expected) {
    return error(err::wrong_field_type, "invalid type: " + type_name(v) + ", expected " + expected);
}

ApiResult<json> parse_object(std::string_view body, const char* struct_name) {
    json doc = json::parse(body.begin(), body.end(), nullptr, false);
    if (doc.is_discarded()) return error(err::invalid_request_format, "Request body deserialize error: invalid JSON");
    if (!doc.is_object()) return wrong_type(doc, struct_name);
    return doc;
}

ApiResult<const json*> field(const json& object, const char* name) {
    auto it = object.find(name);
    if (it == object.end()) return error(err::missing_field, std::string("missing field `") + name + "`");
    return &*it;
}

ApiResult<std::string> string_field(const json& object, const char* name) {
    auto f = field(object, name);
    if (!f) return f.error();
    if (!(*f)->is_string()) return wrong_type(**f, "a string");
    return (*f)->get<std::string>();
}

// hex::serde errors: "Odd number of digits", "Invalid character 'x' at position n".
ApiResult<Bytes> hex_field(const json& object, const char* name) {
    auto s = string_field(object, name);
    if (!s) return s.error();
    if (s->size() % 2 != 0) return error(err::wrong_field_format, "Odd number of digits");
    for (std::size_t i = 0; i < s->size(); ++i) {
        char c = (*s)[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!ok) {
            return error(err::wrong_field_format,
                         std::string("Invalid character '") + c + "' at position " + std::to_string(i));
        }
    }
    return parse_hex(*s).value();
}

ApiError empty_field(const char* name) {
    return error(err::empty_field, std::string("`") + name + "` field is empty");
}

ApiError wrong_size(const char* name, std::size_t got, std::size_t expected) {
    return error(err::wrong_field_size, std::string("Wrong `") + name + "` field size. Expected " +
                                            std::to_string(expected) + ", received " + std::to_string(got));
}

ApiResult<Locator> locator_field(const json& object) {
    auto bytes = hex_field(object, "locator");
    if (!bytes) return bytes.error();
    if (bytes->empty()) return empty_field("locator");
    if (bytes->size() != 16) return wrong_size("locator", bytes->size(), 16);
    Locator l;
    std::copy(bytes->begin(), bytes->end(), l.begin());
    return l;
}

ApiResult<std::string> signature_field(const json& object) {
    auto s = string_field(object, "signature");
    if (!s) return s.error();
    if (s->empty()) return empty_field("signature");
    return s;
}
}  // namespace

ApiResult<store::UserId> parse_register(std::string_view body) {
    auto doc = parse_object(body, "struct RegisterRequest");
    if (!doc) return doc.error();
    auto bytes = hex_field(*doc, "user_id");
    if (!bytes) return bytes.error();
    if (bytes->empty()) return empty_field("user_id");
    if (bytes->size() != 33) return wrong_size("user_id", bytes->size(), 33);
    if (!PublicKey::parse(*bytes) || ((*bytes)[0] != 0x02 && (*bytes)[0] != 0x03)) {
        return error(err::wrong_field_format,
                     "Provided public key does not match expected format (33-byte compressed key)");
    }
    store::UserId id;
    std::copy(bytes->begin(), bytes->end(), id.begin());
    return id;
}

ApiResult<tower::AddAppointmentRequest> parse_add_appointment(std::string_view body) {
    auto doc = parse_object(body, "struct AddAppointmentRequest");
    if (!doc) return doc.error();
    auto appointment = field(*doc, "appointment");
    if (!appointment) return appointment.error();
    const json& a = **appointment;
    if (!a.is_object()) return wrong_type(a, "struct Appointment");
    tower::AddAppointmentRequest request;
    auto locator = locator_field(a);
    if (!locator) return locator.error();
    request.locator = *locator;
    auto blob = hex_field(a, "encrypted_blob");
    if (!blob) return blob.error();
    if (blob->empty()) return empty_field("encrypted_blob");
    request.encrypted_blob = std::move(*blob);
    auto delay = field(a, "to_self_delay");
    if (!delay) return delay.error();
    const json& d = **delay;
    if (d.is_number_integer() && d.get<std::int64_t>() < 0) {
        return error(err::invalid_request_format, "invalid value: integer `" + d.dump() + "`, expected u32");
    }
    if (!d.is_number_unsigned()) return wrong_type(d, "u32");
    if (d.get<std::uint64_t>() > 0xffffffffULL) {
        return error(err::invalid_request_format, "invalid value: integer `" + d.dump() + "`, expected u32");
    }
    request.to_self_delay = static_cast<std::uint32_t>(d.get<std::uint64_t>());
    auto signature = signature_field(*doc);
    if (!signature) return signature.error();
    request.signature = std::move(*signature);
    return request;
}

ApiResult<SignedLocatorRequest> parse_get_appointment(std::string_view body) {
    auto doc = parse_object(body, "struct GetAppointmentRequest");
    if (!doc) return doc.error();
    SignedLocatorRequest request;
    auto locator = locator_field(*doc);
    if (!locator) return locator.error();
    request.locator = *locator;
    auto signature = signature_field(*doc);
    if (!signature) return signature.error();
    request.signature = std::move(*signature);
    return request;
}

ApiResult<std::string> parse_get_subscription_info(std::string_view body) {
    auto doc = parse_object(body, "struct GetSubscriptionInfoRequest");
    if (!doc) return doc.error();
    return signature_field(*doc);
}

std::string to_json(const tower::RegisterReply& r) {
    json j;
    j["user_id"] = to_hex(r.user_id);
    j["available_slots"] = r.available_slots;
    j["subscription_start"] = r.subscription_start;
    j["subscription_expiry"] = r.subscription_expiry;
    j["subscription_signature"] = r.subscription_signature;
    if (r.kit_max_blob > 0) {
        j[kit::capability_field] = {{"version", kit::kit_version}, {"max_encrypted_blob", r.kit_max_blob}};
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string to_json(const tower::AddAppointmentReply& r) {
    json j;
    j["locator"] = to_hex(r.locator);
    j["start_block"] = r.start_block;
    j["signature"] = r.signature;
    j["available_slots"] = r.available_slots;
    j["subscription_expiry"] = r.subscription_expiry;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string to_json(const tower::AppointmentView& view) {
    json j;
    if (view.tracker) {
        // teos: txids in display (big-endian) order, as bitcoind prints them.
        j["appointment"] = {{"dispute_txid", view.tracker->dispute_txid.to_display_hex()},
                            {"penalty_txid", view.tracker->penalty_txid.to_display_hex()},
                            {"penalty_rawtx", to_hex(view.tracker->penalty_rawtx)}};
        j["status"] = "dispute_responded";
    } else if (view.appointment) {
        j["appointment"] = {{"locator", to_hex(view.appointment->locator)},
                            {"encrypted_blob", to_hex(view.appointment->blob)},
                            {"to_self_delay", view.appointment->to_self_delay}};
        j["status"] = "being_watched";
    }
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string to_json(const tower::SubscriptionInfo& info) {
    json j;
    j["available_slots"] = info.available_slots;
    j["subscription_expiry"] = info.subscription_expiry;
    json locators = json::array();
    for (const auto& l : info.locators) locators.push_back(to_hex(l));
    j["locators"] = locators;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string to_json(const ApiError& e) {
    json j;
    j["error"] = e.message;
    j["error_code"] = e.code;
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace argus::api
