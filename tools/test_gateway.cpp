// loopgate-test-gateway: a small WebSocket server (RFC 6455) over TLS or plain TCP, used by the
// demo, the integration tests and the benchmarks.
//
// It deliberately shares no code with loopgate: if both used the same frame parser, a bug in it
// would make the tests agree with themselves. It is written for clarity and speed instead of
// scale: one thread per connection, blocking sockets, big buffers, payloads streamed in chunks so
// a 200 MiB message costs no more memory than a 20 byte one. See docs/test-gateway.md.

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr size_t kBufferSize = 256 * 1024;
constexpr size_t kMaxHeaderBlock = 16 * 1024;
constexpr uint64_t kMaxDataFrame = uint64_t{1} << 30;
constexpr uint64_t kSourceFrameSize = uint64_t{1} << 20;
constexpr uint8_t kSourcePatternPeriod = 251;  // prime, so it never lines up with frame sizes
constexpr auto kRequestTimeout = 10s;
constexpr auto kCloseReplyTimeout = 5s;
constexpr auto kSourceCloseReplyTimeout = 30s;
constexpr auto kLingerTimeout = 2s;
constexpr auto kShutdownGrace = 3s;
constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

enum Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

enum CloseCode : uint16_t {
  kNormalClosure = 1000,
  kProtocolError = 1002,
  kMessageTooBig = 1009,
};

// ---------------------------------------------------------------------------------------------
// Output lines. Tests parse stdout line by line, so each line goes out whole and flushed.

std::mutex g_output_mutex;

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

// ---------------------------------------------------------------------------------------------
// Small string helpers.

std::string lowercase(std::string_view text) {
  std::string result(text);
  for (char& c : result) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return result;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

bool list_has_token(std::string_view list, std::string_view token) {
  for (std::string_view item : split(list, ','))
    if (lowercase(trim(item)) == token) return true;
  return false;
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> raw(bytes);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : raw) {
    hex += kDigits[byte >> 4];
    hex += kDigits[byte & 0xF];
  }
  return hex;
}

// Header values may carry any byte; bytes outside ASCII are escaped as Latin-1 code points so
// the /headers frame is always valid UTF-8 text.
std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7F) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// ---------------------------------------------------------------------------------------------
// Command line.

struct Options {
  std::string host;
  std::string port;
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;  // non-empty: require a client certificate issued by this CA
  bool plain = false;
  bool tls13_only = false;
  std::optional<uint16_t> close_on_exit;  // close code sent to every echo session on SIGTERM
  bool log_control_frames = false;
};

constexpr std::string_view kUsage =
    "usage: loopgate-test-gateway --listen HOST:PORT (--cert FILE --key FILE | --plain) [--tls13-only]\n"
    "                             [--close-on-exit CODE] [--log-control-frames] [--client-ca FILE]";

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

