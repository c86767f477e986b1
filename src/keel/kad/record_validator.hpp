#pragma once
// Record validation by namespace (the first path segment of the key, e.g. "/pk/…"), as in the
// kad-dht spec's "Record validation": a validator accepts or rejects a value and chooses the best
// of several. Records in a namespace without a validator are refused.
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/system/error_code.hpp>

#include "keel/base/bytes.hpp"

namespace keel::kad {

class RecordValidator {
  public:
    virtual ~RecordValidator() = default;
    virtual boost::system::error_code validate(BytesView key, BytesView value) const = 0;
    // Index of the best of `values` (all already valid).
    virtual std::size_t select(BytesView key, const std::vector<Bytes>& values) const = 0;
};

// "/pk/" + multihash(peer ID): the value is that peer's marshalled public key.
class PublicKeyValidator final : public RecordValidator {
  public:
    boost::system::error_code validate(BytesView key, BytesView value) const override;
    std::size_t select(BytesView, const std::vector<Bytes>&) const override { return 0; }
};

class ValidatorRegistry {
  public:
    ValidatorRegistry();  // with "pk"
    void add(std::string ns, std::shared_ptr<RecordValidator> validator);
    boost::system::error_code validate(BytesView key, BytesView value) const;
    // Index of the best value, or nullopt if the namespace is unknown or `values` is empty.
    std::optional<std::size_t> select(BytesView key, const std::vector<Bytes>& values) const;

  private:
    const RecordValidator* find(BytesView key) const;
    std::map<std::string, std::shared_ptr<RecordValidator>, std::less<>> validators_;
};

}  // namespace keel::kad
