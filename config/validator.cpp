// The generic part of config validation (validator.hpp).
#include "validator.hpp"

#include <algorithm>

#include "text.hpp"

namespace loopgate::config {
namespace {

std::string_view expected_text(Kind kind) {
    switch (kind) {
    case Kind::object: return "an object";
    case Kind::array: return "an array";
    case Kind::string: return "a string";
    case Kind::integer: return "an integer";
    case Kind::boolean: return "a boolean";
    }
    return "?";
}

bool has_kind(const json& value, Kind kind) {
    switch (kind) {
    case Kind::object: return value.is_object();
    case Kind::array: return value.is_array();
    case Kind::string: return value.is_string();
    case Kind::integer: return value.is_number_integer();
    case Kind::boolean: return value.is_boolean();
    }
    return false;
}

}  // namespace

void Validator::error(const std::string& path, const std::string& message) {
    errors_.push_back(shown_path(path) + ": " + message);
}

bool Validator::expect(const json& value, Kind kind, const std::string& path) {
    if (has_kind(value, kind)) return true;
    error(path, std::string("expected ") + std::string(expected_text(kind)) + ", got " + value.type_name());
    return false;
}

void Validator::reject_unknown_keys(const json& object, const std::string& path, KeyList allowed) {
    for (const auto& item : object.items()) {
        if (std::find(allowed.begin(), allowed.end(), item.key()) != allowed.end()) continue;
        error(member_path(path, item.key()), "unknown key (expected one of: " + join(allowed) + ")");
    }
}

const json* Validator::find(const json& object, const std::string& key) {
    auto it = object.find(key);
    return it == object.end() ? nullptr : &*it;
}

const json* Validator::find_required(const json& object, const std::string& path, const std::string& key) {
    const json* value = find(object, key);
    if (!value) error(member_path(path, key), "required key is missing");
    return value;
}

const json* Validator::read_object(const json& object, const std::string& path, const std::string& key,
                                   KeyList allowed) {
    const json* value = find(object, key);
    if (!value || !expect(*value, Kind::object, member_path(path, key))) return nullptr;
    reject_unknown_keys(*value, member_path(path, key), allowed);
    return value;
}

std::optional<bool> Validator::read_bool(const json& object, const std::string& path, const std::string& key,
                                         bool absent) {
    const json* value = find(object, key);
    if (!value) return absent;
    if (!expect(*value, Kind::boolean, member_path(path, key))) return std::nullopt;
    return value->get<bool>();
}

// Negative numbers are integers to nlohmann but always out of range here;
// "-1" deserves the range message, not a type complaint.
uint64_t Validator::read_unsigned(const json& object, const std::string& path, const std::string& key,
                                 uint64_t fallback, uint64_t min, uint64_t max, bool zero_means_off) {
    const json* value = find(object, key);
    if (!value) return fallback;
    std::string where = member_path(path, key);
    if (!expect(*value, Kind::integer, where)) return fallback;
    if (value->is_number_unsigned()) {
        uint64_t number = value->get<uint64_t>();
        if ((zero_means_off && number == 0) || (number >= min && number <= max)) return number;
    }
    std::string range = "between " + std::to_string(min) + " and " + std::to_string(max);
    error(where, zero_means_off ? "must be 0 (off) or " + range : "must be " + range);
    return fallback;
}

}  // namespace loopgate::config