// Returns an error message, or nothing when the options are complete and consistent.
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
    } else if (flag == "--close-on-exit") {
      auto argument = value();
      auto code = argument ? parse_number<uint16_t>(*argument) : std::nullopt;
      if (!code || *code < 1000 || *code > 4999) return "--close-on-exit wants a close code from 1000 to 4999";
      options.close_on_exit = *code;
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
  if (options.plain && (has_tls_files || options.tls13_only || !options.client_ca_file.empty()))
    return "--plain excludes --cert, --key, --tls13-only and --client-ca";
  if (!options.plain && (options.cert_file.empty() || options.key_file.empty()))
    return "give both --cert and --key, or --plain";
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// TLS server context.

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Tailscale Serve and most TLS front ends negotiate http/1.1 by ALPN when offered; doing the same
// lets clients that insist on ALPN connect, and declining anything else keeps h2 clients honest.
int select_http11_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                       unsigned int offered_length, void*) {
  static constexpr unsigned char kHttp11[] = "http/1.1";
  for (unsigned int i = 0; i < offered_length;) {
    unsigned int length = offered[i];
    if (i + 1 + length > offered_length) break;
    if (length == 8 && std::memcmp(offered + i + 1, kHttp11, 8) == 0) {
      *out = offered + i + 1;
      *out_length = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Mutual TLS: a client without a certificate from this CA fails the handshake (in TLS 1.3, after
// the client already thinks it is done, so it sees the alert on its first read).
void require_client_certificates(SSL_CTX* ctx, const std::string& ca_file) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1)
    throw std::runtime_error("cannot load client CA " + ca_file + ": " + openssl_error_text());
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
  if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  // Without a session id context OpenSSL refuses to resume sessions whose client was verified.
  static constexpr unsigned char kContext[] = "loopgate-test-gateway";
  SSL_CTX_set_session_id_context(ctx, kContext, sizeof kContext - 1);
}

SslCtxPtr make_tls_context(const Options& options) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::runtime_error("cannot create TLS context: " + openssl_error_text());
  SSL_CTX_set_min_proto_version(ctx.get(), options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1)
    throw std::runtime_error("cannot load certificate " + options.cert_file + ": " + openssl_error_text());
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
    throw std::runtime_error("cannot load key " + options.key_file + ": " + openssl_error_text());
  if (SSL_CTX_check_private_key(ctx.get()) != 1)
    throw std::runtime_error("key " + options.key_file + " does not match " + options.cert_file);
  SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11_alpn, nullptr);
  if (!options.client_ca_file.empty()) require_client_certificates(ctx.get(), options.client_ca_file);
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// Live connections, so SIGTERM can wake every blocked thread and wait for it to finish.

class LiveConnections {
 public:
  void add(int fd) {
    std::lock_guard lock(mutex_);
    fds_.insert(fd);
    ++threads_;
  }

  // Called before the fd is closed, so shut_all() never touches a reused descriptor.
  void forget_socket(int fd) {
    std::lock_guard lock(mutex_);
    fds_.erase(fd);
  }

  void thread_done() {
    std::lock_guard lock(mutex_);
    --threads_;
    idle_.notify_all();
  }

  void shut_all() {
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }

  bool wait_idle(Clock::duration limit) {
    std::unique_lock lock(mutex_);
    return idle_.wait_for(lock, limit, [&] { return threads_ == 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable idle_;
  std::set<int> fds_;
  int threads_ = 0;
};

LiveConnections g_live;

// ---------------------------------------------------------------------------------------------
// One accepted socket, with or without TLS on top. Blocking I/O throughout.

class Link {
 public:
  explicit Link(int fd) : fd_(fd) {}
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  ~Link() {
    if (ssl_) SSL_free(ssl_);
    g_live.forget_socket(fd_);
    ::close(fd_);
  }

  bool tls_handshake(SSL_CTX* tls) {
    ssl_ = SSL_new(tls);
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) {
      tls_broken_ = true;
      handshake_error_ = "cannot set up TLS: " + openssl_error_text();
      return false;
    }
    ERR_clear_error();
    int result = SSL_accept(ssl_);
    if (result == 1) return true;
    tls_broken_ = true;
    int error = SSL_get_error(ssl_, result);
    if (error == SSL_ERROR_WANT_READ) handshake_error_ = "timed out";
    else handshake_error_ = openssl_error_text();
    return false;
  }
  const std::string& handshake_error() const { return handshake_error_; }

  // Returns the number of bytes read; 0 means the peer is gone, the read failed or timed out.
  size_t read_some(uint8_t* buffer, size_t capacity) {
    if (ssl_) return tls_read(buffer, capacity);
    for (;;) {
      ssize_t n = ::recv(fd_, buffer, capacity, 0);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return 0;
    }
  }

  bool write_all(const uint8_t* data, size_t length) {
    if (ssl_) return tls_write_all(data, length);
    while (length > 0) {
      ssize_t n = ::send(fd_, data, length, kSendFlags);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data += n;
      length -= static_cast<size_t>(n);
    }
    return true;
  }

  // True when a read would return without waiting, so output may stay buffered a little longer.
  bool input_ready() const {
    if (ssl_ && SSL_pending(ssl_) > 0) return true;
    pollfd poller{fd_, POLLIN, 0};
    return ::poll(&poller, 1, 0) > 0;
  }

  // Blocks until a read would not wait (input, end of stream or an error) or until `stop_fd`
  // becomes readable; false means the stop came first.
  bool wait_for_input_unless(int stop_fd) const {
    if (input_ready()) return true;
    for (;;) {
      pollfd pollers[2] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
      if (::poll(pollers, 2, -1) >= 0) return pollers[0].revents != 0 || pollers[1].revents == 0;
      if (errno != EINTR) return true;  // let the read itself report the problem
    }
  }

  // nullopt: reads block forever. A zero timeval would mean the same to the kernel, so a
  // vanishingly small limit is rounded up to one millisecond.
  void set_read_timeout(std::optional<Clock::duration> limit) {
    if (!limit && !has_read_timeout_) return;
    timeval tv{};
    if (limit) {
      auto micros = std::max<int64_t>(1000, std::chrono::duration_cast<std::chrono::microseconds>(*limit).count());
      tv.tv_sec = static_cast<time_t>(micros / 1000000);
      tv.tv_usec = static_cast<suseconds_t>(micros % 1000000);
    }
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    has_read_timeout_ = limit.has_value();
  }

  // Ends the connection the polite way: TLS close_notify, TCP FIN, then read whatever the peer
  // still sends until it closes too. Closing with unread input would make the kernel answer with
  // a reset, and a reset can destroy our last frames before the client has read them.
  void finish() {
    if (ssl_ && !tls_broken_) {
      ERR_clear_error();
      SSL_shutdown(ssl_);
    }
    ::shutdown(fd_, SHUT_WR);
    auto deadline = Clock::now() + kLingerTimeout;
    uint8_t scratch[16384];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd poller{fd_, POLLIN, 0};
      if (left <= 0 || ::poll(&poller, 1, static_cast<int>(left)) <= 0) return;
      ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
      if (n == 0 || (n < 0 && errno != EINTR)) return;
    }
  }

 private:
#ifdef MSG_NOSIGNAL
  static constexpr int kSendFlags = MSG_NOSIGNAL;
#else
  static constexpr int kSendFlags = 0;
#endif

  size_t tls_read(uint8_t* buffer, size_t capacity) {
    ERR_clear_error();
    size_t n = 0;
    if (SSL_read_ex(ssl_, buffer, capacity, &n) == 1) return n;
    int error = SSL_get_error(ssl_, 0);
    if (error == SSL_ERROR_SSL || error == SSL_ERROR_SYSCALL) tls_broken_ = true;
    return 0;
  }

  bool tls_write_all(const uint8_t* data, size_t length) {
    while (length > 0) {
      ERR_clear_error();
      size_t n = 0;
      if (SSL_write_ex(ssl_, data, length, &n) != 1) {
        tls_broken_ = true;
        return false;
      }
      data += n;
      length -= n;
    }
    return true;
  }

  int fd_;
  SSL* ssl_ = nullptr;
  bool tls_broken_ = false;
  bool has_read_timeout_ = false;
  std::string handshake_error_;
};

// ---------------------------------------------------------------------------------------------
// HTTP request and the WebSocket opening handshake.

struct HttpRequest {
  std::string method;
  std::string target;
  std::string version;
  // Lowercased names in order of first appearance; repeated headers joined with ", ".
  std::vector<std::pair<std::string, std::string>> headers;

  const std::string* header(std::string_view name) const {
    for (const auto& [key, value] : headers)
      if (key == name) return &value;
    return nullptr;
  }

  std::string header_or_dash(std::string_view name) const {
    const std::string* value = header(name);
    return value ? *value : "-";
  }

  void add_header(std::string name, std::string_view value) {
    for (auto& [key, existing] : headers) {
      if (key == name) {
        existing += ", ";
        existing += value;
        return;
      }
    }
    headers.emplace_back(std::move(name), value);
  }
};

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool has_forbidden_byte(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::optional<std::string> parse_request_line(std::string_view line, HttpRequest& request) {
  auto parts = split(line, ' ');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) return "malformed request line";
  request.method = parts[0];
  request.target = parts[1];
  request.version = parts[2];
  if (has_forbidden_byte(line)) return "malformed request line";
  if (request.target.front() != '/') return "request target must be a path";
  if (request.version != "HTTP/1.1") return "WebSocket needs HTTP/1.1, got " + request.version;
  return std::nullopt;
}

// Parses a header block without its final empty line; returns an error message if it is not HTTP.
std::optional<std::string> parse_request(std::string_view block, HttpRequest& request) {
  size_t line_end = block.find("\r\n");
  if (auto error = parse_request_line(block.substr(0, line_end), request)) return error;
  while (line_end != std::string_view::npos) {
    size_t start = line_end + 2;
    line_end = block.find("\r\n", start);
    std::string_view line = block.substr(start, line_end == std::string_view::npos ? line_end : line_end - start);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || has_forbidden_byte(line)) return "malformed header line";
    std::string_view name = line.substr(0, colon);
    if (!std::all_of(name.begin(), name.end(), is_token_char)) return "malformed header name";
    request.add_header(lowercase(name), trim(line.substr(colon + 1)));
  }
  return std::nullopt;
}

bool is_valid_websocket_key(std::string_view key) {
  // 16 random bytes in base64: 22 significant characters and "==".
  if (key.size() != 24 || key.substr(22) != "==") return false;
  return std::all_of(key.begin(), key.begin() + 22,
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; });
}

