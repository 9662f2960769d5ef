// What the config needs to know about the files it names, asked through an
// interface so that parse_config never touches the disk itself:
// load_config_file answers with the real file system (system_files.hpp);
// unit tests answer with a fake, and the fuzzer with no_file_checks().
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace loopgate::config {

// What reading a client certificate and its private key found.
enum class ClientPairVerdict {
    usable,          // a PEM certificate, and an unencrypted PEM key that belongs to it
    no_certificate,  // the certificate file holds no PEM certificate (or cannot be read)
    no_private_key,  // the key file holds no unencrypted PEM private key (or cannot be read)
    mismatch,        // the key does not belong to the first certificate of the chain
};

class FileChecks {
public:
    virtual ~FileChecks() = default;

    // Why `file` cannot be read, worded as strerror() words it ("No such file
    // or directory"), or nothing when it can.
    virtual std::optional<std::string> cannot_read_file(const std::filesystem::path& file) const = 0;

    // Why `dir` cannot be listed and entered ("Not a directory"), or nothing.
    virtual std::optional<std::string> cannot_read_directory(const std::filesystem::path& dir) const = 0;

    virtual ClientPairVerdict read_client_pair(const std::filesystem::path& cert,
                                               const std::filesystem::path& key) const = 0;

    // The permission bits (mode & 07777) of `file`, or nothing when it cannot be stat'ed.
    virtual std::optional<unsigned> permissions(const std::filesystem::path& file) const = 0;
};

// Finds nothing wrong with any file and knows no file's mode: what
// parse_config uses when it is given no FileChecks.
const FileChecks& no_file_checks();

}  // namespace loopgate::config
