// QueueDb for the delivery side: leases, recipient outcomes, one NDR per message,
// deferring a queue, and the retry index.
#include "queue_db_impl.hpp"

namespace edge::queue {

// One delivery report: recipient outcomes, the lease ended, the message moved on.
void QueueDb::Impl::apply_delivery(lmdb::Txn& txn, const DeliveryReport& report) {
    MessageRecord m = must_load(txn, report.id);
    HopState* h = m.hop(report.queue);
    if (h == nullptr || (h->status != MessageStatus::Active && h->status != MessageStatus::PendingRemove))
        fail(QueueError::invalid_state, "no lease");
    std::string last_error;
    for (const auto& o : report.outcomes) {
        if (o.recipient >= m.envelope.recipients.size()) fail(QueueError::invalid_argument);
        Recipient& r = m.envelope.recipients[o.recipient];
        if (r.next_hop != report.queue || r.status != RecipientStatus::Pending) fail(QueueError::invalid_argument);
        r.attempts += 1;
        r.last_response = o.response;
        if (o.delay_notified) r.delay_notified = true;
        if (o.kind == RecipientOutcome::Kind::Delivered) r.status = RecipientStatus::Delivered;
        if (o.kind == RecipientOutcome::Kind::Failed) {
            r.status = RecipientStatus::Failed;
            if (report.ndr) {
                r.ndr_pending = true;
                r.ndr_status = o.status;
            }
        }
        if (o.kind == RecipientOutcome::Kind::Deferred && last_error.empty()) last_error = o.response;
    }
    for (const auto& dsn : report.dsns) insert_new(txn, dsn);
    h->owner = {};
    h->retry_count += 1;
    if (!last_error.empty()) h->last_error = last_error;
    if (h->status == MessageStatus::PendingRemove) {
        if (!m.ndr_requested) {
            delete_message(txn, report.id, m);
            return;
        }
        store_message(txn, report.id, m);  // waits for its NDR (complete_removal)
        return;
    }
    if (!has_pending_for(m.envelope, report.queue)) {
        drop_hop_indexes(txn, report.id, *h);
        std::erase_if(m.hops, [&](const HopState& x) { return x.queue == report.queue; });
    } else if (report.next_retry_time) {
        set_status(txn, report.id, *h, MessageStatus::Retry, report.next_retry_time);
    } else {
        set_status(txn, report.id, *h, MessageStatus::Ready);
    }
    settle_ndr(txn, report.id, m, report.ndr, report.ndr_hold_until);
    if (m.hops.empty())
        delete_message(txn, report.id, m);
    else
        store_message(txn, report.id, m);
}

// Sends the message's one NDR for its NDR-pending recipients when it is due (every
// pending recipient attempted, or `hold_over`), else holds it until `hold_until`.
// Never throws after a write: a job may only refuse before its first write.
void QueueDb::Impl::settle_ndr(lmdb::Txn& txn, MessageId id, MessageRecord& m, const NdrBuilder& build, Timestamp hold_until,
                bool hold_over) {
    std::vector<std::size_t> rcpts;
    for (std::size_t i = 0; i < m.envelope.recipients.size(); ++i)
        if (m.envelope.recipients[i].ndr_pending) rcpts.push_back(i);
    if (rcpts.empty()) {
        set_ndr_hold(txn, id, m, std::nullopt);
        return;
    }
    if (!build || (!hold_over && !every_pending_recipient_attempted(m))) {
        if (!m.ndr_hold) set_ndr_hold(txn, id, m, hold_until);
        return;
    }
    auto original = body_for_ndr(txn, id, m);
    auto ndr = build(id, m.envelope, rcpts, original ? std::string_view(*original) : std::string_view{});
    if (ndr && validate(*ndr)) insert_new(txn, *ndr);
    for (std::size_t i : rcpts) {
        m.envelope.recipients[i].ndr_pending = false;
        m.envelope.recipients[i].ndr_status.clear();
    }
    set_ndr_hold(txn, id, m, std::nullopt);
}

// ---- delivery ---------------------------------------------------------------------

Result<std::vector<LeasedMessage>> QueueDb::lease_for_delivery(const QueueId& queue, std::size_t max) {
    Impl& d = *impl_;
    auto now = now_timestamp();
    auto job = [&](lmdb::Txn& txn) {
        std::vector<LeasedMessage> out;
        auto qr = d.load_queue(txn, queue);
        if (!qr || qr->suspended || (qr->in_retry && qr->next_retry && *qr->next_retry > now)) return out;
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::Ready), max)) {
            auto m = d.find_message(txn, id);
            if (!m) continue;
            HopState* h = m->hop(queue);
            if (h == nullptr) continue;
            d.set_status(txn, id, *h, MessageStatus::Active);
            h->owner = d.self;
            d.store_message(txn, id, *m);
            LeasedMessage l;
            l.id = id;
            l.queue = queue;
            l.retry_count = h->retry_count;
            for (std::size_t i = 0; i < m->envelope.recipients.size(); ++i) {
                const auto& r = m->envelope.recipients[i];
                if (r.status == RecipientStatus::Pending && r.next_hop == queue) l.recipients.push_back(i);
            }
            l.envelope = std::move(m->envelope);
            out.push_back(std::move(l));
        }
        return out;
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::record_delivery(DeliveryReport report) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) { d.apply_delivery(txn, report); };
    return d.write(job, ReserveUse::yes);
}

