// The table of files compiled into the binary by embed_files.cmake (internal to
// hotrod_runtimes; use the accessors in runtimes/manifest.h).
//
// The table is constant-initialised: safe to read from any thread, even during static
// initialisation. The order is the one given to the generator in CMakeLists.txt.
#pragma once

#include <span>

#include "runtimes/manifest.h"

namespace hotrod::runtimes_internal {

std::span<const EmbeddedFile> AllEmbeddedFiles();

}  // namespace hotrod::runtimes_internal