std::optional<std::string> upgrade_problem(const HttpRequest& request) {
  if (request.method != "GET") return "a WebSocket upgrade must use GET, not " + request.method;
  if (!request.header("host")) return "the Host header is missing";
  const std::string* upgrade = request.header("upgrade");
  if (!upgrade || !list_has_token(*upgrade, "websocket")) return "this is a WebSocket server: Upgrade: websocket is missing";
  const std::string* connection = request.header("connection");
  if (!connection || !list_has_token(*connection, "upgrade")) return "the Connection header does not contain 'upgrade'";
  const std::string* version = request.header("sec-websocket-version");
  if (!version || trim(*version) != "13") return "unsupported Sec-WebSocket-Version (only 13 is spoken here)";
  const std::string* key = request.header("sec-websocket-key");
  if (!key || !is_valid_websocket_key(*key)) return "Sec-WebSocket-Key is missing or not 16 bytes of base64";
  return std::nullopt;
}

std::string websocket_accept(std::string_view key) {
  std::string input = std::string(key) + std::string(kWebSocketGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (EVP_Digest(input.data(), input.size(), digest, &digest_length, EVP_sha1(), nullptr) != 1)
    throw std::runtime_error("SHA-1 failed");
  unsigned char encoded[64];
  int encoded_length = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_length));
  return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(encoded_length));
}

