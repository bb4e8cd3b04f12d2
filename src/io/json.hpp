// JSON from files Strata did not write (safetensors headers, their metadata, config.json): parsed
// with bounds, so that a hostile file is an Error, never a stack overflow or a huge message.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace strata::io {

// The reference safetensors library's limit on nesting; no file Strata reads nests deeper than 4.
inline constexpr std::size_t kMaxJsonDepth = 128;

// Parses `text` as one JSON value. Errors (each starting with `prefix`, then naming `what`):
// invalid JSON, a NUL byte, nesting deeper than kMaxJsonDepth, a key twice in one object (a parser
// would silently keep one of them), a number out of range. Linear in the size of the text.
nlohmann::json parse_json(std::string_view text, const std::string& prefix, std::string_view what);

// A JSON value as text for a message: at most `max_bytes`, control bytes escaped.
std::string json_excerpt(const nlohmann::json& value, std::size_t max_bytes = 80);

}  // namespace strata::io
