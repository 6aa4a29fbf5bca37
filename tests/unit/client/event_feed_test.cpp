// The client daemon's event feed (GET /events): sequence numbers, parked
// long-polls answered by a publish or at their timeout on the simulated
// clock, restarts and a full ring; and the endpoint's query parser.
#include <doctest/doctest.h>

#include <condition_variable>
#include <mutex>
#include <optional>

#include "client/node/client_api.h"
#include "client/node/event_feed.h"
#include "tests/support/simulated_context.h"

using namespace argus;
using namespace argus::client;
using namespace argus::test;
using json = nlohmann::json;

namespace {

// Catches one answer, from whichever thread gives it.
class AnswerBox {
  public:
    EventFeed::Answer answer() {
        return [this](json page) {
            std::lock_guard lock(mutex_);
            page_ = std::move(page);
            ++answers_;
            changed_.notify_all();
        };
    }
    // Waits (real time, bounded) for an answer; nullopt if none came.
    std::optional<json> await(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, limit, [&] { return page_.has_value(); })) return std::nullopt;
        return page_;
    }
    int answers() {
        std::lock_guard lock(mutex_);
        return answers_;
    }

  private:
    std::mutex mutex_;
    std::condition_variable changed_;
    std::optional<json> page_;
    int answers_ = 0;
};

EventPoll poll_after(std::uint64_t after,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(0),
                     std::string stream = "") {
    return EventPoll{after, timeout, std::move(stream)};
}

}  // namespace

TEST_CASE(
    "client events: a poll with events pending is answered at once with the events after its seq") {
    SimulatedClock clock;
    EventFeed feed(clock, "aa01");
    feed.start();
    CHECK(feed.publish("backup_acknowledged", {{"locator", "01"}}, 10) == 1);
    CHECK(feed.publish("backup_acknowledged", {{"locator", "02"}}, 11) == 2);
    CHECK(feed.publish("breach_reported", {{"channel_id", "c"}}, 12) == 3);
    AnswerBox box;
    REQUIRE(feed.poll(poll_after(1, std::chrono::seconds(30)), box.answer()));
    auto page = box.await(std::chrono::milliseconds(0));  // already answered, on this thread
    REQUIRE(page);
    CHECK((*page)["stream"] == "aa01");
    REQUIRE((*page)["events"].size() == 2);
    CHECK((*page)["events"][0] ==
          json{{"seq", 2}, {"type", "backup_acknowledged"}, {"time_ms", 11}, {"locator", "02"}});
    CHECK((*page)["events"][1]["type"] == "breach_reported");
    CHECK((*page)["events"][1]["channel_id"] == "c");
    CHECK((*page)["next_after"] == 3);
    CHECK((*page)["last_seq"] == 3);
    CHECK((*page)["truncated"] == false);
    CHECK((*page)["reset"] == false);
    CHECK(feed.waiting_polls() == 0);
    // Nothing new and no timeout: an empty answer at once, next_after unchanged.
    auto empty = feed.page(poll_after(3));
    CHECK(empty["events"].empty());
    CHECK(empty["next_after"] == 3);
}

TEST_CASE("client events: a parked poll holds no thread and is answered by the next publish") {
    SimulatedClock clock;
    EventFeed feed(clock, "aa02");
    feed.start();
    feed.publish("backup_acknowledged", {{"locator", "01"}}, 1);
    AnswerBox first, second;
    REQUIRE(feed.poll(poll_after(1, std::chrono::seconds(30)), first.answer()));
    REQUIRE(feed.poll(poll_after(1, std::chrono::seconds(30)), second.answer()));
    CHECK(feed.waiting_polls() == 2);  // poll() returned: the caller's thread is free
    CHECK_FALSE(first.await(std::chrono::milliseconds(100)));
    feed.publish("breach_reported", {{"channel_id", "c"}}, 2);
    auto a = first.await();
    auto b = second.await();
    REQUIRE(a);
    REQUIRE(b);
    REQUIRE((*a)["events"].size() == 1);
    CHECK((*a)["events"][0]["seq"] == 2);
    CHECK(*a == *b);
    CHECK(feed.waiting_polls() == 0);
    CHECK(first.answers() == 1);  // answered exactly once
}