std::optional<std::string> first_offered_subprotocol(const HttpRequest& request) {
  const std::string* offered = request.header("sec-websocket-protocol");
  if (!offered) return std::nullopt;
  std::string_view first = trim(split(*offered, ',').front());
  if (first.empty()) return std::nullopt;
  return std::string(first);
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 511: return "Network Authentication Required";
    default: break;
  }
  if (status < 300) return "Success";
  if (status < 400) return "Redirection";
  if (status < 500) return "Client Error";
  return "Server Error";
}

// What the request target asks the gateway to do.
struct Behaviour {
  enum Kind { kEcho, kHeaders, kCloseWith, kSource, kRefuseWith } kind = kEcho;
  uint64_t number = 0;  // status code, close code or byte count
  bool challenge = false;
};

bool query_has(std::string_view query, std::string_view pair) {
  for (std::string_view item : split(query, '&'))
    if (item == pair) return true;
  return false;
}

// Returns nothing when the target names a behaviour with an unusable argument.
std::optional<Behaviour> behaviour_for(std::string_view target) {
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  Behaviour behaviour;
  if (question != std::string_view::npos) behaviour.challenge = query_has(target.substr(question + 1), "challenge=1");
  auto argument_of = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (path.substr(0, prefix.size()) != prefix) return std::nullopt;
    return path.substr(prefix.size());
  };
  if (auto status_text = argument_of("/status/")) {
    auto status = parse_number<uint16_t>(*status_text);
    if (status_text->size() != 3 || !status || *status < 200 || *status > 599) return std::nullopt;
    behaviour = {Behaviour::kRefuseWith, *status, false};
  } else if (auto code_text = argument_of("/close/")) {
    auto close_code = parse_number<uint16_t>(*code_text);
    if (!close_code) return std::nullopt;
    behaviour.kind = Behaviour::kCloseWith;
    behaviour.number = *close_code;
  } else if (auto bytes = argument_of("/source/")) {
    auto count = parse_number<uint64_t>(*bytes);
    if (!count) return std::nullopt;
    behaviour.kind = Behaviour::kSource;
    behaviour.number = *count;
  } else if (path == "/headers") {
    behaviour.kind = Behaviour::kHeaders;
  }
  return behaviour;
}

std::string headers_json(const HttpRequest& request) {
  std::string json = "{\"target\":" + json_string(request.target) + ",\"headers\":{";
  for (size_t i = 0; i < request.headers.size(); ++i) {
    if (i > 0) json += ',';
    json += json_string(request.headers[i].first) + ':' + json_string(request.headers[i].second);
  }
  return json + "}}";
}

// ---------------------------------------------------------------------------------------------
// WebSocket frames.

struct FrameHeader {
  bool fin = false;
  uint8_t rsv = 0;
  uint8_t opcode = 0;
  bool masked = false;
  std::array<uint8_t, 4> mask{};
  uint64_t length = 0;
};

bool is_control(uint8_t opcode) { return (opcode & 0x8) != 0; }

struct CloseReason {
  uint16_t code;
  std::string text;
};

// Checks one client frame against RFC 6455 5.2-5.5 and our size limit.
std::optional<CloseReason> frame_problem(const FrameHeader& frame, bool inside_message) {
  if (frame.rsv != 0) return CloseReason{kProtocolError, "reserved bits set but no extension negotiated"};
  bool known = frame.opcode <= kBinary || (frame.opcode >= kClose && frame.opcode <= kPong);
  if (!known) return CloseReason{kProtocolError, "unknown opcode " + std::to_string(frame.opcode)};
  if (!frame.masked) return CloseReason{kProtocolError, "client frames must be masked"};
  if (frame.length >> 63) return CloseReason{kProtocolError, "payload length with the most significant bit set"};
  if (is_control(frame.opcode)) {
    if (frame.length > 125) return CloseReason{kProtocolError, "control frame longer than 125 bytes"};
    if (!frame.fin) return CloseReason{kProtocolError, "fragmented control frame"};
    return std::nullopt;
  }
  if (frame.opcode == kContinuation && !inside_message)
    return CloseReason{kProtocolError, "continuation frame without a message to continue"};
  if (frame.opcode != kContinuation && inside_message)
    return CloseReason{kProtocolError, "new message before the previous one finished"};
  if (frame.length > kMaxDataFrame) return CloseReason{kMessageTooBig, "frame larger than 1 GiB"};
  return std::nullopt;
}

size_t encode_frame_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t length) {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | opcode);
  if (length < 126) {
    out[1] = static_cast<uint8_t>(length);
    return 2;
  }
  if (length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(length >> 8);
    out[3] = static_cast<uint8_t>(length);
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
  return 10;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  payload += reason;
  return payload;
}

// XORs a payload with its masking key, eight bytes per step; keeps its place across chunks.
class Unmasker {
 public:
  explicit Unmasker(const std::array<uint8_t, 4>& key) : key_(key) {}

