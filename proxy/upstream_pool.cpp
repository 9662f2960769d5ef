#include "upstream_pool.hpp"

#include <algorithm>

#include "route.hpp"

namespace loopgate {

UpstreamPool::UpstreamPool(Clock& clock, ProcessLoad* process, size_t max_idle, uint64_t idle_ms)
    : clock_(clock), process_(process), max_idle_(max_idle), idle_ms_(idle_ms) {}

UpstreamPool::~UpstreamPool() { clear(); }

Transport* UpstreamPool::take(const RouteSettings* settings) {
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if (it->settings != settings) continue;
        Transport* upstream = it->upstream;
        let_go(std::next(it).base());
        upstream->set_handler(nullptr);
        return upstream;
    }
    return nullptr;
}

void UpstreamPool::put(Transport* upstream, const RouteSettings* settings) {
    if (max_idle_ == 0 || closed_) {
        upstream->end(1000);
        return;
    }
    if (process_ != nullptr) process_->upstream_pooled();  // before an eviction: busy() does not flap
    if (idle_.size() >= max_idle_) {
        idle_.front().upstream->end(1000);  // the oldest is the likeliest to be closed by the upstream soon
        let_go(idle_.begin());
    }
    upstream->set_handler(this);
    upstream->read_start();
    Idle entry{upstream, settings, clock_.new_alarm()};
    entry.expiry->start(idle_ms_, [this, upstream] { drop(*upstream); });
    idle_.push_back(std::move(entry));
}

void UpstreamPool::clear() {
    while (!idle_.empty()) {
        idle_.back().upstream->end(1000);
        let_go(std::prev(idle_.end()));
    }
}

void UpstreamPool::close() {
    closed_ = true;
    clear();
}

void UpstreamPool::let_go(std::vector<Idle>::iterator it) {
    idle_.erase(it);  // its alarm goes with it
    if (process_ != nullptr) process_->upstream_unpooled();
}

void UpstreamPool::drop(Transport& t) {
    auto it = std::find_if(idle_.begin(), idle_.end(), [&](const Idle& e) { return e.upstream == &t; });
    if (it == idle_.end()) return;
    Transport* upstream = it->upstream;
    let_go(it);
    upstream->end(1000);
}

// An idle connection has nothing to say: bytes now are a protocol error,
// and an end is the upstream's keep-alive timeout.
void UpstreamPool::on_transport_data(Transport& t, const char*, size_t) { drop(t); }
void UpstreamPool::on_transport_end(Transport& t, const Transport::End&) { drop(t); }

}  // namespace loopgate
