// parse_image_transforms: torchvision's spelling of a list of transforms read into
// ImageTransforms. The grammar, with spaces allowed between any two tokens:
//   spec  := call { [","] call }
//   call  := Name "(" [ arg { "," arg } [","] ] ")"
//   arg   := [ keyword "=" ] value
//   value := number | "(" value { "," value } ")" | "[" ... "]" | True | False | None | name
// where a name is an identifier with dots (bilinear, InterpolationMode.BILINEAR). Each transform
// binds its arguments by position then keyword, as Python would, and its constructor checks the
// values; every error is a strata::Error naming the call and listing the known transforms.
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "strata/data/image_transforms.hpp"
#include "strata/error.hpp"

namespace strata::data {
namespace {

constexpr std::size_t kMaxSpecLength = 4096;
constexpr std::size_t kMaxTransforms = 64;
constexpr std::size_t kMaxArguments = 8;
constexpr std::size_t kMaxTupleSize = 4;

constexpr const char* kKnownTransforms =
    "known transforms: Resize(size, interpolation=bilinear, antialias=True) (size: an int, the shorter side, or "
    "(height, width)); CenterCrop(size); RandomResizedCrop(size, scale=(0.08, 1.0), ratio=(0.75, 1.3333), "
    "interpolation=bilinear, antialias=True); RandomHorizontalFlip(p=0.5); RandomRotation(degrees, "
    "interpolation=nearest|bilinear, fill=0); ColorJitter(brightness=0, contrast=0, saturation=0, hue=0)";

struct Value {
  enum class Kind { Number, Tuple, Bool, Name } kind = Kind::Number;
  double number = 0;
  bool boolean = false;
  std::string name;
  std::vector<Value> items;
};

struct Argument {
  std::string keyword;  // empty: positional
  Value value;
};

// Thrown inside the parser with a message about one call; parse_image_transforms adds the context.
[[noreturn]] void bad(const std::string& message) { throw Error(message); }

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool at_end() {
    skip_space();
    return pos_ >= text_.size();
  }
  std::size_t pos() const { return pos_; }
  std::string_view text() const { return text_; }

