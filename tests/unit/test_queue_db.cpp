// QueueDb behaviour in one process: enqueue, leasing and outcomes, the retry index,
// administration, the config store, and storage-full errors that leave the database whole.
#include "queue_db.hpp"
#include "records.hpp"
#include "test_support.hpp"
#include "tmpfs.hpp"

#include <catch2/catch.hpp>

#include <lmdb.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <csignal>
#include <functional>
#include <set>
#include <unistd.h>

using namespace edge::queue;
using edge::test::body_for;
using edge::test::make_message;
using edge::test::TempDir;
using Kind = RecipientOutcome::Kind;

namespace {
const QueueId kNet = QueueId::next_hop_domain("example.net");
const QueueId kOrg = QueueId::next_hop_domain("example.org");

// A process that opens the queue for writing and dies without closing it, as kill -9
// would: the next open must run the full recovery scan.
void crash_while_open(const TempDir& dir) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto db = QueueDb::open(dir.path());
        ::_exit(db ? 0 : 10);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
}

// One write transaction on the environment with the raw LMDB API: the damage and the
// older formats that QueueDb itself would never write.
void raw_write(const std::string& env_dir, const std::function<void(MDB_txn*)>& change) {
    MDB_env* env = nullptr;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 32);
    REQUIRE(mdb_env_open(env, env_dir.c_str(), 0, 0640) == 0);
    MDB_txn* txn = nullptr;
    REQUIRE(mdb_txn_begin(env, nullptr, 0, &txn) == 0);
    change(txn);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

void raw_put(MDB_txn* txn, const char* db_name, std::string key, std::string value) {
    MDB_dbi dbi;
    REQUIRE(mdb_dbi_open(txn, db_name, 0, &dbi) == 0);
    MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
    REQUIRE(mdb_put(txn, dbi, &k, &v, 0) == 0);
}
}  // namespace

TEST_CASE("an enqueued message is stored byte for byte with its envelope", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto m = make_message(1, 5000);
    Envelope sent = m.envelope;
    auto id = db->enqueue(std::move(m));
    REQUIRE(id);
    CHECK(db->export_message(*id) == body_for(1, 5000));
    auto info = db->get_message(*id);
    REQUIRE(info);
    CHECK(info->envelope == sent);
    CHECK(info->queue == kNet);
    CHECK(info->status == MessageStatus::Ready);
    CHECK(db->check().ok());
}

TEST_CASE("message ids keep growing across reopen, even after the newest is deleted", "[queue]") {
    TempDir dir;
    MessageId first = 0;
    {
        auto db = edge::test::open_queue(dir);
        first = *db->enqueue(make_message(1));
        REQUIRE(db->remove_message(first, WithNdr::no));
    }
    auto db = edge::test::open_queue(dir);
    auto second = db->enqueue(make_message(2));
    REQUIRE(second);
    CHECK(*second > first);
}

TEST_CASE("bad envelopes are refused before anything is written", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto no_rcpt = make_message(1);
    no_rcpt.envelope.recipients.clear();
    CHECK(db->enqueue(std::move(no_rcpt)).error() == QueueError::invalid_argument);
    auto wrong_size = make_message(2);
    wrong_size.envelope.size += 1;
    CHECK(db->enqueue(std::move(wrong_size)).error() == QueueError::invalid_argument);
    auto nul_hop = make_message(3);
    nul_hop.envelope.recipients[0].next_hop = QueueId::next_hop_domain(std::string("a\0b", 3));
    CHECK(db->enqueue(std::move(nul_hop)).error() == QueueError::invalid_argument);
    CHECK(db->list_messages({}).empty());
}

TEST_CASE("a message for two next hops sits in both queues and is deleted when both are done", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1, 1024, {"example.net", "example.org"}));
    CHECK(db->get_queue(kNet)->message_count == 1);
    CHECK(db->get_queue(kOrg)->message_count == 1);

    auto lease = *db->lease_for_delivery(kNet, 10);
    REQUIRE(lease.size() == 1);
    CHECK(lease[0].recipients == std::vector<std::size_t>{0});
    CHECK(db->get_queue(kNet)->status == QueueStatus::Active);
    REQUIRE(db->record_delivery({id, kNet, {{0, Kind::Delivered, "250 2.0.0 OK"}}, {}, {}}));
    CHECK(db->get_queue(kNet)->message_count == 0);
    CHECK(db->export_message(id));  // still owed to example.org

    auto lease2 = *db->lease_for_delivery(kOrg, 10);
    REQUIRE(lease2.size() == 1);
    CHECK(lease2[0].recipients == std::vector<std::size_t>{1});
    REQUIRE(db->record_delivery({id, kOrg, {{1, Kind::Failed, "550 5.1.1 User unknown"}}, {}, {}}));
    CHECK_FALSE(db->export_message(id));
    CHECK_FALSE(db->get_message(id));
    CHECK(db->check().ok());
}

TEST_CASE("leasing takes Ready messages in arrival order and never twice", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    std::vector<MessageId> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(*db->enqueue(make_message(static_cast<std::uint64_t>(i))));
    auto a = *db->lease_for_delivery(kNet, 3);
    auto b = *db->lease_for_delivery(kNet, 3);
    REQUIRE(a.size() == 3);
    REQUIRE(b.size() == 2);
    CHECK(a[0].id == ids[0]);
    CHECK(a[2].id == ids[2]);
    CHECK(b[0].id == ids[3]);
    CHECK(db->lease_for_delivery(kNet, 3)->empty());
    CHECK(db->get_queue(kNet)->active_count == 5);
}

TEST_CASE("a deferred recipient waits in Retry and the retry index says when", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1));
    CHECK_FALSE(db->next_retry_due());
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    auto when = now_timestamp() + std::chrono::minutes(10);
    REQUIRE(db->record_delivery({id, kNet, {{0, Kind::Deferred, "451 4.3.0 try later"}}, when, {}}));

    auto info = db->get_message(id);
    REQUIRE(info);
    CHECK(info->status == MessageStatus::Retry);
    CHECK(info->last_error == "451 4.3.0 try later");
    CHECK(info->retry_count == 1);
    CHECK(info->envelope.recipients[0].attempts == 1);
    CHECK(db->next_retry_due() == when);
    CHECK(db->lease_for_delivery(kNet, 1)->empty());  // not Ready

    CHECK(db->promote_due(when - std::chrono::seconds(1))->empty());
    CHECK(db->get_message(id)->status == MessageStatus::Retry);
    auto ready = *db->promote_due(when);
    CHECK(ready == std::vector<QueueId>{kNet});
    CHECK(db->get_message(id)->status == MessageStatus::Ready);
    CHECK_FALSE(db->next_retry_due());
    CHECK(db->check().ok());
}

TEST_CASE("a next hop that cannot be reached puts the queue in Retry with its LastError", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1));
    REQUIRE(db->lease_for_delivery(kNet, 10)->size() == 1);
    auto when = now_timestamp() + std::chrono::minutes(30);
    REQUIRE(db->defer_queue(kNet, when, "421 4.4.2 Connection refused"));
    auto q = db->get_queue(kNet);
    CHECK(q->status == QueueStatus::Retry);
    CHECK(q->last_error == "421 4.4.2 Connection refused");
    CHECK(q->next_retry_time == when);
    CHECK(q->last_retry_time);
    CHECK(db->get_message(id)->status == MessageStatus::Ready);
    CHECK(db->lease_for_delivery(kNet, 10)->empty());  // the queue waits
    CHECK(db->next_retry_due() == when);
    CHECK(db->ready_queues().empty());

    SECTION("Retry-Queue makes it deliverable now") {
        REQUIRE(db->retry_queue(kNet));
        CHECK(db->get_queue(kNet)->status == QueueStatus::Ready);
        CHECK(db->ready_queues() == std::vector<QueueId>{kNet});
        CHECK(db->lease_for_delivery(kNet, 10)->size() == 1);
    }
    SECTION("the timer makes it deliverable when due") {
        CHECK(*db->promote_due(when) == std::vector<QueueId>{kNet});
        CHECK(db->lease_for_delivery(kNet, 10)->size() == 1);
        REQUIRE(db->mark_queue_connected(kNet));
        CHECK(db->get_queue(kNet)->last_error.empty());
    }
    CHECK(db->check().ok());
}