void QueueDb::record_delivery_async(DeliveryReport report, std::function<void(std::error_code)> done) {
    Impl& d = *impl_;
    d.write_async([&d, report = std::move(report)](lmdb::Txn& txn) { d.apply_delivery(txn, report); },
                  std::move(done), ReserveUse::yes);
}

Result<std::size_t> QueueDb::resubmit(const QueueId& queue, const Reroute& route) {
    Impl& d = *impl_;
    // In transactions of at most kBatch messages (a queue of a million routed again must
    // not be one write holding every page it touches in memory), each starting after the
    // last message the previous one moved: a message routed back to this same queue is
    // not taken twice. Ready first, then Retry; the admin generation moves once, at the end.
    constexpr std::size_t kBatch = 1000;
    struct Resume {
        MessageStatus status = MessageStatus::Ready;
        MessageId after = 0;
    };
    Resume pos, next;
    bool finished = false;
    auto job = [&](lmdb::Txn& txn) {
        std::size_t moved = 0;
        Resume p = pos;  // a job may be run again: it starts from the same place
        finished = false;
        while (moved < kBatch) {
            std::vector<MessageId> ids;
            {
                const std::string prefix = records::item_prefix(queue, p.status);
                lmdb::Cursor c(txn, d.items);
                for (bool ok = c.seek(records::item_key(queue, p.status, p.after + 1));
                     ok && c.key().starts_with(prefix) && ids.size() < kBatch - moved; ok = c.next())
                    if (auto k = records::parse_item_key(c.key())) ids.push_back(k->id);
            }
            if (ids.empty()) {
                if (p.status == MessageStatus::Ready) {
                    p = {MessageStatus::Retry, 0};
                    continue;
                }
                finished = true;
                break;
            }
            for (MessageId id : ids) {
                p.after = id;
                auto m = d.find_message(txn, id);
                HopState* h = m ? m->hop(queue) : nullptr;
                if (h == nullptr) continue;
                for (auto& r : m->envelope.recipients) {
                    if (r.status != RecipientStatus::Pending || !(r.next_hop == queue)) continue;
                    auto [q, type] = route(r);
                    r.next_hop = std::move(q);
                    r.delivery_type = type;
                }
                // Drop the old hop, then add a Ready hop for each queue now named.
                d.drop_hop_indexes(txn, id, *h);
                std::erase_if(m->hops, [&](const HopState& x) { return x.queue == queue; });
                for (auto& fresh : hops_for_pending(m->envelope)) {
                    if (m->hop(fresh.queue) != nullptr) continue;
                    DeliveryType type = DeliveryType::Undefined;
                    for (const auto& r : m->envelope.recipients)
                        if (r.next_hop == fresh.queue) type = r.delivery_type;
                    d.ensure_queue(txn, fresh.queue, type);
                    d.add_item(txn, fresh.queue, fresh.status, id);
                    m->hops.push_back(std::move(fresh));
                }
                d.store_message(txn, id, *m);
                ++moved;
            }
        }
        if (finished) d.bump_admin_generation(txn);
        next = p;
        return moved;
    };
    std::size_t total = 0;
    for (;;) {
        auto r = d.write(job, ReserveUse::yes);
        if (!r) return r;
        total += *r;
        if (finished) return total;
        pos = next;
    }
}

