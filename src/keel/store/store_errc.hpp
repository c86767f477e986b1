#pragma once
// Errors from the persistent store (category "keel.store").
#include <boost/system/error_code.hpp>

namespace keel::store {

enum class store_errc {
    open_failed = 1,  // the database file could not be opened or set up (WAL, pragmas)
    schema_failed,    // creating or checking the schema failed, or the file is from a newer Keel
    write_failed,     // the transaction holding this write did not commit
    closed,           // the store was shutting down when the write was queued
    corrupt,          // the database file is damaged (integrity check or a read failed)
};

const boost::system::error_category& store_category() noexcept;
boost::system::error_code make_error_code(store_errc e) noexcept;

}  // namespace keel::store

template <>
struct boost::system::is_error_code_enum<keel::store::store_errc> : std::true_type {};
