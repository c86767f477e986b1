#include "keel/net/multistream.hpp"

#include "keel/base/varint.hpp"
#include "keel/net/framing.hpp"
#include "keel/net/net_errc.hpp"

namespace keel::net {
namespace {

void append_message(Bytes& out, std::string_view text) {
    append_uvarint(out, text.size() + 1);
    out.insert(out.end(), text.begin(), text.end());
    out.push_back('\n');
}

awaitable<result<std::string>> read_message(ByteStream& stream) {
    auto message = co_await read_length_prefixed(stream, max_multistream_message);
    if (!message) co_return message.error();
    if (message->empty() || message->back() != '\n')
        co_return make_error_code(net_errc::malformed_message);
    co_return std::string(message->begin(), message->end() - 1);
}

awaitable<error_code> read_header(ByteStream& stream) {
    auto header = co_await read_message(stream);
    if (!header) co_return header.error();
    if (*header != multistream_header) co_return make_error_code(net_errc::bad_multistream_header);
    co_return error_code{};
}

Bytes proposal(std::string_view protocol) {
    Bytes out;
    append_message(out, multistream_header);
    append_message(out, protocol);
    return out;
}

awaitable<error_code> accepted(ByteStream& stream, std::string protocol) {
    if (auto ec = co_await read_header(stream)) co_return ec;
    auto answer = co_await read_message(stream);
    if (!answer) co_return answer.error();
    if (*answer == protocol) co_return error_code{};
    if (*answer == "na") co_return make_error_code(net_errc::protocol_not_supported);
    co_return make_error_code(net_errc::malformed_message);
}

}  // namespace

Preamble multistream_lazy(std::string protocol) {
    Preamble lazy;
    lazy.send = proposal(protocol);
    lazy.receive = [protocol](ByteStream& stream) { return accepted(stream, protocol); };
    return lazy;
}

awaitable<result<std::string>> multistream_select(ByteStream& stream,
                                                  const std::vector<std::string>& protocols) {
    if (protocols.empty()) co_return make_error_code(net_errc::protocol_not_supported);
    Bytes out = proposal(protocols.front());
    if (auto ec = co_await stream.write_all(out)) co_return ec;
    if (auto ec = co_await read_header(stream)) co_return ec;

    for (std::size_t i = 0; i < protocols.size(); ++i) {
        if (i > 0) {
            out.clear();
            append_message(out, protocols[i]);
            if (auto ec = co_await stream.write_all(out)) co_return ec;
        }
        auto answer = co_await read_message(stream);
        if (!answer) co_return answer.error();
        if (*answer == protocols[i]) co_return protocols[i];
        if (*answer != "na") co_return make_error_code(net_errc::malformed_message);
    }
    co_return make_error_code(net_errc::protocol_not_supported);
}

awaitable<result<std::string>> multistream_handle(
    ByteStream& stream, const std::function<bool(std::string_view)>& supported, Bytes* held_answer,
    HoldAnswer hold) {
    // Our header goes after the dialer's (every dialer sends its header first, without waiting
    // for ours), together with the answer to its proposal when that came in the same read:
    // one write instead of two (rust-libp2p's listener also reads the header first).
    if (auto ec = co_await read_header(stream)) co_return ec;
    Bytes out;
    append_message(out, multistream_header);
    // A dialer that waits for our header to propose (held or not, it must have it now).
    if (stream.ready_to_read() == 0) {
        if (auto ec = co_await stream.write_all(out)) co_return ec;
        out.clear();
    }

    for (std::size_t attempt = 0; attempt < max_multistream_proposals; ++attempt) {
        auto proposal = co_await read_message(stream);
        if (!proposal) co_return proposal.error();
        if (!proposal->empty() && supported(*proposal)) {
            append_message(out, *proposal);
            if (held_answer && (hold == HoldAnswer::always || stream.ready_to_read() > 0)) {
                *held_answer = std::move(out);
                co_return std::move(*proposal);
            }
            if (auto ec = co_await stream.write_all(out)) co_return ec;
            co_return std::move(*proposal);
        }
        append_message(out, "na");
        if (auto ec = co_await stream.write_all(out)) co_return ec;
        out.clear();
    }
    co_return make_error_code(net_errc::too_many_proposals);
}

}  // namespace keel::net
