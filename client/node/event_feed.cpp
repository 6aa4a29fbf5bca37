#include "client/node/event_feed.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace argus::client {

using json = nlohmann::json;

namespace {
using Answers = std::vector<std::pair<EventFeed::Answer, json>>;

// Answers outside the feed's lock: an answer may post to a server, log, or poll again.
void deliver(Answers& answers) {
    for (auto& [answer, page] : answers) answer(std::move(page));
}
}  // namespace

EventFeed::EventFeed(Clock& clock, std::string stream, EventFeedOptions options)
    : clock_(clock), stream_(std::move(stream)), options_(options) {}

EventFeed::~EventFeed() {
    stop();
}

void EventFeed::start() {
    std::lock_guard lock(mutex_);
    if (running_ || stopping_) return;
    running_ = true;
    thread_ = std::thread([this] { run(); });
}

void EventFeed::stop() {
    Answers answers;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        running_ = false;
        for (auto& w : waiters_) answers.emplace_back(std::move(w.answer), page_locked(w.poll));
        waiters_.clear();
        wake_.notify_all();
    }
    deliver(answers);
    if (thread_.joinable()) thread_.join();
}

std::uint64_t EventFeed::publish(const std::string& type, json fields, std::int64_t time_ms) {
    Answers answers;
    std::uint64_t seq = 0;
    {
        std::lock_guard lock(mutex_);
        seq = ++last_seq_;
        json event = {{"seq", seq}, {"type", type}, {"time_ms", time_ms}};
        for (auto& [key, value] : fields.items()) event[key] = std::move(value);
        events_.push_back({seq, std::move(event)});
        while (events_.size() > options_.capacity) events_.pop_front();
        // A parked poll had nothing after its `after`; this event is after it.
        for (auto& w : waiters_) answers.emplace_back(std::move(w.answer), page_locked(w.poll));
        waiters_.clear();
    }
    deliver(answers);
    return seq;
}

bool EventFeed::is_reset_locked(const EventPoll& poll) const {
    return (!poll.stream.empty() && poll.stream != stream_) || poll.after > last_seq_;
}

bool EventFeed::has_answer_locked(const EventPoll& poll) const {
    return poll.timeout.count() <= 0 || is_reset_locked(poll) || poll.after < last_seq_;
}

json EventFeed::page_locked(const EventPoll& poll) const {
    bool reset = is_reset_locked(poll);
    std::uint64_t from = reset ? 0 : poll.after;
    json events = json::array();
    std::uint64_t next_after = from;
    // Sequence numbers are consecutive, so the first event after `from` is found by arithmetic.
    std::uint64_t first = events_.empty() ? last_seq_ + 1 : events_.front().seq;
    bool truncated = first > from + 1 && from < last_seq_;
    std::size_t start = from + 1 > first ? static_cast<std::size_t>(from + 1 - first) : 0;
    for (std::size_t i = start;
         i < events_.size() && events.size() < options_.max_events_per_answer; ++i) {
        events.push_back(events_[i].json);
        next_after = events_[i].seq;
    }
    return {{"stream", stream_},     {"events", std::move(events)}, {"next_after", next_after},
            {"last_seq", last_seq_}, {"truncated", truncated},      {"reset", reset}};
}

json EventFeed::page(const EventPoll& poll) {
    std::lock_guard lock(mutex_);
    return page_locked(poll);
}

Status EventFeed::poll(const EventPoll& poll, Answer answer) {
    json now;
    {
        std::lock_guard lock(mutex_);
        if (running_ && !has_answer_locked(poll)) {
            if (waiters_.size() >= options_.max_waiting_polls) {
                return make_error(
                    ErrorCode::unavailable,
                    "too many polls waiting (" + std::to_string(options_.max_waiting_polls) + ")");
            }
            auto timeout = std::min(poll.timeout, options_.max_timeout);
            waiters_.push_back({poll, clock_.monotonic_now() + timeout, std::move(answer)});
            waiters_changed_ = true;
            wake_.notify_all();
            return {};
        }
        now = page_locked(poll);
    }
    answer(std::move(now));
    return {};
}

std::size_t EventFeed::waiting_polls() {
    std::lock_guard lock(mutex_);
    return waiters_.size();
}

void EventFeed::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        auto now = clock_.monotonic_now();
        Answers answers;
        auto next = now + options_.max_timeout;
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            if (it->deadline <= now) {
                answers.emplace_back(std::move(it->answer), page_locked(it->poll));
                it = waiters_.erase(it);
            } else {
                next = std::min(next, it->deadline);
                ++it;
            }
        }
        if (!answers.empty()) {
            lock.unlock();
            deliver(answers);
            lock.lock();
            continue;  // the clock moved on meanwhile
        }
        // Rounded up: waking a millisecond early would only wait again.
        auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - now);
        waiters_changed_ = false;
        clock_.wait_for(lock, wake_, std::max(wait, std::chrono::milliseconds(1)),
                        [&] { return stopping_ || waiters_changed_; });
    }
}

}  // namespace argus::client
