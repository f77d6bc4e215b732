// The Content Filter Agent (issue 19; Exchange 2007's name, reference §9.2) at
// OnEndOfData, after the Milter Agent: a Spam Confidence Level 0-9 for each message from
// (a) the custom phrases (ContentFilterPhrase: GoodWord ⇒ 0 and nothing raises it,
// BadWord ⇒ 9), (b) the scanner milters' verdicts and score headers, mapped by
// Set-ContentFilterConfig's table, (c) other agents' stamps (DMARC quarantine, Sender ID
// SoftFail raise it). Then, as configured: delete, reject (550 5.7.1 RejectionResponse),
// quarantine (every recipient redirected to QuarantineMailbox, the originals kept with
// the message), and the SCL stamped as X-MS-Exchange-Organization-SCL and SpamAssassin's
// X-Spam-Flag / X-Spam-Level / X-Spam-Status. Pure: no I/O.
#pragma once

#include "message_text.hpp"
#include "pipeline.hpp"
#include "typed_settings.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace edge::queue {
class QueueDb;
}

namespace edge::agents {

inline constexpr std::string_view kContentFilterAgent = "Content Filter Agent";

// The SCL as a message property ("-1" for a message not rated: bypassed); acceptance
// stores it with the message (Get-Message's SCL).
namespace content_filter_property {
inline constexpr std::string_view kScl = "Message.ContentFilter.SCL";
}

// The header fields stamped. The SCL field is Exchange's; the X-Spam-* fields are
// SpamAssassin's, which Sieve scripts and mail clients already read.
namespace content_filter_header {
inline constexpr std::string_view kScl = "X-MS-Exchange-Organization-SCL";
inline constexpr std::string_view kSpamFlag = "X-Spam-Flag";      // "YES", only when spam
inline constexpr std::string_view kSpamLevel = "X-Spam-Level";    // one '*' per SCL point
inline constexpr std::string_view kSpamStatus = "X-Spam-Status";  // "Yes, scl=7 tests=BadWord"
}  // namespace content_filter_header

// Spam, for the X-Spam-* fields: an SCL above Exchange's default SCLJunkThreshold (4), at
// which a mailbox moves the message to Junk E-mail.
inline constexpr int kSpamScl = 5;

// The most custom phrases, as Exchange (reference §9.2).
inline constexpr std::size_t kMaxContentFilterPhrases = 800;

// What the filter found, before it acts.
struct SclRating {
    int scl = -1;  // -1: not rated (bypassed)
    std::string reason;  // the agent log's Reason: what decided (BadWord, GoodWord, Milter, Score, …)
    std::vector<std::string> evidence;  // each thing that counted, for ReasonData ("BadWord 'free money'")
    // A milter asked for the message to be quarantined (SMFIR_QUARANTINE): with a
    // QuarantineMailbox it goes there, as Exchange's quarantine, whatever its SCL short of
    // the delete threshold; a request to hold a message is not a reason to refuse it.
    std::string quarantine_requested;
};

class ContentFilter {
public:
    ContentFilter(config::ContentFilterConfigSettings settings, std::vector<PhraseMatcher::Phrase> phrases);
    const config::ContentFilterConfigSettings& settings() const { return settings_; }

    // The SCL of this message (its properties are the session's: other agents' stamps).
    SclRating rate(const SessionInfo& session, const Envelope& envelope) const;
    // The verdict for a rating: the stamps, and the action its SCL reaches.
    Verdict decide(const SclRating& rating, const Envelope& envelope) const;

private:
    bool bypassed(const Envelope& envelope, std::string& why) const;
    int score_scl(double score) const;

    config::ContentFilterConfigSettings settings_;
    PhraseMatcher phrases_;
    std::vector<double> score_thresholds_;  // nine, ascending (validated by the settings table)
    std::unordered_set<std::string> bypassed_recipients_, bypassed_senders_;  // canonical
    std::vector<std::string> bypassed_domains_, bypassed_domain_trees_;       // "x", and "*.x" as "x"
};

class ContentFilterAgent final : public Agent {
public:
    explicit ContentFilterAgent(std::shared_ptr<const ContentFilter> filter) : filter_(std::move(filter)) {}
    std::string_view name() const override { return kContentFilterAgent; }
    bool handles(AgentEvent e) const override { return e == AgentEvent::OnEndOfData; }
    Verdict on_event(AgentEvent e, const SessionInfo& session, const Envelope& envelope) const override;
    const ContentFilter* filter() const { return filter_.get(); }

private:
    std::shared_ptr<const ContentFilter> filter_;
};

// ---- the configuration in the config store --------------------------------------------

// Set-ContentFilterConfig and every ContentFilterPhrase, as stored now (load_pipeline
// reads them once per config generation). A phrase record that does not read is left out
// and named in `errors`.
std::shared_ptr<const ContentFilter> load_content_filter(const queue::QueueDb& db, std::vector<std::string>* errors = nullptr);

struct StoredPhrase {
    std::string identity;  // the phrase in lower case (the record's name)
    std::string phrase;    // as written
    config::PhraseInfluence influence = config::PhraseInfluence::BadWord;
};
std::vector<StoredPhrase> load_content_filter_phrases(const queue::QueueDb& db, std::vector<std::string>* errors = nullptr);
// Add-ContentFilterPhrase: "" when added, else why not (no word in it, too long, a
// duplicate of one stored in any case, the 800th phrase already stored). One transaction.
std::string add_content_filter_phrase(queue::QueueDb& db, std::string_view phrase, std::string_view influence);
// Remove-ContentFilterPhrase (the phrase in any case): "" when removed, else why not.
std::string remove_content_filter_phrase(queue::QueueDb& db, std::string_view phrase);

}  // namespace edge::agents
