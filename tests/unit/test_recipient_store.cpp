// queue-db's replicated directory data: EdgeSync batches applied whole or not at all,
// recipients kept only as hashes.
#include "queue_db.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>


using namespace edge::queue;
using edge::test::TempDir;

namespace {

// A stand-in hash of the right size; the keyed hash itself is the agent's (agents_tests).
std::string h(char c) { return std::string(QueueDb::kRecipientHashSize, c); }

}  // namespace

TEST_CASE("no recipient set: lookups say so, and the first full set answers", "[queue][edgesync]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    CHECK(db->recipient_known(h('a')) == std::nullopt);
    QueueDb::SyncBatch b;
    b.full_recipient_set = true;
    b.recipients_added = {h('a'), h('b')};
    REQUIRE(db->apply_sync_batch(b));
    CHECK(db->recipient_known(h('a')) == std::optional<bool>(true));
    CHECK(db->recipient_known(h('c')) == std::optional<bool>(false));
    CHECK(db->recipient_count() == 2);
}

TEST_CASE("an incremental batch adds and removes, a full one replaces everything", "[queue][edgesync]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    QueueDb::SyncBatch full;
    full.full_recipient_set = true;
    full.recipients_added = {h('a'), h('b'), h('c')};
    REQUIRE(db->apply_sync_batch(full));
    QueueDb::SyncBatch delta;
    delta.recipients_added = {h('d')};
    delta.recipients_removed = {h('a')};
    REQUIRE(db->apply_sync_batch(delta));
    CHECK(db->recipient_known(h('a')) == std::optional<bool>(false));
    CHECK(db->recipient_known(h('d')) == std::optional<bool>(true));
    CHECK(db->recipient_count() == 3);
    QueueDb::SyncBatch again;
    again.full_recipient_set = true;
    again.recipients_added = {h('z')};
    REQUIRE(db->apply_sync_batch(again));
    CHECK(db->recipient_count() == 1);
    CHECK(db->recipient_known(h('b')) == std::optional<bool>(false));
}

TEST_CASE("a batch with configuration moves the config generation in the same transaction", "[queue][edgesync]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto before = db->config_generation();
    QueueDb::SyncBatch b;
    b.config.push_back({"AcceptedDomain", "Contoso", std::string("x")});
    b.recipients_added = {h('a')};
    REQUIRE(db->apply_sync_batch(b));
    CHECK(db->config_generation() == before + 1);
    CHECK(db->config_get("AcceptedDomain", "Contoso") == std::optional<std::string>("x"));
    QueueDb::SyncBatch recipients_only;
    recipients_only.recipients_added = {h('b')};
    REQUIRE(db->apply_sync_batch(recipients_only));
    CHECK(db->config_generation() == before + 1);  // nothing for a config reload to do
}

TEST_CASE("a malformed batch is refused whole: nothing of it is applied", "[queue][edgesync]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    QueueDb::SyncBatch good;
    good.full_recipient_set = true;
    good.recipients_added = {h('a')};
    REQUIRE(db->apply_sync_batch(good));
    auto generation = db->config_generation();

    QueueDb::SyncBatch bad;
    bad.full_recipient_set = true;
    bad.config.push_back({"AcceptedDomain", "Evil", std::string("x")});
    bad.recipients_added = {h('b'), "short"};  // one hash of the wrong size spoils the batch
    CHECK_FALSE(db->apply_sync_batch(bad));
    QueueDb::SyncBatch bad_key;
    bad_key.config.push_back({"", "NoKind", std::string("x")});
    CHECK_FALSE(db->apply_sync_batch(bad_key));

    CHECK(db->recipient_known(h('a')) == std::optional<bool>(true));  // the previous set still serves
    CHECK(db->recipient_known(h('b')) == std::optional<bool>(false));
    CHECK_FALSE(db->config_get("AcceptedDomain", "Evil"));
    CHECK(db->config_generation() == generation);
}
