// QueueDb for the administrator: queues and messages listed, suspended, resumed,
// retried, removed (with or without NDR), exported.
#include "queue_db_impl.hpp"

#include <set>

namespace edge::queue {

MessageInfo QueueDb::Impl::info_of(MessageId id, const MessageRecord& m, const HopState& h) const {
    MessageInfo i;
    i.id = id;
    i.queue = h.queue;
    i.status = h.status;
    i.envelope = m.envelope;
    i.retry_count = h.retry_count;
    i.next_retry_time = h.next_retry;
    i.last_error = h.last_error;
    i.crash_count = m.crash_count;
    i.ndr_requested = m.ndr_requested;
    return i;
}

QueueInfo QueueDb::Impl::queue_info(const lmdb::Txn& txn, const QueueId& q, const QueueRecord& r) const {
    QueueInfo i;
    i.id = q;
    i.delivery_type = r.delivery_type;
    i.last_error = r.last_error;
    i.last_retry_time = r.last_retry;
    i.next_retry_time = r.in_retry ? r.next_retry : std::nullopt;
    // Counts kept by the transactions that change the items (environment format 2):
    // Get-Queue costs the same for ten messages as for a million.
    const QueueCounts c = counts_of(txn, q);
    i.active_count = c.active;
    i.ready_count = c.ready;
    i.retry_count = c.retry;
    i.suspended_count = c.suspended;
    i.pending_remove_count = c.pending_remove;
    i.message_count = c.total();
    // The oldest message: the smallest id heading any of the five status ranges.
    MessageId oldest = 0;
    lmdb::Cursor cur(txn, items);
    for (auto st : {MessageStatus::Active, MessageStatus::PendingRemove, MessageStatus::Ready, MessageStatus::Suspended,
                    MessageStatus::Retry}) {
        const std::string prefix = records::item_prefix(q, st);
        if (!cur.seek(prefix) || !cur.key().starts_with(prefix)) continue;
        if (auto k = records::parse_item_key(cur.key()); k && (oldest == 0 || k->id < oldest)) oldest = k->id;
    }
    if (oldest != 0)
        if (auto m = find_message(txn, oldest)) i.oldest_arrival = m->envelope.arrival_time;
    if (r.suspended)
        i.status = QueueStatus::Suspended;
    else if (r.in_retry)
        i.status = QueueStatus::Retry;
    else if (i.active_count > 0)
        i.status = QueueStatus::Active;
    else
        i.status = QueueStatus::Ready;
    return i;
}

// ---- administration ---------------------------------------------------------------

std::vector<QueueInfo> QueueDb::list_queues() const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<QueueInfo> out;
    lmdb::Cursor c(txn, d.queues);
    for (bool ok = c.first(); ok; ok = c.next()) {
        auto q = records::parse_queue_key(c.key());
        auto r = records::decode_queue(c.value());
        if (!q || !r) continue;  // check() reports it
        QueueInfo i = d.queue_info(txn, *q, *r);
        // Exchange hides the Unreachable and Poison queues while they are empty.
        bool hidden_when_empty = q->kind == QueueKind::Unreachable || q->kind == QueueKind::Poison;
        if (hidden_when_empty && i.message_count == 0) continue;
        out.push_back(std::move(i));
    }
    return out;
}

std::optional<QueueInfo> QueueDb::get_queue(const QueueId& queue) const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto v = txn.get(d.queues, records::queue_key(queue));
    if (!v) return std::nullopt;
    auto r = records::decode_queue(*v);
    if (!r) return std::nullopt;
    return d.queue_info(txn, queue, *r);
}

std::vector<MessageInfo> QueueDb::list_messages(const MessageFilter& filter,
                                                const std::function<bool(const MessageInfo&)>& predicate) const {
    std::vector<MessageInfo> out;
    if (filter.limit == 0) return out;
    visit_messages(filter, std::nullopt, true, true, [&](const MessageInfo& i) {
        if (!predicate || predicate(i)) out.push_back(i);
        return out.size() < filter.limit;
    });
    return out;
}

