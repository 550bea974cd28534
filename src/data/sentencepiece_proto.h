// The few facts zili reads from, or edits in, a sentencepiece model's serialized ModelProto
// directly: the Debian library (0.1.97) installs neither the proto header nor accessors for
// them (no IsUserDefined, no normalizer settings).
#pragma once

#include <string>
#include <vector>

namespace zili::data {

// The model's bytes with NormalizerSpec.add_dummy_prefix set to false.
std::string without_dummy_prefix(const std::string& model_bytes);

// Piece types, sentencepiece's enum.
enum PieceType {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6
};

// The type of every piece, in id order; empty when the bytes do not parse as expected.
std::vector<int> piece_types(const std::string& model_bytes);

}  // namespace zili::data