TEST_CASE("a suspended queue keeps taking mail but gives none out until resumed", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    db->enqueue(make_message(1));
    REQUIRE(db->suspend_queue(kNet));
    db->enqueue(make_message(2));
    CHECK(db->get_queue(kNet)->status == QueueStatus::Suspended);
    CHECK(db->get_queue(kNet)->message_count == 2);
    CHECK(db->lease_for_delivery(kNet, 10)->empty());
    REQUIRE(db->resume_queue(kNet));
    CHECK(db->lease_for_delivery(kNet, 10)->size() == 2);
    CHECK(db->suspend_queue(QueueId::next_hop_domain("nowhere.example")).error() == QueueError::not_found);
}

TEST_CASE("a suspended message is skipped by delivery until resumed", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto a = *db->enqueue(make_message(1));
    auto b = *db->enqueue(make_message(2));
    REQUIRE(db->suspend_message(a));
    CHECK(db->get_message(a)->status == MessageStatus::Suspended);
    auto lease = *db->lease_for_delivery(kNet, 10);
    REQUIRE(lease.size() == 1);
    CHECK(lease[0].id == b);
    CHECK(db->suspend_message(b).error() == QueueError::invalid_state);  // in delivery
    REQUIRE(db->resume_message(a));
    CHECK(db->lease_for_delivery(kNet, 10)->size() == 1);
    CHECK(db->suspend_message(999).error() == QueueError::not_found);
}

TEST_CASE("Get-Message filters by queue and status, and by any predicate", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    for (std::uint64_t i = 1; i <= 4; ++i) db->enqueue(make_message(i, 1024, {i % 2 ? "example.net" : "example.org"}));
    db->enqueue(make_message(5, 1024, {"example.net", "example.org"}));
    CHECK(db->list_messages({}).size() == 6);  // one row per message per queue, as Exchange shows
    CHECK(db->list_messages({kNet, {}, 1000}).size() == 3);
    db->suspend_message(db->list_messages({kOrg, {}, 1000}).front().id, kOrg);
    CHECK(db->list_messages({kOrg, MessageStatus::Suspended, 1000}).size() == 1);
    CHECK(db->list_messages({{}, MessageStatus::Ready, 1000}).size() == 5);
    auto from3 = db->list_messages({}, [](const MessageInfo& m) { return m.envelope.sender == "sender3@example.com"; });
    REQUIRE(from3.size() == 1);
    CHECK(from3[0].queue == kNet);
    CHECK(db->list_messages({{}, {}, 2}).size() == 2);
}

TEST_CASE("Remove-Message deletes at once, or after the delivery in flight", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto idle = *db->enqueue(make_message(1));
    REQUIRE(db->remove_message(idle, WithNdr::no));
    CHECK_FALSE(db->get_message(idle));

    auto busy = *db->enqueue(make_message(2));
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    REQUIRE(db->remove_message(busy, WithNdr::no));
    CHECK(db->get_message(busy)->status == MessageStatus::PendingRemove);
    REQUIRE(db->record_delivery({busy, kNet, {{0, Kind::Deferred, "451 later"}}, now_timestamp(), {}}));
    CHECK_FALSE(db->get_message(busy));
    CHECK(db->check().ok());
}

TEST_CASE("Remove-Message -WithNDR waits for the NDR and commits it with the removal", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1));
    REQUIRE(db->remove_message(id, WithNdr::yes));
    auto pending = db->pending_ndr_removals();
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == id);
    CHECK(pending[0].ndr_requested);

    auto ndr = make_message(100, 700, {"example.com"});
    ndr.envelope.sender.clear();  // DSNs come from the null sender
    REQUIRE(db->complete_removal(id, std::move(ndr)));
    CHECK_FALSE(db->get_message(id));
    CHECK(db->pending_ndr_removals().empty());
    auto left = db->list_messages({});
    REQUIRE(left.size() == 1);
    CHECK(left[0].envelope.sender.empty());
    CHECK(left[0].queue == QueueId::next_hop_domain("example.com"));
    CHECK(db->check().ok());
}

TEST_CASE("a failed recipient's DSN is committed together with the outcome", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1));
    db->lease_for_delivery(kNet, 1);
    auto ndr = make_message(2, 600, {"example.com"});
    ndr.envelope.sender.clear();
    REQUIRE(db->record_delivery({id, kNet, {{0, Kind::Failed, "550 5.1.1 unknown"}}, {}, {std::move(ndr)}}));
    CHECK_FALSE(db->get_message(id));
    CHECK(db->get_queue(QueueId::next_hop_domain("example.com"))->message_count == 1);
}

TEST_CASE("outcomes for recipients that are not this lease's are refused and change nothing", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1, 1024, {"example.net", "example.org"}));
    CHECK(db->record_delivery({id, kNet, {{0, Kind::Delivered, "250"}}, {}, {}}).error() == QueueError::invalid_state);
    db->lease_for_delivery(kNet, 1);
    CHECK(db->record_delivery({id, kNet, {{1, Kind::Delivered, "250"}}, {}, {}}).error() ==
          QueueError::invalid_argument);
    CHECK(db->record_delivery({id, kNet, {{7, Kind::Delivered, "250"}}, {}, {}}).error() ==
          QueueError::invalid_argument);
    CHECK(db->get_message(id, kNet)->status == MessageStatus::Active);
    CHECK(db->get_message(id, kNet)->envelope.recipients[1].status == RecipientStatus::Pending);
    CHECK(db->check().ok());
}

TEST_CASE("a clean close returns this process's leases without counting a crash", "[queue]") {
    TempDir dir;
    MessageId id = 0;
    {
        auto db = edge::test::open_queue(dir);
        id = *db->enqueue(make_message(1));
        REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    }
    auto db = edge::test::open_queue(dir);
    auto info = db->get_message(id);
    REQUIRE(info);
    CHECK(info->status == MessageStatus::Ready);
    CHECK(info->crash_count == 0);
    CHECK(db->recovery_report().leases_returned == 0);
}

TEST_CASE("the config store versions every change and refuses stale writers", "[config]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    CHECK(db->config_generation() == 0);
    auto g1 = db->config_apply({{"SendConnector", "ToInternet", "AddressSpaces=SMTP:*;1"},
                                {"AcceptedDomain", "contoso.com", "DomainType=Authoritative"}});
    REQUIRE(g1);
    CHECK(*g1 == 1);
    CHECK(db->config_generation() == 1);
    CHECK(db->config_get("SendConnector", "ToInternet") == "AddressSpaces=SMTP:*;1");
    CHECK_FALSE(db->config_get("SendConnector", "Nope"));
    CHECK(db->config_list("AcceptedDomain").size() == 1);
    CHECK(db->config_list("SendConnector").size() == 1);

    CHECK(db->config_apply({{"SendConnector", "ToInternet", "x"}}, 0).error() == QueueError::conflict);
    CHECK(db->config_get("SendConnector", "ToInternet") == "AddressSpaces=SMTP:*;1");
    CHECK(db->config_generation() == 1);

    REQUIRE(db->config_apply({{"SendConnector", "ToInternet", std::nullopt}}, 1));
    CHECK(db->config_list("SendConnector").empty());
    CHECK(db->config_generation() == 2);
    CHECK(db->config_apply({{"", "x", "y"}}).error() == QueueError::invalid_argument);
}