std::uint64_t QueueDb::visit_messages(const MessageFilter& filter, const std::optional<Position>& from, bool include_from,
                             bool forward, const std::function<bool(const MessageInfo&)>& each,
                             std::uint64_t skip) const {
    const Impl& d = *impl_;
    const std::uint64_t to_skip = skip;
    std::string prefix;
    if (filter.queue) prefix = filter.status ? records::item_prefix(*filter.queue, *filter.status)
                                             : records::item_prefix(*filter.queue);
    // Where to stand first: the bookmark, or the first (last) key of the prefix. The
    // prefix ends in 0x00 or a status letter, so its last byte + 1 bounds it above.
    std::string key;
    bool include = include_from;
    if (from) {
        key = records::item_key(from->queue, from->status, from->id);
    } else if (forward) {
        key = prefix;
        include = true;
    } else if (!prefix.empty()) {
        key = prefix;
        key.back() = static_cast<char>(key.back() + 1);
        include = false;
    }
    // Each chunk: at most kChunk messages collected or kScan keys looked at.
    constexpr std::size_t kChunk = 256, kScan = 4096;
    for (bool first = true;; first = false) {
        const bool stay = first && include;  // the key itself belongs to this chunk
        std::vector<MessageInfo> chunk;
        bool more = false;
        {
            lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
            lmdb::Cursor c(txn, d.items);
            bool ok;
            if (forward) {
                ok = c.seek(key);
                if (ok && c.key() == key && !stay) ok = c.next();
            } else if (key.empty()) {
                ok = c.last();
            } else if (!c.seek(key)) {
                ok = c.last();  // every key is below it
            } else {
                ok = (c.key() == key && stay) || c.prev();
            }
            for (std::size_t scanned = 0; ok && c.key().starts_with(prefix); ok = forward ? c.next() : c.prev()) {
                if (chunk.size() == kChunk || scanned == kScan) {
                    more = true;
                    break;
                }
                ++scanned;
                key.assign(c.key());
                auto k = records::parse_item_key(key);
                if (!k || (filter.status && k->status != *filter.status)) continue;
                if (skip > 0) {
                    --skip;
                    continue;
                }
                auto m = d.find_message(txn, k->id);
                const HopState* h = m ? m->hop(k->queue) : nullptr;
                if (h != nullptr) chunk.push_back(d.info_of(k->id, *m, *h));
            }
        }
        for (const auto& info : chunk)
            if (!each(info)) return to_skip - skip;
        if (!more) return to_skip - skip;
    }
}

std::optional<MessageInfo> QueueDb::get_message(MessageId id, const std::optional<QueueId>& queue) const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    auto m = d.find_message(txn, id);
    if (!m || m->hops.empty()) return std::nullopt;
    const HopState* h = queue ? m->hop(*queue) : &m->hops.front();
    if (h == nullptr) return std::nullopt;
    return d.info_of(id, *m, *h);
}

std::vector<MessageInfo> QueueDb::message_in_queues(MessageId id) const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<MessageInfo> out;
    if (auto m = d.find_message(txn, id))
        for (const auto& h : m->hops) out.push_back(d.info_of(id, *m, h));
    // In item order, as a walk would list them.
    std::sort(out.begin(), out.end(), [](const MessageInfo& a, const MessageInfo& b) {
        return records::queue_key(a.queue) < records::queue_key(b.queue);
    });
    return out;
}

std::optional<std::string> QueueDb::export_message(MessageId id) const {
    std::optional<MessageRecord> m;
    {
        lmdb::Txn txn = lmdb::Txn::begin_read(impl_->env);
        m = impl_->find_message(txn, id);
    }
    if (!m) return std::nullopt;
    return impl_->read_body(id, *m);
}

Result<bool> QueueDb::remove_queue_if_empty(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        if (queue.kind != QueueKind::NextHop) return false;
        auto qr = d.find_queue(txn, queue);
        if (!qr || qr->suspended) return false;
        bool any = false;
        lmdb::for_each_prefix(txn, d.items, records::item_prefix(queue), [&](std::string_view, std::string_view) {
            any = true;
            return false;
        });
        if (any) return false;
        d.set_queue_retry(txn, queue, *qr, std::nullopt);  // its retry index entry goes with it
        txn.del(d.queues, records::queue_key(queue));
        if (d.has_counts) txn.del(d.queue_counts, records::queue_key(queue));
        return true;
    };
    return d.write(job);
}

Status QueueDb::suspend_queue(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        qr->suspended = true;
        d.store_queue(txn, queue, *qr);
        d.bump_admin_generation(txn);
    };
    return d.write(job);
}

Status QueueDb::resume_queue(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        qr->suspended = false;
        d.store_queue(txn, queue, *qr);
        d.bump_admin_generation(txn);
    };
    return d.write(job);
}

Status QueueDb::retry_queue(const QueueId& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        auto qr = d.load_queue(txn, queue);
        if (!qr) fail(QueueError::not_found);
        d.set_queue_retry(txn, queue, *qr, std::nullopt);
        d.store_queue(txn, queue, *qr);
        for (MessageId id : d.item_ids(txn, records::item_prefix(queue, MessageStatus::Retry), SIZE_MAX)) {
            auto m = d.find_message(txn, id);
            HopState* h = m ? m->hop(queue) : nullptr;
            if (h == nullptr) continue;
            d.set_status(txn, id, *h, MessageStatus::Ready);
            d.store_message(txn, id, *m);
        }
        d.bump_admin_generation(txn);
    };
    return d.write(job);
}

namespace {
// Applies `change` to each of the message's hops that `queue` selects; fails with
// not_found when no hop matches and with invalid_state when change() refused them all.
template <class Change>
void for_selected_hops(QueueDb::Impl& d, lmdb::Txn& txn, MessageId id, const std::optional<QueueId>& queue,
                       Change change) {
    MessageRecord m = d.must_load(txn, id);
    bool matched = false, changed = false;
    for (auto& h : m.hops) {
        if (queue && !(h.queue == *queue)) continue;
        matched = true;
        changed |= change(m, h);
    }
    if (!matched) fail(QueueError::not_found);
    if (!changed) fail(QueueError::invalid_state);
    d.store_message(txn, id, m);
    d.bump_admin_generation(txn);
}
}  // namespace

