// The files a config names, as parse_config judges them: through a fake
// FileChecks nothing touches the disk, so a ca_file or client key that does
// not exist is whatever the fake says; through SystemFileChecks (what
// load_config_file uses) real files are read, and each problem is named by
// the JSON path of the key at fault.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "file_checks.hpp"
#include "file_modes.hpp"
#include "system_files.hpp"
#include "self_signed.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using loopgate::config::ClientPairVerdict;
using loopgate::config::Config;
using loopgate::config::FileChecks;
using loopgate::config::LoadResult;
using loopgate::test::KeyPair;
using loopgate::test::make_self_signed;
using loopgate::test::TempDir;
using Errors = std::vector<std::string>;

namespace {

// Answers from tables and remembers every question, so a test can tell
// what parse_config asked about without a file existing anywhere.
class FakeFiles final : public FileChecks {
public:
    std::map<fs::path, std::string> unreadable_files;        // path -> reason
    std::map<fs::path, std::string> unreadable_directories;  // path -> reason
    ClientPairVerdict pair = ClientPairVerdict::usable;
    std::map<fs::path, unsigned> modes;
    mutable std::vector<std::string> asked;

    std::optional<std::string> cannot_read_file(const fs::path& file) const override {
        asked.push_back("file " + file.string());
        return lookup(unreadable_files, file);
    }
    std::optional<std::string> cannot_read_directory(const fs::path& dir) const override {
        asked.push_back("directory " + dir.string());
        return lookup(unreadable_directories, dir);
    }
    ClientPairVerdict read_client_pair(const fs::path& cert, const fs::path& key) const override {
        asked.push_back("pair " + cert.string() + " " + key.string());
        return pair;
    }
    std::optional<unsigned> permissions(const fs::path& file) const override {
        asked.push_back("mode " + file.string());
        auto it = modes.find(file);
        return it == modes.end() ? std::nullopt : std::optional<unsigned>(it->second);
    }

private:
    static std::optional<std::string> lookup(const std::map<fs::path, std::string>& table, const fs::path& path) {
        auto it = table.find(path);
        return it == table.end() ? std::nullopt : std::optional<std::string>(it->second);
    }
};

// Nothing under here exists: a test that passes proves no file was read.
const fs::path kNowhere = "/nonexistent/loopgate-config-files-test";

std::string route_with_tls(const std::string& tls) {
    return R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test", "tls": )" + tls +
           "}]}";
}

std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

// ca_file, ca_dir, client_cert and client_key, all under kNowhere.
std::string every_file() {
    return route_with_tls(R"({"ca_file": )" + quoted(kNowhere / "ca.pem") + R"(, "ca_dir": )" +
                          quoted(kNowhere / "cas") + R"(, "client_cert": )" + quoted(kNowhere / "client.pem") +
                          R"(, "client_key": )" + quoted(kNowhere / "client.key") + "}");
}

LoadResult parse_with(const std::string& text, const FileChecks& files, const fs::path& base_dir = kNowhere) {
    LoadResult result = loopgate::config::parse_config(text, base_dir, files);
    INFO("text: " << text);
    CHECK(result.config.has_value() == result.errors.empty());
    return result;
}

// The real file system, as load_config_file checks it.
LoadResult parse_on_disk(const std::string& text, const fs::path& base_dir = fs::temp_directory_path()) {
    return parse_with(text, loopgate::config::SystemFileChecks(), base_dir);
}

Errors tls_errors(const std::string& tls) { return parse_on_disk(route_with_tls(tls)).errors; }

loopgate::config::TlsSettings tls_ok(const std::string& tls) {
    LoadResult result = parse_on_disk(route_with_tls(tls));
    REQUIRE(result.errors == Errors{});
    return result.config->routes.at(0).tls;
}

}  // namespace

// ---------------------------------------------------------------------------
// Through a fake: no disk

TEST_CASE("config files: files that do not exist are fine when the fake says so, and only the fake is asked") {
    REQUIRE_FALSE(fs::exists(kNowhere));
    FakeFiles files;
    LoadResult result = parse_with(every_file(), files);
    REQUIRE(result.errors == Errors{});
    const auto& tls = result.config->routes.at(0).tls;
    CHECK(tls.ca_file == kNowhere / "ca.pem");
    CHECK(tls.ca_dir == kNowhere / "cas");
    CHECK(tls.client_cert == kNowhere / "client.pem");
    CHECK(tls.client_key == kNowhere / "client.key");
    std::string nowhere = kNowhere.string();
    CHECK(files.asked == Errors{"file " + nowhere + "/ca.pem", "directory " + nowhere + "/cas",
                                "file " + nowhere + "/client.pem", "file " + nowhere + "/client.key",
                                "pair " + nowhere + "/client.pem " + nowhere + "/client.key",
                                "mode " + nowhere + "/client.key"});
}