  void apply(uint8_t* out, const uint8_t* in, size_t length) {
    uint8_t rotated[8];
    for (size_t j = 0; j < 8; ++j) rotated[j] = key_[(phase_ + j) & 3];
    uint64_t wide_key;
    std::memcpy(&wide_key, rotated, 8);
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
      uint64_t word;
      std::memcpy(&word, in + i, 8);
      word ^= wide_key;
      std::memcpy(out + i, &word, 8);
    }
    for (; i < length; ++i) out[i] = in[i] ^ key_[(phase_ + i) & 3];
    phase_ = (phase_ + length) & 3;
  }

 private:
  std::array<uint8_t, 4> key_;
  size_t phase_ = 0;
};

// Byte i of a /source stream is i % 251. Copying from this table at offset (i % 251) yields
// any chunk of up to kBufferSize bytes with one memcpy.
const std::vector<uint8_t>& source_pattern() {
  static const std::vector<uint8_t> pattern = [] {
    std::vector<uint8_t> bytes(kBufferSize + kSourcePatternPeriod);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i % kSourcePatternPeriod);
    return bytes;
  }();
  return pattern;
}

// ---------------------------------------------------------------------------------------------
// What every connection needs to know about the server it belongs to.

struct Server {
  SSL_CTX* tls = nullptr;  // null for plain connections
  std::optional<uint16_t> close_on_exit;
  bool log_control_frames = false;
  int stop_fd = -1;  // becomes readable, and stays so, once SIGTERM or SIGINT arrived
};

const char* control_frame_name(uint8_t opcode) {
  switch (opcode) {
    case kPing: return "ping";
    case kPong: return "pong";
    default: return "close";
  }
}

// ---------------------------------------------------------------------------------------------
// One client connection, from the TLS handshake to the close.

class Connection {
 public:
  Connection(int fd, const Server& server, std::string peer)
      : link_(fd), server_(server), tls_(server.tls), peer_(std::move(peer)),
        in_(new uint8_t[kBufferSize]), out_(new uint8_t[kBufferSize]) {}

  void run() {
    read_deadline_ = Clock::now() + kRequestTimeout;
    if (tls_ && !tls_handshake()) return;
    auto header_end = read_header_block();
    if (!header_end) return;
    read_deadline_.reset();
    answer(std::string_view(reinterpret_cast<const char*>(in_.get()), *header_end - 4));
  }

 private:
  bool tls_handshake() {
    link_.set_read_timeout(kRequestTimeout);
    if (link_.tls_handshake(tls_)) return true;
    warn("TLS handshake with " + peer_ + " failed: " + link_.handshake_error());
    // Our alert is out; closing with the client's next bytes unread would reset the connection
    // and could destroy the alert before the client reads it.
    link_.finish();
    return false;
  }

  // Reads until the blank line that ends the request headers and returns the offset just past
  // it. Whatever follows stays in the input buffer: those are the client's first frames.
  std::optional<size_t> read_header_block() {
    size_t searched = 0;
    for (;;) {
      std::string_view seen(reinterpret_cast<const char*>(in_.get()), in_end_);
      size_t blank = seen.find("\r\n\r\n", searched);
      if (blank != std::string_view::npos && blank + 4 <= kMaxHeaderBlock) {
        in_begin_ = blank + 4;
        return in_begin_;
      }
      if (in_end_ >= kMaxHeaderBlock) {
        refuse(nullptr, 431, "request header block larger than 16 KiB\n");
        return std::nullopt;
      }
      searched = in_end_ >= 3 ? in_end_ - 3 : 0;
      if (!fill_input()) return std::nullopt;
    }
  }

  void answer(std::string_view header_block) {
    HttpRequest request;
    if (auto error = parse_request(header_block, request)) {
      refuse(&request, 400, *error + "\n");
      return;
    }
    auto behaviour = behaviour_for(request.target);
    if (!behaviour) {
      refuse(&request, 400, "cannot use the number in " + request.target + "\n");
      return;
    }
    if (behaviour->kind == Behaviour::kRefuseWith) {
      int status = static_cast<int>(behaviour->number);
      refuse(&request, status, "gateway refused with " + std::to_string(status) + "\n");
      return;
    }
    if (auto problem = upgrade_problem(request)) {
      refuse(&request, 400, *problem + "\n", "Sec-WebSocket-Version: 13\r\n");
      return;
    }
    accept_upgrade(request, *behaviour);
  }

  void log_request(const HttpRequest* request, int status) {
    auto field = [&](std::string_view name) { return request ? request->header_or_dash(name) : "-"; };
    std::string target = request && !request->target.empty() ? request->target : "-";
    say("request path=" + target + " host=" + field("host") + " origin=" + field("origin") +
        " protocol=" + field("sec-websocket-protocol") + " status=" + std::to_string(status));
  }