Status QueueDb::release_lease(MessageId id, const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        HopState* h = m.hop(queue);
        if (h == nullptr || h->owner.empty()) fail(QueueError::invalid_state, "no lease");
        h->owner = {};
        if (h->status == MessageStatus::PendingRemove && !m.ndr_requested) {
            d.delete_message(txn, id, m);
            return;
        }
        if (h->status == MessageStatus::Active) d.set_status(txn, id, *h, MessageStatus::Ready);
        d.store_message(txn, id, m);
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::defer_queue(const QueueId& queue, Timestamp next_retry, std::string error, const NdrBuilder& ndr,
                            const std::vector<MessageId>* only) {
    Impl& d = *impl_;
    auto now = now_timestamp();
    auto ours = [&](MessageId id) { return only == nullptr || std::find(only->begin(), only->end(), id) != only->end(); };
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        d.set_queue_retry(txn, queue, *qr, next_retry);
        qr->last_retry = now;
        qr->last_error = error;
        d.store_queue(txn, queue, *qr);
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::Active), SIZE_MAX)) {
            auto m = d.find_message(txn, id);
            HopState* h = m ? m->hop(queue) : nullptr;
            if (h == nullptr || !(h->owner == d.self) || !ours(id)) continue;
            h->owner = {};
            h->retry_count += 1;
            h->last_error = error;
            d.set_status(txn, id, *h, MessageStatus::Ready);
            d.settle_ndr(txn, id, *m, ndr, now);
            d.store_message(txn, id, *m);
        }
        // Leases of messages an administrator removed meanwhile end too: without an
        // NDR the message goes now; with one it waits for complete_removal().
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::PendingRemove), SIZE_MAX)) {
            auto m = d.find_message(txn, id);
            HopState* h = m ? m->hop(queue) : nullptr;
            if (h == nullptr || !(h->owner == d.self) || !ours(id)) continue;
            h->owner = {};
            if (!m->ndr_requested) {
                d.delete_message(txn, id, *m);
                continue;
            }
            h->last_error = error;
            d.store_message(txn, id, *m);
        }
    };
    return d.write(job, ReserveUse::yes);
}

Status QueueDb::mark_queue_connected(const QueueId& queue) {
    Impl& d = *impl_;
    auto now = now_timestamp();
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        if (!qr->in_retry && qr->last_error.empty()) return;
        d.set_queue_retry(txn, queue, *qr, std::nullopt);
        qr->last_retry = now;
        qr->last_error.clear();
        d.store_queue(txn, queue, *qr);
    };
    return d.write(job, ReserveUse::yes);
}

Result<std::size_t> QueueDb::send_held_ndrs(Timestamp now, const NdrBuilder& ndr) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        std::vector<std::pair<std::string, MessageId>> due;
        {
            lmdb::Cursor c(txn, d.ndr_hold);
            for (bool ok = c.first(); ok; ok = c.next()) {
                auto k = records::parse_ndr_hold_key(c.key());
                if (k && k->when > now) break;
                due.emplace_back(std::string(c.key()), k ? k->id : 0);
            }
        }
        std::size_t sent = 0;
        for (const auto& [key, id] : due) {
            auto m = id != 0 ? d.find_message(txn, id) : std::nullopt;
            if (!m || !m->ndr_hold || records::ndr_hold_key(*m->ndr_hold, id) != key) {
                txn.del(d.ndr_hold, key);  // stale: names no message holding an NDR then
                continue;
            }
            d.settle_ndr(txn, id, *m, ndr, now, /*hold_over=*/true);
            if (m->hops.empty())
                d.delete_message(txn, id, *m);
            else
                d.store_message(txn, id, *m);
            ++sent;
        }
        return sent;
    };
    return d.write(job, ReserveUse::yes);
}

