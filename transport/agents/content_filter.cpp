// The Content Filter Agent: the SCL, its actions, and its configuration in the store
// (see the header).
#include "content_filter.hpp"

#include "address.hpp"
#include "auth_agents.hpp"
#include "config_store.hpp"
#include "milter_agent.hpp"
#include "queue_db.hpp"
#include "recipient_filter.hpp"
#include "text_helpers.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace edge::agents {

namespace {
// What the Milter Agent records of a scanner milter (-VerdictHandling ContentFilter).
constexpr std::string_view kMilterPropertyPrefix = "Message.Milter.";
constexpr std::string_view kMilterVerdict = milter_property::kVerdict;
constexpr std::string_view kMilterServer = milter_property::kServer;
constexpr std::string_view kMilterQuarantine = milter_property::kQuarantine;

std::string_view property(const SessionInfo& s, std::string_view name) {
    auto it = s.properties.find(name);
    return it == s.properties.end() ? std::string_view() : std::string_view(it->second);
}


// A score header's number: the first token of X-Spam-Score / X-Rspamd-Score.
std::optional<double> leading_score(std::string_view v) {
    v = text::trim(v);
    return config::parse_score(v.substr(0, v.find_first_of(" \t;,(")));
}
// "Yes, score=16.0 required=5.0 tests=…" (SpamAssassin's X-Spam-Status).
std::optional<double> status_score(std::string_view v) {
    auto at = v.find("score=");
    if (at == std::string_view::npos) return std::nullopt;
    v.remove_prefix(at + 6);
    return config::parse_score(v.substr(0, v.find_first_of(" \t;,")));
}
// rspamd's "default: False [3.20 / 15.00]; SYMBOL(1.0)…" (X-Spamd-Result).
std::optional<double> bracket_score(std::string_view v) {
    auto open = v.find('[');
    if (open == std::string_view::npos) return std::nullopt;
    v.remove_prefix(open + 1);
    return config::parse_score(v.substr(0, v.find_first_of(" \t/]")));
}
bool yes(std::string_view v) {
    v = text::trim(v);
    return text::istarts_with(v, "yes") && (v.size() == 3 || v[3] == ',' || v[3] == ' ' || v[3] == ';');
}
}  // namespace

ContentFilter::ContentFilter(config::ContentFilterConfigSettings settings, std::vector<PhraseMatcher::Phrase> phrases)
    : settings_(std::move(settings)), phrases_(std::move(phrases)) {
    for (const auto& t : settings_.scanner_score_thresholds)
        if (auto v = config::parse_score(t)) score_thresholds_.push_back(*v);
    for (const auto& r : settings_.bypassed_recipients) bypassed_recipients_.insert(canonical_recipient(r));
    for (const auto& s : settings_.bypassed_senders) bypassed_senders_.insert(canonical_recipient(s));
    for (const auto& d : settings_.bypassed_sender_domains) {
        std::string_view v = d;
        const bool tree = v.starts_with("*.");
        if (tree) v.remove_prefix(2);
        auto c = smtp::canonical_domain(v);
        if (!c) continue;
        (tree ? bypassed_domain_trees_ : bypassed_domains_).push_back(*c);
    }
}

int ContentFilter::score_scl(double score) const {
    int scl = 0;
    for (double t : score_thresholds_)
        if (score >= t) ++scl;
    return std::min(scl, 9);
}

bool ContentFilter::bypassed(const Envelope& envelope, std::string& why) const {
    if (!envelope.sender.empty() && bypassed_senders_.contains(canonical_recipient(envelope.sender))) {
        why = "BypassedSender";
        return true;
    }
    if (const std::string d = smtp::canonical_domain_of(envelope.sender); !d.empty()) {
        if (std::find(bypassed_domains_.begin(), bypassed_domains_.end(), d) != bypassed_domains_.end()) {
            why = "BypassedSenderDomain";
            return true;
        }
        for (const auto& t : bypassed_domain_trees_)
            if (d == t || (d.size() > t.size() && d.ends_with(t) && d[d.size() - t.size() - 1] == '.')) {
                why = "BypassedSenderDomain";
                return true;
            }
    }
    // Every recipient bypassed: the message is theirs alone. (Exchange forks a message
    // with some bypassed recipients; here a mixed message is rated for all.)
    if (!envelope.recipients.empty() && !bypassed_recipients_.empty() &&
        std::all_of(envelope.recipients.begin(), envelope.recipients.end(),
                    [&](const std::string& r) { return bypassed_recipients_.contains(canonical_recipient(r)); })) {
        why = "BypassedRecipients";
        return true;
    }
    return false;
}