  // Answers with a plain HTTP error and closes; no upgrade happens.
  void refuse(const HttpRequest* request, int status, const std::string& body, std::string_view extra_headers = {}) {
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    response += "Content-Type: text/plain\r\n";
    bool body_allowed = status != 204 && status != 304;  // RFC 9110 6.4.1
    if (body_allowed) response += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    response += "Connection: close\r\n";
    response += std::string(extra_headers) + "\r\n";
    if (body_allowed) response += body;
    append_output(response);
    flush_output();
    log_request(request, status);
    link_.finish();
  }

  void accept_upgrade(const HttpRequest& request, const Behaviour& behaviour) {
    std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " + websocket_accept(*request.header("sec-websocket-key")) + "\r\n";
    if (auto subprotocol = first_offered_subprotocol(request))
      response += "Sec-WebSocket-Protocol: " + *subprotocol + "\r\n";
    append_output(response + "\r\n");
    // Real gateways put their first event in the same TLS record as the 101; so do we, in
    // one write, so a proxy that drops bytes behind the 101 header block fails its tests.
    if (behaviour.challenge) {
      append_frame(kText, R"({"type":"event","event":"connect.challenge","payload":{"nonce":")" + random_hex(16) +
                              R"("}})");
    }
    if (behaviour.kind == Behaviour::kHeaders) append_frame(kText, headers_json(request));
    bool sent = flush_output();
    log_request(&request, 101);
    if (!sent) return;
    switch (behaviour.kind) {
      case Behaviour::kCloseWith:
        close_first(static_cast<uint16_t>(behaviour.number), "gateway closing", kCloseReplyTimeout);
        break;
      case Behaviour::kSource:
        if (send_source(behaviour.number)) close_first(kNormalClosure, "done", kSourceCloseReplyTimeout);
        break;
      default:
        echo();
        break;
    }
  }

  // ---- echo

  void echo() {
    bool inside_message = false;
    while (auto frame = next_frame_header()) {
      if (auto problem = frame_problem(*frame, inside_message)) {
        fail(*problem);
        return;
      }
      if (is_control(frame->opcode)) {
        if (!answer_control_frame(*frame)) return;
        continue;
      }
      inside_message = !frame->fin;
      if (!echo_data_frame(*frame)) return;
    }
    // Like a real gateway going down for a restart: tell the client why before leaving.
    if (stop_seen_) close_first(*server_.close_on_exit, "gateway restarting", kCloseReplyTimeout);
  }

  // Between frames, and only there, a stop request may end the wait when --close-on-exit is set:
  // the close frame then cannot land in the middle of a frame being echoed.
  std::optional<FrameHeader> next_frame_header() {
    stop_watched_ = server_.close_on_exit.has_value();
    auto frame = read_frame_header();
    stop_watched_ = false;
    return frame;
  }

  // Streams the payload back as it arrives: header first, then unmasked chunks.
  bool echo_data_frame(const FrameHeader& frame) {
    append_frame_header(frame.fin, frame.opcode, frame.length);
    Unmasker unmasker(frame.mask);
    for (uint64_t remaining = frame.length; remaining > 0;) {
      std::span<const uint8_t> chunk = take_input(remaining);
      if (chunk.empty()) return false;
      remaining -= chunk.size();
      while (!chunk.empty()) {
        std::span<uint8_t> space = output_space();
        if (space.empty()) return false;
        size_t n = std::min(space.size(), chunk.size());
        unmasker.apply(space.data(), chunk.data(), n);
        out_length_ += n;
        chunk = chunk.subspan(n);
      }
    }
    return true;
  }

  // Returns false when the connection is over.
  bool answer_control_frame(const FrameHeader& frame) {
    std::string payload = read_small_payload(frame);
    if (payload.size() != frame.length) return false;
    if (server_.log_control_frames)
      say(std::string("control opcode=") + control_frame_name(frame.opcode) + " payload=" + json_string(payload));
    if (frame.opcode == kPong) return true;
    if (frame.opcode == kPing) {
      append_frame(kPong, payload);
      return true;
    }
    if (payload.size() == 1) {
      fail({kProtocolError, "close payload of one byte"});
      return false;
    }
    append_frame(kClose, payload);  // the client's code and reason, echoed back
    if (flush_output()) link_.finish();
    return false;
  }

  // ---- closing

  // Fails the connection (RFC 6455 7.1.7): close frame with the reason, then hang up.
  void fail(const CloseReason& reason) {
    append_frame(kClose, close_payload(reason.code, reason.text));
    if (flush_output()) link_.finish();
  }

  // Starts the closing handshake and waits (bounded) for the client's close frame.
  void close_first(uint16_t code, std::string_view reason, Clock::duration reply_limit) {
    append_frame(kClose, close_payload(code, reason));
    if (!flush_output()) return;
    read_deadline_ = Clock::now() + reply_limit;
    while (auto frame = read_frame_header()) {
      if (frame->opcode == kClose) break;
      if (!skip_input(frame->length)) return;
    }
    read_deadline_.reset();
    link_.finish();
  }

  // ---- /source

  bool send_source(uint64_t total) {
    const std::vector<uint8_t>& pattern = source_pattern();
    for (uint64_t sent = 0; sent < total;) {
      uint64_t frame_end = sent + std::min(kSourceFrameSize, total - sent);
      append_frame_header(true, kBinary, frame_end - sent);
      while (sent < frame_end) {
        std::span<uint8_t> space = output_space();
        if (space.empty()) return false;
        size_t n = static_cast<size_t>(std::min<uint64_t>(space.size(), frame_end - sent));
        std::memcpy(space.data(), pattern.data() + sent % kSourcePatternPeriod, n);
        out_length_ += n;
        sent += n;
      }
    }
    return true;
  }

  // ---- frame input

  std::optional<FrameHeader> read_frame_header() {
    if (!ensure_input(2)) return std::nullopt;
    const uint8_t* bytes = in_.get() + in_begin_;
    FrameHeader frame;
    frame.fin = (bytes[0] & 0x80) != 0;
    frame.rsv = static_cast<uint8_t>((bytes[0] >> 4) & 0x7);
    frame.opcode = bytes[0] & 0x0F;
    frame.masked = (bytes[1] & 0x80) != 0;
    uint8_t short_length = bytes[1] & 0x7F;
    size_t extended = short_length == 126 ? 2 : short_length == 127 ? 8 : 0;
    size_t header_size = 2 + extended + (frame.masked ? 4 : 0);
    if (!ensure_input(header_size)) return std::nullopt;
    bytes = in_.get() + in_begin_;  // ensure_input may have moved the data
    frame.length = short_length;
    if (extended > 0) {
      frame.length = 0;
      for (size_t i = 0; i < extended; ++i) frame.length = (frame.length << 8) | bytes[2 + i];
    }
    if (frame.masked) std::memcpy(frame.mask.data(), bytes + 2 + extended, 4);
    in_begin_ += header_size;
    return frame;
  }

  std::string read_small_payload(const FrameHeader& frame) {
    size_t length = static_cast<size_t>(frame.length);
    if (!ensure_input(length)) return {};
    std::string payload(length, '\0');
    Unmasker(frame.mask).apply(reinterpret_cast<uint8_t*>(payload.data()), in_.get() + in_begin_, length);
    in_begin_ += length;
    return payload;
  }

  bool skip_input(uint64_t length) {
    while (length > 0) {
      std::span<const uint8_t> chunk = take_input(length);
      if (chunk.empty()) return false;
      length -= chunk.size();
    }
    return true;
  }

  // Up to `limit` bytes from the input buffer, reading more if it is empty; empty on failure.
  std::span<const uint8_t> take_input(uint64_t limit) {
    if (in_begin_ == in_end_ && !fill_input()) return {};
    size_t n = static_cast<size_t>(std::min<uint64_t>(limit, in_end_ - in_begin_));
    std::span<const uint8_t> chunk(in_.get() + in_begin_, n);
    in_begin_ += n;
    return chunk;
  }

  // Makes `count` contiguous bytes available at in_begin_ (count is small: a header or a
  // control payload).
  bool ensure_input(size_t count) {
    while (in_end_ - in_begin_ < count) {
      if (in_begin_ + count > kBufferSize) compact_input();
      if (!fill_input()) return false;
    }
    return true;
  }

  void compact_input() {
    std::memmove(in_.get(), in_.get() + in_begin_, in_end_ - in_begin_);
    in_end_ -= in_begin_;
    in_begin_ = 0;
  }

  bool fill_input() {
    if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
    if (in_end_ == kBufferSize) compact_input();
    // Buffered output goes out before we might block, or client and gateway could wait for
    // each other; while more input is already here, it keeps collecting into bigger writes.
    if (out_length_ > 0 && !link_.input_ready() && !flush_output()) return false;
    if (!apply_read_deadline()) return false;
    if (stop_watched_ && !link_.wait_for_input_unless(server_.stop_fd)) {
      stop_seen_ = true;
      return false;
    }
    size_t n = link_.read_some(in_.get() + in_end_, kBufferSize - in_end_);
    in_end_ += n;
    return n > 0;
  }

  bool apply_read_deadline() {
    if (!read_deadline_) {
      link_.set_read_timeout(std::nullopt);
      return true;
    }
    auto left = *read_deadline_ - Clock::now();
    if (left <= Clock::duration::zero()) return false;
    link_.set_read_timeout(left);
    return true;
  }

  // ---- output

  std::span<uint8_t> output_space() {
    if (out_length_ == kBufferSize && !flush_output()) return {};
    if (output_failed_) return {};
    return {out_.get() + out_length_, kBufferSize - out_length_};
  }

  bool append_output(std::string_view bytes) {
    while (!bytes.empty()) {
      std::span<uint8_t> space = output_space();
      if (space.empty()) return false;
      size_t n = std::min(space.size(), bytes.size());
      std::memcpy(space.data(), bytes.data(), n);
      out_length_ += n;
      bytes.remove_prefix(n);
    }
    return true;
  }

  void append_frame_header(bool fin, uint8_t opcode, uint64_t length) {
    uint8_t header[10];
    size_t size = encode_frame_header(header, fin, opcode, length);
    append_output(std::string_view(reinterpret_cast<const char*>(header), size));
  }

  void append_frame(uint8_t opcode, std::string_view payload) {
    append_frame_header(true, opcode, payload.size());
    append_output(payload);
  }

  bool flush_output() {
    if (output_failed_) return false;
    if (out_length_ > 0 && !link_.write_all(out_.get(), out_length_)) output_failed_ = true;
    out_length_ = 0;
    return !output_failed_;
  }

  Link link_;
  const Server& server_;
  SSL_CTX* tls_;  // null for plain connections
  std::string peer_;
  std::unique_ptr<uint8_t[]> in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  std::unique_ptr<uint8_t[]> out_;
  size_t out_length_ = 0;
  bool output_failed_ = false;
  std::optional<Clock::time_point> read_deadline_;
  bool stop_watched_ = false;  // a stop request may interrupt the next wait for input
  bool stop_seen_ = false;
};

