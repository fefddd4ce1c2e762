// Device names: one device, lists with repeats, cuda:all sharing GPUs among a machine's
// processes, and errors that say what is expected.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "core/cuda_runtime_info.h"
#include "core/device.h"
#include "core/error.h"

namespace gpuaug {
namespace {

std::vector<int> indices(const std::vector<Device>& devices) {
  std::vector<int> out;
  for (const Device& d : devices) {
    EXPECT_TRUE(d.cuda);
    out.push_back(d.index);
  }
  return out;
}

TEST(ParseDevice, OneDevice) {
  EXPECT_FALSE(parse_device("cpu").cuda);
  EXPECT_EQ(parse_device("cuda").name(), "cuda:0");
  EXPECT_EQ(parse_device("cuda:3").name(), "cuda:3");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:1,2", "cuda:all", "cuda:1234", "CUDA"})
    EXPECT_THROW(parse_device(bad), Error) << bad;
}

TEST(ParseDevices, ListsKeepOrderAndRepeats) {
  EXPECT_EQ(parse_devices("cpu").size(), 1u);
  EXPECT_FALSE(parse_devices("cpu")[0].cuda);
  EXPECT_EQ(indices(parse_devices("cuda:2")), (std::vector<int>{2}));
  EXPECT_EQ(indices(parse_devices("cuda:0,2")), (std::vector<int>{0, 2}));
  EXPECT_EQ(indices(parse_devices("cuda:1,0,1")), (std::vector<int>{1, 0, 1}));
  // Explicit indices are what the user wrote, whatever the local rank.
  EXPECT_EQ(indices(parse_devices("cuda:0,2", 1, 2)), (std::vector<int>{0, 2}));
  EXPECT_EQ(device_list_name(parse_devices("cuda:0,2")), "cuda:0,2");
  EXPECT_EQ(device_list_name(parse_devices("cpu")), "cpu");
}

TEST(ParseDevices, MalformedListsSayWhatIsExpected) {
  for (const char* bad : {"cuda:0,", "cuda:,1", "cuda:0,,1", "cuda:a", "cuda:alll", "gpu:0", "cuda:0;1"}) {
    try {
      parse_devices(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.stage(), "device");
      EXPECT_NE(e.cause().find("cuda:all"), std::string::npos) << e.what();
      EXPECT_NE(e.cause().find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(ParseDevices, CudaAllAndLocalRanks) {
  const int visible = int(cuda_devices().size());
  if (visible == 0) {
    EXPECT_THROW(parse_devices("cuda:all"), Error);
    // "cuda" still names cuda:0, whose executor then says there is no GPU.
    EXPECT_EQ(indices(parse_devices("cuda", 1, 2)), (std::vector<int>{0}));
    return;
  }
  std::vector<int> all;
  for (int i = 0; i < visible; ++i) all.push_back(i);
  EXPECT_EQ(indices(parse_devices("cuda:all")), all);
  // Two processes on the machine: disjoint halves that cover every GPU (or one GPU each, shared).
  const std::vector<int> first = indices(parse_devices("cuda:all", 0, 2));
  const std::vector<int> second = indices(parse_devices("cuda:all", 1, 2));
  if (visible >= 2) {
    std::vector<int> both = first;
    both.insert(both.end(), second.begin(), second.end());
    std::sort(both.begin(), both.end());
    EXPECT_EQ(both, all);
  } else {
    EXPECT_EQ(first, std::vector<int>{0});
    EXPECT_EQ(second, std::vector<int>{0});
  }
  EXPECT_EQ(indices(parse_devices("cuda", 3, 4)), (std::vector<int>{3 % visible}));
}

}  // namespace
}  // namespace gpuaug
