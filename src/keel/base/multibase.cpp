#include "keel/base/multibase.hpp"

#include <array>

#include "keel/base/codec_errc.hpp"

namespace keel {
namespace {

constexpr std::string_view base58_alphabet =
    "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
constexpr std::string_view base36_alphabet = "0123456789abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view base32_alphabet = "abcdefghijklmnopqrstuvwxyz234567";

// Reverse lookup: -1 for characters outside the alphabet. Case-folding alphabets map both cases.
std::array<int, 256> reverse_table(std::string_view alphabet, bool fold_case) {
    std::array<int, 256> table;
    table.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        const auto c = static_cast<unsigned char>(alphabet[i]);
        table[c] = static_cast<int>(i);
        if (fold_case && c >= 'a' && c <= 'z') table[c - 'a' + 'A'] = static_cast<int>(i);
    }
    return table;
}

// Big-number radix conversion used by base58 and base36: leading zero bytes become leading
// "zero digits" so they survive the round trip. Quadratic, hence the input bound in decoders.
std::string radix_encode(BytesView data, std::string_view alphabet) {
    const std::uint32_t base = static_cast<std::uint32_t>(alphabet.size());
    std::size_t zeros = 0;
    while (zeros < data.size() && data[zeros] == 0) ++zeros;

    std::vector<std::uint8_t> digits;  // little-endian base-`base` digits
    digits.reserve(data.size() * 2);
    for (std::size_t i = zeros; i < data.size(); ++i) {
        std::uint32_t carry = data[i];
        for (auto& d : digits) {
            carry += static_cast<std::uint32_t>(d) << 8;
            d = static_cast<std::uint8_t>(carry % base);
            carry /= base;
        }
        while (carry > 0) {
            digits.push_back(static_cast<std::uint8_t>(carry % base));
            carry /= base;
        }
    }
    std::string out(zeros, alphabet[0]);
    for (auto it = digits.rbegin(); it != digits.rend(); ++it) out.push_back(alphabet[*it]);
    return out;
}

boost::system::result<Bytes> radix_decode(std::string_view text, std::string_view alphabet,
                                          const std::array<int, 256>& table) {
    if (text.size() > max_multibase_text) return codec_errc::too_long;
    const std::uint32_t base = static_cast<std::uint32_t>(alphabet.size());
    std::size_t zeros = 0;
    while (zeros < text.size() && text[zeros] == alphabet[0]) ++zeros;

    Bytes bytes;  // little-endian base-256
    bytes.reserve(text.size());
    for (std::size_t i = zeros; i < text.size(); ++i) {
        const int v = table[static_cast<unsigned char>(text[i])];
        if (v < 0) return codec_errc::invalid_character;
        std::uint32_t carry = static_cast<std::uint32_t>(v);
        for (auto& b : bytes) {
            carry += static_cast<std::uint32_t>(b) * base;
            b = static_cast<std::uint8_t>(carry & 0xff);
            carry >>= 8;
        }
        while (carry > 0) {
            bytes.push_back(static_cast<std::uint8_t>(carry & 0xff));
            carry >>= 8;
        }
    }
    Bytes out(zeros, 0);
    out.insert(out.end(), bytes.rbegin(), bytes.rend());
    return out;
}

}  // namespace

std::string base58btc_encode(BytesView data) {
    return radix_encode(data, base58_alphabet);
}

boost::system::result<Bytes> base58btc_decode(std::string_view text) {
    static const auto table = reverse_table(base58_alphabet, false);
    return radix_decode(text, base58_alphabet, table);
}

std::string base36_encode(BytesView data) {
    return radix_encode(data, base36_alphabet);
}

boost::system::result<Bytes> base36_decode(std::string_view text) {
    static const auto table = reverse_table(base36_alphabet, true);
    return radix_decode(text, base36_alphabet, table);
}

std::string base32_encode(BytesView data) {
    std::string out;
    out.reserve((data.size() * 8 + 4) / 5);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (auto b : data) {
        buffer = (buffer << 8) | b;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out.push_back(base32_alphabet[(buffer >> bits) & 0x1f]);
        }
    }
    if (bits > 0) out.push_back(base32_alphabet[(buffer << (5 - bits)) & 0x1f]);
    return out;
}

boost::system::result<Bytes> base32_decode(std::string_view text) {
    static const auto table = reverse_table(base32_alphabet, true);
    if (text.size() > max_multibase_text) return codec_errc::too_long;
    // Unpadded lengths of 1, 3 or 6 mod 8 cannot come from any byte string.
    switch (text.size() % 8) {
        case 1:
        case 3:
        case 6:
            return codec_errc::length_mismatch;
        default:
            break;
    }
    Bytes out;
    out.reserve(text.size() * 5 / 8);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        const int v = table[static_cast<unsigned char>(c)];
        if (v < 0) return codec_errc::invalid_character;
        buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(buffer >> bits));
        }
    }
    // Leftover bits are padding and must be zero, so each byte string has one encoding.
    if ((buffer & ((1u << bits) - 1)) != 0) return codec_errc::invalid_character;
    return out;
}

std::string multibase_encode(Multibase base, BytesView data) {
    switch (base) {
        case Multibase::base58btc:
            return 'z' + base58btc_encode(data);
        case Multibase::base32:
            return 'b' + base32_encode(data);
        case Multibase::base36:
            return 'k' + base36_encode(data);
    }
    return {};
}

boost::system::result<Bytes> multibase_decode(std::string_view text) {
    if (text.empty()) return codec_errc::truncated;
    if (text.size() > max_multibase_text + 1) return codec_errc::too_long;
    const std::string_view body = text.substr(1);
    switch (text[0]) {
        case 'z':
            return base58btc_decode(body);
        case 'b':
        case 'B':
            return base32_decode(body);
        case 'k':
        case 'K':
            return base36_decode(body);
        default:
            return codec_errc::unsupported_multibase;
    }
}

}  // namespace keel
