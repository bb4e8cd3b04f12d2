#include "io/json.hpp"

#include <set>
#include <string>
#include <vector>

#include "strata/error.hpp"

namespace strata::io {
namespace {

using json = nlohmann::json;

// A SAX pass that only checks what the DOM parser does not: the nesting depth (before anything
// deep is built) and keys repeated within one object.
class StructureCheck : public nlohmann::json_sax<json> {
 public:
  StructureCheck(const std::string& prefix, std::string_view what) : prefix_(prefix), what_(what) {}

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    enter();
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& k) override {
    STRATA_CHECK(keys_.back().insert(k).second, prefix_, what_, " has the key '", detail::printable(k),
                 "' twice in one object");
    return true;
  }
  bool end_object() override {
    keys_.pop_back();
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override {
    enter();
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail(prefix_, what_, " is not valid JSON (", detail::printable(e.what(), 200), ")");
  }

 private:
  void enter() {
    STRATA_CHECK(++depth_ <= kMaxJsonDepth, prefix_, what_, " nests objects and lists deeper than ", kMaxJsonDepth,
                 " levels; the file is corrupt or hostile");
  }
  const std::string& prefix_;
  std::string_view what_;
  std::size_t depth_ = 0;
  std::vector<std::set<std::string>> keys_;  // one set per object being parsed
};

}  // namespace

json parse_json(std::string_view text, const std::string& prefix, std::string_view what) {
  const std::size_t nul = text.find('\0');
  STRATA_CHECK(nul == std::string_view::npos, prefix, what, " has a NUL byte at offset ", nul,
               "; JSON text cannot contain one");
  StructureCheck check(prefix, what);
  json::sax_parse(text, &check);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {  // the check above has seen the same text: not expected
    fail(prefix, what, " is not valid JSON (", detail::printable(e.what(), 200), ")");
  }
}

std::string json_excerpt(const json& value, std::size_t max_bytes) {
  return detail::printable(value.dump(-1, ' ', false, json::error_handler_t::replace), max_bytes);
}

}  // namespace strata::io
