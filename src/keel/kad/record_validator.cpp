#include "keel/kad/record_validator.hpp"

#include "keel/crypto/peer_id.hpp"
#include "keel/kad/kad_errc.hpp"

namespace keel::kad {

namespace {
// The namespace of "/ns/rest": "ns"; empty if the key has no such form.
std::string_view key_namespace(BytesView key) {
    auto text = as_chars(key);
    if (text.size() < 3 || text[0] != '/') return {};
    auto end = text.find('/', 1);
    if (end == std::string_view::npos) return {};
    return text.substr(1, end - 1);
}
}  // namespace

boost::system::error_code PublicKeyValidator::validate(BytesView key, BytesView value) const {
    constexpr std::string_view prefix = "/pk/";
    if (key.size() <= prefix.size() || as_chars(key).substr(0, prefix.size()) != prefix)
        return make_error_code(kad_errc::invalid_record);
    auto public_key = PublicKey::unmarshal(value);
    if (!public_key) return make_error_code(kad_errc::invalid_record);
    auto expected = PeerId::from_public_key(*public_key);
    auto hash = key.subspan(prefix.size());
    if (!std::equal(hash.begin(), hash.end(), expected.bytes().begin(), expected.bytes().end()))
        return make_error_code(kad_errc::invalid_record);
    return {};
}

ValidatorRegistry::ValidatorRegistry() {
    add("pk", std::make_shared<PublicKeyValidator>());
}

void ValidatorRegistry::add(std::string ns, std::shared_ptr<RecordValidator> validator) {
    validators_[std::move(ns)] = std::move(validator);
}

const RecordValidator* ValidatorRegistry::find(BytesView key) const {
    auto it = validators_.find(key_namespace(key));
    return it == validators_.end() ? nullptr : it->second.get();
}

boost::system::error_code ValidatorRegistry::validate(BytesView key, BytesView value) const {
    const auto* v = find(key);
    if (!v) return make_error_code(kad_errc::unknown_namespace);
    return v->validate(key, value);
}

std::optional<std::size_t> ValidatorRegistry::select(BytesView key,
                                                     const std::vector<Bytes>& values) const {
    const auto* v = find(key);
    if (!v || values.empty()) return std::nullopt;
    return v->select(key, values);
}

}  // namespace keel::kad
