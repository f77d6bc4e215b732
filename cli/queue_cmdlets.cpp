// Queue and message cmdlets over queue-db:
//   Get-Queue, Suspend-Queue, Resume-Queue, Retry-Queue [-Resubmit $true],
//   Get-Message, Suspend-Message, Resume-Message, Remove-Message [-WithNDR],
//   Export-Message, Test-QueueDatabase.
// Identities are Exchange's: <SERVER>\<NextHopDomain> (or Submission, Unreachable,
// Poison) for a queue, <SERVER>\<queue>\<number> for a message in one queue; the
// <SERVER>\ part may be left out, and a bare message number means every queue that
// holds it. Each write is one queue-db transaction, which also raises the admin
// generation, so a running server acts on it within its poll interval.
#include "cmdlet.hpp"

#include "config_store.hpp"
#include "dsn.hpp"
#include "message_tracking.hpp"
#include "private_file.hpp"
#include "routing_config.hpp"
#include "version.hpp"

#include <fmt/format.h>

#include <set>

namespace edge::cli {

namespace {
using namespace edge::queue;

// "SERVER\name" or "name" -> the queue; the server part, when given, must be ours.
QueueId parse_queue_identity(const Context& ctx, std::string_view text, std::string_view param) {
    std::string_view name = text;
    if (auto slash = text.find('\\'); slash != std::string_view::npos) {
        if (!iequals(text.substr(0, slash), ctx.server_name))
            fail(fmt::format("-{}: no server '{}' here; this is {}", param, text.substr(0, slash), ctx.server_name));
        name = text.substr(slash + 1);
    }
    auto q = QueueId::parse(name);
    if (!q || name.find('\\') != std::string_view::npos)
        fail(fmt::format("-{}: '{}' is not a queue identity; expected <SERVER>\\<NextHopDomain>, Submission, "
                         "Unreachable or Poison",
                         param, text),
             2);
    return *q;
}

struct MessageIdentity {
    MessageId id = 0;
    std::optional<QueueId> queue;
};

// "SERVER\queue\n", "queue\n" or "n".
MessageIdentity parse_message_identity(const Context& ctx, std::string_view text, std::string_view param = "Identity") {
    MessageIdentity m;
    std::string_view number = text;
    if (auto slash = text.rfind('\\'); slash != std::string_view::npos) {
        m.queue = parse_queue_identity(ctx, text.substr(0, slash), param);
        number = text.substr(slash + 1);
    }
    std::uint64_t v = 0;
    bool ok = !number.empty() && number.size() <= 19;
    for (char c : number) ok = ok && c >= '0' && c <= '9' && ((v = v * 10 + static_cast<std::uint64_t>(c - '0')), true);
    if (!ok || v == 0)
        fail(fmt::format("-{}: '{}' is not a message identity; expected <SERVER>\\<queue>\\<number> or the number",
                         param, text),
             2);
    m.id = v;
    return m;
}

std::string queue_identity(const Context& ctx, const QueueId& q) { return ctx.server_name + "\\" + q.name(); }

Record queue_record(const Context& ctx, const QueueInfo& q) {
    Record r;
    r.add("Identity", Value::of_text(queue_identity(ctx, q.id)));
    r.add("DeliveryType", Value::of_text(to_string(q.delivery_type)));
    r.add("NextHopDomain", Value::of_text(q.id.name()));
    r.add("Status", Value::of_text(to_string(q.status)));
    r.add("MessageCount", Value::of_number(static_cast<double>(q.message_count)));
    r.add("LastError", Value::of_text_or_null(q.last_error));
    r.add("LastRetryTime", Value::of_time_or_null(q.last_retry_time));
    r.add("NextRetryTime", Value::of_time_or_null(q.next_retry_time));
    r.add("ActiveMessageCount", Value::of_number(static_cast<double>(q.active_count)));
    r.add("ReadyMessageCount", Value::of_number(static_cast<double>(q.ready_count)));
    r.add("RetryMessageCount", Value::of_number(static_cast<double>(q.retry_count)));
    r.add("SuspendedMessageCount", Value::of_number(static_cast<double>(q.suspended_count)));
    return r;
}


Record message_record(const Context& ctx, const MessageInfo& m) {
    Record r;
    const Envelope& e = m.envelope;
    std::vector<std::string> recipients;
    for (const auto& rc : e.recipients)
        if (rc.status == RecipientStatus::Pending &&
            (rc.next_hop == m.queue || m.queue.kind == QueueKind::Poison || m.queue.kind == QueueKind::Submission))
            recipients.push_back(rc.address);
    r.add("Identity", Value::of_text(fmt::format("{}\\{}", queue_identity(ctx, m.queue), m.id)));
    r.add("Subject", Value::of_text_or_null(e.subject));
    r.add("InternetMessageId", Value::of_text_or_null(e.internet_message_id));
    r.add("FromAddress", Value::of_text(e.sender.empty() ? "<>" : e.sender));
    r.add("Status", Value::of_text(to_string(m.status)));
    r.add("Size", Value::of_size(e.size, std::to_string(e.size)));
    r.add("MessageSourceName", Value::of_text_or_null(e.receive_connector));
    r.add("SourceIP", Value::of_text_or_null(e.client_address));
    r.add("DateReceived", Value::of_time(e.arrival_time));
    r.add("ExpirationTime", Value::of_time(e.expiration_time));
    r.add("LastError", Value::of_text_or_null(m.last_error));
    r.add("RetryCount", Value::of_number(m.retry_count));
    r.add("NextRetryTime", Value::of_time_or_null(m.next_retry_time));
    r.add("Recipients", Value::of_list(std::move(recipients)));
    r.add("Queue", Value::of_text(queue_identity(ctx, m.queue)));
    r.add("MessageId", Value::of_number(static_cast<double>(m.id)));
    // Issue 18: what the edge concluded about who sent it (its Authentication-Results).
    r.add("AuthenticationResults", Value::of_text_or_null(e.authentication_results));
    // Issue 19: the Content Filter's SCL (-1: not judged) and, for a quarantined message,
    // whom it was for.
    r.add("SCL", Value::of_number(e.scl));
    r.add("OriginalRecipients", Value::of_list(e.original_recipients));
    return r;
}

// The names -Filter may use: those the record builders write.
std::vector<std::string> queue_properties(const Context& ctx) { return queue_record(ctx, QueueInfo{}).names(); }
std::vector<std::string> message_properties(const Context& ctx) { return message_record(ctx, MessageInfo{}).names(); }

void check(const Status& st, std::string_view what) {
    if (st) return;
    if (st.error() == QueueError::not_found) fail(fmt::format("{}: not found", what));
    if (st.error() == QueueError::invalid_state) fail(fmt::format("{}: not possible in its current state", what));
    fail(fmt::format("{}: {}", what, st.error().message()));
}

// The queues an operation applies to: -Identity, or every queue -Filter selects.
std::vector<QueueId> target_queues(Context& ctx, const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    const std::string* filter = inv.get("Filter");
    if ((id == nullptr) == (filter == nullptr)) fail("give a queue -Identity or a -Filter (one of them)", 2);
    if (id != nullptr) {
        QueueId q = parse_queue_identity(ctx, *id, "Identity");
        if (!ctx.db->get_queue(q)) fail(fmt::format("no queue {}; 'edgectl Get-Queue' lists them", queue_identity(ctx, q)));
        return {q};
    }
    std::vector<Record> records;
    std::vector<QueueId> ids;
    for (const auto& q : ctx.db->list_queues()) records.push_back(queue_record(ctx, q));
    Invocation narrowed = inv;
    narrowed.params.emplace_back("ResultSize", "unlimited");
    for (const auto& r : select_records(std::move(records), narrowed, queue_properties(ctx)))
        ids.push_back(*QueueId::parse(r.find("NextHopDomain")->text));
    return ids;
}

struct MessageTarget {
    MessageId id;
    std::optional<QueueId> queue;
};

std::vector<MessageTarget> target_messages(Context& ctx, const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    const std::string* filter = inv.get("Filter");
    if ((id == nullptr) == (filter == nullptr)) fail("give a message -Identity or a -Filter (one of them)", 2);
    if (id != nullptr) {
        MessageIdentity m = parse_message_identity(ctx, *id);
        if (!ctx.db->get_message(m.id, m.queue)) fail(fmt::format("no message {}; 'edgectl Get-Message' lists them", *id));
        return {{m.id, m.queue}};
    }
    // Streamed: only the targets are kept, never every message's record. The walk reads
    // in chunks, so a message that changes status meanwhile may be seen twice: once is enough.
    RecordFilter selected(inv, message_properties(ctx));
    std::vector<MessageTarget> out;
    std::set<std::pair<MessageId, std::string>> seen;
    ctx.db->visit_messages({}, std::nullopt, true, true, [&](const MessageInfo& m) {
        if (selected.matches(message_record(ctx, m)) && seen.emplace(m.id, m.queue.name()).second)
            out.push_back({m.id, m.queue});
        return true;
    });
    return out;
}

Output get_queue(Context& ctx, const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    std::optional<QueueId> only;
    if (id != nullptr) only = parse_queue_identity(ctx, *id, "Identity");
    std::optional<std::string> bookmark;
    if (const std::string* b = inv.get("BookmarkObject"))
        bookmark = queue_identity(ctx, parse_queue_identity(ctx, *b, "BookmarkObject"));
    // Queues are few and each costs one counts read (no walk): listed whole, paged here.
    std::vector<QueueInfo> queues = ctx.db->list_queues();
    Pager pager(inv, queue_properties(ctx), bookmark);
    if (!pager.search_forward()) std::reverse(queues.begin(), queues.end());
    bool found = false;
    for (const auto& q : queues) {
        if (only && !(q.id == *only)) continue;
        found = true;
        if (!pager.offer(queue_record(ctx, q))) break;
    }
    if (only && !found) fail(fmt::format("no queue {}; 'edgectl Get-Queue' lists them", queue_identity(ctx, *only)));
    Output out;
    out.records = pager.take();
    out.note = pager.note();
    out.columns = {"Identity", "DeliveryType", "Status", "MessageCount", "NextHopDomain"};
    return out;
}

Output queue_action(Context& ctx, const Invocation& inv, Status (QueueDb::*action)(const QueueId&)) {
    for (const auto& q : target_queues(ctx, inv)) check((ctx.db->*action)(q), "queue " + queue_identity(ctx, q));
    return {};
}

Output retry_queue(Context& ctx, const Invocation& inv) {
    if (!bool_param(inv, "Resubmit", false)) return queue_action(ctx, inv, &QueueDb::retry_queue);
    // Resubmit: route every waiting recipient again with the configuration as it is now
    // (a connector added for the Unreachable queue, an address space changed).
    auto categorizer = config::load_categorizer(*ctx.db);
    auto route = [&](const Recipient& r) { return config::queue_for(*categorizer, r.address); };
    std::size_t moved = 0;
    for (const auto& q : target_queues(ctx, inv)) {
        auto r = ctx.db->resubmit(q, route);
        if (!r) fail(fmt::format("queue {}: {}", queue_identity(ctx, q), r.error().message()));
        moved += *r;
    }
    Output out;
    out.note = fmt::format("{} message(s) resubmitted", moved);
    return out;
}

Output get_message(Context& ctx, const Invocation& inv) {
    Output out;
    out.columns = {"Identity", "FromAddress", "Status", "Size", "Queue"};
    MessageFilter mf;
    if (const std::string* q = inv.get("Queue")) mf.queue = parse_queue_identity(ctx, *q, "Queue");
    if (const std::string* id = inv.get("Identity")) {
        // One message: read by its id, never by a walk.
        MessageIdentity only = parse_message_identity(ctx, *id);
        if (only.queue && mf.queue && !(*only.queue == *mf.queue))
            fail(fmt::format("-Identity {} is not in -Queue {}", *id, queue_identity(ctx, *mf.queue)), 2);
        std::vector<Record> records;
        for (const auto& m : ctx.db->message_in_queues(only.id))  // a bare number: every queue holding it
            if ((!only.queue || m.queue == *only.queue) && (!mf.queue || m.queue == *mf.queue))
                records.push_back(message_record(ctx, m));
        if (records.empty()) fail(fmt::format("no message {}; 'edgectl Get-Message' lists them", *id));
        out.records = select_records(std::move(records), inv, message_properties(ctx));
        return out;
    }
    // Pages: the walk starts at the bookmark object (found by its id) and stops when the
    // page is full, so a page of a million-message queue reads one page of records.
    std::optional<QueueDb::Position> from;
    std::optional<std::string> bookmark;
    if (const std::string* b = inv.get("BookmarkObject")) {
        MessageIdentity mark = parse_message_identity(ctx, *b, "BookmarkObject");
        if (!mark.queue) mark.queue = mf.queue;
        auto m = mark.queue ? ctx.db->get_message(mark.id, mark.queue) : ctx.db->get_message(mark.id);
        if (!m || (mf.queue && !(m->queue == *mf.queue)))
            fail(fmt::format("-BookmarkObject: {} is not there (any more)", *b));
        from = QueueDb::Position{m->queue, m->status, m->id};
        bookmark = fmt::format("{}\\{}", queue_identity(ctx, m->queue), m->id);
    }
    Pager pager(inv, message_properties(ctx), bookmark);
    const std::uint64_t skip = pager.skippable();
    pager.skipped(skip);  // a deep -BookmarkIndex costs a walk of keys, not of records
    const std::uint64_t passed = ctx.db->visit_messages(
        mf, from, true, pager.search_forward(), [&](const MessageInfo& m) { return pager.offer(message_record(ctx, m)); },
        skip);
    pager.unskipped(skip - passed);
    out.records = pager.take();
    out.note = pager.note();
    return out;
}

Output message_action(Context& ctx, const Invocation& inv,
                      Status (QueueDb::*action)(MessageId, const std::optional<QueueId>&)) {
    for (const auto& t : target_messages(ctx, inv)) check((ctx.db->*action)(t.id, t.queue), fmt::format("message {}", t.id));
    return {};
}

// The tracking log's line for an administrator's removal (issue 21): Exchange 2007 has no
// DELETE event (reference §6.2), so FAIL with source ADMIN, each pending recipient's
// status the text the NDR gives. Written by edgectl itself, so it is there with the server
// stopped too; one MSGTRK file per edgectl run that removes (CsvLog never reopens a file).
void track_admin_removal(Context& ctx, const MessageInfo& m, bool ndr) {
    const config::TransportServerSettings ts =
        config::transport_server_settings(config::load_singleton(*ctx.db, config::ObjectKind::TransportServer));
    logging::MessageTrackingSettings s;
    s.enabled = ts.message_tracking_log_enabled;
    if (!s.enabled) return;
    s.directory = ts.message_tracking_log_path.empty() ? ctx.data_directory + "/Logs/MessageTracking"
                                                       : ts.message_tracking_log_path;
    auto unlimited = [](std::uint64_t v) { return v == config::kUnlimited ? 0 : v; };
    s.max_file_size = unlimited(ts.message_tracking_log_max_file_size);
    s.max_directory_size = unlimited(ts.message_tracking_log_max_directory_size);
    s.max_age = ts.message_tracking_log_max_age;
    s.subject_logging_enabled = ts.message_tracking_log_subject_logging_enabled;
    logging::MessageTrackingLog log(s, kVersionText);
    logging::TrackingEvent e;
    e.event_id = std::string(logging::tracking_event::Fail);
    e.source = std::string(logging::tracking_source::Admin);
    e.server_hostname = ctx.server_name;
    e.source_context = ndr ? "Remove-Message -WithNDR $true" : "Remove-Message -WithNDR $false";
    e.internal_message_id = m.id;
    e.message_id = m.envelope.internet_message_id;
    for (const auto& r : m.envelope.recipients)
        if (r.status == RecipientStatus::Pending) {
            e.recipients.push_back(r.address);
            e.recipient_status.emplace_back(send::kAdminRemovedText);
        }
    e.total_bytes = m.envelope.size;
    e.subject = m.envelope.subject;
    e.sender = m.envelope.sender;
    e.return_path = m.envelope.sender;
    log.write(e);
}

Output remove_message(Context& ctx, const Invocation& inv) {
    // Exchange's default is an NDR; -WithNDR $false removes silently.
    bool ndr = bool_param(inv, "WithNDR", true);
    auto targets = target_messages(ctx, inv);
    for (const auto& t : targets) {
        auto before = ctx.db->get_message(t.id, t.queue);
        check(ctx.db->remove_message(t.id, ndr ? WithNdr::yes : WithNdr::no), fmt::format("message {}", t.id));
        if (before) track_admin_removal(ctx, *before, ndr);
    }
    Output out;
    if (ndr && !targets.empty())
        out.note = "the server sends the NDR and then deletes the message (Status PendingRemove until then)";
    return out;
}

Output export_message(Context& ctx, const Invocation& inv) {
    const std::string* id = inv.get("Identity");
    const std::string* path = inv.get("Path");
    if (id == nullptr || path == nullptr || path->empty()) fail("give the message Identity and -Path FILE", 2);
    MessageIdentity m = parse_message_identity(ctx, *id);
    if (m.queue && !ctx.db->get_message(m.id, m.queue)) fail(fmt::format("no message {}", *id));
    auto bytes = ctx.db->export_message(m.id);
    if (!bytes) fail(fmt::format("no message {}; 'edgectl Get-Message' lists them", *id));
    // Mail is private: 0600 from the first byte, and never written through whatever is
    // at -Path already (a symlink planted there would aim us at its target): an
    // existing file is refused, not replaced (queue-db/private_file.hpp).
    auto ec = queue::write_file_atomically(*path, *bytes, 0600, queue::ExistingFile::Refuse);
    if (ec == std::errc::file_exists)
        fail(fmt::format("-Path: {} already exists; Export-Message does not replace files", *path));
    if (ec) fail(fmt::format("-Path: cannot write {}: {}", *path, ec.message()));
    return {};
}

Output test_queue_database(Context& ctx, const Invocation& inv) {
    const auto& rec = ctx.db->recovery_report();
    auto rep = ctx.db->check();
    auto use = ctx.db->usage();
    Record r;
    r.add("Messages", Value::of_number(static_cast<double>(rep.messages)));
    r.add("QueueItems", Value::of_number(static_cast<double>(rep.queue_items)));
    r.add("MapUsed", Value::of_size(use.used_bytes, std::to_string(use.used_bytes)));
    r.add("MapSize", Value::of_size(use.map_size, std::to_string(use.map_size)));
    r.add("LeasesReturned", Value::of_number(static_cast<double>(rec.leases_returned)));
    r.add("Poisoned", Value::of_number(static_cast<double>(rec.poisoned)));
    r.add("Quarantined", Value::of_number(static_cast<double>(rec.quarantined)));
    r.add("Problems", Value::of_list(rep.problems));
    r.add("Consistent", Value::of_bool(rep.ok()));
    Output out;
    const auto names = r.names();
    out.records = select_records({std::move(r)}, inv, names);
    out.columns = {"Messages", "QueueItems", "MapUsed", "Consistent"};
    out.list_by_default = true;
    if (!rep.ok()) {
        out.note = "the queue database is not consistent";
        out.exit_code = 1;
    }
    return out;
}

ParamDef queue_identity_param(bool required) {
    return {"Identity", "QueueIdentity", "", required ? "The queue: <SERVER>\\<NextHopDomain>, Submission, Unreachable or Poison"
                                                      : "Only this queue",
            false, false, true};
}
const ParamDef kMessageIdentity{"Identity", "MessageIdentity", "",
                                "The message: <SERVER>\\<queue>\\<number>, or the number for every queue holding it",
                                false, false, true};
const ParamDef kFilterOnly{"Filter", "String", "", "Every object matching (instead of -Identity): Status -eq 'Retry'"};

std::vector<ParamDef> with_output(std::vector<ParamDef> p) {
    for (auto& o : output_params()) p.push_back(std::move(o));
    return p;
}

}  // namespace

void add_queue_cmdlets(std::vector<Cmdlet>& table) {
    auto get_queue_params = with_output({queue_identity_param(false)});
    for (auto& p : paging_params()) get_queue_params.push_back(std::move(p));
    table.push_back({"Get-Queue", "List the queues (Submission, next hops, Unreachable, Poison)",
                     get_queue_params, true, get_queue});
    table.push_back({"Suspend-Queue", "Stop delivery from a queue (it keeps accepting messages)",
                     {queue_identity_param(true), kFilterOnly}, true,
                     [](Context& c, const Invocation& i) { return queue_action(c, i, &QueueDb::suspend_queue); }});
    table.push_back({"Resume-Queue", "Resume delivery from a suspended queue",
                     {queue_identity_param(true), kFilterOnly}, true,
                     [](Context& c, const Invocation& i) { return queue_action(c, i, &QueueDb::resume_queue); }});
    table.push_back({"Retry-Queue", "Try a queue in Retry now; with -Resubmit $true route its messages again",
                     {queue_identity_param(true), kFilterOnly,
                      {"Resubmit", "Boolean", "$false",
                       "Route every waiting message again with the current connectors (e.g. the Unreachable queue)"}},
                     true, retry_queue});
    auto get_message_params = with_output({kMessageIdentity, {"Queue", "QueueIdentity", "", "Only messages of this queue"}});
    for (auto& p : paging_params()) get_message_params.push_back(std::move(p));
    table.push_back({"Get-Message", "List messages in the queues", get_message_params, true, get_message});
    table.push_back({"Suspend-Message", "Hold a message (in one queue, or in every queue holding it)",
                     {kMessageIdentity, kFilterOnly}, true,
                     [](Context& c, const Invocation& i) { return message_action(c, i, &QueueDb::suspend_message); }});
    table.push_back({"Resume-Message", "Release a suspended message; a Poison message goes back to its queues",
                     {kMessageIdentity, kFilterOnly}, true,
                     [](Context& c, const Invocation& i) { return message_action(c, i, &QueueDb::resume_message); }});
    table.push_back({"Remove-Message", "Delete a message, by default with an NDR to its sender",
                     {kMessageIdentity, kFilterOnly,
                      {"WithNDR", "Boolean", "$true", "Send the sender an NDR (as Exchange does by default)"},
                      {"Confirm", "Switch", "", "Accepted for Exchange scripts; edgectl never prompts", true}},
                     true, remove_message});
    table.push_back({"Export-Message", "Write a message as queued, byte for byte, to a file",
                     {kMessageIdentity, {"Path", "String", "", "The file to write (.eml)"}}, true, export_message});
    table.push_back({"Test-QueueDatabase", "Check every record and index of the queue database",
                     {{"Format", "Table|List", "List", "Table or List"}, {"Json", "Switch", "", "Print JSON", true}}, true,
                     test_queue_database});
}

}  // namespace edge::cli
