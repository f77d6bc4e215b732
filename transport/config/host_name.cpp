// The host's short name and FQDN, by one rule (host_name.hpp).
#include "host_name.hpp"

#include <netdb.h>
#include <unistd.h>

#include <string_view>

namespace edge::config {

namespace {
std::string node_name() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    return buf;
}
}  // namespace

std::string short_host_name() {
    std::string h = node_name();
    return h.substr(0, h.find('.'));
}

std::string host_fqdn() {
    const std::string node = node_name();
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    addrinfo* res = nullptr;
    std::string name;
    if (::getaddrinfo(node.c_str(), nullptr, &hints, &res) == 0 && res != nullptr) {
        if (res->ai_canonname != nullptr && std::string_view(res->ai_canonname).find('.') != std::string_view::npos)
            name = res->ai_canonname;
        ::freeaddrinfo(res);
    }
    if (!name.empty()) return name;
    if (node.find('.') != std::string::npos) return node;
    return short_host_name();
}

}  // namespace edge::config
