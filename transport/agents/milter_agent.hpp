// The Milter Agent (issue 19): at the end of data, each configured milter (New-MilterServer)
// in Priority order hears the message replayed as one conversation — connect, helo, mail,
// rcpt…, data, header…, eoh, body, eom — through transport/milter/. Its reply is the
// answer (VerdictHandling Apply, as Postfix's smtpd_milters) or evidence for the Content
// Filter Agent (VerdictHandling ContentFilter: recorded in the properties below); its
// modifications become one MessageEdit either way. A milter that is down, slow or
// breaks the protocol gets its DefaultAction.
#pragma once

#include "pipeline_async.hpp"
#include "typed_settings.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::agents {

inline constexpr std::string_view kMilterAgent = "Milter Agent";

// What the Milter Agent leaves for the Content Filter Agent (all "Message.": forgotten at
// the next MAIL).
namespace milter_property {
// The strongest verdict of the milters with VerdictHandling ContentFilter, weakest first:
// accept, continue, quarantine, tempfail, reject, discard.
inline constexpr std::string_view kVerdict = "Message.Milter.Verdict";
// That milter's SMTP reply when it gave one ("554 5.7.1 Gtube pattern"), else empty.
inline constexpr std::string_view kReply = "Message.Milter.Reply";
inline constexpr std::string_view kServer = "Message.Milter.Server";  // that milter's Name
// SMFIR_QUARANTINE's reason, from a milter of either VerdictHandling.
inline constexpr std::string_view kQuarantine = "Message.Milter.Quarantine";
}  // namespace milter_property

// The enabled MilterServer objects, in the order they are asked (Priority, then Name).
std::vector<config::MilterServerSettings> load_milter_servers(const queue::QueueDb& db);

class MilterAgent final : public AsyncAgent {
public:
    // `max_message_sizes`: each Receive connector's MaxMessageSize by Name, the bound of
    // a replaced body (10 MB, Exchange's default, for a connector not named).
    MilterAgent(std::vector<config::MilterServerSettings> milters, std::string server_fqdn,
                std::map<std::string, std::uint64_t, std::less<>> max_message_sizes = {});
    std::string_view name() const override { return kMilterAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfData && !milters_.empty(); }
    // Not an anti-spam agent: a milter is as often a virus scanner or a signer, which an
    // allow-listed sender must not skip (Postfix runs smtpd_milters for every session).
    bool anti_spam() const override { return false; }
    // Each milter is bounded by its own timeouts and deadline; this is only the backstop.
    std::chrono::milliseconds timeout() const override { return timeout_; }
    TimeoutAction timeout_action() const override { return TimeoutAction::TempFail; }
    boost::asio::awaitable<Verdict> on_event_async(AgentEvent e, const SessionInfo& session,
                                                   const Envelope& envelope) const override;
    const std::vector<config::MilterServerSettings>& milters() const { return milters_; }

private:
    std::vector<config::MilterServerSettings> milters_;
    std::string server_fqdn_;
    std::map<std::string, std::uint64_t, std::less<>> max_message_sizes_;
    std::chrono::milliseconds timeout_{0};
};

}  // namespace edge::agents
