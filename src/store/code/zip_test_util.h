// Test-only builders of zip archives, hostile ones included. Not part of hotrod_code.
//
// RawZip writes the bytes itself, so a test controls what libarchive's writer would refuse or
// fix up: device modes, lying sizes, bad CRCs. LibarchiveZip uses the real writer (deflate).
// Thread-safety: no shared state.
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hotrod::testing {

inline uint32_t Crc32(const std::string& data) {
  uint32_t crc = 0xffffffffu;
  for (const char ch : data) {
    crc ^= static_cast<uint8_t>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A raw deflate stream (fixed Huffman) of n zero bytes: one literal, then matches of length 258
// at distance 1, 13 bits each, so 1 GiB costs ~6.5 MB and well under a second to build.
inline std::string DeflatedZeros(uint64_t n) {
  std::string out;
  out.reserve(static_cast<size_t>(n / 258 * 13 / 8 + 64));
  uint64_t acc = 0;
  int bits = 0;
  auto put = [&](uint32_t value, int count) {  // LSB-first, as deflate packs bits
    acc |= static_cast<uint64_t>(value) << bits;
    bits += count;
    while (bits >= 8) {
      out.push_back(static_cast<char>(acc & 0xff));
      acc >>= 8;
      bits -= 8;
    }
  };
  auto put_code = [&](uint32_t code, int count) {  // Huffman codes go MSB-first
    uint32_t reversed = 0;
    for (int i = 0; i < count; ++i) reversed |= ((code >> i) & 1u) << (count - 1 - i);
    put(reversed, count);
  };
  put(1, 1);  // BFINAL
  put(1, 2);  // BTYPE = fixed Huffman
  uint64_t left = n;
  if (left > 0) {
    put_code(0x30, 8);  // literal 0
    --left;
  }
  while (left >= 258) {
    put_code(0xc5, 8);  // length code 285 = 258 bytes
    put_code(0, 5);     // distance code 0 = 1 byte back
    left -= 258;
  }
  for (; left > 0; --left) put_code(0x30, 8);
  put_code(0, 7);  // end of block (256)
  if (bits > 0) put(0, 8 - bits);
  return out;
}

struct RawEntry {
  RawEntry(std::string entry_name, std::string entry_data, uint32_t entry_mode = 0100644)
      : name(std::move(entry_name)), data(std::move(entry_data)), mode(entry_mode) {}
  // A deflate entry; size and crc are what the headers claim.
  static RawEntry Deflated(std::string entry_name, std::string compressed, uint32_t size,
                           uint32_t crc) {
    RawEntry e(std::move(entry_name), std::move(compressed));
    e.method = 8;
    e.size = size;
    e.crc = crc;
    return e;
  }

  std::string name;
  std::string data;              // stored as-is (already compressed when method == 8)
  uint32_t mode = 0100644;       // st_mode, in the external attributes of a Unix entry
  uint16_t method = 0;           // 0 stored, 8 deflate
  std::optional<uint32_t> size;  // uncompressed size to declare; default data.size()
  std::optional<uint32_t> crc;   // default Crc32(data)
};

inline std::string RawZip(const std::vector<RawEntry>& entries) {
  std::string out;
  std::string central;
  auto u16 = [](std::string& s, uint32_t v) {
    s.push_back(static_cast<char>(v & 0xff));
    s.push_back(static_cast<char>((v >> 8) & 0xff));
  };
  auto u32 = [&](std::string& s, uint32_t v) {
    u16(s, v & 0xffff);
    u16(s, v >> 16);
  };
  for (const RawEntry& e : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = e.crc.value_or(Crc32(e.data));
    const uint32_t size = e.size.value_or(static_cast<uint32_t>(e.data.size()));
    const uint32_t csize = static_cast<uint32_t>(e.data.size());
    u32(out, 0x04034b50);
    u16(out, 20);
    u16(out, 0x0800);  // names are UTF-8
    u16(out, e.method);
    u16(out, 0);
    u16(out, 0x21);
    u32(out, crc);
    u32(out, csize);
    u32(out, size);
    u16(out, static_cast<uint32_t>(e.name.size()));
    u16(out, 0);
    out += e.name;
    out += e.data;

    u32(central, 0x02014b50);
    u16(central, (3u << 8) | 20);  // made by Unix, so libarchive honours the mode bits
    u16(central, 20);
    u16(central, 0x0800);
    u16(central, e.method);
    u16(central, 0);
    u16(central, 0x21);
    u32(central, crc);
    u32(central, csize);
    u32(central, size);
    u16(central, static_cast<uint32_t>(e.name.size()));
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u16(central, 0);
    u32(central, e.mode << 16);
    u32(central, offset);
    central += e.name;
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out += central;
  u32(out, 0x06054b50);
  u16(out, 0);
  u16(out, 0);
  u16(out, static_cast<uint32_t>(entries.size()));
  u16(out, static_cast<uint32_t>(entries.size()));
  u32(out, static_cast<uint32_t>(central.size()));
  u32(out, cd_offset);
  u16(out, 0);
  return out;
}

// Builds a zip with libarchive's writer; Add* return false when the writer refuses the entry.
class LibarchiveZip {
 public:
  // passphrase (with options "zip:encryption=...") makes encrypted entries.
  explicit LibarchiveZip(const char* options = nullptr, const char* passphrase = nullptr)
      : a_(archive_write_new()) {
    archive_write_set_format_zip(a_);
    // Without this the writer pads the archive with zeros to a 10 KiB block, as for tape.
    archive_write_set_bytes_in_last_block(a_, 1);
    if (options != nullptr) ok_ &= archive_write_set_options(a_, options) == ARCHIVE_OK;
    if (passphrase != nullptr) ok_ &= archive_write_set_passphrase(a_, passphrase) == ARCHIVE_OK;
    ok_ &= archive_write_open(a_, &out_, nullptr, &Write, nullptr) == ARCHIVE_OK;
  }
  ~LibarchiveZip() {
    if (a_ != nullptr) archive_write_free(a_);
  }
  LibarchiveZip(const LibarchiveZip&) = delete;
  LibarchiveZip& operator=(const LibarchiveZip&) = delete;

  // False if the options or passphrase were refused (e.g. libarchive without encryption).
  bool ok() const { return ok_; }

  bool AddFile(const std::string& name, const std::string& data, unsigned perm = 0644) {
    return Add(name, AE_IFREG, perm, data, nullptr, nullptr);
  }
  bool AddDir(const std::string& name, unsigned perm = 0755) {
    return Add(name, AE_IFDIR, perm, "", nullptr, nullptr);
  }
  bool AddSymlink(const std::string& name, const std::string& target) {
    return Add(name, AE_IFLNK, 0777, "", target.c_str(), nullptr);
  }
  bool AddHardlink(const std::string& name, const std::string& target) {
    return Add(name, AE_IFREG, 0644, "", nullptr, target.c_str());
  }

  std::string Finish() {
    archive_write_close(a_);
    archive_write_free(a_);
    a_ = nullptr;
    return out_;
  }

 private:
  static la_ssize_t Write(archive*, void* client, const void* buffer, size_t length) {
    static_cast<std::string*>(client)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
  }

  bool Add(const std::string& name, unsigned type, unsigned perm, const std::string& data,
           const char* symlink, const char* hardlink) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    if (symlink != nullptr) archive_entry_set_symlink(e, symlink);
    if (hardlink != nullptr) archive_entry_set_hardlink(e, hardlink);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    const bool ok = archive_write_header(a_, e) == ARCHIVE_OK &&
                    (data.empty() || archive_write_data(a_, data.data(), data.size()) ==
                                         static_cast<la_ssize_t>(data.size()));
    archive_entry_free(e);
    return ok;
  }

  archive* a_;
  std::string out_;
  bool ok_ = true;
};

}  // namespace hotrod::testing
