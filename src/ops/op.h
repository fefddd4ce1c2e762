// Op and OpDescriptor: how an operator describes itself (name, parameters, defaults, docs,
// what it draws) and how it draws a sample's parameters and folds them into a SampleFold.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/random.h"
#include "ops/fold.h"

namespace gpuaug::ops {

// A parameter value as written in a spec (YAML, JSON, Python): null, bool, number, list of
// numbers or string. `line` is the spec line for error messages (0 when unknown).
struct ParamValue {
  enum class Kind { kNull, kBool, kNumber, kList, kString };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0.0;
  std::vector<double> list;
  std::string text;
  int line = 0;

  static ParamValue null() { return {}; }
  static ParamValue of(bool b) { ParamValue v; v.kind = Kind::kBool; v.boolean = b; return v; }
  static ParamValue of(double x) { ParamValue v; v.kind = Kind::kNumber; v.number = x; return v; }
  static ParamValue of(std::vector<double> xs) { ParamValue v; v.kind = Kind::kList; v.list = std::move(xs); return v; }
  static ParamValue of(std::string s) { ParamValue v; v.kind = Kind::kString; v.text = std::move(s); return v; }
  std::string to_string() const;  // as YAML would show it
  std::string described() const;  // for "got ..." in errors: text quoted and called text
};

struct ParamSpec {
  std::string name;
  std::string type;  // for docs and errors: "float", "[float, float]", "int | [int, int]", ...
  ParamValue default_value;
  std::string doc;
};

// The parameters drawn for one sample, under torchvision.transforms.v2.functional's argument
// names. Fixed capacity: drawing allocates nothing.
struct Drawn {
  struct Entry {
    const char* key = nullptr;
    std::array<double, 4> v{};
    uint8_t n = 0;
  };
  bool applied = true;
  std::array<Entry, 8> entries{};
  uint8_t count = 0;

  void set(const char* key, double value) { set(key, {value}); }
  void set(const char* key, std::initializer_list<double> values) {
    set_values(key, values.begin(), values.size());
  }
  void set_values(const char* key, const double* values, size_t n);
  const Entry* find(std::string_view key) const;
  double get(std::string_view key, double fallback = 0.0) const;
};

class OpArgs;
class Op;

struct OpDescriptor {
  std::string name;         // torchvision.transforms.v2 class name in snake_case
  std::string summary;      // one line for `gpuaug ops` and docstrings
  std::string reference;    // the torchvision function it matches
  std::vector<ParamSpec> params;
  std::vector<std::string> drawn;  // keys it records per sample
  std::function<std::unique_ptr<Op>(const OpArgs&)> make;
  // Geometric ops fold into the resampling; the pixel program runs after all of them, so a
  // chain may not place noise, blur or erasing before one (docs/design.md).
  bool geometric = false;
};

// Given and default values of one op instance, with checked accessors whose errors name
// the op, the parameter and the spec line.
class OpArgs {
 public:
  OpArgs(const OpDescriptor& descriptor, std::vector<std::pair<std::string, ParamValue>> given,
         int line);

  const OpDescriptor& descriptor() const { return *descriptor_; }
  const ParamValue& value(std::string_view name) const;
  bool is_null(std::string_view name) const { return value(name).kind == ParamValue::Kind::kNull; }

  bool boolean(std::string_view name) const;
  double number(std::string_view name, double min, double max) const;
  int64_t integer(std::string_view name, int64_t min, int64_t max) const;
  // A number v or a pair [a, b], each in [min, max]; v becomes `from_single(v)`.
  std::pair<double, double> range(std::string_view name, double min, double max,
                                  const std::function<std::pair<double, double>(double)>& from_single) const;
  // An int v or [a, b]: v -> (v, v).
  std::pair<int64_t, int64_t> int_pair(std::string_view name, int64_t min, int64_t max) const;
  // A number or a list of `min_count..max_count` numbers each in [min, max].
  std::vector<double> numbers(std::string_view name, size_t min_count, size_t max_count,
                              double min, double max) const;
  std::string choice(std::string_view name, const std::vector<std::string>& choices) const;
  // Three fill values in the uint8 domain from a number or a list of 1 or 3.
  std::array<float, 3> fill(std::string_view name) const;
  Interp interpolation(std::string_view name) const;

  [[noreturn]] void fail(std::string_view name, const std::string& cause) const;

 private:
  const OpDescriptor* descriptor_;
  std::vector<std::pair<std::string, ParamValue>> given_;
  int line_;
};

class Op {
 public:
  virtual ~Op() = default;
  // Parameters for one sample, drawn from `rng` given the image as the chain has made it so far.
  virtual Drawn draw(RandomStream& rng, const SampleFold& fold) const = 0;
  // Folds drawn (or replayed) parameters into the sample's plan.
  virtual void fold(const Drawn& drawn, SampleFold& fold) const = 0;
  // local_crops turns one image into this many output samples; others 0.
  virtual int fanout() const { return 0; }
  // What the op does to a sample's geometry, for the chain's checks of what one plan holds
  // (fold.h: kMaxEdges, kMaxFills): a pad with a fill, a mirrored pad (edge, reflect,
  // symmetric), a crop that may reach past the image (F.crop's zeros), a resize, a warp (with
  // its own fill).
  enum class GeometryRole : uint8_t { kNone, kPad, kMirrorPad, kCrop, kResize, kWarp };
  virtual GeometryRole geometry_role() const { return GeometryRole::kNone; }

  const OpDescriptor& descriptor() const { return *descriptor_; }
  uint16_t index() const { return index_; }
  void bind(const OpDescriptor* descriptor, uint16_t index) { descriptor_ = descriptor; index_ = index; }

 private:
  const OpDescriptor* descriptor_ = nullptr;
  uint16_t index_ = 0;
};

// Shared parameter docs, so that every op with `p` or `fill` says it the same way.
ParamSpec p_param(double default_p);
ParamSpec fill_param();
ParamSpec interpolation_param(const char* default_name);

}  // namespace gpuaug::ops
