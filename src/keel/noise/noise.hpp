#pragma once
// The Noise layer: Noise_XX_25519_ChaChaPoly_SHA256, pure and I/O-free.
#include "keel/noise/cipher_state.hpp"
#include "keel/noise/constants.hpp"
#include "keel/noise/handshake_state.hpp"
#include "keel/noise/key_pair.hpp"
#include "keel/noise/noise_errc.hpp"
#include "keel/noise/symmetric_state.hpp"
