#include "keel/store/store_errc.hpp"

#include <string>

namespace keel::store {
namespace {

class StoreCategory final : public boost::system::error_category {
  public:
    const char* name() const noexcept override { return "keel.store"; }

    std::string message(int ev) const override {
        switch (static_cast<store_errc>(ev)) {
            case store_errc::open_failed:
                return "cannot open the store database";
            case store_errc::schema_failed:
                return "cannot create or read the store schema";
            case store_errc::write_failed:
                return "store write did not commit";
            case store_errc::closed:
                return "store is closed";
            case store_errc::corrupt:
                return "the store database is corrupt";
        }
        return "unknown store error";
    }
};

}  // namespace

const boost::system::error_category& store_category() noexcept {
    static const StoreCategory category;
    return category;
}

boost::system::error_code make_error_code(store_errc e) noexcept {
    return {static_cast<int>(e), store_category()};
}

}  // namespace keel::store
