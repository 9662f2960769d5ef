// The generic part of config validation: type checks, unknown keys, required
// keys, integers in a range, and the list of errors, each prefixed with the
// JSON path of the value at fault. Validation never stops at the first
// problem: an admin fixing a config by hand should see every mistake in one
// run. What each section allows is in the rules_*.cpp files (rules.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "file_checks.hpp"
#include "json_paths.hpp"

namespace loopgate::config {

using json = nlohmann::json;

// The JSON types a setting can ask for.
enum class Kind { object, array, string, integer, boolean };

// Alphabetical, because these lists are printed in "unknown key" errors.
using KeyList = std::span<const std::string_view>;

// An integer member of a settings object: its key, the field it fills, and
// the values allowed (min..max, or also 0 when 0 turns the setting off).
template <typename Settings>
struct UintRule {
    std::string_view key;
    std::variant<uint32_t Settings::*, uint64_t Settings::*> field;
    uint64_t min;
    uint64_t max;
    bool zero_means_off = false;
};

class Validator {
public:
    // Relative paths resolve against base_dir; the files they name are asked
    // about through `files` only.
    Validator(std::filesystem::path base_dir, const FileChecks& files)
        : base_dir_(std::move(base_dir)), files_(files) {}

    const std::filesystem::path& base_dir() const { return base_dir_; }
    const FileChecks& files() const { return files_; }

    void error(const std::string& path, const std::string& message);
    std::vector<std::string>& errors() { return errors_; }

    // JSON paths of the values that are secrets (the config file must be private).
    void add_secret(const std::string& path) { secret_keys_.push_back(path); }
    std::vector<std::string>& secret_keys() { return secret_keys_; }

    // False, with an error, when `value` is not of `kind`.
    bool expect(const json& value, Kind kind, const std::string& path);
    void reject_unknown_keys(const json& object, const std::string& path, KeyList allowed);

    static const json* find(const json& object, const std::string& key);
    const json* find_required(const json& object, const std::string& path, const std::string& key);

    // A member that must be an object, with only `allowed` keys; nullptr when
    // it is absent or not an object.
    const json* read_object(const json& object, const std::string& path, const std::string& key, KeyList allowed);

    // Absent: `absent`. Nothing when the value was given but is wrong, so that
    // checks which depend on the flag do not pile a second error on top.
    std::optional<bool> read_bool(const json& object, const std::string& path, const std::string& key,
                                  bool absent = false);

    // An integer in min..max (or 0 when zero_means_off); absent or wrong: fallback.
    template <typename T>
    T read_uint(const json& object, const std::string& path, const std::string& key, T fallback, uint64_t min,
                uint64_t max, bool zero_means_off = false) {
        return static_cast<T>(read_unsigned(object, path, key, fallback, min, max, zero_means_off));
    }

    // Fills every field of `settings` that `object` (at `path`) gives, in
    // the order of `rules`; the others keep their defaults.
    template <typename Settings>
    void read_uints(const json& object, const std::string& path, std::span<const UintRule<Settings>> rules,
                    Settings& settings) {
        for (const UintRule<Settings>& rule : rules) {
            std::visit([&](auto field) {
                auto& value = settings.*field;
                value = read_uint(object, path, std::string(rule.key), value, rule.min, rule.max, rule.zero_means_off);
            }, rule.field);
        }
    }

private:
    uint64_t read_unsigned(const json& object, const std::string& path, const std::string& key, uint64_t fallback,
                           uint64_t min, uint64_t max, bool zero_means_off);

    std::filesystem::path base_dir_;
    const FileChecks& files_;
    std::vector<std::string> errors_;
    std::vector<std::string> secret_keys_;
};

}  // namespace loopgate::config
