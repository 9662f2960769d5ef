#include "http_reader.hpp"
#include "http_text.hpp"

#include <algorithm>
#include <cstring>

namespace loopgate::http {
namespace {

constexpr size_t kMaxHeaders = 100;

Reader& self(llhttp_t* p) { return *static_cast<Reader*>(p->data); }

}  // namespace

const std::string* Headers::find(std::string_view name) const {
    for (const auto& h : list_)
        if (iequals(h.name, name)) return &h.value;
    return nullptr;
}

std::string Headers::joined(std::string_view name) const {
    std::string out;
    for (const auto& h : list_) {
        if (!iequals(h.name, name)) continue;
        if (!out.empty()) out += ", ";
        out += h.value;
    }
    return out;
}

size_t Headers::count(std::string_view name) const {
    return static_cast<size_t>(
        std::count_if(list_.begin(), list_.end(), [&](const Header& h) { return iequals(h.name, name); }));
}

bool Headers::has_token(std::string_view name, std::string_view token) const {
    for (const auto& h : list_) {
        if (!iequals(h.name, name)) continue;
        std::string_view rest = h.value;
        while (!rest.empty()) {
            size_t comma = rest.find(',');
            std::string_view item = trim(rest.substr(0, comma));
            if (iequals(item, token)) return true;
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return false;
}

Reader::Reader(Kind kind, size_t max_head_bytes, size_t max_body_bytes, bool stream_body)
    : kind_(kind),
      max_head_bytes_(max_head_bytes),
      max_body_bytes_(max_body_bytes),
      headers_(kind == Kind::request ? &request_.headers : &response_.headers),
      stream_body_(stream_body) {
    llhttp_settings_init(&settings_);
    settings_.on_url = on_url;
    settings_.on_status = on_status;
    settings_.on_method = on_method;
    settings_.on_header_field = on_header_field;
    settings_.on_header_value = on_header_value;
    settings_.on_headers_complete = on_headers_complete;
    settings_.on_body = on_body;
    settings_.on_message_complete = on_message_complete;
    llhttp_init(&parser_, kind == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
    parser_.data = this;
}

void Reader::reset() {
    llhttp_init(&parser_, kind_ == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE, &settings_);
    parser_.data = this;
    request_ = {};
    response_ = {};
    in_value_ = head_done_ = done_ = too_many_headers_ = no_body_ = paused_at_head_ = false;
    head_bytes_ = 0;
    body_bytes_ = 0;
    error_status_ = 0;
    error_reason_.clear();
}

int Reader::on_url(llhttp_t* p, const char* at, size_t len) {
    self(p).request_.target.append(at, len);
    return 0;
}

int Reader::on_status(llhttp_t* p, const char* at, size_t len) {
    self(p).response_.reason.append(at, len);
    return 0;
}

int Reader::on_method(llhttp_t* p, const char* at, size_t len) {
    self(p).request_.method.append(at, len);
    return 0;
}

int Reader::on_header_field(llhttp_t* p, const char* at, size_t len) {
    Reader& r = self(p);
    auto& list = r.headers_->list();
    if (r.in_value_ || list.empty()) {
        if (list.size() >= kMaxHeaders) {
            r.too_many_headers_ = true;
            return -1;
        }
        list.push_back({});
        r.in_value_ = false;
    }
    list.back().name.append(at, len);
    return 0;
}

int Reader::on_header_value(llhttp_t* p, const char* at, size_t len) {
    Reader& r = self(p);
    r.in_value_ = true;
    r.headers_->list().back().value.append(at, len);
    return 0;
}

int Reader::on_headers_complete(llhttp_t* p) {
    Reader& r = self(p);
    r.head_done_ = true;
    if (r.kind_ == Kind::request) {
        r.request_.version_major = p->http_major;
        r.request_.version_minor = p->http_minor;
        // The head is all we want from an app: stop right here so the bytes
        // behind it (early WebSocket frames) stay unconsumed.
        return HPE_PAUSED;
    }
    r.response_.status = p->status_code;
    r.response_.version_major = p->http_major;
    r.response_.version_minor = p->http_minor;
    // No body, whatever length it states (RFC 9112 6.3): the answer to a HEAD
    // (expect_no_body), a 1xx, 204 or 304 (llhttp 8 would read a 100's
    // Content-Length as one). llhttp reads the flag when parsing resumes.
    int status = p->status_code;
    if (r.no_body_ || (status >= 100 && status < 200 && status != 101) || status == 204 || status == 304) {
        p->flags |= F_SKIPBODY;
    }
    // Pause here too, so the head's size is known exactly; feed() resumes
    // to read the body of a refusal (so the app can see it).
    return HPE_PAUSED;
}

int Reader::on_body(llhttp_t* p, const char* at, size_t len) {
    Reader& r = self(p);
    r.body_bytes_ += len;
    if (r.stream_body_) return 0;  // the caller forwards the raw bytes
    size_t room = r.max_body_bytes_ - std::min(r.max_body_bytes_, r.response_.body.size());
    r.response_.body.append(at, std::min(room, len));
    if (len > room) r.response_.body_truncated = true;
    return 0;
}

int Reader::on_message_complete(llhttp_t* p) {
    self(p).done_ = true;
    return HPE_PAUSED;
}

Reader::Status Reader::fail(int status, std::string reason) {
    error_status_ = status;
    error_reason_ = std::move(reason);
    return Status::error;
}

Reader::Status Reader::feed(const char* data, size_t len, size_t& consumed) {
    consumed = 0;
    if (error_status_ != 0) return Status::error;
    size_t offset = 0;
    for (;;) {
        bool head_was_done = head_done_;
        const char* at = data + offset;
        llhttp_errno_t err = llhttp_execute(&parser_, at, len - offset);
        bool paused = err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE;
        size_t used = paused ? static_cast<size_t>(llhttp_get_error_pos(&parser_) - at) : len - offset;
        if (!head_was_done) {
            head_bytes_ += used;  // exact: the parser pauses at the end of the head
            if (head_bytes_ > max_head_bytes_) {
                return fail(431, std::string(kind_ == Kind::request ? "request" : "response") +
                                     " header block larger than " + std::to_string(max_head_bytes_) + " bytes");
            }
        }
        if (err != HPE_OK && !paused) {
            if (too_many_headers_) return fail(431, "more than 100 header fields");
            return fail(400, std::string("malformed HTTP: ") + llhttp_get_error_reason(&parser_));
        }
        offset += used;
        if (!head_done_) {
            consumed = len;
            return Status::need_more;
        }
        if (stream_body_) {
            paused_at_head_ = paused;
            consumed = offset;
            return Status::complete;
        }
        if (kind_ == Kind::response && done_ && response_.status >= 100 && response_.status < 200 &&
            response_.status != 101) {
            // An interim response (100 Continue, 103 Early Hints): clients skip
            // it (RFC 9110 15.2) and read on for the final one.
            response_ = {};
            head_done_ = done_ = in_value_ = false;
            llhttp_resume(&parser_);
            if (offset >= len) {
                consumed = len;
                return Status::need_more;
            }
            continue;
        }
        if (kind_ == Kind::request || response_.status == 101 || done_) {
            consumed = offset;
            return Status::complete;
        }
        // Paused at the end of a refusal's head: go on to read its body. Even
        // with no byte left, execute once more: a body-less refusal
        // (Content-Length: 0, 204) ends right there, and no more bytes may come.
        if (paused) {
            llhttp_resume(&parser_);
        } else if (offset >= len) {
            consumed = len;
            return Status::need_more;
        }
    }
}

Reader::Status Reader::feed_body(const char* data, size_t len, size_t& consumed) {
    consumed = 0;
    if (error_status_ != 0) return Status::error;
    if (done_) return Status::complete;
    if (paused_at_head_) {
        paused_at_head_ = false;
        llhttp_resume(&parser_);
    }
    // Even with no byte given, run once: a message without a body ends right here.
    llhttp_errno_t err = llhttp_execute(&parser_, data, len);
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
        return done_ ? Status::complete : Status::need_more;
    }
    if (err != HPE_OK) return fail(400, std::string("malformed HTTP body: ") + llhttp_get_error_reason(&parser_));
    consumed = len;
    return done_ ? Status::complete : Status::need_more;
}

Reader::Status Reader::finish() {
    if (error_status_ != 0) return Status::error;
    if (stream_body_ && head_done_ && !done_) {
        if (paused_at_head_) {
            // The connection ended right behind the head: the body (if any) runs to here.
            paused_at_head_ = false;
            llhttp_resume(&parser_);
            llhttp_execute(&parser_, nullptr, 0);
        }
        if (!done_) llhttp_finish(&parser_);
        if (done_) return Status::complete;
        return fail(400, "connection closed before the body was complete");
    }
    if (done_ || (head_done_ && (kind_ == Kind::request || response_.status == 101))) return Status::complete;
    llhttp_errno_t err = llhttp_finish(&parser_);
    if ((err == HPE_OK || err == HPE_PAUSED) && head_done_) return Status::complete;
    return fail(400, head_done_ ? "connection closed before the body was complete"
                                : "connection closed before the header block was complete");
}

}  // namespace loopgate::http
