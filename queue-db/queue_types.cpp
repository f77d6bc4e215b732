// Display names of the queue vocabulary, as Get-Queue and Get-Message print them.
#include "queue_types.hpp"

#include "text_helpers.hpp"


namespace edge::queue {

using text::iequals;

std::string QueueId::name() const {
    switch (kind) {
        case QueueKind::Submission: return "Submission";
        case QueueKind::Unreachable: return "Unreachable";
        case QueueKind::Poison: return "Poison";
        case QueueKind::NextHop: return next_hop;
    }
    return next_hop;
}

std::optional<QueueId> QueueId::parse(std::string_view name) {
    if (name.empty() || name.find('\0') != std::string_view::npos || name.size() > 255) return std::nullopt;
    if (iequals(name, "Submission")) return submission();
    if (iequals(name, "Unreachable")) return unreachable();
    if (iequals(name, "Poison") || iequals(name, "Poison Message")) return poison();
    return next_hop_domain(std::string(name));
}

const char* to_string(QueueKind k) {
    switch (k) {
        case QueueKind::Submission: return "Submission";
        case QueueKind::NextHop: return "NextHop";
        case QueueKind::Unreachable: return "Unreachable";
        case QueueKind::Poison: return "Poison";
    }
    return "?";
}

const char* to_string(DeliveryType t) {
    switch (t) {
        case DeliveryType::Undefined: return "Undefined";
        case DeliveryType::DnsConnectorDelivery: return "DnsConnectorDelivery";
        case DeliveryType::SmartHostConnectorDelivery: return "SmartHostConnectorDelivery";
        case DeliveryType::Unreachable: return "Unreachable";
    }
    return "?";
}

const char* to_string(QueueStatus s) {
    switch (s) {
        case QueueStatus::Ready: return "Ready";
        case QueueStatus::Active: return "Active";
        case QueueStatus::Retry: return "Retry";
        case QueueStatus::Suspended: return "Suspended";
    }
    return "?";
}

const char* to_string(MessageStatus s) {
    switch (s) {
        case MessageStatus::Active: return "Active";
        case MessageStatus::Ready: return "Ready";
        case MessageStatus::Retry: return "Retry";
        case MessageStatus::Suspended: return "Suspended";
        case MessageStatus::PendingRemove: return "PendingRemove";
    }
    return "?";
}

std::optional<MessageStatus> parse_message_status(std::string_view s) {
    for (auto st : {MessageStatus::Active, MessageStatus::Ready, MessageStatus::Retry, MessageStatus::Suspended,
                    MessageStatus::PendingRemove})
        if (iequals(s, to_string(st))) return st;
    return std::nullopt;
}

}  // namespace edge::queue
