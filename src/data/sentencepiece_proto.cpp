// Reading and editing a serialized sentencepiece ModelProto by its wire format (field
// numbers from sentencepiece_model.proto).
#include "data/sentencepiece_proto.h"

#include <cstdint>

namespace zili::data {

// ModelProto field 3 is normalizer_spec and NormalizerSpec field 3 is add_dummy_prefix. A
// protobuf parser merges a repeated embedded message into the first and keeps the last value
// of a scalar, so appending the record  1A 02 | 18 00  (field 3, 2 bytes: field 3 varint 0)
// overrides the flag and leaves everything else as it was.
std::string without_dummy_prefix(const std::string& model_bytes) {
  return model_bytes + std::string("\x1a\x02\x18\x00", 4);
}

// ModelProto field 1 is the repeated SentencePiece {1: piece, 2: score, 3: type (default
// normal)}; each field is a varint key (number << 3 | wire type) and its value.
std::vector<int> piece_types(const std::string& bytes) {
  struct Reader {
    const std::string& s;
    size_t at;
    size_t end;
    bool ok = true;
    uint64_t varint() {
      uint64_t value = 0;
      for (int shift = 0; shift < 64 && at < end; shift += 7) {
        const auto byte = static_cast<uint8_t>(s[at++]);
        value |= uint64_t(byte & 0x7f) << shift;
        if (!(byte & 0x80)) return value;
      }
      ok = false;
      return 0;
    }
    // Skips a field's value; for a length-delimited one, sets [begin, finish).
    void skip(int wire, size_t* begin = nullptr, size_t* finish = nullptr) {
      if (wire == 0) {
        varint();
      } else if (wire == 1 || wire == 5) {
        advance(wire == 1 ? 8 : 4);
      } else if (wire == 2) {
        const uint64_t length = varint();
        if (begin) *begin = at;
        advance(length);
        if (finish) *finish = at;
      } else {
        ok = false;  // groups: not used by sentencepiece
      }
    }
    void advance(uint64_t bytes) {
      if (bytes > end - at) {
        ok = false;
        at = end;
      } else {
        at += bytes;
      }
    }
  };
  std::vector<int> types;
  Reader model{bytes, 0, bytes.size()};
  while (model.ok && model.at < model.end) {
    const uint64_t key = model.varint();
    size_t begin = 0, finish = 0;
    model.skip(static_cast<int>(key & 7), &begin, &finish);
    if (!model.ok || key != ((1 << 3) | 2)) continue;
    Reader piece{bytes, begin, finish};
    int type = kNormal;
    while (piece.ok && piece.at < piece.end) {
      const uint64_t piece_key = piece.varint();
      if (piece_key == ((3 << 3) | 0)) {
        type = static_cast<int>(piece.varint());
      } else {
        piece.skip(static_cast<int>(piece_key & 7));
      }
    }
    if (!piece.ok) return {};
    types.push_back(type);
  }
  if (!model.ok) return {};
  return types;
}

}  // namespace zili::data
