// Writing a small text file through a temporary file and a rename (io::AtomicOutputFile), so a
// reader or a killed process never sees it half-written.
#pragma once

#include <filesystem>
#include <string_view>

#include "io/file.hpp"

namespace strata::train {

inline void write_text_file(const std::filesystem::path& path, std::string_view text, const char* op) {
  io::AtomicOutputFile out(path, op);
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace strata::train