TEST_CASE("config files: the fake's verdicts come back under the key's JSON path") {
    std::string nowhere = kNowhere.string();
    FakeFiles files;
    files.unreadable_files[kNowhere / "ca.pem"] = "Permission denied";
    files.unreadable_directories[kNowhere / "cas"] = "Not a directory";
    CHECK(parse_with(every_file(), files).errors ==
          Errors{"routes[0].tls.ca_file: cannot read " + nowhere + "/ca.pem: Permission denied",
                 "routes[0].tls.ca_dir: cannot read directory " + nowhere + "/cas: Not a directory"});

    // A key that cannot be read is as good as none: the certificate then lacks its key.
    FakeFiles unreadable_key;
    unreadable_key.unreadable_files[kNowhere / "client.key"] = "No such file or directory";
    CHECK(parse_with(every_file(), unreadable_key).errors ==
          Errors{"routes[0].tls.client_key: cannot read " + nowhere + "/client.key: No such file or directory",
                 "routes[0].tls.client_key: required when routes[0].tls.client_cert is set"});
    CHECK(unreadable_key.asked.back() == "file " + nowhere + "/client.key");  // no pair to read
}

TEST_CASE("config files: each client pair verdict is its own error") {
    std::string cert = (kNowhere / "client.pem").string();
    std::string key = (kNowhere / "client.key").string();
    FakeFiles files;
    files.pair = ClientPairVerdict::no_certificate;
    CHECK(parse_with(every_file(), files).errors == Errors{"routes[0].tls.client_cert: no PEM certificate in " + cert});
    files.pair = ClientPairVerdict::no_private_key;
    CHECK(parse_with(every_file(), files).errors ==
          Errors{"routes[0].tls.client_key: no unencrypted PEM private key in " + key +
                 " (encrypted keys are not supported)"});
    files.pair = ClientPairVerdict::mismatch;
    CHECK(parse_with(every_file(), files).errors ==
          Errors{"routes[0].tls.client_key: does not match the certificate in routes[0].tls.client_cert (" + cert +
                 ")"});
    // A key every user can read is named before a mismatch; one only the group can read is fine.
    files.modes[kNowhere / "client.key"] = 0644;
    CHECK(parse_with(every_file(), files).errors ==
          Errors{"routes[0].tls.client_key: " + key + " is readable by every user; restrict it (chmod 600)"});
    files.pair = ClientPairVerdict::usable;
    files.modes[kNowhere / "client.key"] = 0640;
    CHECK(parse_with(every_file(), files).errors == Errors{});
}

TEST_CASE("config files: relative paths are resolved against the config directory before the fake is asked") {
    FakeFiles files;
    LoadResult result = parse_with(route_with_tls(R"({"ca_file": "../certs/./ca.pem", "ca_dir": "cas/."})"), files,
                                   kNowhere / "etc");
    REQUIRE(result.errors == Errors{});
    CHECK(files.asked == Errors{"file " + (kNowhere / "certs/ca.pem").string(),
                                "directory " + (kNowhere / "etc/cas").string()});
}

TEST_CASE("config files: without a FileChecks, parse_config checks no file at all") {
    LoadResult result = loopgate::config::parse_config(every_file(), kNowhere);
    CHECK(result.errors == Errors{});
    REQUIRE(result.config.has_value());
    CHECK(result.config->routes.at(0).tls.client_key == kNowhere / "client.key");
}

TEST_CASE("config files: a secret in a config file others can read is refused, by mode alone") {
    using loopgate::config::refuse_if_others_can_read;
    LoadResult parsed = loopgate::config::parse_config(
        R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test",
            "upstream_headers": {"Authorization": "Bearer s3cret", "X-Key": "k"}}]})",
        kNowhere);
    REQUIRE(parsed.config.has_value());
    fs::path file = kNowhere / "loopgate.jsonc";

    LoadResult shared = parsed;
    refuse_if_others_can_read(file, 0640, shared);
    CHECK_FALSE(shared.config.has_value());
    CHECK(shared.errors ==
          Errors{"routes[0].upstream_headers.Authorization: holds a secret, but " + file.string() +
                     " is readable by other users (mode 0640); run: chmod 600 " + file.string(),
                 "routes[0].upstream_headers[\"X-Key\"]: holds a secret, but " + file.string() +
                     " is readable by other users (mode 0640); run: chmod 600 " + file.string()});

    for (std::optional<unsigned> mode : {std::optional<unsigned>(0600), std::optional<unsigned>(0700),
                                         std::optional<unsigned>()}) {
        LoadResult kept = parsed;
        refuse_if_others_can_read(file, mode, kept);
        CHECK(kept.errors == Errors{});
        CHECK(kept.config.has_value());
    }
}