TEST_CASE("a full map refuses new mail with storage_full and keeps what it had", "[queue][storage]") {
    // 16 KiB bodies stay in the main environment, 64 KiB ones go to body stores.
    const std::size_t size = GENERATE(std::size_t{16 * 1024}, std::size_t{64 * 1024});
    INFO("body size " << size);
    TempDir dir;
    QueueDbOptions o;
    o.map_size = 2 << 20;  // 2 MiB
    auto db = edge::test::open_queue(dir, o);
    std::vector<MessageId> kept;
    std::error_code last;
    for (std::uint64_t i = 1; i < 1000; ++i) {
        auto r = db->enqueue(make_message(i, size));
        if (!r) {
            last = r.error();
            break;
        }
        kept.push_back(*r);
    }
    REQUIRE(is_storage_full(last));
    REQUIRE(kept.size() > 10);
    CHECK(db->check().ok());
    for (std::size_t i = 0; i < kept.size(); ++i) CHECK(db->export_message(kept[i]) == body_for(i + 1, size));

    // Delivering frees pages: new mail is accepted again.
    auto lease = *db->lease_for_delivery(kNet, 20);
    for (auto& l : lease) REQUIRE(db->record_delivery({l.id, kNet, {{0, Kind::Delivered, "250"}}, {}, {}}));
    CHECK(db->enqueue(make_message(5000, size)));
    CHECK(db->check().ok());
}

TEST_CASE("a disk that refuses to grow the file gives storage_full, not corruption", "[queue][storage]") {
    const std::size_t size = GENERATE(std::size_t{8 * 1024}, std::size_t{64 * 1024});
    INFO("body size " << size);
    TempDir dir;
    { edge::test::open_queue(dir); }  // create it at its initial size
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child may only write 256 KiB more than the file has: writes past that
        // fail with EFBIG, as writes fail with ENOSPC on a full disk.
        std::signal(SIGXFSZ, SIG_IGN);
        struct stat st {};
        ::stat((dir.path() + "/data.mdb").c_str(), &st);
        rlimit lim{static_cast<rlim_t>(st.st_size) + (256 << 10), RLIM_INFINITY};
        ::setrlimit(RLIMIT_FSIZE, &lim);
        auto db = QueueDb::open(dir.path());
        if (!db) ::_exit(10);
        for (std::uint64_t i = 1; i < 200; ++i) {
            auto r = (*db)->enqueue(make_message(i, size));
            if (!r) {
                if (!is_storage_full(r.error())) std::fprintf(stderr, "enqueue: %s\n", r.error().message().c_str());
                ::_exit(is_storage_full(r.error()) ? 0 : 11);
            }
        }
        ::_exit(12);  // never hit the limit
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    auto db = edge::test::open_queue(dir);
    auto rep = db->check();
    INFO((rep.problems.empty() ? "" : rep.problems.front()));
    CHECK(rep.ok());
    for (const auto& m : db->list_messages({}))
        CHECK(db->export_message(m.id) == body_for(std::stoull(m.envelope.sender.substr(6)), size));
}

TEST_CASE("a damaged message record is moved aside at open, not fatal", "[queue]") {
    TempDir dir;
    MessageId bad = 0, good = 0;
    {
        auto db = edge::test::open_queue(dir);
        bad = *db->enqueue(make_message(1));
        good = *db->enqueue(make_message(2));
    }
    {
        // Damage the record's format byte with the raw LMDB API.
        raw_write(dir.path(), [&](MDB_txn* txn) {
            MDB_dbi dbi;
            REQUIRE(mdb_dbi_open(txn, "messages", 0, &dbi) == 0);
            std::string key = edge::queue::records::id_key(bad);
            MDB_val k{key.size(), key.data()}, v{};
            REQUIRE(mdb_get(txn, dbi, &k, &v) == 0);
            std::string damaged(static_cast<char*>(v.mv_data), v.mv_size);
            damaged[0] = 99;
            raw_put(txn, "messages", key, damaged);
        });
    }
    {
        // After a clean stop a start validates nothing (no scan of every record); the
        // damage is what Test-QueueDatabase reports.
        auto db = edge::test::open_queue(dir);
        CHECK_FALSE(db->recovery_report().full_scan);
        CHECK(db->recovery_report().quarantined == 0);
        CHECK_FALSE(db->check().ok());
    }
    crash_while_open(dir);
    auto db = edge::test::open_queue(dir);
    CHECK(db->recovery_report().full_scan);
    CHECK(db->recovery_report().quarantined == 1);
    CHECK_FALSE(db->get_message(bad));
    CHECK(db->get_message(good));
    CHECK(db->list_messages({}).size() == 1);
    CHECK(db->check().ok());
}

