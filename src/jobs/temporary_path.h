// The temporary a whole-file write goes through beside its final name, marked for remove_temporaries.
#pragma once

#include <string>

namespace gpuaug::jobs {

// "<path>.gpuaug-tmp-<pid>-<n>", or, where that name would pass NAME_MAX (255 bytes),
// ".<hash of the name>.gpuaug-tmp-<pid>-<n>" in the same folder: a legal long output name had no
// room for the suffix ("File name too long").
std::string temporary_path(const std::string& path);

}  // namespace gpuaug::jobs
