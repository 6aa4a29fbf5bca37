// What the client daemon tells wallets as it happens (GET /events, a
// long-poll): each event gets the next sequence number of this run's stream,
// and a wallet asks for the events after the last one it saw. A poll with
// nothing to answer yet is parked, holding no thread: it is answered by the
// publish that gives it something, or by this feed's one thread at its
// timeout on the injected clock.
//
// Kept in memory, the newest `capacity` events; the stream id is new at each
// start, so a wallet can tell a restart (the ClientNode republishes the
// breaches it recorded at start, so none is lost; acknowledgments of an
// earlier run are in GET /backups).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "common/context.h"
#include "common/result.h"

namespace argus::client {

struct EventFeedOptions {
    std::size_t capacity = 10'000;  // events kept; the oldest go first
    std::size_t max_events_per_answer = 1'000;
    std::size_t max_waiting_polls = 256;  // more parked polls than this are refused
    std::chrono::milliseconds max_timeout{60'000};
};

struct EventPoll {
    std::uint64_t after = 0;               // the last seq seen; 0: from the start
    std::chrono::milliseconds timeout{0};  // 0: answer at once
    std::string stream;                    // the stream `after` came from; empty: this one
};

class EventFeed {
  public:
    // Called once per poll with the answer (see page()), from the thread that
    // publishes, the feed's thread, or the poller's own.
    using Answer = std::function<void(nlohmann::json answer)>;

    EventFeed(Clock& clock, std::string stream, EventFeedOptions options = {});
    ~EventFeed();
    EventFeed(const EventFeed&) = delete;
    EventFeed& operator=(const EventFeed&) = delete;

    // The thread answering polls at their timeouts. Until start() and after
    // stop(), polls are answered at once.
    void start();
    // Answers every parked poll with what there is, then joins the thread.
    void stop();

    // Adds {"seq", "type", "time_ms", ...fields} and answers every parked poll. Returns the seq.
    std::uint64_t publish(const std::string& type, nlohmann::json fields, std::int64_t time_ms);
    // Answers at once when there is something to say (events after `after`,
    // an `after` or stream from another run, a zero timeout), else parks.
    // Fails (nothing answered) when max_waiting_polls are already parked.
    Status poll(const EventPoll& poll, Answer answer);
    // What a poll gets: {"stream", "events": [...], "next_after", "last_seq",
    // "truncated" (events after `after` were dropped from memory), "reset"
    // (`after` or `stream` belong to another run: events from this stream's start)}.
    nlohmann::json page(const EventPoll& poll);

    const std::string& stream() const { return stream_; }
    std::size_t waiting_polls();
    const EventFeedOptions& options() const { return options_; }

  private:
    struct Waiter {
        EventPoll poll;
        std::chrono::steady_clock::time_point deadline;
        Answer answer;
    };
    struct Event {
        std::uint64_t seq;
        nlohmann::json json;
    };
    nlohmann::json page_locked(const EventPoll& poll) const;
    bool has_answer_locked(const EventPoll& poll) const;
    bool is_reset_locked(const EventPoll& poll) const;
    void run();

    Clock& clock_;
    const std::string stream_;
    const EventFeedOptions options_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Event> events_;
    std::uint64_t last_seq_ = 0;
    std::list<Waiter> waiters_;
    bool waiters_changed_ = false;
    bool running_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace argus::client