SclRating ContentFilter::rate(const SessionInfo& session, const Envelope& envelope) const {
    SclRating r;
    std::string why;
    if (bypassed(envelope, why)) {
        r.reason = why;
        return r;
    }

    // (a) the custom phrases: one pass over the Subject and the body's text.
    int scl = 0;
    if (!phrases_.empty()) {
        PhraseMatcher::Search search(phrases_);
        if (envelope.size > settings_.max_scanned_message_size) {
            r.evidence.push_back(fmt::format("not searched: {} bytes, over MaxScannedMessageSize", envelope.size));
        } else if (envelope.message != nullptr) {
            search_message_text(*envelope.message, search);
        } else {
            for (const auto& [name, value] : envelope.headers)
                if (text::iequals(name, "Subject")) search.feed(decode_encoded_words(value));
        }
        const auto& found = search.found();
        if (found.good >= 0) {
            // Exchange: an allowed phrase gives SCL 0, whatever else is found.
            r.scl = 0;
            r.reason = "GoodWord";
            r.evidence.push_back(fmt::format("GoodWord '{}'", phrases_.phrases()[found.good].text));
            return r;
        }
        if (found.bad >= 0) {
            scl = 9;
            r.reason = "BadWord";
            r.evidence.push_back(fmt::format("BadWord '{}'", phrases_.phrases()[found.bad].text));
        }
    }
    auto raise = [&](int to, std::string_view reason, std::string evidence) {
        r.evidence.push_back(std::move(evidence));
        if (to > scl) {
            scl = to;
            r.reason = std::string(reason);
        }
    };

    // (b) the scanners: only when a milter looked at the message (without one, score
    // fields are the sender's own words). Of several fields the highest counts, so a
    // field the sender wrote can only raise its own message's SCL, never lower it.
    const bool scanned = std::any_of(session.properties.begin(), session.properties.end(),
                                     [](const auto& p) { return p.first.starts_with(kMilterPropertyPrefix); });
    if (scanned) {
        r.quarantine_requested = std::string(property(session, kMilterQuarantine));
        const std::string_view verdict = property(session, kMilterVerdict);
        const std::string_view server = property(session, kMilterServer);
        int milter_scl = -1;
        if (text::iequals(verdict, "reject")) milter_scl = settings_.milter_reject_scl;
        else if (text::iequals(verdict, "discard")) milter_scl = settings_.milter_discard_scl;
        else if (text::iequals(verdict, "quarantine")) milter_scl = settings_.milter_quarantine_scl;
        else if (text::iequals(verdict, "tempfail")) milter_scl = settings_.milter_temp_fail_scl;
        if (milter_scl >= 0)
            raise(milter_scl, "Milter", fmt::format("milter {} {}: SCL {}", server.empty() ? "?" : server, verdict, milter_scl));

        std::optional<double> score;
        bool flagged = false;
        auto take = [&](std::optional<double> s) {
            if (s && (!score || *s > *score)) score = s;
        };
        for (const auto& [name, value] : envelope.headers) {
            if (text::iequals(name, "X-Spam-Score") || text::iequals(name, "X-Rspamd-Score")) take(leading_score(value));
            else if (text::iequals(name, "X-Spamd-Result")) take(bracket_score(value));
            else if (text::iequals(name, "X-Spam-Status")) {
                take(status_score(value));
                flagged = flagged || yes(value);
            } else if (text::iequals(name, "X-Spam-Flag") || text::iequals(name, "X-Spam")) {
                flagged = flagged || yes(value);
            }
        }
        if (flagged) raise(settings_.scanner_spam_flag_scl, "SpamFlag", fmt::format("spam flag: SCL {}", settings_.scanner_spam_flag_scl));
        if (score) {
            const int s = score_scl(*score);
            raise(s, "Score", fmt::format("score {:g}: SCL {}", *score, s));
        }
    }

    // (c) other agents' stamps raise what the content says.
    if (property(session, auth_property::kSenderIdStatus) == "SoftFail" && settings_.sender_id_soft_fail_scl_increase > 0) {
        scl = std::min(9, scl + settings_.sender_id_soft_fail_scl_increase);
        r.evidence.push_back(fmt::format("Sender ID SoftFail: +{}", settings_.sender_id_soft_fail_scl_increase));
        if (r.reason.empty()) r.reason = "SenderIdSoftFail";
    }
    if (property(session, auth_property::kDmarcQuarantine) == "true" && settings_.dmarc_quarantine_scl_increase > 0) {
        scl = std::min(9, scl + settings_.dmarc_quarantine_scl_increase);
        r.evidence.push_back(fmt::format("DMARC quarantine: +{}", settings_.dmarc_quarantine_scl_increase));
        if (r.reason.empty() || r.reason == "SenderIdSoftFail") r.reason = "DmarcQuarantine";
    }
    r.scl = scl;
    if (r.reason.empty()) r.reason = "Rated";
    return r;
}

