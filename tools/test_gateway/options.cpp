#include "options.hpp"

#include "text.hpp"

namespace test_gateway {
namespace {

bool split_host_port(std::string_view address, Options& options) {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) return false;
    std::string_view host = address.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    std::string_view port = address.substr(colon + 1);
    if (host.empty() || !parse_number<uint16_t>(port)) return false;
    options.host = host;
    options.port = port;
    return true;
}

}  // namespace

std::optional<std::string> parse_options(int argc, char** argv, Options& options) {
    for (int i = 1; i < argc; ++i) {
        std::string_view flag = argv[i];
        auto value = [&]() -> std::optional<std::string_view> {
            if (i + 1 >= argc) return std::nullopt;
            return std::string_view(argv[++i]);
        };
        if (flag == "--plain") {
            options.plain = true;
        } else if (flag == "--tls13-only") {
            options.tls13_only = true;
        } else if (flag == "--log-control-frames") {
            options.log_control_frames = true;
        } else if (flag == "--log-handshakes") {
            options.log_handshakes = true;
        } else if (flag == "--single-use-tickets") {
            options.single_use_tickets = true;
        } else if (flag == "--tickets") {
            auto argument = value();
            auto count = argument ? parse_number<uint16_t>(*argument) : std::nullopt;
            if (!count || *count > 64) return "--tickets wants a number of tickets from 0 to 64";
            options.tickets = *count;
        } else if (flag == "--close-on-exit") {
            auto argument = value();
            auto code = argument ? parse_number<uint16_t>(*argument) : std::nullopt;
            if (!code || *code < 1000 || *code > 4999) return "--close-on-exit wants a close code from 1000 to 4999";
            options.close_on_exit = *code;
        } else if (flag == "--date-offset") {
            auto argument = value();
            bool negative = argument && !argument->empty() && argument->front() == '-';
            auto magnitude = argument ? parse_number<uint32_t>(negative ? argument->substr(1) : *argument) : std::nullopt;
            if (!magnitude) return "--date-offset wants a number of seconds (negative: behind)";
            options.date_offset = negative ? -static_cast<int64_t>(*magnitude) : static_cast<int64_t>(*magnitude);
        } else if (flag == "--listen" || flag == "--cert" || flag == "--key" || flag == "--client-ca") {
            auto argument = value();
            if (!argument) return std::string(flag) + " needs a value";
            if (flag == "--cert") options.cert_file = *argument;
            if (flag == "--client-ca") options.client_ca_file = *argument;
            if (flag == "--key") options.key_file = *argument;
            if (flag == "--listen" && !split_host_port(*argument, options))
                return "--listen wants HOST:PORT, got '" + std::string(*argument) + "'";
        } else {
            return "unknown argument '" + std::string(flag) + "'";
        }
    }
    if (options.host.empty()) return "--listen is required";
    bool has_tls_files = !options.cert_file.empty() || !options.key_file.empty();
    bool tls_only = options.tls13_only || !options.client_ca_file.empty() || options.log_handshakes ||
                    options.tickets || options.single_use_tickets;
    if (options.plain && (has_tls_files || tls_only))
        return "--plain excludes --cert, --key and the TLS options (--tls13-only, --client-ca, --log-handshakes, "
               "--tickets, --single-use-tickets)";
    if (!options.plain && (options.cert_file.empty() || options.key_file.empty()))
        return "give both --cert and --key, or --plain";
    return std::nullopt;
}

}  // namespace test_gateway