  // An optional comma between two calls.
  void skip_separator() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == ',') ++pos_;
  }

  std::string identifier() {
    skip_space();
    const std::size_t start = pos_;
    while (pos_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_' ||
                                   (text_[pos_] == '.' && pos_ > start)))
      ++pos_;
    if (pos_ == start || std::isdigit(static_cast<unsigned char>(text_[start])))
      bad(pos_ < text_.size() ? "expected a transform name at '" + strata::detail::printable(text_.substr(pos_), 20) + "'"
                              : "expected a transform name at the end");
    return std::string(text_.substr(start, pos_ - start));
  }

  void expect(char c, const std::string& what) {
    skip_space();
    if (pos_ >= text_.size()) bad("expected '" + std::string(1, c) + "' " + what + ", found the end of the text");
    if (text_[pos_] != c)
      bad("expected '" + std::string(1, c) + "' " + what + ", found '" + strata::detail::printable(text_.substr(pos_), 20) +
          "'");
    ++pos_;
  }

  bool accept(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // The arguments between the parentheses of a call (the "(" already read).
  std::vector<Argument> arguments() {
    std::vector<Argument> args;
    if (accept(')')) return args;
    for (;;) {
      if (args.size() == kMaxArguments) bad("more than " + std::to_string(kMaxArguments) + " arguments");
      Argument arg;
      skip_space();
      // keyword=: an identifier followed by '=' (but not '==')
      const std::size_t save = pos_;
      if (pos_ < text_.size() && (std::isalpha(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
        std::size_t end = pos_;
        while (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_')) ++end;
        std::size_t eq = end;
        while (eq < text_.size() && text_[eq] == ' ') ++eq;
        if (eq < text_.size() && text_[eq] == '=') {
          arg.keyword = std::string(text_.substr(pos_, end - pos_));
          pos_ = eq + 1;
        } else {
          pos_ = save;
        }
      }
      arg.value = value(0);
      args.push_back(std::move(arg));
      if (accept(')')) return args;
      expect(',', "or ')' after an argument");
      if (accept(')')) return args;  // a trailing comma
    }
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  Value value(int depth) {
    skip_space();
    if (pos_ >= text_.size()) bad("expected a value, found the end of the text");
    const char c = text_[pos_];
    Value v;
    if (c == '(' || c == '[') {
      if (depth > 0) bad("nested tuples are not allowed");
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      v.kind = Value::Kind::Tuple;
      if (accept(close)) return v;
      for (;;) {
        if (v.items.size() == kMaxTupleSize) bad("a tuple of more than " + std::to_string(kMaxTupleSize) + " values");
        v.items.push_back(value(depth + 1));
        if (accept(close)) return v;
        expect(',', std::string("or '") + close + "' in a tuple");
        if (accept(close)) return v;
      }
    }
    if (c == '-' || c == '+' || c == '.' || std::isdigit(static_cast<unsigned char>(c))) {
      std::size_t end = pos_;
      while (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '.' ||
                                    text_[end] == '-' || text_[end] == '+'))
        ++end;
      const std::string_view token = text_.substr(pos_, end - pos_);
      std::string_view digits = token;
      if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
      double x = 0;
      const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), x);
      if (res.ec != std::errc() || res.ptr != digits.data() + digits.size() || !std::isfinite(x))
        bad("'" + strata::detail::printable(token, 40) + "' is not a number");
      pos_ = end;
      v.kind = Value::Kind::Number;
      v.number = x;
      return v;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      std::string name = identifier();
      if (name == "True" || name == "False") {
        v.kind = Value::Kind::Bool;
        v.boolean = name == "True";
      } else {
        v.kind = Value::Kind::Name;
        v.name = std::move(name);
      }
      return v;
    }
    bad("unexpected '" + strata::detail::printable(text_.substr(pos_), 20) + "' where a value was expected");
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

// ---- Binding a call's arguments to a transform's parameters ----

class Call {
 public:
  Call(std::string name, std::vector<std::string> params, std::vector<Argument> args) : name_(std::move(name)) {
    values_.resize(params.size());
    std::size_t position = 0;
    for (Argument& arg : args) {
      std::size_t index = params.size();
      if (arg.keyword.empty()) {
        if (position >= params.size())
          bad(name_ + " takes at most " + std::to_string(params.size()) + " positional arguments");
        index = position++;
      } else {
        for (std::size_t i = 0; i < params.size(); ++i)
          if (params[i] == arg.keyword) index = i;
        if (index == params.size()) {
          std::string list;
          for (const std::string& p : params) list += (list.empty() ? "" : ", ") + p;
          bad(name_ + " has no argument '" + strata::detail::printable(arg.keyword, 40) + "' (its arguments: " + list + ")");
        }
      }
      if (values_[index]) bad(name_ + " got argument '" + params[index] + "' twice");
      values_[index] = std::move(arg.value);
    }
    params_ = std::move(params);
  }

  bool has(std::size_t i) const { return values_[i].has_value(); }

  double number(std::size_t i, double fallback) const {
    if (!has(i)) return fallback;
    const Value& v = *values_[i];
    if (v.kind != Value::Kind::Number) bad(name_ + ": " + params_[i] + " must be a number");
    return v.number;
  }

  int64_t integer(const Value& v, std::size_t i) const {
    if (v.kind != Value::Kind::Number || v.number != std::floor(v.number) || std::abs(v.number) > 1e9)
      bad(name_ + ": " + params_[i] + " must be an integer (or a tuple of them)");
    return static_cast<int64_t>(v.number);
  }

  // A size: one int (returned as height == width, square == true) or (height, width).
  std::pair<int64_t, int64_t> size(std::size_t i, bool& one_int) const {
    if (!has(i)) bad(name_ + ": size is required");
    const Value& v = *values_[i];
    one_int = v.kind == Value::Kind::Number;
    if (one_int) {
      const int64_t s = integer(v, i);
      return {s, s};
    }
    if (v.kind == Value::Kind::Tuple && v.items.size() == 1) return {integer(v.items[0], i), integer(v.items[0], i)};
    if (v.kind != Value::Kind::Tuple || v.items.size() != 2)
      bad(name_ + ": " + params_[i] + " must be an int or (height, width)");
    return {integer(v.items[0], i), integer(v.items[1], i)};
  }

  std::array<double, 2> pair(std::size_t i, std::array<double, 2> fallback) const {
    if (!has(i)) return fallback;
    const Value& v = *values_[i];
    if (v.kind != Value::Kind::Tuple || v.items.size() != 2 || v.items[0].kind != Value::Kind::Number ||
        v.items[1].kind != Value::Kind::Number)
      bad(name_ + ": " + params_[i] + " must be a tuple of two numbers (lo, hi)");
    return {v.items[0].number, v.items[1].number};
  }

  bool boolean(std::size_t i, bool fallback) const {
    if (!has(i)) return fallback;
    const Value& v = *values_[i];
    if (v.kind != Value::Kind::Bool) bad(name_ + ": " + params_[i] + " must be True or False");
    return v.boolean;
  }

  Interpolation interpolation(std::size_t i, Interpolation fallback) const {
    if (!has(i)) return fallback;
    const Value& v = *values_[i];
    if (v.kind == Value::Kind::Name) {
      if (v.name == "nearest" || v.name == "InterpolationMode.NEAREST") return Interpolation::Nearest;
      if (v.name == "bilinear" || v.name == "InterpolationMode.BILINEAR") return Interpolation::Bilinear;
    }
    bad(name_ + ": interpolation must be nearest or bilinear (or InterpolationMode.NEAREST, "
                "InterpolationMode.BILINEAR)");
  }

  const std::optional<Value>& raw(std::size_t i) const { return values_[i]; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<std::string> params_;
  std::vector<std::optional<Value>> values_;
};

ImageTransformPtr make_transform(const std::string& name, std::vector<Argument> args) {
  if (name == "Resize") {
    const Call call(name, {"size", "interpolation", "antialias"}, std::move(args));
    bool one_int = false;
    const auto [h, w] = call.size(0, one_int);
    if (call.interpolation(1, Interpolation::Bilinear) != Interpolation::Bilinear)
      bad("Resize: only bilinear interpolation is supported");
    const bool antialias = call.boolean(2, true);
    if (one_int) return Resize::shorter(h, antialias);
    return std::make_shared<Resize>(h, w, antialias);
  }
  if (name == "CenterCrop") {
    const Call call(name, {"size"}, std::move(args));
    bool one_int = false;
    const auto [h, w] = call.size(0, one_int);
    return std::make_shared<CenterCrop>(h, w);
  }
  if (name == "RandomResizedCrop") {
    const Call call(name, {"size", "scale", "ratio", "interpolation", "antialias"}, std::move(args));
    bool one_int = false;
    const auto [h, w] = call.size(0, one_int);
    const auto scale = call.pair(1, {0.08, 1.0});
    const auto ratio = call.pair(2, {3.0 / 4.0, 4.0 / 3.0});
    if (call.interpolation(3, Interpolation::Bilinear) != Interpolation::Bilinear)
      bad("RandomResizedCrop: only bilinear interpolation is supported");
    return std::make_shared<RandomResizedCrop>(h, w, scale, ratio, call.boolean(4, true));
  }
  if (name == "RandomHorizontalFlip") {
    const Call call(name, {"p"}, std::move(args));
    return std::make_shared<RandomHorizontalFlip>(call.number(0, 0.5));
  }
  if (name == "RandomRotation") {
    const Call call(name, {"degrees", "interpolation", "fill"}, std::move(args));
    if (!call.has(0)) bad("RandomRotation: degrees is required");
    double degrees = 0;
    const Value& d = *call.raw(0);
    if (d.kind == Value::Kind::Tuple && d.items.size() == 2 && d.items[0].kind == Value::Kind::Number &&
        d.items[1].kind == Value::Kind::Number) {
      // torchvision's (min, max) spelling, as its repr writes it: only a symmetric range is supported.
      if (d.items[0].number != -d.items[1].number)
        bad("RandomRotation: degrees as (min, max) must be symmetric, (-d, d)");
      degrees = d.items[1].number;
    } else {
      degrees = call.number(0, 0);
    }
    const double fill = call.number(2, 0);
    if (!(fill >= 0 && fill <= 255 && fill == std::floor(fill)))
      bad("RandomRotation: fill must be an integer in [0, 255]");
    return std::make_shared<RandomRotation>(degrees, call.interpolation(1, Interpolation::Nearest),
                                            static_cast<uint8_t>(fill));
  }
  if (name == "ColorJitter") {
    const Call call(name, {"brightness", "contrast", "saturation", "hue"}, std::move(args));
    return std::make_shared<ColorJitter>(call.number(0, 0), call.number(1, 0), call.number(2, 0), call.number(3, 0));
  }
  bad("unknown transform '" + strata::detail::printable(name, 40) + "'");
}

}  // namespace

ImageTransforms parse_image_transforms(std::string_view spec) {
  STRATA_CHECK(spec.size() <= kMaxSpecLength, "parse_image_transforms: the spec is ", spec.size(),
               " characters long, more than ", kMaxSpecLength);
  Parser parser(spec);
  ImageTransforms transforms;
  while (!parser.at_end()) {
    const std::size_t start = parser.pos();
    try {
      if (transforms.size() == kMaxTransforms)
        bad("more than " + std::to_string(kMaxTransforms) + " transforms");
      const std::string name = parser.identifier();
      parser.expect('(', "after '" + strata::detail::printable(name, 40) + "'");
      std::vector<Argument> args = parser.arguments();
      transforms.push_back(make_transform(name, std::move(args)));
      parser.skip_separator();
    } catch (const Error& e) {
      // The call as written (up to where the parser stopped, at most a line of it).
      std::string_view call = spec.substr(start);
      const std::size_t close = call.find(')');
      if (close != std::string_view::npos) call = call.substr(0, close + 1);
      throw Error(strata::detail::cat("parse_image_transforms: in '", strata::detail::printable(call, 80), "' (at character ",
                              start + 1, "): ", e.what(), "; ", kKnownTransforms));
    }
  }
  return transforms;
}

}  // namespace strata::data
