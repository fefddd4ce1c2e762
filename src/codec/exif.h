// exif_orientation: the EXIF orientation tag from a JPEG APP1 payload or a PNG eXIf chunk.
#pragma once

#include <cstdint>
#include <span>

namespace gpuaug::codec {

// app1_payload is the APP1 segment after its length field: "Exif\0\0", a TIFF header (II or
// MM), IFD0. Returns tag 0x0112 (SHORT or LONG, count 1; Pillow honours either) when it is
// 1..8, else 1: for XMP and other non-Exif APP1 payloads, a missing tag, and malformed or
// short data. Never throws and never reads outside the span. A hand-written reader rather
// than libexif: it needs one tag, and libexif parses (and has had CVEs in) far more.
int exif_orientation(std::span<const uint8_t> app1_payload);

// The same from the TIFF structure alone (a TIFF header, then IFD0): what follows "Exif\0\0"
// in an APP1 payload, and all of a PNG eXIf chunk's data. Offsets are relative to its start.
int tiff_orientation(std::span<const uint8_t> tiff);

}  // namespace gpuaug::codec
