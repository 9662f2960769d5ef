#include "address_race.hpp"

#include <uv.h>

#include "dialer.hpp"

namespace loopgate {

AddressRace::AddressRace(Clock& clock, std::vector<std::string> names, uint64_t connect_timeout_ms, Owner& owner)
    : clock_(clock), owner_(owner), connect_timeout_ms_(connect_timeout_ms), delay_(clock.new_alarm()) {
    attempts_.resize(names.size());
    for (size_t i = 0; i < names.size(); ++i) attempts_[i].name = std::move(names[i]);
}

void AddressRace::start() { open_next(); }

// Opens the next address that can be opened; one that fails at once is
// noted and the one after it tried straight away.
void AddressRace::open_next() {
    delay_->stop();
    while (next_ < attempts_.size()) {
        size_t i = next_++;
        int rc = owner_.race_open(i);
        if (rc == 0) {
            Attempt& attempt = attempts_[i];
            attempt.state = State::connecting;
            ++in_flight_;
            attempt.deadline = clock_.new_alarm();
            attempt.deadline->start(connect_timeout_ms_, [this, i] {
                fail(i, "connect timed out after " + std::to_string(connect_timeout_ms_) + " ms");
            });
            if (next_ < attempts_.size()) delay_->start(kAttemptDelayMs, [this] { open_next(); });
            return;
        }
        attempts_[i].state = State::failed;
        if (is_local_exhaustion(rc)) {
            local_error_ = rc;  // every further address would fail the same way
            attempts_[i].error = std::string("not tried: ") + uv_strerror(rc);
            next_ = attempts_.size();
            break;
        }
        network_answered_ = true;  // connect(2) itself said no: ENETUNREACH and the like
        attempts_[i].error = uv_strerror(rc);
        owner_.race_attempt_failed(i, attempts_[i].error);
    }
    if (in_flight_ == 0) finish_later();
}

void AddressRace::fail(size_t i, const std::string& why) {
    Attempt& attempt = attempts_.at(i);
    if (attempt.state != State::connecting) return;
    attempt.state = State::failed;
    attempt.error = why;
    network_answered_ = true;
    attempt.deadline.reset();  // also when this is its own callback: destroying an alarm cancels it
    --in_flight_;
    owner_.race_close(i, false);
    owner_.race_attempt_failed(i, why);
    open_next();  // a failure does not wait out the attempt delay
}

void AddressRace::on_failed(size_t i, const std::string& why) { fail(i, why); }

void AddressRace::on_connected(size_t i) {
    Attempt& winner = attempts_.at(i);
    if (winner.state != State::connecting) return;
    winner.state = State::won;
    winner.deadline.reset();
    decided_ = true;
    delay_->stop();
    for (size_t j = 0; j < attempts_.size(); ++j) {
        Attempt& other = attempts_[j];
        if (other.state != State::connecting) continue;
        other.state = State::lost;
        other.deadline.reset();
        owner_.race_close(j, true);
    }
    in_flight_ = 0;
    owner_.race_won(i);  // last: the owner may destroy the race
}

// The loss is reported from the loop, so never from inside start().
void AddressRace::finish_later() {
    delay_->start(0, [this] { finish(); });
}

void AddressRace::finish() {
    decided_ = true;
    std::string errors;
    for (const Attempt& attempt : attempts_) {
        if (attempt.error.empty()) continue;
        if (!errors.empty()) errors += "; ";
        errors += attempt.name + " " + attempt.error;
    }
    // A shortage of loopgate's own decides only when the network said nothing.
    owner_.race_lost(errors, network_answered_ ? 0 : local_error_);  // last: the owner may destroy the race
}

std::string AddressRace::connecting() const {
    std::string out;
    for (const Attempt& attempt : attempts_) {
        if (attempt.state != State::connecting) continue;
        if (!out.empty()) out += ", ";
        out += attempt.name;
    }
    return out;
}

}  // namespace loopgate
