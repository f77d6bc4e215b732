// The queue-db record decoder (queue-db/records.*): every record is validated when it
// is loaded, and a bad one is moved aside, never trusted. Bytes on disk may be damaged
// (a torn page, a bad block, an older or newer version), so the decoder sees anything.
// A record it accepts encodes to a record that decodes to the same thing.
#include "fuzz_target.hpp"
#include "records.hpp"

using namespace edge::queue;
using namespace edge::queue::records;

FUZZ_TARGET(queue_records) {
    if (size == 0) return 0;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    switch (data[0] % 4) {
        case 0: {
            std::string why;
            auto m = decode_message(in, &why);
            if (!m) {
                FUZZ_CHECK(!why.empty());
                break;
            }
            std::string once = encode(*m);
            auto again = decode_message(once);
            FUZZ_CHECK(again.has_value());
            FUZZ_CHECK(again->envelope == m->envelope);
            FUZZ_CHECK(encode(*again) == once);
            FUZZ_CHECK(again->hops.size() == m->hops.size());
            for (const auto& h : m->hops) FUZZ_CHECK(valid_queue_id(h.queue));
            break;
        }
        case 1: {
            std::string why;
            auto q = decode_queue(in, &why);
            if (!q) {
                FUZZ_CHECK(!why.empty());
                break;
            }
            std::string once = encode(*q);
            auto again = decode_queue(once);
            FUZZ_CHECK(again.has_value() && encode(*again) == once);
            break;
        }
        case 2: {
            // Keys: what parses is written back the same way.
            if (auto k = parse_queue_key(in)) {
                FUZZ_CHECK(valid_queue_id(*k));
                FUZZ_CHECK(parse_queue_key(queue_key(*k)) == k);
            }
            if (auto k = parse_item_key(in)) {
                auto again = parse_item_key(item_key(k->queue, k->status, k->id));
                FUZZ_CHECK(again && again->queue == k->queue && again->status == k->status && again->id == k->id);
            }
            if (auto k = parse_retry_key(in)) {
                auto again = parse_retry_key(retry_key(k->when, k->queue, k->id));
                FUZZ_CHECK(again && again->when == k->when && again->queue == k->queue && again->id == k->id);
            }
            if (auto id = parse_id_key(in); id != 0) FUZZ_CHECK(parse_id_key(id_key(id)) == id);
            if (auto v = parse_u64_value(in)) FUZZ_CHECK(parse_u64_value(u64_value(*v)) == v);
            (void)body_key_time(in);
            break;
        }
        case 3: {
            // Queue names as an administrator types them (edgectl -Identity).
            if (auto q = QueueId::parse(in)) FUZZ_CHECK(QueueId::parse(q->name()) == q);
            (void)parse_message_status(in);
            break;
        }
    }
    return 0;
}
