#include "io/npy_header.hpp"

#include <cctype>
#include <limits>
#include <optional>

#include "strata/error.hpp"

namespace strata::io {
namespace {

// A recursive-descent reader for the few Python literals a .npy header holds.
class DictReader {
 public:
  DictReader(std::string_view text, const std::string& prefix) : text_(text), prefix_(prefix) {}

  NpyHeader read() {
    NpyHeader header;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    expect('{', "at the start of the header");
    while (!accept('}')) {
      const std::string key = read_string();
      expect(':', "after a key");
      if (key == "descr") {
        once(seen_descr, key);
        STRATA_CHECK(peek() != '[', prefix_, "the array has a structured dtype (a list 'descr'), which Strata does not load");
        header.descr = read_string();
      } else if (key == "fortran_order") {
        once(seen_order, key);
        header.fortran_order = read_bool();
      } else if (key == "shape") {
        once(seen_shape, key);
        header.shape = read_tuple();
      } else {
        fail(prefix_, "the header has the unexpected key '", detail::printable(key), "' (a .npy header has descr, fortran_order, shape)");
      }
      if (!accept(',')) {
        expect('}', "after a value");
        break;
      }
    }
    skip_space();
    STRATA_CHECK(pos_ == text_.size(), prefix_, "the header has text after its closing '}'");
    STRATA_CHECK(seen_descr && seen_order && seen_shape, prefix_,
                 "the header lacks one of descr, fortran_order, shape: ", shown());
    return header;
  }

 private:
  // The header as the message shows it: without its padding, cut short if long.
  std::string shown() const {
    constexpr std::size_t kMax = 200;
    std::string_view text = text_.substr(0, text_.find_last_not_of(" \n\t") + 1);
    return detail::printable(text, kMax);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skip_space();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  bool accept(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  [[noreturn]] void unexpected(const char* wanted) {
    std::string found = "the end";
    if (pos_ < text_.size()) {
      const auto c = static_cast<unsigned char>(text_[pos_]);
      found = std::isprint(c) ? detail::cat("'", text_[pos_], "'") : detail::cat("byte ", static_cast<int>(c));
    }
    fail(prefix_, "the header has ", found, " at character ", pos_, " where ", wanted, " should be: ", shown());
  }
  void expect(char c, const char* where) {
    if (!accept(c)) unexpected(detail::cat("'", c, "' ", where).c_str());
  }
  void once(bool& seen, const std::string& key) {
    STRATA_CHECK(!seen, prefix_, "the header has the key '", detail::printable(key), "' twice");
    seen = true;
  }

  std::string read_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') unexpected("a quoted string");
    const std::size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) unexpected("a closed string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    STRATA_CHECK(s.find('\\') == std::string::npos, prefix_, "the header string '", detail::printable(s), "' has an escape, which no .npy header needs");
    pos_ = end + 1;
    return s;
  }

  bool read_bool() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(pos_).starts_with(word)) {
        pos_ += std::string_view(word).size();
        return value;
      }
    }
    unexpected("True or False");
  }

  std::optional<uint64_t> read_integer() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return std::nullopt;
    uint64_t value = 0;
    for (; pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; ++pos_) {
      const auto digit = static_cast<uint64_t>(text_[pos_] - '0');
      STRATA_CHECK(value <= (std::numeric_limits<uint64_t>::max() - digit) / 10, prefix_,
                   "the header has a size that overflows 64 bits: ", shown());
      value = value * 10 + digit;
    }
    return value;
  }

  // A tuple of non-negative integers: (), (5,), (2, 3) or (2, 3,).
  std::vector<uint64_t> read_tuple() {
    expect('(', "to open the shape tuple");
    std::vector<uint64_t> dims;
    bool trailing_comma = false;
    while (!accept(')')) {
      const std::optional<uint64_t> d = read_integer();
      if (!d) unexpected("a non-negative integer size");
      dims.push_back(*d);
      trailing_comma = accept(',');
      if (!trailing_comma) {
        expect(')', "to close the shape tuple");
        break;
      }
    }
    STRATA_CHECK(dims.size() != 1 || trailing_comma, prefix_,
                 "the header's shape has one size without a trailing comma, which is not a Python tuple: ", shown());
    return dims;
  }

  std::string_view text_;
  const std::string& prefix_;
  std::size_t pos_ = 0;
};

}  // namespace

NpyHeader parse_npy_header(std::string_view text, const std::string& prefix) {
  return DictReader(text, prefix).read();
}

std::string encode_npy_header(std::string_view descr, const Shape& shape) {
  std::string dims;
  for (int i = 0; i < shape.ndim(); ++i) dims += detail::cat(i ? ", " : "", shape[i]);
  if (shape.ndim() == 1) dims += ",";
  std::string dict = detail::cat("{'descr': '", descr, "', 'fortran_order': False, 'shape': (", dims, "), }");
  constexpr std::size_t kGrowthDigits = 21;  // numpy's GROWTH_AXIS_MAX_DIGITS
  if (shape.ndim() > 0) dict.append(kGrowthDigits - std::to_string(shape[0]).size(), ' ');
  // numpy pads to the next multiple of 64 including the '\n', adding a full 64 when aligned.
  constexpr std::size_t kPrefix = 6 + 2 + 2, kAlign = 64;
  const std::size_t padding = kAlign - (kPrefix + dict.size() + 1) % kAlign;
  const auto length = static_cast<uint16_t>(dict.size() + padding + 1);
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(length & 0xff);
  header += static_cast<char>(length >> 8);
  return header + dict + std::string(padding, ' ') + "\n";
}

}  // namespace strata::io