TEST_CASE(
    "client events: a parked poll is answered empty at its timeout on the injected clock, not "
    "before") {
    SimulatedClock clock;
    EventFeed feed(clock, "aa03");
    feed.start();
    AnswerBox box;
    REQUIRE(feed.poll(poll_after(0, std::chrono::milliseconds(5'000)), box.answer()));
    CHECK_FALSE(box.await(std::chrono::milliseconds(100)));  // simulated time stands still
    clock.advance(std::chrono::milliseconds(4'999));
    CHECK_FALSE(box.await(std::chrono::milliseconds(100)));
    clock.advance(std::chrono::milliseconds(1));
    auto page = box.await();
    REQUIRE(page);
    CHECK((*page)["events"].empty());
    CHECK((*page)["next_after"] == 0);
    CHECK(feed.waiting_polls() == 0);
    // A timeout beyond the feed's maximum is cut to it.
    AnswerBox capped;
    REQUIRE(feed.poll(poll_after(0, std::chrono::hours(1)), capped.answer()));
    clock.advance(feed.options().max_timeout);
    CHECK(capped.await());
}

TEST_CASE(
    "client events: an after or a stream from another run is answered at once from this stream's "
    "start") {
    SimulatedClock clock;
    EventFeed feed(clock, "bb01");
    feed.start();
    feed.publish("breach_reported", {{"channel_id", "c"}},
                 1);  // reloaded from the database at start
    AnswerBox beyond, other_stream, same_stream;
    REQUIRE(feed.poll(poll_after(57, std::chrono::seconds(30)), beyond.answer()));
    auto page = beyond.await(std::chrono::milliseconds(0));
    REQUIRE(page);
    CHECK((*page)["reset"] == true);
    REQUIRE((*page)["events"].size() == 1);
    CHECK((*page)["events"][0]["seq"] == 1);
    REQUIRE(feed.poll(poll_after(1, std::chrono::seconds(30), "aa99"), other_stream.answer()));
    page = other_stream.await(std::chrono::milliseconds(0));
    REQUIRE(page);
    CHECK((*page)["reset"] == true);
    CHECK((*page)["events"].size() == 1);
    // The current stream's own id is no reset: parked as usual.
    REQUIRE(feed.poll(poll_after(1, std::chrono::seconds(30), "bb01"), same_stream.answer()));
    CHECK(feed.waiting_polls() == 1);
    feed.stop();  // answers it, empty
    page = same_stream.await();
    REQUIRE(page);
    CHECK((*page)["events"].empty());
    CHECK((*page)["reset"] == false);
}

TEST_CASE(
    "client events: the feed keeps the newest events and says when ones after the poll's seq were "
    "dropped") {
    SimulatedClock clock;
    EventFeedOptions options;
    options.capacity = 3;
    options.max_events_per_answer = 2;
    EventFeed feed(clock, "cc01", options);
    for (int i = 1; i <= 5; ++i) feed.publish("backup_acknowledged", {{"n", i}}, i);
    auto page = feed.page(poll_after(0));
    CHECK(page["truncated"] == true);     // 1 and 2 are gone
    REQUIRE(page["events"].size() == 2);  // at most two per answer
    CHECK(page["events"][0]["seq"] == 3);
    CHECK(page["next_after"] == 4);
    page = feed.page(poll_after(4));
    CHECK(page["truncated"] == false);
    REQUIRE(page["events"].size() == 1);
    CHECK(page["events"][0]["seq"] == 5);
    CHECK(feed.page(poll_after(2))["truncated"] == false);  // it saw 2: nothing after it was lost
}

TEST_CASE(
    "client events: polls over the waiting limit are refused and a stopped feed answers at once") {
    SimulatedClock clock;
    EventFeedOptions options;
    options.max_waiting_polls = 2;
    EventFeed feed(clock, "dd01", options);
    AnswerBox before_start;
    REQUIRE(feed.poll(poll_after(0, std::chrono::seconds(30)), before_start.answer()));
    CHECK(before_start.await(
        std::chrono::milliseconds(0)));  // no thread to time it out: answered at once
    feed.start();
    AnswerBox a, b, c;
    REQUIRE(feed.poll(poll_after(0, std::chrono::seconds(30)), a.answer()));
    REQUIRE(feed.poll(poll_after(0, std::chrono::seconds(30)), b.answer()));
    auto refused = feed.poll(poll_after(0, std::chrono::seconds(30)), c.answer());
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == ErrorCode::unavailable);
    CHECK(c.answers() == 0);
    feed.stop();
    CHECK(a.await());
    CHECK(b.await());
    AnswerBox after_stop;
    REQUIRE(feed.poll(poll_after(0, std::chrono::seconds(30)), after_stop.answer()));
    CHECK(after_stop.await(std::chrono::milliseconds(0)));
}

TEST_CASE("client api: GET /events parameters are parsed and bad ones refused, naming them") {
    auto none = parse_events_query("", 60'000);
    REQUIRE(none);
    CHECK(none->after == 0);
    CHECK(none->timeout.count() == 0);
    CHECK(none->stream.empty());
    auto all = parse_events_query("after=42&timeout_ms=60000&stream=0a1B", 60'000);
    REQUIRE(all);
    CHECK(all->after == 42);
    CHECK(all->timeout == std::chrono::milliseconds(60'000));
    CHECK(all->stream == "0a1B");
    CHECK(parse_events_query("after=18446744073709551615", 60'000)->after ==
          18446744073709551615ULL);
    struct Bad {
        const char* query;
        const char* names;
    };
    for (const auto& bad :
         {Bad{"after=-1", "`after`"}, Bad{"after=1x", "`after`"}, Bad{"after=", "`after`"},
          Bad{"after", "`after`"}, Bad{"after=18446744073709551616", "`after`"},
          Bad{"timeout_ms=60001", "at most 60000"}, Bad{"timeout_ms=1.5", "`timeout_ms`"},
          Bad{"after=1&after=2", "given twice"}, Bad{"since=3", "unknown parameter `since`"},
          Bad{"stream=xyz", "`stream`"}, Bad{"stream=", "`stream`"}, Bad{"after=%31", "`after`"}}) {
        INFO(bad.query);
        auto parsed = parse_events_query(bad.query, 60'000);
        REQUIRE_FALSE(parsed);
        CHECK(parsed.error().code == ErrorCode::invalid_argument);
        CHECK(parsed.error().message.find(bad.names) != std::string::npos);
    }
}