namespace {
// Entries in one database of an environment, read with the raw LMDB API.
std::size_t count_entries(const std::string& env_dir, const char* db_name) {
    MDB_env* env = nullptr;
    mdb_env_create(&env);
    mdb_env_set_maxdbs(env, 16);
    if (mdb_env_open(env, env_dir.c_str(), MDB_RDONLY, 0640) != 0) {
        mdb_env_close(env);
        return SIZE_MAX;
    }
    MDB_txn* txn = nullptr;
    mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
    MDB_dbi dbi;
    std::size_t n = SIZE_MAX;
    if (mdb_dbi_open(txn, db_name, 0, &dbi) == 0) {
        MDB_stat st;
        mdb_stat(txn, dbi, &st);
        n = st.ms_entries;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

void put_raw(const std::string& env_dir, const char* db_name, const std::string& key, const std::string& value) {
    raw_write(env_dir, [&](MDB_txn* txn) { raw_put(txn, db_name, key, value); });
}
}  // namespace

TEST_CASE("large bodies live in the body stores and leave them with their message", "[queue][stores]") {
    TempDir dir;
    std::vector<MessageId> ids;
    {
        auto db = edge::test::open_queue(dir);
        for (std::uint64_t i = 1; i <= 6; ++i) ids.push_back(*db->enqueue(make_message(i, 100 * 1024)));
        ids.push_back(*db->enqueue(make_message(7, 1000)));  // small: main environment
        for (std::uint64_t i = 1; i <= 7; ++i)
            CHECK(db->export_message(ids[i - 1]) == body_for(i, i == 7 ? 1000 : 100 * 1024));
        CHECK(db->check().ok());
    }
    // Round robin over the two stores; the small body stayed in the main environment.
    CHECK(count_entries(dir.path() + "/bodies-0", "bodies") == 3);
    CHECK(count_entries(dir.path() + "/bodies-1", "bodies") == 3);
    CHECK(count_entries(dir.path(), "bodies") == 1);
    {
        auto db = edge::test::open_queue(dir);
        auto lease = *db->lease_for_delivery(kNet, 10);
        REQUIRE(lease.size() == 7);
        for (auto& l : lease) REQUIRE(db->record_delivery({l.id, kNet, {{0, Kind::Delivered, "250"}}, {}, {}}));
        CHECK(db->list_messages({}).empty());
    }
    CHECK(count_entries(dir.path() + "/bodies-0", "bodies") == 0);
    CHECK(count_entries(dir.path() + "/bodies-1", "bodies") == 0);
    CHECK(count_entries(dir.path(), "bodies") == 0);
}

TEST_CASE("store bodies no record names are swept once they are an hour old", "[queue][stores]") {
    TempDir dir;
    MessageId id = 0;
    {
        auto db = edge::test::open_queue(dir);
        id = *db->enqueue(make_message(1, 64 * 1024));
    }
    // An orphan from a crash long ago, and one whose record may be committing right now.
    put_raw(dir.path() + "/bodies-1", "bodies", edge::queue::records::new_body_key(now_timestamp() - std::chrono::hours(2)), "old");
    put_raw(dir.path() + "/bodies-1", "bodies", edge::queue::records::new_body_key(now_timestamp()), "new");
    auto before = count_entries(dir.path() + "/bodies-0", "bodies") + count_entries(dir.path() + "/bodies-1", "bodies");
    CHECK(before == 3);
    crash_while_open(dir);  // orphans come from crashes; only then does a start sweep
    auto db = edge::test::open_queue(dir);
    CHECK(db->recovery_report().orphan_bodies_removed == 1);
    CHECK(db->export_message(id) == body_for(1, 64 * 1024));
    db->close();
    auto after = count_entries(dir.path() + "/bodies-0", "bodies") + count_entries(dir.path() + "/bodies-1", "bodies");
    CHECK(after == 2);
}

TEST_CASE("resubmit routes a queue's waiting recipients again and moves their messages", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto m = make_message(1, 500, {"example.net", "example.org"});
    for (auto& r : m.envelope.recipients) {
        r.next_hop = QueueId::unreachable();
        r.delivery_type = DeliveryType::Unreachable;
    }
    auto id = db->enqueue(std::move(m));
    REQUIRE(id);
    auto moved = db->resubmit(QueueId::unreachable(), [](const Recipient& r) {
        auto domain = r.address.substr(r.address.find('@') + 1);
        if (domain == "example.org") return std::pair{QueueId::unreachable(), DeliveryType::Unreachable};
        return std::pair{QueueId::next_hop_domain(domain), DeliveryType::DnsConnectorDelivery};
    });
    REQUIRE(moved);
    CHECK(*moved == 1);
    auto info = db->get_message(*id, kNet);
    REQUIRE(info);
    CHECK(info->status == MessageStatus::Ready);
    CHECK(info->envelope.recipients[0].next_hop == kNet);
    CHECK(db->get_message(*id, QueueId::unreachable()));  // example.org still has no route
    auto q = db->get_queue(kNet);
    REQUIRE(q);
    CHECK(q->delivery_type == DeliveryType::DnsConnectorDelivery);
    CHECK(db->check().ok());
}

TEST_CASE("a delivery report records that a recipient's delay DSN went out", "[queue]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = db->enqueue(make_message(1));
    REQUIRE(id);
    auto leased = db->lease_for_delivery(kNet, 10);
    REQUIRE(leased);
    REQUIRE(leased->size() == 1);
    DeliveryReport report{*id, kNet, {{0, Kind::Deferred, "451 4.4.0 later", true}}, now_timestamp(), {}};
    REQUIRE(db->record_delivery(report));
    auto info = db->get_message(*id);
    REQUIRE(info);
    CHECK(info->envelope.recipients[0].delay_notified);
    CHECK(info->status == MessageStatus::Retry);
}

TEST_CASE("every administrator operation raises admin_generation by one, a refused one leaves it", "[queue][admin]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    CHECK(db->admin_generation() == 0);
    auto a = *db->enqueue(make_message(1));
    auto b = *db->enqueue(make_message(2));
    auto c = *db->enqueue(make_message(3));
    REQUIRE(db->config_apply({{"Kind", "Name", std::string("v")}}));
    CHECK(db->admin_generation() == 0);  // mail and config are not administrator queue operations

    std::uint64_t expected = 0;
    auto raised = [&](const Status& st) {
        REQUIRE(st);
        CHECK(db->admin_generation() == ++expected);
    };
    auto refused = [&](const Status& st) {
        REQUIRE_FALSE(st);
        CHECK(db->admin_generation() == expected);
    };
    raised(db->suspend_queue(kNet));
    raised(db->resume_queue(kNet));
    raised(db->retry_queue(kNet));
    raised(db->suspend_message(a));
    raised(db->resume_message(a));
    // b deferred: Retry, then Retry-Message.
    auto leased = *db->lease_for_delivery(kNet, 2);
    REQUIRE(leased.size() == 2);
    CHECK(db->admin_generation() == expected);  // delivery is not administration
    REQUIRE(db->record_delivery({a, kNet, {{0, Kind::Deferred, "451 later"}}, now_timestamp() + std::chrono::hours(1), {}}));
    REQUIRE(db->record_delivery({b, kNet, {{0, Kind::Deferred, "451 later"}}, now_timestamp() + std::chrono::hours(1), {}}));
    CHECK(db->admin_generation() == expected);
    raised(db->retry_message(b));
    raised(db->remove_message(a, WithNdr::no));
    raised(db->remove_message(c, WithNdr::yes));
    auto moved = db->resubmit(kNet, [](const Recipient&) { return std::pair{kOrg, DeliveryType::DnsConnectorDelivery}; });
    REQUIRE(moved);
    CHECK(*moved == 1);  // b; c waits for its NDR
    CHECK(db->admin_generation() == ++expected);

    refused(db->suspend_queue(QueueId::next_hop_domain("nowhere.example")));
    refused(db->retry_queue(QueueId::next_hop_domain("nowhere.example")));
    refused(db->suspend_message(999));
    refused(db->remove_message(999, WithNdr::yes));
    refused(db->retry_message(b, kNet));  // b is in example.org now
    REQUIRE(db->lease_for_delivery(kOrg, 1)->size() == 1);
    refused(db->suspend_message(b));  // in delivery
    CHECK(db->check().ok());
}

TEST_CASE("another process sees admin_generation move when it suspends a queue", "[queue][admin]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    REQUIRE(db->enqueue(make_message(1)));
    const auto before = db->admin_generation();
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        QueueDbOptions o;
        o.recover_leases = false;  // as edgectl opens it beside the server
        auto other = QueueDb::open(dir.path(), o);
        if (!other) ::_exit(10);
        ::_exit((*other)->suspend_queue(kNet) ? 0 : 11);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    CHECK(db->admin_generation() == before + 1);
    CHECK(db->get_queue(kNet)->status == QueueStatus::Suspended);
}

TEST_CASE("a removal asked while the message is in delivery becomes a pending NDR when its lease ends", "[queue][admin]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1));
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    REQUIRE(db->remove_message(id, WithNdr::yes));
    CHECK(db->pending_ndr_removals().empty());  // the attempt still holds it
    CHECK(db->ndr_removals_in_delivery() == 1);
    CHECK(db->complete_removal(id, std::nullopt).error() == QueueError::invalid_state);

    SECTION("the delivery reports") {
        REQUIRE(db->record_delivery({id, kNet, {{0, Kind::Deferred, "451 later"}}, now_timestamp(), {}}));
    }
    SECTION("the next hop cannot be reached") {
        REQUIRE(db->defer_queue(kNet, now_timestamp() + std::chrono::minutes(5), "421 4.4.2 no connection"));
    }
    SECTION("the lease is released") {
        REQUIRE(db->release_lease(id, kNet));
    }
    CHECK(db->ndr_removals_in_delivery() == 0);
    auto pending = db->pending_ndr_removals();
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].id == id);
    CHECK(pending[0].envelope.recipients[0].status == RecipientStatus::Pending);
    REQUIRE(db->complete_removal(id, std::nullopt));
    CHECK_FALSE(db->get_message(id));
    CHECK(db->check().ok());
}