Verdict ContentFilter::decide(const SclRating& rating, const Envelope&) const {
    namespace h = content_filter_header;
    const std::string scl_text = std::to_string(rating.scl);
    std::string data = fmt::format("SCL {}", rating.scl);
    for (const auto& e : rating.evidence) data += "; " + e;

    auto with_properties = [&](Verdict v) {
        v.properties[std::string(content_filter_property::kScl)] = scl_text;
        v.reason_data = data;
        return v;
    };
    if (rating.scl >= 0) {
        if (settings_.scl_delete_enabled && rating.scl >= settings_.scl_delete_threshold)
            return with_properties(Verdict::delete_message("SclDelete"));
        if (!rating.quarantine_requested.empty() && !settings_.quarantine_mailbox.empty()) {
            Verdict q;
            q.action = AgentAction::Stamp;
            q.reason = "MilterQuarantine";
            q.headers.emplace_back(std::string(content_filter_header::kScl), scl_text);
            q.edit.emplace();
            q.edit->redirect_to = settings_.quarantine_mailbox;
            Verdict out = with_properties(std::move(q));
            out.reason_data += "; milter quarantine: " + rating.quarantine_requested;
            return out;
        }
        if (settings_.scl_reject_enabled && rating.scl >= settings_.scl_reject_threshold)
            return with_properties(
                Verdict::reject_with(smtp::ReplyId::ContentFilterRejected, settings_.rejection_response, "SclReject"));
    }
    Verdict v;
    v.action = AgentAction::Stamp;
    v.reason = rating.reason;
    v.headers.emplace_back(std::string(h::kScl), scl_text);
    const bool spam = rating.scl >= kSpamScl;
    if (spam) v.headers.emplace_back(std::string(h::kSpamFlag), "YES");
    v.headers.emplace_back(std::string(h::kSpamLevel), std::string(static_cast<std::size_t>(std::max(rating.scl, 0)), '*'));
    v.headers.emplace_back(std::string(h::kSpamStatus),
                           fmt::format("{}, scl={} tests={}", spam ? "Yes" : "No", rating.scl, rating.reason));
    if (rating.scl >= 0 && settings_.scl_quarantine_enabled && rating.scl >= settings_.scl_quarantine_threshold &&
        !settings_.quarantine_mailbox.empty()) {
        MessageEdit edit;
        edit.redirect_to = settings_.quarantine_mailbox;
        v.edit = std::move(edit);
        v.reason = "SclQuarantine";
    }
    return with_properties(std::move(v));
}

