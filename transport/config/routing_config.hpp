// The categorizer as the config store describes it (accepted domains and the Send
// connectors' address spaces), and the one rule that maps a recipient to its next-hop
// queue. Used by the server's message acceptance and by edgectl Retry-Queue -Resubmit,
// so neither needs the delivery code to route.
#pragma once

#include "categorizer.hpp"
#include "config_store.hpp"
#include "queue_types.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edge::config {

struct SendConnectorSettings;

// A Send connector's routing facts (Name, Enabled, AddressSpaces, DNSRoutingEnabled,
// SmartHosts, MaxMessageSize).
routing::SendConnectorRoute send_connector_route(const SendConnectorSettings& send_connector);

// The accepted domains in the config store; objects that do not load are reported in
// `errors` and left out.
std::vector<routing::AcceptedDomain> load_accepted_domains(const queue::QueueDb& db,
                                                           std::vector<std::string>* errors = nullptr);

// The Default accepted domain (AcceptedDomain -Default), "" when there is none or it is
// a wildcard (which names no single domain).
std::string default_domain(const std::vector<routing::AcceptedDomain>& domains);

// Accepted domains and every Send connector's route, from the config store. Objects
// that do not load are reported in `errors` and left out.
std::shared_ptr<routing::Categorizer> load_categorizer(const queue::QueueDb& db,
                                                       std::vector<std::string>* errors = nullptr);

// The next-hop queue and delivery type of one recipient: its canonical domain
// (transport/smtp/address.hpp) routed by `categorizer`; what has no domain, or no
// route, is Unreachable.
std::pair<queue::QueueId, queue::DeliveryType> queue_for(const routing::Categorizer& categorizer,
                                                         std::string_view address);

}  // namespace edge::config