TEST_CASE("a queue deferred while it held a message removed without NDR deletes that message", "[queue][admin]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1));
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    REQUIRE(db->remove_message(id, WithNdr::no));
    CHECK(db->get_message(id)->status == MessageStatus::PendingRemove);
    REQUIRE(db->defer_queue(kNet, now_timestamp() + std::chrono::minutes(5), "421 4.4.2 no connection"));
    CHECK_FALSE(db->get_message(id));
    CHECK(db->check().ok());
}

// ---- one NDR per message (issue 13, weakness 7) ------------------------------------

namespace {
const QueueId kCom = QueueId::next_hop_domain("example.com");
const QueueId kEdu = QueueId::next_hop_domain("example.edu");

// An NdrBuilder that records each call and makes a small NDR to the sender's domain.
struct NdrSpy {
    struct Call {
        MessageId id;
        std::vector<std::size_t> recipients;
        std::vector<std::string> statuses;
        std::size_t original_size;
    };
    std::shared_ptr<std::vector<Call>> calls = std::make_shared<std::vector<Call>>();
    NdrBuilder builder() const {
        return [calls = calls](MessageId id, const Envelope& e, const std::vector<std::size_t>& rcpts,
                               std::string_view original) -> std::optional<NewMessage> {
            Call c{id, rcpts, {}, original.size()};
            for (auto i : rcpts) c.statuses.push_back(e.recipients.at(i).ndr_status);
            calls->push_back(c);
            if (e.sender.empty()) return std::nullopt;
            auto ndr = make_message(900 + id, 300, {"example.com"});
            ndr.envelope.sender.clear();
            return ndr;
        };
    }
};

DeliveryReport failed_report(MessageId id, const QueueId& q, std::size_t rcpt, const NdrSpy& spy,
                             Timestamp hold_until = now_timestamp() + std::chrono::minutes(10)) {
    DeliveryReport r{id, q, {{rcpt, Kind::Failed, "550 5.1.1 unknown", false, "5.1.1"}}, {}, {}};
    r.ndr = spy.builder();
    r.ndr_hold_until = hold_until;
    return r;
}

std::size_t ndrs_queued(const QueueDb& db) {
    auto q = db.get_queue(kCom);
    return q ? q->message_count : 0;
}
}  // namespace

TEST_CASE("recipients failing in three next-hop queues get one NDR, built when the last queue reports",
          "[queue][ndr]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1, 4096, {"example.net", "example.org", "example.edu"}));
    NdrSpy spy;
    for (const auto& q : {kNet, kOrg}) {
        REQUIRE(db->lease_for_delivery(q, 1)->size() == 1);
        REQUIRE(db->record_delivery(failed_report(id, q, q == kNet ? 0 : 1, spy)));
        CHECK(spy.calls->empty());  // example.edu has not had its attempt
        CHECK(ndrs_queued(*db) == 0);
    }
    auto held = db->get_message(id, kEdu);
    REQUIRE(held);
    CHECK(held->envelope.recipients[0].ndr_pending);
    CHECK(held->envelope.recipients[0].status == RecipientStatus::Failed);
    CHECK(db->check().ok());

    REQUIRE(db->lease_for_delivery(kEdu, 1)->size() == 1);
    REQUIRE(db->record_delivery(failed_report(id, kEdu, 2, spy)));
    REQUIRE(spy.calls->size() == 1);
    CHECK(spy.calls->at(0).id == id);
    CHECK(spy.calls->at(0).recipients == std::vector<std::size_t>{0, 1, 2});
    CHECK(spy.calls->at(0).statuses == std::vector<std::string>{"5.1.1", "5.1.1", "5.1.1"});
    CHECK(spy.calls->at(0).original_size == 4096);
    CHECK(ndrs_queued(*db) == 1);
    CHECK_FALSE(db->get_message(id));
    CHECK_FALSE(db->next_ndr_hold_due());
    CHECK(db->check().ok());
}

TEST_CASE("a mix of outcomes makes one NDR naming only the failed recipients, when every queue had its attempt",
          "[queue][ndr]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1, 1024, {"example.net", "example.org", "example.edu", "example.net"}));
    NdrSpy spy;
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    DeliveryReport net{id, kNet, {{0, Kind::Failed, "550 5.1.1 unknown", false, "5.1.1"}, {3, Kind::Delivered, "250 ok"}}, {}, {}};
    net.ndr = spy.builder();
    net.ndr_hold_until = now_timestamp() + std::chrono::minutes(10);
    REQUIRE(db->record_delivery(std::move(net)));
    REQUIRE(db->lease_for_delivery(kOrg, 1)->size() == 1);
    DeliveryReport org{id, kOrg, {{1, Kind::Delivered, "250 ok"}}, {}, {}};
    org.ndr = spy.builder();
    REQUIRE(db->record_delivery(std::move(org)));
    CHECK(spy.calls->empty());
    // example.edu cannot be reached: that counts as its attempt, and the NDR goes then.
    REQUIRE(db->lease_for_delivery(kEdu, 1)->size() == 1);
    REQUIRE(db->defer_queue(kEdu, now_timestamp() + std::chrono::minutes(5), "421 4.4.2 no connection", spy.builder()));
    REQUIRE(spy.calls->size() == 1);
    CHECK(spy.calls->at(0).recipients == std::vector<std::size_t>{0});
    CHECK(ndrs_queued(*db) == 1);
    auto left = db->get_message(id, kEdu);
    REQUIRE(left);  // example.edu's recipient is still to be delivered
    CHECK_FALSE(left->envelope.recipients[0].ndr_pending);

    // Its later failure is a new pass: one more NDR, for it alone.
    REQUIRE(db->promote_due(now_timestamp() + std::chrono::minutes(6)));
    REQUIRE(db->lease_for_delivery(kEdu, 1)->size() == 1);
    REQUIRE(db->record_delivery(failed_report(id, kEdu, 2, spy)));
    REQUIRE(spy.calls->size() == 2);
    CHECK(spy.calls->at(1).recipients == std::vector<std::size_t>{2});
    CHECK(ndrs_queued(*db) == 2);
    CHECK_FALSE(db->get_message(id));
    CHECK(db->check().ok());
}

TEST_CASE("a recipient in a suspended queue holds the NDR only until its hold ends", "[queue][ndr]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1, 1024, {"example.net", "example.org"}));
    REQUIRE(db->suspend_queue(kOrg));
    NdrSpy spy;
    auto hold = now_timestamp() + std::chrono::minutes(10);
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    REQUIRE(db->record_delivery(failed_report(id, kNet, 0, spy, hold)));
    CHECK(spy.calls->empty());
    CHECK(db->next_ndr_hold_due() == hold);
    CHECK(*db->send_held_ndrs(hold - std::chrono::seconds(1), spy.builder()) == 0);
    CHECK(spy.calls->empty());
    CHECK(*db->send_held_ndrs(hold, spy.builder()) == 1);
    REQUIRE(spy.calls->size() == 1);
    CHECK(spy.calls->at(0).recipients == std::vector<std::size_t>{0});
    CHECK(ndrs_queued(*db) == 1);
    CHECK_FALSE(db->next_ndr_hold_due());
    CHECK(*db->send_held_ndrs(hold, spy.builder()) == 0);  // never twice
    CHECK(db->get_message(id, kOrg));
    CHECK(db->check().ok());
}