// ---------------------------------------------------------------------------------------------
// Listening, accepting, signals.

int g_signal_pipe[2] = {-1, -1};

void on_stop_signal(int) {
  int saved = errno;
  char byte = 1;
  [[maybe_unused]] ssize_t ignored = ::write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

void install_signal_handlers() {
  if (::pipe(g_signal_pipe) != 0) throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
  for (int fd : g_signal_pipe) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  ::fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

std::string format_address(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = "?";
  if (address.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
    ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
  }
  const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
  ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
  return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6.sin6_port));
}

int open_listener(const Options& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int error = ::getaddrinfo(options.host.c_str(), options.port.c_str(), &hints, &found); error != 0)
    throw std::runtime_error("cannot resolve " + options.host + ": " + ::gai_strerror(error));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* candidate = found; candidate; candidate = candidate->ai_next) {
    int fd = ::socket(candidate->ai_family, candidate->ai_socktype, candidate->ai_protocol);
    if (fd < 0) continue;
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (::bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) return fd;
    last_error = std::strerror(errno);
    ::close(fd);
  }
  throw std::runtime_error("cannot listen on " + options.host + ":" + options.port + ": " + last_error);
}

void serve_connection(int fd, const Server& server, std::string peer) {
  try {
    Connection(fd, server, peer).run();
  } catch (const std::exception& error) {
    warn("connection from " + peer + ": " + error.what());
  }
  g_live.thread_done();
}