Status QueueDb::suspend_message(MessageId id, const std::optional<QueueId>& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        for_selected_hops(d, txn, id, queue, [&](MessageRecord&, HopState& h) {
            if (h.status == MessageStatus::Suspended) return true;
            if (h.status != MessageStatus::Ready && h.status != MessageStatus::Retry) return false;
            d.set_status(txn, id, h, MessageStatus::Suspended);
            return true;
        });
    };
    return d.write(job);
}

Status QueueDb::resume_message(MessageId id, const std::optional<QueueId>& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        const HopState* poison = m.hop(QueueId::poison());
        if (poison != nullptr && (!queue || *queue == QueueId::poison())) {
            // Resume-Message on a poison message releases it to its recipients' queues.
            d.drop_hop_indexes(txn, id, *poison);
            m.hops = hops_for_pending(m.envelope);
            m.crash_count = 0;
            for (const auto& h : m.hops) {
                d.ensure_queue(txn, h.queue, DeliveryType::Undefined);
                d.add_item(txn, h.queue, h.status, id);
            }
            d.store_message(txn, id, m);
            d.bump_admin_generation(txn);
            return;
        }
        for_selected_hops(d, txn, id, queue, [&](MessageRecord&, HopState& h) {
            if (h.status == MessageStatus::Ready) return true;
            if (h.status != MessageStatus::Suspended) return false;
            d.set_status(txn, id, h, MessageStatus::Ready);
            return true;
        });
    };
    return d.write(job);
}

Status QueueDb::retry_message(MessageId id, const std::optional<QueueId>& queue) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        for_selected_hops(d, txn, id, queue, [&](MessageRecord&, HopState& h) {
            if (h.status == MessageStatus::Ready) return true;
            if (h.status != MessageStatus::Retry) return false;
            d.set_status(txn, id, h, MessageStatus::Ready);
            return true;
        });
    };
    return d.write(job);
}

Status QueueDb::remove_message(MessageId id, WithNdr with_ndr) {
    Impl& d = *impl_;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        bool in_delivery = std::any_of(m.hops.begin(), m.hops.end(), [](const HopState& h) { return !h.owner.empty(); });
        d.bump_admin_generation(txn);
        if (with_ndr == WithNdr::no && !in_delivery) {
            d.delete_message(txn, id, m);
            return;
        }
        m.ndr_requested = with_ndr == WithNdr::yes;
        for (auto& h : m.hops)
            if (h.status != MessageStatus::PendingRemove) d.set_status(txn, id, h, MessageStatus::PendingRemove);
        d.store_message(txn, id, m);
    };
    return d.write(job, ReserveUse::yes);
}

namespace {
// Walks the PendingRemove items of every queue once per message: `each` gets the
// messages an administrator asked an NDR for, and whether a delivery still holds them.
template <class Each>
void for_each_ndr_removal(const QueueDb::Impl& d, const lmdb::Txn& txn, Each each) {
    std::set<MessageId> seen;
    for (const auto& q : d.all_queue_ids(txn)) {
        for (MessageId id : d.item_ids(txn, records::item_prefix(q, MessageStatus::PendingRemove), SIZE_MAX)) {
            if (!seen.insert(id).second) continue;
            auto m = d.find_message(txn, id);
            if (!m || !m->ndr_requested) continue;
            bool in_delivery = std::any_of(m->hops.begin(), m->hops.end(), [](const HopState& h) { return !h.owner.empty(); });
            each(id, *m, in_delivery);
        }
    }
}
}  // namespace

std::vector<MessageInfo> QueueDb::pending_ndr_removals() const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::vector<MessageInfo> out;
    for_each_ndr_removal(d, txn, [&](MessageId id, const MessageRecord& m, bool in_delivery) {
        if (!in_delivery) out.push_back(d.info_of(id, m, m.hops.front()));
    });
    return out;
}

std::size_t QueueDb::ndr_removals_in_delivery() const {
    const Impl& d = *impl_;
    lmdb::Txn txn = lmdb::Txn::begin_read(d.env);
    std::size_t n = 0;
    for_each_ndr_removal(d, txn, [&](MessageId, const MessageRecord&, bool in_delivery) { n += in_delivery ? 1 : 0; });
    return n;
}

Status QueueDb::complete_removal(MessageId id, std::optional<NewMessage> ndr) {
    Impl& d = *impl_;
    if (ndr)
        if (auto st = validate(*ndr); !st) return st;
    auto job = [&](lmdb::Txn& txn) {
        MessageRecord m = d.must_load(txn, id);
        bool removing = std::all_of(m.hops.begin(), m.hops.end(),
                                    [](const HopState& h) { return h.status == MessageStatus::PendingRemove && h.owner.empty(); });
        if (!removing) fail(QueueError::invalid_state);
        if (ndr) d.insert_new(txn, *ndr);
        d.delete_message(txn, id, m);
    };
    return d.write(job, ReserveUse::yes);
}

}  // namespace edge::queue
