// Get-MessageTrackingLog: the message tracking log (MSGTRK files) searched as
// Exchange's cmdlet searches it. Reads the files the server writes (they may be
// growing); needs no database write and works with the server down.
#include "cmdlet.hpp"

#include "address.hpp"
#include "config_store.hpp"
#include "message_tracking.hpp"
#include "typed_settings.hpp"

#include <fmt/format.h>

namespace edge::cli {

namespace {

std::string bare_message_id(std::string_view id) {
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
    return std::string(id);
}

// -Sender and -Recipients compare addresses as addresses (smtp::canonical_address, issue
// 13): "ceo"@Contoso.com. is ceo@contoso.com. What is not an address compares without case.
std::string address_key(std::string_view a) {
    if (auto c = smtp::canonical_address(a)) return c.str();
    std::string out(a);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

queue::Timestamp to_timestamp(std::chrono::system_clock::time_point t) {
    return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

Record event_record(const logging::TrackingEvent& e) {
    Record r;
    r.add("Timestamp", Value::of_time(to_timestamp(e.time)));
    r.add("ClientIp", Value::of_text_or_null(e.client_ip));
    r.add("ClientHostname", Value::of_text_or_null(e.client_hostname));
    r.add("ServerIp", Value::of_text_or_null(e.server_ip));
    r.add("ServerHostname", Value::of_text_or_null(e.server_hostname));
    r.add("SourceContext", Value::of_text_or_null(e.source_context));
    r.add("ConnectorId", Value::of_text_or_null(e.connector_id));
    r.add("Source", Value::of_text_or_null(e.source));
    r.add("EventId", Value::of_text_or_null(e.event_id));
    r.add("InternalMessageId", Value::of_number(static_cast<double>(e.internal_message_id)));
    r.add("MessageId", Value::of_text_or_null(e.message_id));
    r.add("Recipients", Value::of_list(e.recipients));
    r.add("RecipientStatus", Value::of_list(e.recipient_status));
    r.add("TotalBytes", Value::of_size(e.total_bytes, std::to_string(e.total_bytes)));
    r.add("RecipientCount", Value::of_number(static_cast<double>(e.recipient_count)));
    r.add("RelatedRecipientAddress", Value::of_text_or_null(e.related_recipient));
    r.add("Reference", Value::of_text_or_null(e.reference));
    r.add("MessageSubject", Value::of_text_or_null(e.subject));
    r.add("Sender", Value::of_text_or_null(e.sender));
    r.add("ReturnPath", Value::of_text_or_null(e.return_path));
    r.add("MessageInfo", Value::of_text_or_null(e.message_info));
    return r;
}


Output get_message_tracking_log(Context& ctx, const Invocation& inv) {
    std::string dir = config::transport_server_settings(config::load_singleton(*ctx.db, config::ObjectKind::TransportServer))
                          .message_tracking_log_path;
    if (dir.empty()) dir = ctx.data_directory + "/Logs/MessageTracking";

    std::optional<queue::Timestamp> start, end;
    if (inv.has("Start")) start = time_param(inv, "Start");
    if (inv.has("End")) end = time_param(inv, "End");
    std::vector<std::string> wanted_recipients;
    if (const std::string* r = inv.get("Recipients")) wanted_recipients = config::split_list(*r);
    const std::string* sender = inv.get("Sender");
    const std::string* message_id = inv.get("MessageId");
    const std::string* event_id = inv.get("EventId");
    const std::string* subject = inv.get("MessageSubject");
    std::optional<std::uint64_t> internal_id;
    if (const std::string* i = inv.get("InternalMessageId")) {
        char* e = nullptr;
        internal_id = std::strtoull(i->c_str(), &e, 10);
        if (i->empty() || *e != '\0') fail(fmt::format("-InternalMessageId: '{}' is not a number", *i), 2);
    }

    std::vector<Record> records;
    for (const auto& e : logging::read_tracking_logs(dir)) {
        auto t = to_timestamp(e.time);
        if ((start && t < *start) || (end && t > *end)) continue;
        if (sender && address_key(e.sender) != address_key(*sender)) continue;
        if (message_id && bare_message_id(e.message_id) != bare_message_id(*message_id)) continue;
        if (event_id && !iequals(e.event_id, *event_id)) continue;
        if (internal_id && e.internal_message_id != *internal_id) continue;
        // Exchange's -MessageSubject matches a part of the subject.
        if (subject) {
            auto lower = [](std::string s) {
                for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                return s;
            };
            if (lower(e.subject).find(lower(*subject)) == std::string::npos) continue;
        }
        if (!wanted_recipients.empty()) {
            bool any = false;
            for (const auto& w : wanted_recipients)
                for (const auto& r : e.recipients) any = any || address_key(w) == address_key(r);
            if (!any) continue;
        }
        records.push_back(event_record(e));
    }
    Output out;
    out.records = select_records(std::move(records), inv, event_record(logging::TrackingEvent{}).names());
    out.columns = {"Timestamp", "EventId", "Source", "Sender", "Recipients", "MessageSubject"};
    return out;
}

}  // namespace

void add_tracking_cmdlets(std::vector<Cmdlet>& table) {
    Cmdlet c{"Get-MessageTrackingLog", "Search the message tracking log",
             {{"Sender", "SmtpAddress", "", "Events of messages from this address"},
              {"Recipients", "SmtpAddress[]", "", "Events naming any of these recipients", false, true},
              {"MessageId", "String", "", "The Message-ID header, with or without < >"},
              {"InternalMessageId", "Int64", "", "The queue's message number"},
              {"EventId", "String", "", "RECEIVE, SEND, DEFER, FAIL, DSN, POISONMESSAGE, ..."},
              {"MessageSubject", "String", "", "Events whose subject contains this text"},
              {"Start", "DateTime", "", "Events at or after this time (local, or ...Z for UTC)"},
              {"End", "DateTime", "", "Events at or before this time"}},
             true, get_message_tracking_log};
    for (auto& p : output_params()) c.params.push_back(std::move(p));
    table.push_back(std::move(c));
}

}  // namespace edge::cli