Verdict ContentFilterAgent::on_event(AgentEvent, const SessionInfo& session, const Envelope& envelope) const {
    if (!filter_) return Verdict::go_on();
    return filter_->decide(filter_->rate(session, envelope), envelope);
}

// ---------------------------------------------------------------- the store

namespace {
constexpr std::string_view kPhraseKind = "ContentFilterPhrase";
std::string phrase_identity(std::string_view phrase) { return text::to_lower(text::trim(phrase)); }
}  // namespace

std::vector<StoredPhrase> load_content_filter_phrases(const queue::QueueDb& db, std::vector<std::string>* errors) {
    std::vector<StoredPhrase> out;
    for (const auto& s : config::load_objects(db, config::ObjectKind::ContentFilterPhrase, errors)) {
        const auto t = config::content_filter_phrase_settings(s.object);
        if (t.phrase.empty() || normalize_phrase(t.phrase).size() < 3) {
            if (errors) errors->push_back(fmt::format("ContentFilterPhrase '{}' holds no word; left out", s.name));
            continue;
        }
        out.push_back({s.name, t.phrase, t.influence});
    }
    return out;
}

std::shared_ptr<const ContentFilter> load_content_filter(const queue::QueueDb& db, std::vector<std::string>* errors) {
    std::vector<PhraseMatcher::Phrase> phrases;
    for (auto& p : load_content_filter_phrases(db, errors))
        phrases.push_back({std::move(p.phrase), p.influence == config::PhraseInfluence::GoodWord});
    return std::make_shared<const ContentFilter>(
        config::content_filter_config_settings(config::load_singleton(db, config::ObjectKind::ContentFilterConfig)),
        std::move(phrases));
}

std::string add_content_filter_phrase(queue::QueueDb& db, std::string_view phrase, std::string_view influence) {
    config::ConfigObject o(config::ObjectKind::ContentFilterPhrase);
    const std::string text(text::trim(phrase));
    if (text.empty()) return "-Phrase is required: the word or words to look for";
    if (auto err = o.set("Phrase", text); !err.empty()) return err;
    if (normalize_phrase(text).size() < 3)
        return fmt::format("-Phrase: '{}' holds no letter or digit; phrases are matched as whole words", text);
    if (influence.empty()) return "-Influence is required: GoodWord (SCL 0) or BadWord (SCL 9)";
    if (auto err = o.set("Influence", influence); !err.empty()) return err;
    const std::string identity = phrase_identity(text);
    for (int attempt = 0; attempt < 8; ++attempt) {
        const std::uint64_t generation = db.config_generation();
        const auto stored = db.config_list(kPhraseKind);
        for (const auto& rec : stored)
            if (rec.name == identity) return fmt::format("the phrase '{}' is already there (phrases are compared in any case)", text);
        if (stored.size() >= kMaxContentFilterPhrases)
            return fmt::format("there are already {} phrases, the most there may be; remove one first",
                               kMaxContentFilterPhrases);
        auto applied = db.config_apply({{std::string(kPhraseKind), identity, o.serialize()}}, generation);
        if (applied) return {};
        if (applied.error() != make_error_code(queue::QueueError::conflict))
            return "the phrase could not be written (" + applied.error().message() + "); nothing was changed";
    }
    return "the configuration kept changing meanwhile; nothing was changed, try again";
}

std::string remove_content_filter_phrase(queue::QueueDb& db, std::string_view phrase) {
    const std::string identity = phrase_identity(phrase);
    const std::uint64_t generation = db.config_generation();
    if (!db.config_get(kPhraseKind, identity))
        return fmt::format("no ContentFilterPhrase '{}'; 'edgectl Get-ContentFilterPhrase' lists them", phrase);
    auto r = db.config_apply({{std::string(kPhraseKind), identity, std::nullopt}}, generation);
    if (!r) return "the configuration changed meanwhile or could not be written (" + r.error().message() + "); nothing was removed";
    return {};
}

}  // namespace edge::agents