TEST_CASE("a held NDR survives a restart and goes exactly once", "[queue][ndr][crash]") {
    TempDir dir;
    MessageId id = 0;
    NdrSpy spy;
    {
        auto db = edge::test::open_queue(dir);
        id = *db->enqueue(make_message(1, 40 * 1024, {"example.net", "example.org"}));  // a body-store body
        REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
        REQUIRE(db->record_delivery(failed_report(id, kNet, 0, spy)));
    }
    auto db = edge::test::open_queue(dir);
    auto held = db->get_message(id, kOrg);
    REQUIRE(held);
    CHECK(held->envelope.recipients[0].ndr_pending);
    CHECK(held->envelope.recipients[0].ndr_status == "5.1.1");
    CHECK(db->next_ndr_hold_due());
    CHECK(db->check().ok());
    REQUIRE(db->lease_for_delivery(kOrg, 1)->size() == 1);
    REQUIRE(db->record_delivery(failed_report(id, kOrg, 1, spy)));
    REQUIRE(spy.calls->size() == 1);
    CHECK(spy.calls->at(0).recipients == std::vector<std::size_t>{0, 1});
    CHECK(spy.calls->at(0).original_size == 40 * 1024);
    CHECK(ndrs_queued(*db) == 1);
    CHECK_FALSE(db->next_ndr_hold_due());
    CHECK(*db->send_held_ndrs(now_timestamp() + std::chrono::hours(1), spy.builder()) == 0);
    CHECK(spy.calls->size() == 1);
    CHECK(db->check().ok());
}

TEST_CASE("Remove-Message -WithNDR of a message with a held NDR deletes it and its hold", "[queue][ndr]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    auto id = *db->enqueue(make_message(1, 1024, {"example.net", "example.org"}));
    NdrSpy spy;
    REQUIRE(db->lease_for_delivery(kNet, 1)->size() == 1);
    REQUIRE(db->record_delivery(failed_report(id, kNet, 0, spy)));
    REQUIRE(db->remove_message(id, WithNdr::yes));
    auto pending = db->pending_ndr_removals();
    REQUIRE(pending.size() == 1);
    CHECK(pending[0].envelope.recipients[0].ndr_pending);  // the caller reports it in the removal's NDR
    REQUIRE(db->complete_removal(id, std::nullopt));
    CHECK_FALSE(db->next_ndr_hold_due());
    CHECK(*db->send_held_ndrs(now_timestamp() + std::chrono::hours(1), spy.builder()) == 0);
    CHECK(spy.calls->empty());
    CHECK(db->check().ok());
}

// ---- a full volume: the reserve and read-only open (issue 14) -------------------------

namespace {
constexpr std::size_t kReserve = 2u << 20;

QueueDbOptions with_reserve() {
    QueueDbOptions o;
    o.reserve_size = kReserve;
    return o;
}

bool mounted_or_skipped(const edge::test::TmpfsMount& vol) {
    if (!vol.mounted()) WARN("needs root to mount a tmpfs: skipped");
    return vol.mounted();
}

// Enqueues up to `max` messages of 3,000 bytes (one overflow page each) until the
// volume refuses one; returns their ids.
std::vector<MessageId> fill_with_mail(QueueDb& db, std::size_t max = 100000) {
    std::vector<MessageId> ids;
    for (std::uint64_t i = 1; i <= max; ++i) {
        auto r = db.enqueue(make_message(i, 3000));
        if (!r) {
            REQUIRE(is_storage_full(r.error()));
            break;
        }
        ids.push_back(*r);
    }
    return ids;
}
}  // namespace

TEST_CASE("the reserve is given to delivery on a full volume, never to new mail, and taken again when delivery frees space",
          "[queue][storage][reserve]") {
    edge::test::TmpfsMount vol(12u << 20);
    if (!mounted_or_skipped(vol)) return;
    const QueueDbOptions o = with_reserve();
    auto opened = QueueDb::open(vol.path(), o);
    REQUIRE(opened);
    auto& db = **opened;
    REQUIRE(db.reserve_state().held == kReserve);
    REQUIRE(vol.fill("other", 3u << 20) == 3u << 20);  // someone else's file on the volume

    // New mail fills the volume and is refused; the reserve is untouched.
    auto ids = fill_with_mail(db);
    REQUIRE(ids.size() > 100);
    vol.fill();  // not a byte left outside the reserve
    CHECK(db.reserve_state().held == kReserve);
    CHECK(db.reserve_state().given_back == 0);
    CHECK(!db.enqueue(make_message(1, 3000)));

    // Leasing every message rewrites hundreds of records: more than LMDB has free, so
    // the lease needs the reserve — and gets it.
    auto lease = db.lease_for_delivery(kNet, ids.size());
    REQUIRE(lease);
    REQUIRE(lease->size() == ids.size());
    auto st = db.reserve_state();
    CHECK(st.given_back == 1);
    CHECK(st.held < kReserve);
    CHECK(st.new_mail_refused);
    // The volume has room now (what the reserve gave back), but not for new mail.
    CHECK(vol.free_bytes() > 0);
    auto refused = db.enqueue(make_message(2, 1024));
    REQUIRE(!refused);
    CHECK(is_storage_full(refused.error()));

    // Delivery goes on: every outcome is written and every message deleted.
    for (auto& l : *lease) REQUIRE(db.record_delivery({l.id, kNet, {{0, Kind::Delivered, "250"}}, {}, {}}));
    CHECK(db.list_messages({}).empty());
    // The pages delivery freed cover the reserve: what the volume has is taken again
    // and new mail flows (into those pages).
    ::usleep(300 * 1000);  // the reserve is looked at every 250 ms at most
    st = db.reserve_state();
    CHECK(!st.new_mail_refused);
    CHECK(db.enqueue(make_message(3, 3000)));
    // The administrator frees space: the reserve is whole again.
    std::filesystem::remove(vol.sub("other"));
    ::usleep(300 * 1000);
    CHECK(db.reserve_state().held == kReserve);
    CHECK(db.check().ok());
}

