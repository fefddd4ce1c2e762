// record_line's JSON shape, and replay: lines written, loaded by ReplayTable and run through
// Augmenter give the same drawn parameters and the same tensor bytes; load errors name the
// record file, stage "replay" and the line.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "../common/references.h"
#include "codec/encoder.h"
#include "pipeline/augmenter.h"
#include "pipeline/record.h"

namespace gpuaug::pipeline {
namespace {

namespace fs = std::filesystem;
using gpuaug_test::expect_error;
using json = nlohmann::json;

// A file path in a fresh folder for this test, removed at the end.
class TempFile {
 public:
  explicit TempFile(const std::string& name) {
    static std::atomic<int> counter{0};
    dir_ = fs::temp_directory_path() /
           ("gpuaug_record_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(dir_);
    path_ = (dir_ / name).string();
  }
  ~TempFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }
  void write(const std::string& text) const { std::ofstream(path_, std::ios::binary) << text; }

 private:
  fs::path dir_;
  std::string path_;
};

std::set<std::string> keys_of(const json& j) {
  std::set<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.insert(it.key());
  return keys;
}

TEST(RecordLine, Shape) {
  const Chain chain(parse_spec(
      "ops:\n  - random_resized_crop: {size: [16, 12]}\n  - horizontal_flip: {p: 1}\n"
      "  - rotate: {degrees: [10, 20]}\n  - to_dtype: {dtype: float32}\n",
      "r.yaml"));
  const auto plans = chain.plan(RandomKey::from(3, 2), 41, 1, 300, 200);
  const json line = record_line("a/b.jpg", plans.at(0).id, 3, 2, false, plans.at(0).drawn);
  EXPECT_EQ(keys_of(line), (std::set<std::string>{"file", "index", "seed", "epoch", "copy", "ops"}));
  EXPECT_EQ(line["file"], "a/b.jpg");
  EXPECT_EQ(line["index"], 41);
  EXPECT_EQ(line["seed"], 3);
  EXPECT_EQ(line["epoch"], 2);
  EXPECT_EQ(line["copy"], 1);
  const json& ops = line["ops"];
  ASSERT_TRUE(ops.is_array());
  ASSERT_EQ(ops.size(), 4u);

  EXPECT_EQ(keys_of(ops[0]), (std::set<std::string>{"op", "applied", "top", "left", "height", "width", "size"}));
  EXPECT_EQ(ops[0]["op"], "random_resized_crop");
  EXPECT_EQ(ops[0]["applied"], true);
  for (const char* k : {"top", "left", "height", "width"}) EXPECT_TRUE(ops[0][k].is_number_integer()) << k;
  EXPECT_EQ(ops[0]["size"], json::array({16, 12}));
  EXPECT_LE(ops[0]["top"].get<int>() + ops[0]["height"].get<int>(), 200);
  EXPECT_LE(ops[0]["left"].get<int>() + ops[0]["width"].get<int>(), 300);

  EXPECT_EQ(keys_of(ops[1]), (std::set<std::string>{"op", "applied"}));
  EXPECT_EQ(ops[1]["op"], "horizontal_flip");

  EXPECT_EQ(ops[2]["op"], "rotate");
  ASSERT_TRUE(ops[2]["angle"].is_number());
  EXPECT_GE(ops[2]["angle"].get<double>(), 10.0);
  EXPECT_LT(ops[2]["angle"].get<double>(), 20.0);
  EXPECT_EQ(keys_of(ops[3]), (std::set<std::string>{"op", "applied"}));
  // One line of JSON text.
  EXPECT_EQ(line.dump().find('\n'), std::string::npos);
}

TEST(RecordLine, CropIsZeroBased) {
  const Chain chain(parse_spec("ops:\n  - local_crops: {n: 3, size: 8}\n", "l.yaml"));
  const auto plans = chain.plan(RandomKey::from(1, 0), 5, 0, 100, 80);
  ASSERT_EQ(plans.size(), 3u);
  for (size_t j = 0; j < 3; ++j) {
    const json line = record_line("x.png", plans[j].id, 1, 0, true, plans[j].drawn);
    EXPECT_EQ(line["crop"], j);
  }
}

using gpuaug_test::same_drawn;

std::vector<std::byte> bytes_of(const Tensor& t) {
  return std::vector<std::byte>(t.data.data(), t.data.data() + t.data.size());
}

void round_trip(const std::string& ops_text, bool crops) {
  const std::vector<uint8_t> png = codec::encode_png(gpuaug_test::make_image(47, 35));
  const Augmenter recorder(parse_spec("seed: 5\n" + ops_text, "rec.yaml"));
  std::string text;
  std::vector<AugmentedSample> originals;
  const uint64_t epoch = 4;
  for (uint64_t index = 0; index < 4; ++index)
    for (uint32_t copy = 0; copy < 2; ++copy)
      for (auto& sample : recorder.run(png, "img.png", index, copy, epoch)) {
        text += record_line("img.png", sample.plan.id, 5, epoch, crops, sample.plan.drawn).dump() + "\n";
        originals.push_back(std::move(sample));
      }
  TempFile file("record.jsonl");
  file.write(text);
  // Another seed: every parameter must come from the record.
  const Augmenter replayer(parse_spec("seed: 999\n" + ops_text, "rec.yaml"));
  const ReplayTable table = ReplayTable::load(file.path(), replayer.chain());
  EXPECT_EQ(table.epoch(), epoch);
  ASSERT_EQ(table.entries().size(), originals.size());
  const ReplayLookup lookup = [&](const SampleId& id) { return table.find(id); };
  size_t k = 0;
  for (uint64_t index = 0; index < 4; ++index)
    for (uint32_t copy = 0; copy < 2; ++copy)
      for (const auto& sample : replayer.run(png, "img.png", index, copy, epoch, &lookup)) {
        ASSERT_LT(k, originals.size());
        const AugmentedSample& original = originals[k++];
        EXPECT_EQ(sample.plan.id.index, original.plan.id.index);
        EXPECT_EQ(sample.plan.id.copy, original.plan.id.copy);
        EXPECT_EQ(sample.plan.id.crop, original.plan.id.crop);
        ASSERT_EQ(sample.plan.drawn.size(), original.plan.drawn.size());
        for (size_t i = 0; i < sample.plan.drawn.size(); ++i)
          EXPECT_TRUE(same_drawn(sample.plan.drawn[i].drawn, original.plan.drawn[i].drawn))
              << "sample " << k << " op " << i;
        EXPECT_EQ(bytes_of(sample.tensor), bytes_of(original.tensor)) << "sample " << k;
      }
  EXPECT_EQ(k, originals.size());
  // An index missing from the record plans nothing.
  EXPECT_TRUE(replayer.run(png, "img.png", 9, 0, epoch, &lookup).empty());
}

TEST(Replay, RoundTripGivesIdenticalTensors) {
  round_trip(
      "ops:\n"
      "  - random_resized_crop: {size: [20, 18], scale: [0.3, 1.0]}\n"
      "  - horizontal_flip: {}\n"
      "  - rotate: {degrees: 25, p: 0.7, interpolation: bilinear}\n"
      "  - color_jitter: {brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1}\n"
      "  - grayscale: {p: 0.3, num_output_channels: 3}\n"
      "  - random_erasing: {p: 0.6, value: 7}\n"
      "  - to_dtype: {dtype: float16}\n",
      false);
}

TEST(Replay, RoundTripWithLocalCrops) {
  round_trip(
      "ops:\n"
      "  - vertical_flip: {}\n"
      "  - random_affine: {degrees: 15, translate: [0.1, 0.1], scale: [0.8, 1.2], shear: 5}\n"
      "  - local_crops: {n: 3, size: 12}\n"
      "  - horizontal_flip: {}\n",
      true);
}

void expect_replay_error(const std::string& text, const std::string& expected_start,
                         const std::string& spec = "ops:\n  - horizontal_flip: {}\n  - resize: {size: 8}\n") {
  TempFile file("bad.jsonl");
  file.write(text);
  const Chain chain(parse_spec(spec, "s.yaml"));
  const Error e = expect_error([&] { ReplayTable::load(file.path(), chain); });
  EXPECT_EQ(e.file(), file.path());
  EXPECT_EQ(e.stage(), "replay");
  EXPECT_EQ(std::string(e.cause()).rfind(expected_start, 0), 0u) << e.what();
}

TEST(ReplayErrors, NameTheRecordFileAndLine) {
  const std::string good =
      R"({"file": "a.png", "index": 0, "epoch": 1, "copy": 0, "ops": [{"op": "horizontal_flip", "applied": true}, {"op": "resize", "applied": true, "size": [8, 8]}]})";
  expect_replay_error(good + "\n\n{\"file\": \"b.png\", \"index\": 1, \"epoch\": 1, \"ops\": []}\n",
                      "line 3: 0 ops recorded, the spec has 2");
  expect_replay_error(good + "\nnot json\n", "line 2: ");
  expect_replay_error(R"({"file": "a.png", "index": 0, "ops": [{"op": "vertical_flip"}, {"op": "resize"}]})",
                      "line 1: op 0 is 'vertical_flip', the spec has 'horizontal_flip'");
  std::string other_epoch = good;
  other_epoch.replace(other_epoch.find("\"epoch\": 1"), 10, "\"epoch\": 2");
  expect_replay_error(good + "\n" + other_epoch + "\n", "line 2: epoch 2 differs from the first line's 1");
  expect_replay_error(R"({"file": "a.png", "index": 0, "ops": [{"op": "horizontal_flip"}, {"op": "resize", "size": "big"}]})",
                      "line 1: resize.size: expected a number or a list of up to 4 numbers");
  const Error missing = expect_error([] {
    const Chain chain(parse_spec("ops:\n", "s.yaml"));
    ReplayTable::load("/nonexistent/gpuaug/record.jsonl", chain);
  });
  EXPECT_EQ(missing.file(), "/nonexistent/gpuaug/record.jsonl");
  EXPECT_EQ(missing.stage(), "replay");
}

}  // namespace
}  // namespace gpuaug::pipeline
