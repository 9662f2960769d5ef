// The FileChecks that checks nothing (file_checks.hpp).
#include "file_checks.hpp"

namespace loopgate::config {
namespace {

class NoFileChecks final : public FileChecks {
public:
    std::optional<std::string> cannot_read_file(const std::filesystem::path&) const override { return std::nullopt; }
    std::optional<std::string> cannot_read_directory(const std::filesystem::path&) const override {
        return std::nullopt;
    }
    ClientPairVerdict read_client_pair(const std::filesystem::path&, const std::filesystem::path&) const override {
        return ClientPairVerdict::usable;
    }
    std::optional<unsigned> permissions(const std::filesystem::path&) const override { return std::nullopt; }
};

}  // namespace

const FileChecks& no_file_checks() {
    static const NoFileChecks none;
    return none;
}

}  // namespace loopgate::config