TEST_CASE("a queue with leases of a crashed process opens on a full volume with the reserve", "[queue][storage][reserve][crash]") {
    edge::test::TmpfsMount vol(12u << 20);
    if (!mounted_or_skipped(vol)) return;
    const QueueDbOptions o = with_reserve();
    std::size_t queued = 0;
    {
        auto db = QueueDb::open(vol.path(), o);
        REQUIRE(db);
        queued = fill_with_mail(**db, 1500).size();
        REQUIRE(queued == 1500);
    }
    // A child leases everything and dies without closing, as kill -9 would.
    pid_t child = ::fork();
    if (child == 0) {
        QueueDbOptions co;  // no reserve of its own: the file is the server's
        auto db = QueueDb::open(vol.path(), co);
        if (!db) ::_exit(10);
        auto l = (*db)->lease_for_delivery(kNet, 100000);
        ::_exit(l && l->size() == 1500 ? 0 : 11);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    vol.fill();

    // Without the reserve, returning those leases needs space the volume lacks.
    auto db = QueueDb::open(vol.path(), o);
    REQUIRE(db);
    CHECK((*db)->recovery_report().leases_returned == queued);
    CHECK((*db)->reserve_state().given_back == 1);
    CHECK((*db)->check().ok());
    auto lease = (*db)->lease_for_delivery(kNet, queued);
    REQUIRE(lease);
    CHECK(lease->size() == queued);
}

TEST_CASE("read-only open writes nothing, works on a full volume and refuses writes", "[queue][storage][readonly]") {
    edge::test::TmpfsMount vol(8u << 20);
    if (!mounted_or_skipped(vol)) return;
    MessageId id = 0;
    {
        QueueDbOptions o;
        o.body_stores = 1;
        auto db = QueueDb::open(vol.path(), o);
        REQUIRE(db);
        id = *(*db)->enqueue(make_message(7, 5000));
        REQUIRE((*db)->enqueue(make_message(8, 40 * 1024)));  // a store body
    }
    vol.fill();
    struct stat before {};
    REQUIRE(::stat(vol.sub("data.mdb").c_str(), &before) == 0);

    QueueDbOptions ro;
    ro.read_only = true;
    auto db = QueueDb::open(vol.path(), ro);
    REQUIRE(db);
    CHECK((*db)->list_messages({}).size() == 2);
    CHECK((*db)->export_message(id) == body_for(7, 5000));
    CHECK((*db)->export_message(id + 1) == body_for(8, 40 * 1024));
    CHECK((*db)->check().ok());
    auto w = (*db)->enqueue(make_message(9, 100));
    REQUIRE(!w);
    CHECK(w.error() == QueueError::read_only);
    CHECK((*db)->suspend_queue(kNet).error() == QueueError::read_only);
    db->reset();
    struct stat after {};
    REQUIRE(::stat(vol.sub("data.mdb").c_str(), &after) == 0);
    CHECK(after.st_size == before.st_size);
    CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
    CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

    // Where there is no queue, read-only open creates none.
    TempDir empty;
    auto none = QueueDb::open(empty.path(), ro);
    CHECK(!none);
    CHECK((!std::filesystem::exists(empty.sub("data.mdb")) || std::filesystem::file_size(empty.sub("data.mdb")) == 0));
}

// ---- a million queued messages (issue 21, item 7) --------------------------------------

TEST_CASE("queue counts are kept by the transactions that change the items", "[queue][counts]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    std::vector<MessageId> ids;
    for (std::uint64_t i = 1; i <= 6; ++i) ids.push_back(*db->enqueue(make_message(i, 1024, {"example.net", "example.org"})));
    auto counts = [&](const QueueId& q) {
        auto info = db->get_queue(q);
        REQUIRE(info);
        return std::array<std::uint64_t, 6>{info->message_count, info->active_count, info->ready_count,
                                            info->retry_count, info->suspended_count, info->pending_remove_count};
    };
    CHECK(counts(kNet) == std::array<std::uint64_t, 6>{6, 0, 6, 0, 0, 0});
    auto lease = *db->lease_for_delivery(kNet, 3);
    REQUIRE(lease.size() == 3);
    CHECK(counts(kNet) == std::array<std::uint64_t, 6>{6, 3, 3, 0, 0, 0});
    REQUIRE(db->record_delivery({lease[0].id, kNet, {{0, Kind::Delivered, "250"}}, {}, {}}));
    REQUIRE(db->record_delivery({lease[1].id, kNet, {{0, Kind::Deferred, "451"}}, now_timestamp() + std::chrono::hours(1), {}}));
    REQUIRE(db->remove_message(lease[2].id, WithNdr::no));  // in delivery: PendingRemove
    REQUIRE(db->suspend_message(ids[4], kNet));
    CHECK(counts(kNet) == std::array<std::uint64_t, 6>{5, 0, 2, 1, 1, 1});
    REQUIRE(db->release_lease(lease[2].id, kNet));  // the removal completes
    REQUIRE(db->remove_message(ids[5], WithNdr::no));
    CHECK(counts(kNet) == std::array<std::uint64_t, 6>{3, 0, 1, 1, 1, 0});
    CHECK(counts(kOrg) == std::array<std::uint64_t, 6>{4, 0, 4, 0, 0, 0});
    CHECK(db->check().ok());  // check() compares every queue's counts with a walk of its items
    // And they survive a reopen, a crash recovery and its poison moves.
    db.reset();
    crash_while_open(dir);
    db = edge::test::open_queue(dir);
    CHECK(counts(kNet) == std::array<std::uint64_t, 6>{3, 0, 1, 1, 1, 0});
    CHECK(db->check().ok());
}

TEST_CASE("the oldest message of a queue is known without a walk", "[queue][counts]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    CHECK_FALSE(db->get_queue(QueueId::submission())->oldest_arrival);
    auto m1 = make_message(1);
    m1.envelope.arrival_time = now_timestamp() - std::chrono::hours(3);
    auto id1 = *db->enqueue(std::move(m1));
    auto m2 = make_message(2);
    m2.envelope.arrival_time = now_timestamp() - std::chrono::hours(1);
    REQUIRE(db->enqueue(std::move(m2)));
    REQUIRE(db->suspend_message(id1, kNet));  // in another status range: still the oldest
    auto q = db->get_queue(kNet);
    REQUIRE(q->oldest_arrival);
    CHECK(*q->oldest_arrival <= now_timestamp() - std::chrono::hours(3));
    REQUIRE(db->remove_message(id1, WithNdr::no));
    q = db->get_queue(kNet);
    REQUIRE(q->oldest_arrival);
    CHECK(*q->oldest_arrival > now_timestamp() - std::chrono::hours(2));
}

TEST_CASE("a start after clean stops reads no message record, a crash brings the full scan back", "[queue][recovery]") {
    TempDir dir;
    {
        auto db = edge::test::open_queue(dir);
        CHECK_FALSE(db->recovery_report().full_scan);  // a new directory: nothing to recover
        for (std::uint64_t i = 1; i <= 20; ++i) REQUIRE(db->enqueue(make_message(i)));
        REQUIRE(db->lease_for_delivery(kNet, 5)->size() == 5);  // returned by close()
    }
    {
        auto db = edge::test::open_queue(dir);
        CHECK_FALSE(db->recovery_report().full_scan);
        CHECK(db->recovery_report().leases_returned == 0);
        // A second writer beside it (edgectl) that closes cleanly changes nothing.
        QueueDbOptions o;
        o.recover_leases = false;
        { auto other = QueueDb::open(dir.path(), o); REQUIRE(other); }
    }
    {
        auto db = edge::test::open_queue(dir);
        CHECK_FALSE(db->recovery_report().full_scan);
    }
    // A writer that dies holding leases: the next open scans and returns them.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        auto db = QueueDb::open(dir.path());
        if (!db) ::_exit(10);
        auto l = (*db)->lease_for_delivery(kNet, 4);
        ::_exit(l && l->size() == 4 ? 0 : 11);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    {
        // A writer opened without recovery (beside a server) leaves the evidence for the next.
        QueueDbOptions o;
        o.recover_leases = false;
        auto other = QueueDb::open(dir.path(), o);
        REQUIRE(other);
        CHECK((*other)->recovery_report().leases_returned == 0);
    }
    auto db = edge::test::open_queue(dir);
    CHECK(db->recovery_report().full_scan);
    CHECK(db->recovery_report().leases_returned == 4);
    db.reset();
    db = edge::test::open_queue(dir);
    CHECK_FALSE(db->recovery_report().full_scan);  // dealt with once
    CHECK(db->check().ok());
}

TEST_CASE("a format-1 directory is upgraded with its counts at the first read-write open", "[queue][counts]") {
    TempDir dir;
    {
        auto db = edge::test::open_queue(dir);
        for (std::uint64_t i = 1; i <= 7; ++i) REQUIRE(db->enqueue(make_message(i, 1024, {"example.net", "example.org"})));
        REQUIRE(db->suspend_message(1, kOrg));
    }
    {
        // Make it as the previous version left it: no counts, no writers list, format 1.
        raw_write(dir.path(), [](MDB_txn* txn) {
            MDB_dbi counts, meta;
            REQUIRE(mdb_dbi_open(txn, "queue_counts", 0, &counts) == 0);
            REQUIRE(mdb_drop(txn, counts, 1) == 0);
            REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
            std::string wk = "writers";
            MDB_val k{wk.size(), wk.data()};
            REQUIRE(mdb_del(txn, meta, &k, nullptr) == 0);
            raw_put(txn, "meta", "format", edge::queue::records::u64_value(1));
        });
    }
    {
        // Read-only (edgectl's Get-Queue on it before the new server's first start): walks.
        QueueDbOptions ro;
        ro.read_only = true;
        auto db = QueueDb::open(dir.path(), ro);
        REQUIRE(db);
        CHECK((*db)->get_queue(kOrg)->message_count == 7);
        CHECK((*db)->get_queue(kOrg)->suspended_count == 1);
    }
    auto db = edge::test::open_queue(dir);
    CHECK(db->recovery_report().full_scan);  // no writers list: its history is unknown
    CHECK(db->get_queue(kNet)->ready_count == 7);
    CHECK(db->get_queue(kOrg)->ready_count == 6);
    CHECK(db->get_queue(kOrg)->suspended_count == 1);
    CHECK(db->check().ok());
    // A format newer than ours is refused, not touched.
    db.reset();
    raw_write(dir.path(), [](MDB_txn* txn) { raw_put(txn, "meta", "format", edge::queue::records::u64_value(3)); });
    CHECK_FALSE(QueueDb::open(dir.path()));
}

TEST_CASE("Get-Message's pages: from a bookmark, forwards and backwards, across read chunks", "[queue][counts]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    std::vector<MessageId> ids;
    for (std::uint64_t i = 1; i <= 600; ++i) ids.push_back(*db->enqueue(make_message(i, 200, {"example.net", "example.org"})));
    for (std::size_t i = 0; i < 600; i += 3) REQUIRE(db->suspend_message(ids[i], kNet));  // 200 Suspended
    auto visit = [&](const MessageFilter& f, std::optional<QueueDb::Position> from, bool include, bool forward,
                     std::size_t max = SIZE_MAX) {
        std::vector<MessageId> out;
        db->visit_messages(f, from, include, forward, [&](const MessageInfo& m) {
            out.push_back(m.id);
            return out.size() < max;
        });
        return out;
    };
    MessageFilter net;
    net.queue = kNet;
    // Forwards: Ready (400) then Suspended (200), each in arrival order; all 600, none twice.
    auto all = visit(net, std::nullopt, true, true);
    REQUIRE(all.size() == 600);
    CHECK(std::set<MessageId>(all.begin(), all.end()).size() == 600);
    CHECK(all[0] == ids[1]);
    CHECK(all[399] == ids[599]);
    CHECK(all[400] == ids[0]);
    // Backwards is the same list reversed.
    auto back = visit(net, std::nullopt, true, false);
    CHECK(std::vector<MessageId>(back.rbegin(), back.rend()) == all);
    // From a bookmark, with and without it, both ways.
    QueueDb::Position mark{kNet, MessageStatus::Ready, all[300]};
    CHECK(visit(net, mark, true, true, 3) == std::vector<MessageId>{all[300], all[301], all[302]});
    CHECK(visit(net, mark, false, true, 2) == std::vector<MessageId>{all[301], all[302]});
    CHECK(visit(net, mark, true, false, 2) == std::vector<MessageId>{all[300], all[299]});
    CHECK(visit(net, mark, false, false, 2) == std::vector<MessageId>{all[299], all[298]});
    CHECK(visit(net, mark, false, true).size() == 299);
    // A status narrows to its range; the whole database is every queue's items.
    MessageFilter suspended = net;
    suspended.status = MessageStatus::Suspended;
    CHECK(visit(suspended, std::nullopt, true, false).size() == 200);
    CHECK(visit(MessageFilter{}, std::nullopt, true, true).size() == 1200);
    CHECK(visit(MessageFilter{}, std::nullopt, true, false).size() == 1200);
    MessageFilter anywhere_suspended;
    anywhere_suspended.status = MessageStatus::Suspended;
    CHECK(visit(anywhere_suspended, std::nullopt, true, true).size() == 200);
    // Skipping by keys: the 501st item of the queue, and a skip past the end says how far it got.
    std::vector<MessageId> skipped;
    CHECK(db->visit_messages(net, std::nullopt, true, true, [&](const MessageInfo& m) {
        skipped.push_back(m.id);
        return false;
    }, 500) == 500);
    CHECK(skipped == std::vector<MessageId>{all[500]});
    CHECK(db->visit_messages(net, std::nullopt, true, true, [](const MessageInfo&) { return true; }, 5000) == 600);
    CHECK(db->visit_messages(suspended, std::nullopt, true, false, [](const MessageInfo&) { return true; }, 150) == 150);
    // list_messages keeps its limit.
    net.limit = 10;
    CHECK(db->list_messages(net).size() == 10);
}

TEST_CASE("a backlog falling due at once moves to Ready in bounded transactions", "[queue][counts]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    constexpr std::size_t kMessages = 2500;
    for (std::size_t i = 0; i < kMessages; ++i) REQUIRE(db->enqueue(make_message(i, 100, {"example.net", "example.org"})));
    auto when = now_timestamp() + std::chrono::minutes(10);
    std::size_t deferred = 0;
    for (;;) {
        auto lease = *db->lease_for_delivery(kNet, 500);
        if (lease.empty()) break;
        for (auto& l : lease) {
            REQUIRE(db->record_delivery({l.id, kNet, {{0, Kind::Deferred, "451 4.4.1 later"}}, when, {}}));
            ++deferred;
        }
    }
    REQUIRE(deferred == kMessages);
    CHECK(db->get_queue(kNet)->retry_count == kMessages);
    const auto before = db->commit_stats().commits;
    auto ready = db->promote_due(when);
    REQUIRE(ready);
    CHECK(*ready == std::vector<QueueId>{kNet});
    CHECK(db->commit_stats().commits - before >= 3);  // 2500 entries: three transactions of at most 1000
    CHECK(db->get_queue(kNet)->ready_count == kMessages);
    CHECK(db->get_queue(kNet)->retry_count == 0);
    CHECK_FALSE(db->next_retry_due());
    CHECK(db->check().ok());
}

TEST_CASE("a large queue routed again moves in bounded transactions, each message once", "[queue][counts]") {
    TempDir dir;
    auto db = edge::test::open_queue(dir);
    constexpr std::size_t kMessages = 2500;
    for (std::size_t i = 0; i < kMessages; ++i) REQUIRE(db->enqueue(make_message(i, 100)));
    REQUIRE(db->suspend_message(1, kNet));  // Suspended: not routed again
    const auto generation = db->admin_generation();
    auto commits = db->commit_stats().commits;
    // Routed back to the same queue: every waiting message once, not again and again.
    std::size_t calls = 0;
    auto same = db->resubmit(kNet, [&](const Recipient&) {
        ++calls;
        return std::pair{kNet, DeliveryType::DnsConnectorDelivery};
    });
    REQUIRE(same);
    CHECK(*same == kMessages - 1);
    CHECK(calls == kMessages - 1);
    CHECK(db->commit_stats().commits - commits >= 3);
    CHECK(db->admin_generation() == generation + 1);
    // Elsewhere: the queue keeps only its suspended message.
    commits = db->commit_stats().commits;
    auto moved = db->resubmit(kNet, [](const Recipient&) { return std::pair{kOrg, DeliveryType::DnsConnectorDelivery}; });
    REQUIRE(moved);
    CHECK(*moved == kMessages - 1);
    CHECK(db->get_queue(kNet)->message_count == 1);
    CHECK(db->get_queue(kOrg)->ready_count == kMessages - 1);
    CHECK(db->commit_stats().commits - commits >= 3);
    CHECK(db->check().ok());
}
