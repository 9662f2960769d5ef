#include "log.hpp"

#include <openssl/err.h>

#include <mutex>

namespace test_gateway {
namespace {

std::mutex g_output_mutex;

}  // namespace

void print_line(FILE* stream, const std::string& line) {
    std::lock_guard lock(g_output_mutex);
    std::fwrite(line.data(), 1, line.size(), stream);
    std::fputc('\n', stream);
    std::fflush(stream);
}

void say(const std::string& line) { print_line(stdout, line); }

void warn(const std::string& line) { print_line(stderr, "loopgate-test-gateway: " + line); }

std::string openssl_error_text() {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    if (code == 0) return "connection closed by peer";
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

}  // namespace test_gateway