TEST_CASE("config files: modes are written as chmod takes them") {
    using loopgate::config::mode_text;
    CHECK(mode_text(0644) == "0644");
    CHECK(mode_text(0600) == "0600");
    CHECK(mode_text(S_IFREG | 04755) == "4755");
    CHECK(loopgate::config::readable_by_group_or_others(0640));
    CHECK_FALSE(loopgate::config::readable_by_group_or_others(0600));
    CHECK(loopgate::config::readable_by_everyone(0604));
    CHECK_FALSE(loopgate::config::readable_by_everyone(0640));
}

// ---------------------------------------------------------------------------
// Through SystemFileChecks: real files (moved here from test_config.cpp and
// test_tls_pins.cpp when parse_config stopped reading the disk itself)

TEST_CASE("config: ca_file must be readable") {
    TempDir dir;
    std::string missing = (dir.path() / "missing.pem").string();
    CHECK(parse_on_disk(route_with_tls(R"({"ca_file": ")" + missing + R"("})")).errors ==
          Errors{"routes[0].tls.ca_file: cannot read " + missing + ": No such file or directory"});
    LoadResult result = parse_on_disk(route_with_tls(R"({"ca_file": "x/../missing.pem"})"), dir.path());
    CHECK(result.errors == Errors{"routes[0].tls.ca_file: cannot read " + missing + ": No such file or directory"});
    result = parse_on_disk(route_with_tls(R"({"ca_file": "."})"), dir.path());
    CHECK(result.errors == Errors{"routes[0].tls.ca_file: cannot read " + dir.path().string() + ": Is a directory"});
}

TEST_CASE("config tls: ca_dir must be a readable directory") {
    TempDir dir;
    fs::path file = dir.write("ca.pem", "pem");
    CHECK(tls_ok(R"({"ca_dir": )" + quoted(dir.path()) + "}").ca_dir == dir.path());
    CHECK(tls_errors(R"({"ca_dir": )" + quoted(file) + "}") ==
          Errors{"routes[0].tls.ca_dir: cannot read directory " + file.string() + ": Not a directory"});
    CHECK(tls_errors(R"({"ca_dir": )" + quoted(dir.path() / "missing") + "}") ==
          Errors{"routes[0].tls.ca_dir: cannot read directory " + (dir.path() / "missing").string() +
                 ": No such file or directory"});
    CHECK(tls_errors(R"({"ca_dir": ""})") ==
          Errors{"routes[0].tls.ca_dir: must be a directory path, or null to use only the system trust store"});
}

TEST_CASE("config tls: client certificate and key come together and must match") {
    TempDir dir;
    KeyPair mine = make_self_signed(dir, "loopgate-client");
    KeyPair other = make_self_signed(dir, "someone-else");
    auto tls = tls_ok(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(mine.key) + "}");
    CHECK(tls.client_cert == mine.cert);
    CHECK(tls.client_key == mine.key);
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + "}") ==
          Errors{"routes[0].tls.client_key: required when routes[0].tls.client_cert is set"});
    CHECK(tls_errors(R"({"client_key": )" + quoted(mine.key) + "}") ==
          Errors{"routes[0].tls.client_cert: required when routes[0].tls.client_key is set"});
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(other.key) + "}") ==
          Errors{"routes[0].tls.client_key: does not match the certificate in routes[0].tls.client_cert (" +
                 mine.cert.string() + ")"});
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.key) + R"(, "client_key": )" + quoted(mine.key) + "}") ==
          Errors{"routes[0].tls.client_cert: no PEM certificate in " + mine.key.string()});
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(mine.cert) + "}") ==
          Errors{"routes[0].tls.client_key: no unencrypted PEM private key in " + mine.cert.string() +
                 " (encrypted keys are not supported)"});
    ::chmod(mine.key.c_str(), 0644);
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(mine.key) + "}") ==
          Errors{"routes[0].tls.client_key: " + mine.key.string() +
                 " is readable by every user; restrict it (chmod 600)"});
}