std::optional<Timestamp> QueueDb::next_ndr_hold_due() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    lmdb::Cursor c(txn, impl_->ndr_hold);
    if (!c.first()) return std::nullopt;
    auto k = records::parse_ndr_hold_key(c.key());
    if (!k) return std::nullopt;
    return k->when;
}

// ---- retry index ------------------------------------------------------------------

std::optional<Timestamp> QueueDb::next_retry_due() const {
    lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
    lmdb::Cursor c(txn, impl_->retry);
    if (!c.first()) return std::nullopt;
    auto k = records::parse_retry_key(c.key());
    if (!k) return std::nullopt;
    return k->when;
}

Result<std::vector<QueueId>> QueueDb::promote_due(Timestamp now) {
    Impl& d = *impl_;
    // A backlog that falls due at once (a next hop back after hours) moves in
    // transactions of at most kBatch entries: each commits on its own, so enqueues and
    // delivery reports between them are never held behind one huge write.
    constexpr std::size_t kBatch = 1000;
    bool more = false;
    auto job = [&](lmdb::Txn& txn) {
        std::vector<std::string> due;
        more = false;
        {
            lmdb::Cursor c(txn, d.retry);
            for (bool ok = c.first(); ok; ok = c.next()) {
                auto k = records::parse_retry_key(c.key());
                if (k && k->when > now) break;
                if (due.size() == kBatch) {
                    more = true;
                    break;
                }
                due.emplace_back(c.key());
            }
        }
        std::vector<QueueId> touched;
        for (const auto& key : due) {
            auto k = records::parse_retry_key(key);
            txn.del(d.retry, key);
            if (!k) continue;
            if (std::find(touched.begin(), touched.end(), k->queue) == touched.end()) touched.push_back(k->queue);
            if (k->id == 0) {
                if (auto qr = d.find_queue(txn, k->queue)) {
                    qr->in_retry = false;
                    qr->next_retry.reset();
                    d.store_queue(txn, k->queue, *qr);
                }
                continue;
            }
            auto m = d.find_message(txn, k->id);
            HopState* h = m ? m->hop(k->queue) : nullptr;
            if (h == nullptr || h->status != MessageStatus::Retry) continue;
            h->next_retry.reset();  // its retry key is already gone
            d.set_status(txn, k->id, *h, MessageStatus::Ready);
            d.store_message(txn, k->id, *m);
        }
        std::vector<QueueId> ready;
        for (auto& q : touched) {
            auto qr = d.find_queue(txn, q);
            if (!qr || qr->suspended || qr->in_retry) continue;
            if (!d.item_ids(txn, records::item_prefix(q, MessageStatus::Ready), 1).empty()) ready.push_back(q);
        }
        return ready;
    };
    std::vector<QueueId> ready;
    do {
        auto r = d.write(job, ReserveUse::yes);
        if (!r) return r;
        for (auto& q : *r)
            if (std::find(ready.begin(), ready.end(), q) == ready.end()) ready.push_back(std::move(q));
    } while (more);
    return ready;
}

std::vector<QueueId> QueueDb::ready_queues() const {
    const Impl& d = *impl_;
    auto now = now_timestamp();
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<QueueId> out;
    for (auto& q : d.all_queue_ids(txn)) {
        auto v = txn.get(d.queues, records::queue_key(q));
        auto qr = v ? records::decode_queue(*v) : std::nullopt;
        if (!qr || qr->suspended || (qr->in_retry && qr->next_retry && *qr->next_retry > now)) continue;
        if (!d.item_ids(txn, records::item_prefix(q, MessageStatus::Ready), 1).empty()) out.push_back(q);
    }
    return out;
}

}  // namespace edge::queue
