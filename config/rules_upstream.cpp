// Rules for where a route forwards to and how the upstream is authenticated:
// the upstream URL, the plaintext opt-in a ws:// upstream needs, connect_to,
// and the tls object (verify, pins, ca_file, ca_dir, the client certificate
// and key, versions, and settings that contradict each other). The files
// named are judged through FileChecks, never opened here.
#include <string_view>

#include "addresses.hpp"
#include "file_modes.hpp"
#include "file_paths.hpp"
#include "rules.hpp"

namespace loopgate::config {

bool read_upstream(Validator& v, const json& route, const std::string& path, UpstreamUrl& out) {
    const json* value = v.find_required(route, path, "upstream");
    std::string where = member_path(path, "upstream");
    if (!value || !v.expect(*value, Kind::string, where)) return false;
    auto problem = parse_upstream_url(value->get<std::string>(), out);
    if (problem) v.error(where, *problem);
    return !problem;
}

void check_plaintext(Validator& v, const Route& route, const std::string& path) {
    if (route.upstream.tls || route.allow_plaintext_upstream) return;
    v.error(member_path(path, "upstream"),
            "ws:// is unencrypted; set " + member_path(path, "allow_plaintext_upstream") + " to true to allow it");
}

std::optional<std::string> read_connect_to(Validator& v, const json& route, const std::string& path) {
    const json* value = Validator::find(route, "connect_to");
    if (!value || value->is_null()) return std::nullopt;
    if (value->is_string() && parse_ipv4(value->get<std::string>())) return value->get<std::string>();
    v.error(member_path(path, "connect_to"), "must be an IPv4 address (loopgate connects over IPv4 only)");
    return std::nullopt;
}

// ---------------------------------------------------------------------------
// tls

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kTlsKeys[] = {"ca_dir",      "ca_file",     "client_cert", "client_key",
                                         "max_version", "min_version", "pins",        "verify"};

// A file (or, for ca_dir, a directory) that must be readable now.
std::optional<fs::path> read_tls_path(Validator& v, const json& tls, const std::string& tls_path,
                                      const std::string& key, TlsDraft& draft, const std::string& null_means) {
    const json* value = Validator::find(tls, key);
    if (!value || value->is_null()) return std::nullopt;
    draft.any_given = true;
    std::string where = member_path(tls_path, key);
    if (!value->is_string()) {
        v.error(where, std::string("expected a string or null, got ") + value->type_name());
        return std::nullopt;
    }
    const std::string& text = value->get_ref<const std::string&>();
    bool wants_directory = key == "ca_dir";
    if (text.empty()) {
        v.error(where, std::string("must be a ") + (wants_directory ? "directory" : "file") + " path, or null " +
                           null_means);
        return std::nullopt;
    }
    fs::path resolved = resolve_config_path(text, v.base_dir());
    std::optional<std::string> problem = wants_directory ? v.files().cannot_read_directory(resolved)
                                                         : v.files().cannot_read_file(resolved);
    if (problem) {
        v.error(where, std::string(wants_directory ? "cannot read directory " : "cannot read ") + resolved.string() +
                           ": " + *problem);
        return std::nullopt;
    }
    return resolved;
}

std::vector<Pin> read_pins(Validator& v, const json& tls, const std::string& tls_path, TlsDraft& draft) {
    std::vector<Pin> pins;
    const json* list = Validator::find(tls, "pins");
    std::string where = member_path(tls_path, "pins");
    if (!list || !v.expect(*list, Kind::array, where)) return pins;
    if (!list->empty()) draft.any_given = true;
    for (size_t i = 0; i < list->size(); ++i) {
        std::string item_path = element_path(where, i);
        if (!v.expect((*list)[i], Kind::string, item_path)) continue;
        Pin pin;
        if (auto problem = parse_pin((*list)[i].get_ref<const std::string&>(), pin)) {
            v.error(item_path, *problem);
            continue;
        }
        pins.push_back(pin);
    }
    return pins;
}

TlsVerify read_verify(Validator& v, const json& tls, const std::string& tls_path, TlsDraft& draft) {
    const json* value = Validator::find(tls, "verify");
    std::string where = member_path(tls_path, "verify");
    if (!value || !v.expect(*value, Kind::string, where)) return TlsVerify::full;
    draft.any_given = true;
    const std::string& text = value->get_ref<const std::string&>();
    if (text == "full") return TlsVerify::full;
    if (text == "pin-only") return TlsVerify::pin_only;
    v.error(where, "must be \"full\" (chain, host name and any pins) or \"pin-only\" (only tls.pins)");
    return TlsVerify::full;
}

std::optional<TlsVersion> read_tls_version(Validator& v, const json& tls, const std::string& tls_path,
                                           const std::string& key, TlsDraft& draft) {
    const json* value = Validator::find(tls, key);
    if (!value || value->is_null()) return std::nullopt;
    draft.any_given = true;
    std::string where = member_path(tls_path, key);
    if (value->is_string() && value->get_ref<const std::string&>() == "1.2") return TlsVersion::tls1_2;
    if (value->is_string() && value->get_ref<const std::string&>() == "1.3") return TlsVersion::tls1_3;
    v.error(where, "must be \"1.2\" or \"1.3\" (older versions are never used)");
    return std::nullopt;
}

void pin_only_conflict(Validator& v, const std::string& where, const std::string& key) {
    v.error(member_path(where, key), "has no effect with \"verify\": \"pin-only\" (the pin alone authenticates "
                                     "the upstream); remove it, or use \"verify\": \"full\" to check the chain too");
}

// Both or neither; both usable as a pair, and the key private to its owner.
void check_client_files(Validator& v, const std::string& where, const TlsSettings& out) {
    std::string cert_path = member_path(where, "client_cert");
    std::string key_path = member_path(where, "client_key");
    if (out.client_cert && !out.client_key) v.error(key_path, "required when " + cert_path + " is set");
    if (out.client_key && !out.client_cert) v.error(cert_path, "required when " + key_path + " is set");
    if (!out.client_cert || !out.client_key) return;
    const fs::path& cert = *out.client_cert;
    const fs::path& key = *out.client_key;
    ClientPairVerdict verdict = v.files().read_client_pair(cert, key);
    if (verdict == ClientPairVerdict::no_certificate) {
        v.error(cert_path, "no PEM certificate in " + cert.string());
    } else if (verdict == ClientPairVerdict::no_private_key) {
        v.error(key_path, "no unencrypted PEM private key in " + key.string() + " (encrypted keys are not supported)");
    } else if (std::optional<unsigned> mode = v.files().permissions(key); mode && readable_by_everyone(*mode)) {
        v.error(key_path, key.string() + " is readable by every user; restrict it (chmod 600)");
    } else if (verdict == ClientPairVerdict::mismatch) {
        v.error(key_path, "does not match the certificate in " + cert_path + " (" + cert.string() + ")");
    }
}

// Settings that are fine alone but contradict each other.
void check_tls_combination(Validator& v, const json& tls, const std::string& where, const TlsSettings& out) {
    const json* pins = Validator::find(tls, "pins");
    bool pins_valid = !pins || out.pins.size() == pins->size();
    if (out.verify == TlsVerify::pin_only) {
        if (out.pins.empty() && pins_valid) {
            v.error(member_path(where, "verify"),
                    "\"pin-only\" needs at least one pin in " + member_path(where, "pins"));
        }
        if (out.ca_file) pin_only_conflict(v, where, "ca_file");
        if (out.ca_dir) pin_only_conflict(v, where, "ca_dir");
    }
    check_client_files(v, where, out);
    if (out.min_version && out.max_version && *out.min_version > *out.max_version) {
        v.error(member_path(where, "min_version"), "1.3 is above " + member_path(where, "max_version") + " (1.2)");
    }
}

}  // namespace

TlsDraft read_tls(Validator& v, const json& route, const std::string& path) {
    TlsDraft draft;
    std::string where = member_path(path, "tls");
    const json* tls = v.read_object(route, path, "tls", kTlsKeys);
    if (!tls) return draft;
    TlsSettings& out = draft.settings;
    out.ca_file = read_tls_path(v, *tls, where, "ca_file", draft, "to use only the system trust store");
    out.ca_dir = read_tls_path(v, *tls, where, "ca_dir", draft, "to use only the system trust store");
    out.client_cert = read_tls_path(v, *tls, where, "client_cert", draft, "for no client certificate");
    out.client_key = read_tls_path(v, *tls, where, "client_key", draft, "for no client certificate");
    out.pins = read_pins(v, *tls, where, draft);
    out.verify = read_verify(v, *tls, where, draft);
    out.min_version = read_tls_version(v, *tls, where, "min_version", draft);
    out.max_version = read_tls_version(v, *tls, where, "max_version", draft);
    check_tls_combination(v, *tls, where, out);
    return draft;
}

}  // namespace loopgate::config
