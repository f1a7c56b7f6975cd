// The hotrod-init executable (hotrod_init.cc), built as a static freestanding program and
// embedded in the hotrod binary: the launcher copies it into a sealed memfd once and every
// sandbox execs it from there (execveat), so nothing is installed next to the binary and no
// instance sees it in its file system.
#pragma once

#include <span>

namespace hotrod {

// The ELF image; immutable, valid for the program's lifetime.
std::span<const unsigned char> InitBinary();

}  // namespace hotrod
