#pragma once
// The node's identity on disk: the raw protobuf PrivateKey bytes, the same format as
// go-libp2p-daemon's -id file, so a bootstrap node keeps its peer ID across restarts.
#include <filesystem>

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include "keel/crypto/ed25519.hpp"

namespace keel {

inline constexpr std::size_t max_identity_file_size = 8 * 1024;

// Creates `dir` and each missing ancestor with mode 0700 (a data directory holds a secret key
// and the node's state); directories that exist keep their mode. False on failure.
bool create_private_dirs(const std::filesystem::path& dir);

// crypto_errc::key_file_io if unreadable or not a regular file (a FIFO is refused, not waited on),
// key_file_format if not an Ed25519 PrivateKey or larger than max_identity_file_size.
boost::system::result<Ed25519KeyPair> load_identity(const std::filesystem::path& path);
// Writes a temporary file with mode 0600, fsyncs it, renames it over `path` and fsyncs the
// directory, so a kill -9 at any point leaves either the old or the new key, never a torn one.
// Creates missing parent directories with mode 0700.
boost::system::error_code save_identity(const std::filesystem::path& path,
                                        const Ed25519KeyPair& key);
// Loads `path`, or generates and saves a new key if it does not exist. A file that exists but
// cannot be used is an error, never silently replaced (that would change the peer ID).
boost::system::result<Ed25519KeyPair> load_or_create_identity(const std::filesystem::path& path,
                                                              bool* created = nullptr);

}  // namespace keel
