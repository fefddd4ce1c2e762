// OpArgs accessors and Drawn: checked reading of spec values, errors naming op, key and line.
#include "ops/op.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"

namespace gpuaug::ops {

std::string ParamValue::described() const {
  // Quoted: a number written in quotes ("32") is text, and "got 32" would not say why.
  return kind == Kind::kString ? fmt::format("the text '{}'", text) : to_string();
}

std::string ParamValue::to_string() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kBool: return boolean ? "true" : "false";
    case Kind::kNumber: return fmt::format("{:g}", number);
    case Kind::kString: return text;
    case Kind::kList: return fmt::format("[{:g}]", fmt::join(list, ", "));
  }
  return "";
}

void Drawn::set_values(const char* key, const double* values, size_t n) {
  Entry* entry = nullptr;
  for (uint8_t i = 0; i < count; ++i)
    if (std::string_view(entries[i].key) == key) entry = &entries[i];
  if (entry == nullptr) {
    if (count == entries.size()) throw Error("", "plan", fmt::format("too many drawn values ({})", key));
    entry = &entries[count++];
  }
  entry->key = key;
  entry->n = static_cast<uint8_t>(std::min<size_t>(n, entry->v.size()));
  std::copy_n(values, entry->n, entry->v.begin());
}

const Drawn::Entry* Drawn::find(std::string_view key) const {
  for (uint8_t i = 0; i < count; ++i)
    if (key == entries[i].key) return &entries[i];
  return nullptr;
}

double Drawn::get(std::string_view key, double fallback) const {
  const Entry* entry = find(key);
  return entry != nullptr && entry->n > 0 ? entry->v[0] : fallback;
}

OpArgs::OpArgs(const OpDescriptor& descriptor,
               std::vector<std::pair<std::string, ParamValue>> given, int line)
    : descriptor_(&descriptor), given_(std::move(given)), line_(line) {
  // Not a structured binding: clang before 16 cannot capture one in a lambda (the fuzzers
  // build with clang).
  for (const auto& given_param : given_) {
    const std::string& name = given_param.first;
    const ParamValue& value = given_param.second;
    const bool known = std::any_of(descriptor.params.begin(), descriptor.params.end(),
                                   [&](const ParamSpec& p) { return p.name == name; });
    if (!known) {
      std::vector<std::string> names;
      for (const auto& p : descriptor.params) names.push_back(p.name);
      const int at = value.line > 0 ? value.line : line_;
      throw Error("", "spec",
                  fmt::format("line {}: {}: unknown parameter '{}'; valid parameters: {}", at,
                              descriptor.name, name, fmt::join(names, ", ")));
    }
  }
}

const ParamValue& OpArgs::value(std::string_view name) const {
  for (const auto& [key, value] : given_)
    if (key == name) return value;
  for (const auto& p : descriptor_->params)
    if (p.name == name) return p.default_value;
  throw Error("", "spec", fmt::format("{}: no parameter '{}' (internal)", descriptor_->name, name));
}

void OpArgs::fail(std::string_view name, const std::string& cause) const {
  const ParamValue& v = value(name);
  const int at = v.line > 0 ? v.line : line_;
  throw Error("", "spec", fmt::format("line {}: {}.{}: {}", at, descriptor_->name, name, cause));
}

bool OpArgs::boolean(std::string_view name) const {
  const ParamValue& v = value(name);
  if (v.kind != ParamValue::Kind::kBool) fail(name, fmt::format("expected true or false, got {}", v.described()));
  return v.boolean;
}

double OpArgs::number(std::string_view name, double min, double max) const {
  const ParamValue& v = value(name);
  if (v.kind != ParamValue::Kind::kNumber) fail(name, fmt::format("expected a number, got {}", v.described()));
  if (!(v.number >= min && v.number <= max))
    fail(name, fmt::format("{:g} is outside [{:g}, {:g}]", v.number, min, max));
  if (!std::isfinite(v.number)) fail(name, fmt::format("{:g}: must be finite", v.number));
  return v.number;
}

int64_t OpArgs::integer(std::string_view name, int64_t min, int64_t max) const {
  const double x = number(name, double(min), double(max));
  if (x != std::floor(x)) fail(name, fmt::format("expected an integer, got {:g}", x));
  return static_cast<int64_t>(x);
}

