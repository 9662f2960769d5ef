#include <doctest/doctest.h>

#include <string>

#include "http_reader.hpp"

using namespace loopgate;

TEST_CASE("bytes behind an upgrade request's header block are not consumed") {
    std::string head = "GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    std::string input = head + "\x81\x85rest";
    http::Reader reader(http::Reader::Kind::request, 16384);
    size_t consumed = 0;
    CHECK(reader.feed(input.data(), input.size(), consumed) == http::Reader::Status::complete);
    CHECK(consumed == head.size());
    CHECK(reader.request().target == "/x");
}
