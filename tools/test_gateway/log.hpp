// Output lines. Tests parse stdout line by line, so every line goes out whole and flushed;
// diagnostics go to stderr, each starting with "loopgate-test-gateway: ".
#pragma once

#include <cstdio>
#include <string>

namespace test_gateway {

// One line on `stream`, never interleaved with another thread's line.
void print_line(FILE* stream, const std::string& line);
// A line on stdout, for the tests.
void say(const std::string& line);
// A diagnostic line on stderr.
void warn(const std::string& line);
// The text of OpenSSL's first queued error (the queue is then cleared), for diagnostics.
std::string openssl_error_text();

}  // namespace test_gateway