void start_connection(int fd, const sockaddr_storage& address, const Server& server) {
  int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  g_live.add(fd);
  try {
    std::thread(serve_connection, fd, std::cref(server), format_address(address)).detach();
  } catch (const std::system_error& error) {
    warn(std::string("cannot start a thread: ") + error.what());
    g_live.forget_socket(fd);
    g_live.thread_done();
    ::close(fd);
  }
}

// Accepts until SIGTERM/SIGINT arrives on the signal pipe.
void accept_until_stopped(int listener, const Server& server) {
  for (;;) {
    pollfd pollers[2] = {{listener, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
    if (::poll(pollers, 2, -1) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("poll: " + std::string(std::strerror(errno)));
    }
    if (pollers[1].revents != 0) return;
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept(listener, reinterpret_cast<sockaddr*>(&address), &length);
    if (fd >= 0) {
      start_connection(fd, address, server);
    } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      warn("accept: " + std::string(std::strerror(errno)));
      std::this_thread::sleep_for(10ms);  // out of descriptors: do not spin
    }
  }
}

int run(int argc, char** argv) {
  Options options;
  if (auto error = parse_options(argc, argv, options)) {
    warn(*error);
    print_line(stderr, std::string(kUsage));
    return 2;
  }
  try {
    SslCtxPtr tls;
    if (!options.plain) tls = make_tls_context(options);
    install_signal_handlers();
    int listener = open_listener(options);
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
    say("listening on " + format_address(bound));
    // The signal pipe is never drained, so once a stop signal wrote to it, it stays readable
    // for every connection thread that polls it.
    Server server{tls.get(), options.close_on_exit, options.log_control_frames, g_signal_pipe[0]};
    accept_until_stopped(listener, server);
    ::close(listener);
    // With --close-on-exit the echo sessions send their close frames and wait for the replies
    // themselves; whatever is still busy after the grace period is cut off as without the flag.
    if (options.close_on_exit) g_live.wait_idle(kShutdownGrace);
    g_live.shut_all();
    if (!g_live.wait_idle(kShutdownGrace)) warn("some connections did not finish in time");
    return 0;
  } catch (const std::exception& error) {
    warn(error.what());
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  int status = run(argc, argv);
  // Connection threads are detached; a normal exit would run OpenSSL's atexit cleanup while
  // one of them may still be unwinding. Output is flushed, so leave without global teardown.
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}
