// Spec parsing: both op forms, JSON text, the seed/decode/output keys, and error messages that
// name the spec, the stage "spec" and the line of the offending key.
#include <gtest/gtest.h>

#include <string>

#include "../common/references.h"
#include "pipeline/chain.h"
#include "pipeline/spec.h"

namespace gpuaug::pipeline {
namespace {

using gpuaug_test::expect_error;
using ops::ParamValue;

const ParamValue* param(const OpSpec& op, const std::string& key) {
  for (const auto& [k, v] : op.params)
    if (k == key) return &v;
  return nullptr;
}

TEST(ParseSpec, BothOpFormsAndAllKeys) {
  const Spec spec = parse_spec(
      "seed: 1234\n"                                  // 1
      "decode:\n"                                     // 2
      "  dct_scaling: false\n"                        // 3
      "  max_pixels: 1000000\n"                       // 4
      "ops:\n"                                        // 5
      "  - random_resized_crop: {size: [17, 19], scale: [0.5, 1.0]}\n"  // 6
      "  - {op: horizontal_flip, p: 0.25}\n"          // 7
      "  - to_dtype:\n"                               // 8
      "      dtype: 'float16'\n"                      // 9
      "  - grayscale:\n"                              // 10
      "output:\n"                                     // 11
      "  layout: HWC\n",                              // 12
      "aug.yaml");
  EXPECT_EQ(spec.name, "aug.yaml");
  EXPECT_EQ(spec.seed, 1234u);
  EXPECT_FALSE(spec.decode.dct_scaling);
  EXPECT_EQ(spec.decode.max_pixels, 1000000u);
  EXPECT_EQ(spec.output.layout, Layout::kHWC);
  ASSERT_EQ(spec.ops.size(), 4u);

  EXPECT_EQ(spec.ops[0].name, "random_resized_crop");
  EXPECT_EQ(spec.ops[0].line, 6);
  const ParamValue* size = param(spec.ops[0], "size");
  ASSERT_NE(size, nullptr);
  EXPECT_EQ(size->kind, ParamValue::Kind::kList);
  EXPECT_EQ(size->list, (std::vector<double>{17, 19}));
  EXPECT_EQ(size->line, 6);

  EXPECT_EQ(spec.ops[1].name, "horizontal_flip");
  EXPECT_EQ(spec.ops[1].line, 7);
  ASSERT_EQ(spec.ops[1].params.size(), 1u);  // "op" is not a parameter
  EXPECT_EQ(param(spec.ops[1], "p")->number, 0.25);

  EXPECT_EQ(spec.ops[2].name, "to_dtype");
  const ParamValue* dtype = param(spec.ops[2], "dtype");
  ASSERT_NE(dtype, nullptr);
  EXPECT_EQ(dtype->kind, ParamValue::Kind::kString);
  EXPECT_EQ(dtype->text, "float16");
  EXPECT_EQ(dtype->line, 9);

  EXPECT_EQ(spec.ops[3].name, "grayscale");
  EXPECT_TRUE(spec.ops[3].params.empty());
  EXPECT_NO_THROW(Chain{spec});
}

TEST(ParseSpec, DefaultsWhenKeysAreAbsent) {
  const Spec spec = parse_spec("ops:\n", "empty.yaml");
  EXPECT_EQ(spec.seed, 0u);
  EXPECT_TRUE(spec.decode.dct_scaling);
  EXPECT_EQ(spec.decode.max_pixels, codec::kDefaultMaxPixels);
  EXPECT_EQ(spec.output.layout, Layout::kCHW);
  EXPECT_TRUE(spec.ops.empty());
}

TEST(ParseSpec, ScalarKinds) {
  const Spec spec = parse_spec(
      "ops:\n"
      "  - rotate: {degrees: 10, expand: true, center: null, interpolation: bilinear, fill: [1, 2.5, 3]}\n",
      "s.yaml");
  const OpSpec& op = spec.ops.at(0);
  EXPECT_EQ(param(op, "degrees")->kind, ParamValue::Kind::kNumber);
  EXPECT_EQ(param(op, "expand")->kind, ParamValue::Kind::kBool);
  EXPECT_TRUE(param(op, "expand")->boolean);
  EXPECT_EQ(param(op, "center")->kind, ParamValue::Kind::kNull);
  EXPECT_EQ(param(op, "interpolation")->kind, ParamValue::Kind::kString);
  EXPECT_EQ(param(op, "fill")->list, (std::vector<double>{1, 2.5, 3}));
}

TEST(ParseSpec, JsonText) {
  const Spec spec = parse_spec(
      "{\n"
      "  \"seed\": 7,\n"
      "  \"decode\": {\"dct_scaling\": true, \"max_pixels\": 4096},\n"
      "  \"ops\": [\n"
      "    {\"op\": \"resize\", \"size\": [8, 9], \"interpolation\": \"nearest\", \"antialias\": false},\n"
      "    {\"center_crop\": {\"size\": 5}}\n"
      "  ],\n"
      "  \"output\": {\"layout\": \"CHW\"}\n"
      "}\n",
      "aug.json");
  EXPECT_EQ(spec.seed, 7u);
  EXPECT_TRUE(spec.decode.dct_scaling);
  EXPECT_EQ(spec.decode.max_pixels, 4096u);
  EXPECT_EQ(spec.output.layout, Layout::kCHW);
  ASSERT_EQ(spec.ops.size(), 2u);
  EXPECT_EQ(spec.ops[0].name, "resize");
  EXPECT_EQ(spec.ops[0].line, 5);
  EXPECT_EQ(param(spec.ops[0], "interpolation")->text, "nearest");
  EXPECT_EQ(param(spec.ops[0], "antialias")->kind, ParamValue::Kind::kBool);
  EXPECT_FALSE(param(spec.ops[0], "antialias")->boolean);
  EXPECT_EQ(spec.ops[1].name, "center_crop");
  EXPECT_EQ(param(spec.ops[1], "size")->number, 5);
  EXPECT_NO_THROW(Chain{spec});
}

TEST(ParseSpec, LargeSeedsKeepEveryBit) {
  // A 64-bit seed must not pass through a double.
  EXPECT_EQ(parse_spec("seed: 9007199254740993\n", "seed.yaml").seed, 9007199254740993ull);
  EXPECT_EQ(parse_spec("seed: 18446744073709551615\n", "seed.yaml").seed, 18446744073709551615ull);
}

// Each error: "<spec>: spec: line N: <cause>".
void expect_spec_error(const std::string& text, int line, const std::vector<std::string>& parts,
                       bool through_chain = false) {
  const Error e = expect_error([&] {
    const Spec spec = parse_spec(text, "bad.yaml");
    if (through_chain) Chain chain(spec);
  });
  const std::string what = e.what();
  EXPECT_EQ(e.file(), "bad.yaml") << what;
  EXPECT_EQ(e.stage(), "spec") << what;
  EXPECT_EQ(what.rfind("bad.yaml: spec: line " + std::to_string(line) + ": ", 0), 0u) << what;
  for (const std::string& part : parts) EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' in: " << what;
}

TEST(SpecErrors, UnknownTopLevelKey) {
  expect_spec_error("seed: 1\nsed: 2\nops:\n", 2, {"unknown key 'sed'", "valid keys: seed, decode, ops, output"});
}

TEST(SpecErrors, UnknownDecodeAndOutputKeys) {
  expect_spec_error("decode:\n  dct: true\n", 2, {"unknown key 'dct' in decode", "dct_scaling, max_pixels"});
  expect_spec_error("ops:\noutput:\n  dtype: float32\n", 3, {"unknown key 'dtype' in output", "layout"});
}

// By default every JPEG the exact GPU decoder suits is its (libjpeg-turbo's pixels, the fastest
// on the H100); nvJPEG takes a share only when asked, and the exact decoder then what it leaves,
// unless exact_share says otherwise (the CPU threads take the rest).
TEST(ParseSpec, DecoderSharesInEighths) {
  EXPECT_EQ(Spec().decode.gpu_eighths(), 0);
  EXPECT_EQ(Spec().decode.exact_eighths(), 8);
  EXPECT_EQ(parse_spec("decode: {dct_scaling: false}\n", "s.yaml").decode.exact_eighths(), 8);
  EXPECT_EQ(parse_spec("decode: {gpu_share: 0.625}\n", "s.yaml").decode.exact_eighths(), 3);
  EXPECT_EQ(parse_spec("decode: {gpu_share: 1.0}\n", "s.yaml").decode.exact_eighths(), 0);
  EXPECT_EQ(parse_spec("decode: {exact_share: 0}\n", "s.yaml").decode.exact_eighths(), 0);
  EXPECT_EQ(parse_spec("decode: {gpu_share: 0.25, exact_share: 0.5}\n", "s.yaml").decode.exact_eighths(), 4);
  EXPECT_EQ(parse_spec("decode: {exact_share: 0.5, gpu_share: 0.5}\n", "s.yaml").decode.gpu_eighths(), 4);
  expect_spec_error("decode:\n  gpu_share: 0.75\n  exact_share: 0.5\n", 3, {"decode.exact_share", "may not pass 1"});
  expect_spec_error("decode:\n  exact_share: 2\n", 2, {"decode.exact_share: expected a number from 0 to 1"});
  EXPECT_EQ(parse_spec("decode: {gpu_share: 1.0}\n", "s.yaml").decode.gpu_eighths(), 8);
  EXPECT_EQ(parse_spec("decode: {gpu_share: 0}\n", "s.yaml").decode.gpu_eighths(), 0);
  EXPECT_EQ(parse_spec("decode: {gpu_share: 0.3}\n", "s.yaml").decode.gpu_eighths(), 2);
  expect_spec_error("decode:\n  gpu_share: 1.5\n", 2, {"decode.gpu_share: expected a number from 0 to 1"});
  expect_spec_error("decode:\n  gpu_share: half\n", 2, {"decode.gpu_share"});
}

TEST(SpecErrors, UnknownOpListsValidOps) {
  expect_spec_error("ops:\n  - resize: {size: 4}\n  - resise: {size: 4}\n", 3,
                    {"unknown op 'resise'", "valid ops: ", "center_crop", "random_resized_crop", "vertical_flip"});
  expect_spec_error("ops:\n  - {op: blurr, p: 1}\n", 2, {"unknown op 'blurr'", "gaussian_blur"});
}

TEST(SpecErrors, UnknownParameterListsValidOnes) {
  expect_spec_error(
      "seed: 1\n"
      "ops:\n"
      "  - resize:\n"
      "      size: 17\n"
      "      sizee: 3\n",
      5, {"resize: unknown parameter 'sizee'", "valid parameters: size, interpolation, max_size, antialias"}, true);
  expect_spec_error("ops:\n  - horizontal_flip: {p: 0.5}\n  - {op: vertical_flip, q: 1}\n", 3,
                    {"vertical_flip: unknown parameter 'q'", "valid parameters: p"}, true);
}

TEST(SpecErrors, WrongType) {
  expect_spec_error("ops:\n  - horizontal_flip:\n      p: yes please\n", 3,
                    {"horizontal_flip.p", "expected a number, got the text 'yes please'"}, true);
  expect_spec_error("ops:\n\n  - resize: {size: [1, 2], antialias: 3}\n", 3,
                    {"resize.antialias", "expected true or false, got 3"}, true);
  expect_spec_error("ops:\n  - resize: {size: {h: 3}}\n", 2, {"resize.size", "not a mapping"});
  expect_spec_error("seed: -3\n", 1, {"seed: expected an integer from 0 to 18446744073709551615"});
  expect_spec_error("seed: 1.5\n", 1, {"seed: expected an integer from 0 to 18446744073709551615"});
  expect_spec_error("decode:\n  dct_scaling: 1\n", 2, {"decode.dct_scaling: expected true or false"});
  expect_spec_error("output:\n  layout: WHC\n", 2, {"output.layout: expected HWC or CHW"});
  expect_spec_error("ops:\n  resize: 3\n", 2, {"ops: expected a list"});
}

TEST(SpecErrors, MaxPixelsMustBeAnIntegerInRange) {
  expect_spec_error("decode:\n  max_pixels: 1.5\n", 2, {"decode.max_pixels: expected a positive integer"});
  expect_spec_error("decode:\n  max_pixels: 1e30\n", 2, {"decode.max_pixels: expected a positive integer"});
}

TEST(SpecErrors, OutOfRange) {
  expect_spec_error("ops:\n  - horizontal_flip:\n      p: 1.5\n", 3, {"horizontal_flip.p", "1.5 is outside [0, 1]"}, true);
  expect_spec_error("ops:\n  - {op: rotate,\n     degrees: 400}\n", 3, {"rotate.degrees", "must lie in [-360, 360]"}, true);
  expect_spec_error("ops:\n  - resize: {size: 0}\n", 2, {"resize.size", "0 must be an integer in [1, 65536]"}, true);
}

TEST(SpecErrors, ChainOrderAndYamlSyntax) {
  expect_spec_error("ops:\n  - normalize: {}\n  - resize: {size: 4}\n", 3,
                    {"resize comes after normalize (line 2)"}, true);
  const Error e = expect_error([] { parse_spec("ops: [resize: {size: 3}\n", "broken.yaml"); });
  EXPECT_EQ(e.file(), "broken.yaml");
  EXPECT_EQ(e.stage(), "spec");
  EXPECT_NE(std::string(e.what()).find("line "), std::string::npos) << e.what();
  const Error empty = expect_error([] { parse_spec("", "empty.yaml"); });
  EXPECT_STREQ(empty.what(), "empty.yaml: spec: empty spec: it needs at least `ops:`");
}

// Found by tests/fuzz/fuzz_spec (regressions/fuzz_spec/flow_key_is_a_list): a key, an op name
// or a layout written as a list or a mapping escaped as yaml-cpp's "bad conversion" instead of
// a gpuaug::Error; the top-level keys were even checked outside the parser's try.
TEST(SpecErrors, KeysAndNamesMustBeNames) {
  expect_spec_error("seed: 0\n? [a, b]\n: 1\nops: []\n", 2, {"key: expected a name, not a list"});
  expect_spec_error("{\"seed\": 1, &a\"ops\": [{\"op\":B \"resize\"}]}\n", 1,
                    {"key: expected a name, not a list"});
  expect_spec_error("decode: {? {gpu: 1} : true}\nops: []\n", 1, {"key: expected a name, not a mapping"});
  expect_spec_error("ops:\n  - {op: [resize], size: 3}\n", 2, {"op: expected a name, not a list"});
  expect_spec_error("ops:\n  - {op: resize, [size]: 3}\n", 2, {"key: expected a name, not a list"});
  expect_spec_error("ops:\n  - resize: {[size]: 3}\n", 2, {"key: expected a name, not a list"});
  expect_spec_error("ops:\n  - ? {a: 1}\n    : {size: 3}\n", 2, {"op: expected a name, not a mapping"});
  expect_spec_error("ops: []\noutput: {layout: {a: 1}}\n", 2, {"output.layout: expected a name, not a mapping"});
}

TEST(LoadSpec, ReadsAFileAndNamesAMissingOne) {
  const Error e = expect_error([] { load_spec("/nonexistent/gpuaug/spec.yaml"); });
  EXPECT_EQ(e.file(), "/nonexistent/gpuaug/spec.yaml");
  EXPECT_EQ(e.stage(), "spec");
}

}  // namespace
}  // namespace gpuaug::pipeline