std::pair<double, double> OpArgs::range(
    std::string_view name, double min, double max,
    const std::function<std::pair<double, double>(double)>& from_single) const {
  const ParamValue& v = value(name);
  std::pair<double, double> r;
  if (v.kind == ParamValue::Kind::kNumber) {
    r = from_single(v.number);
  } else if (v.kind == ParamValue::Kind::kList && v.list.size() == 2) {
    r = {v.list[0], v.list[1]};
  } else {
    fail(name, fmt::format("expected a number or [min, max], got {}", v.described()));
  }
  if (!(r.first >= min && r.second <= max && r.first <= r.second))
    fail(name, fmt::format("range [{:g}, {:g}] must lie in [{:g}, {:g}] with min <= max", r.first,
                           r.second, min, max));
  // An unbounded parameter (max inf) is still finite: an infinite factor draws inf, which a
  // record cannot hold (JSON has no inf) nor a replay take back.
  if (!std::isfinite(r.first) || !std::isfinite(r.second))
    fail(name, fmt::format("range [{:g}, {:g}] must be finite", r.first, r.second));
  return r;
}

std::pair<int64_t, int64_t> OpArgs::int_pair(std::string_view name, int64_t min, int64_t max) const {
  const ParamValue& v = value(name);
  std::vector<double> xs;
  if (v.kind == ParamValue::Kind::kNumber) xs = {v.number, v.number};
  else if (v.kind == ParamValue::Kind::kList && (v.list.size() == 1 || v.list.size() == 2))
    xs = v.list.size() == 1 ? std::vector<double>{v.list[0], v.list[0]} : v.list;
  else fail(name, fmt::format("expected an integer or [a, b], got {}", v.described()));
  for (double x : xs)
    if (x != std::floor(x) || x < double(min) || x > double(max))
      fail(name, fmt::format("{:g} must be an integer in [{}, {}]", x, min, max));
  return {static_cast<int64_t>(xs[0]), static_cast<int64_t>(xs[1])};
}

std::vector<double> OpArgs::numbers(std::string_view name, size_t min_count, size_t max_count,
                                    double min, double max) const {
  const ParamValue& v = value(name);
  std::vector<double> xs;
  if (v.kind == ParamValue::Kind::kNumber) xs = {v.number};
  else if (v.kind == ParamValue::Kind::kList) xs = v.list;
  else fail(name, fmt::format("expected a number or a list of numbers, got {}", v.described()));
  if (xs.size() < min_count || xs.size() > max_count)
    fail(name, fmt::format("expected {} to {} numbers, got {}", min_count, max_count, xs.size()));
  for (double x : xs) {
    if (!(x >= min && x <= max)) fail(name, fmt::format("{:g} is outside [{:g}, {:g}]", x, min, max));
    if (!std::isfinite(x)) fail(name, fmt::format("{:g}: must be finite", x));
  }
  return xs;
}

std::string OpArgs::choice(std::string_view name, const std::vector<std::string>& choices) const {
  const ParamValue& v = value(name);
  if (v.kind == ParamValue::Kind::kString &&
      std::find(choices.begin(), choices.end(), v.text) != choices.end())
    return v.text;
  fail(name, fmt::format("expected one of {}, got {}", fmt::join(choices, ", "), v.to_string()));
}

std::array<float, 3> OpArgs::fill(std::string_view name) const {
  const std::vector<double> xs = numbers(name, 1, 3, 0.0, 255.0);
  if (xs.size() == 2) fail(name, "expected one value or three (R, G, B)");
  if (xs.size() == 1) return {float(xs[0]), float(xs[0]), float(xs[0])};
  return {float(xs[0]), float(xs[1]), float(xs[2])};
}

Interp OpArgs::interpolation(std::string_view name) const {
  const std::string mode = choice(name, {"nearest", "bilinear", "bicubic"});
  if (mode == "nearest") return Interp::kNearest;
  return mode == "bicubic" ? Interp::kBicubic : Interp::kBilinear;
}

ParamSpec p_param(double default_p) {
  return {"p", "float", ParamValue::of(default_p), "probability that the op is applied to a sample"};
}

ParamSpec fill_param() {
  return {"fill", "float | [float, float, float]", ParamValue::of(0.0),
          "value of pixels from outside the image, 0..255 per channel"};
}

ParamSpec interpolation_param(const char* default_name) {
  return {"interpolation", "nearest | bilinear | bicubic", ParamValue::of(std::string(default_name)),
          "resampling filter"};
}

}  // namespace gpuaug::ops
