// Spec parsing with yaml-cpp; every error names the spec, the key and the line.
#include "pipeline/spec.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "core/error.h"
#include "ops/registry.h"

namespace gpuaug::pipeline {

namespace {

int line_of(const YAML::Node& node) { return node.Mark().line >= 0 ? node.Mark().line + 1 : 0; }

[[noreturn]] void fail(const std::string& spec, const YAML::Node& node, const std::string& cause) {
  throw Error(spec, "spec", fmt::format("line {}: {}", line_of(node), cause));
}

// Whether the text holds a second YAML document: a line starting with the marker "---" after
// content, which yaml-cpp's Load ignores. (Its LoadAll would count them, but it loops forever
// on some malformed input: fuzz_spec found ",\x7f".)
bool second_document(const std::string& text) {
  bool content = false;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const bool marker = line.starts_with("---") && (line.size() == 3 || line[3] == ' ' || line[3] == '\t' ||
                                                    line[3] == '\r');
    if (marker && content) return true;
    const size_t first = line.find_first_not_of(" \t\r");
    if (!marker && first != std::string::npos && line[first] != '#') content = true;
  }
  return false;
}

// A decimal number as YAML and JSON write one; strtod alone also takes hex (0x20), "inf", "nan"
// and leading spaces.
bool parse_number(const std::string& text, double& out) {
  if (text.empty() || text.find_first_not_of("0123456789+-.eE") != std::string::npos ||
      text.find_first_of("0123456789") == std::string::npos)
    return false;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end != nullptr && *end == '\0';
}

ops::ParamValue to_param(const std::string& spec, const std::string& key, const YAML::Node& node) {
  ops::ParamValue value;
  if (node.IsNull()) {
    value = ops::ParamValue::null();
  } else if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    double number;
    if (node.Tag() == "!") value = ops::ParamValue::of(text);  // quoted: always a string
    else if (text == "true" || text == "True") value = ops::ParamValue::of(true);
    else if (text == "false" || text == "False") value = ops::ParamValue::of(false);
    else if (parse_number(text, number)) value = ops::ParamValue::of(number);
    else value = ops::ParamValue::of(text);
  } else if (node.IsSequence()) {
    std::vector<double> numbers;
    for (const auto& item : node) {
      double number;
      if (!item.IsScalar() || !parse_number(item.Scalar(), number))
        fail(spec, item, fmt::format("{}: expected a list of numbers", key));
      numbers.push_back(number);
    }
    value = ops::ParamValue::of(std::move(numbers));
  } else {
    fail(spec, node, fmt::format("{}: expected a value or a list, not a mapping", key));
  }
  value.line = line_of(node);
  return value;
}

// A mapping key or a name-valued entry (op, layout) as text. yaml-cpp's as<std::string>()
// throws a bare "bad conversion" for a list or a mapping, outside gpuaug::Error.
std::string name_of(const std::string& spec, const YAML::Node& node, const char* what) {
  if (!node.IsScalar())
    fail(spec, node, fmt::format("{}: expected a name, not {}", what,
                                 node.IsSequence() ? "a list" : node.IsMap() ? "a mapping" : "nothing"));
  return node.Scalar();
}

// yaml-cpp keeps both entries of a key written twice and readers take the first (JSON parsers
// the last): a spec that says two things is refused, naming the key and its second line.
void check_no_repeated_keys(const std::string& spec, const YAML::Node& map, const std::string& where) {
  std::set<std::string> seen;
  for (const auto& entry : map) {
    const std::string key = name_of(spec, entry.first, "key");
    if (!seen.insert(key).second) fail(spec, entry.first, fmt::format("key '{}'{} is given twice", key, where));
  }
}

void check_keys(const std::string& spec, const YAML::Node& map, const std::string& where,
                const std::vector<std::string>& valid) {
  check_no_repeated_keys(spec, map, where);
  for (const auto& entry : map) {
    const std::string key = name_of(spec, entry.first, "key");
    if (std::find(valid.begin(), valid.end(), key) == valid.end())
      fail(spec, entry.first, fmt::format("unknown key '{}'{}; valid keys: {}", key, where,
                                          fmt::join(valid, ", ")));
  }
}

OpSpec parse_op(const std::string& spec, const YAML::Node& node) {
  if (!node.IsMap() || node.size() == 0)
    fail(spec, node, "each entry of ops is `- name: {params}` or `- {op: name, ...}`");
  OpSpec op;
  op.line = line_of(node);
  YAML::Node params;
  if (node["op"]) {
    op.name = name_of(spec, node["op"], "op");
    check_no_repeated_keys(spec, node, "");
    for (const auto& entry : node) {
      const std::string key = name_of(spec, entry.first, "key");
      if (key != "op") op.params.emplace_back(key, to_param(spec, op.name + "." + key, entry.second));
    }
  } else {
    if (node.size() != 1)
      fail(spec, node, "an op entry holds one op name, e.g. `- resize: {size: 256}`");
    const auto entry = *node.begin();
    op.name = name_of(spec, entry.first, "op");
    params = entry.second;
    if (!params.IsNull() && !params.IsMap())
      fail(spec, params, fmt::format("{}: parameters must be a mapping, e.g. {{p: 0.5}}", op.name));
    if (params.IsMap()) check_no_repeated_keys(spec, params, " of " + op.name);
    if (params.IsMap())
      for (const auto& p : params) {
        const std::string key = name_of(spec, p.first, "key");
        op.params.emplace_back(key, to_param(spec, op.name + "." + key, p.second));
        op.params.back().second.line = line_of(p.first);
      }
  }
  if (ops::find_op(op.name) == nullptr)
    fail(spec, node, fmt::format("unknown op '{}'; valid ops: {}", op.name, ops::op_names()));
  return op;
}

}  // namespace

Spec parse_spec(const std::string& text, const std::string& name) {
  YAML::Node root;
  if (second_document(text))
    throw Error(name, "spec", "holds more than one YAML document (split by ---): a spec is one");
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    throw Error(name, "spec", fmt::format("line {}: nested too deeply", e.mark.line + 1));
  } catch (const YAML::Exception& e) {
    throw Error(name, "spec", fmt::format("line {}: {}", e.mark.line + 1, e.msg));
  }
  Spec spec;
  spec.name = name;
  if (root.IsNull()) throw Error(name, "spec", "empty spec: it needs at least `ops:`");
  if (!root.IsMap()) fail(name, root, "a spec is a mapping with keys seed, decode, ops, output");
  try {
    check_keys(name, root, "", {"seed", "decode", "ops", "output", "replacement"});
    if (const YAML::Node replacement = root["replacement"]; replacement && !replacement.IsNull()) {
      if (!replacement.IsScalar() || replacement.Scalar().empty())
        fail(name, replacement, "replacement: expected the path of an image");
      spec.replacement = replacement.Scalar();
    }
    if (root["seed"]) {
      // Read as an integer, never through a double: every one of the 64 bits counts.
      const YAML::Node seed = root["seed"];
      const std::string text = seed.IsScalar() ? seed.Scalar() : std::string();
      char* end = nullptr;
      errno = 0;
      const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      const unsigned long long value = digits ? std::strtoull(text.c_str(), &end, 10) : 0;
      if (!digits || end == nullptr || *end != '\0' || errno == ERANGE)
        fail(name, seed, "seed: expected an integer from 0 to 18446744073709551615");
      spec.seed = value;
    }
    if (const YAML::Node decode = root["decode"]; decode && !decode.IsNull()) {
      if (!decode.IsMap()) fail(name, decode, "decode: expected a mapping");
      check_keys(name, decode, " in decode", {"dct_scaling", "max_pixels", "gpu", "gpu_share", "exact_share"});
      if (decode["gpu_share"]) {
        const auto v = to_param(name, "decode.gpu_share", decode["gpu_share"]);
        if (v.kind != ops::ParamValue::Kind::kNumber || !(v.number >= 0.0 && v.number <= 1.0))
          fail(name, decode["gpu_share"], "decode.gpu_share: expected a number from 0 to 1 (in steps of 1/8)");
        spec.decode.gpu_share = v.number;
      }
      if (decode["exact_share"]) {
        const auto v = to_param(name, "decode.exact_share", decode["exact_share"]);
        if (v.kind != ops::ParamValue::Kind::kNumber || !(v.number >= 0.0 && v.number <= 1.0))
          fail(name, decode["exact_share"], "decode.exact_share: expected a number from 0 to 1 (in steps of 1/8)");
        spec.decode.exact_share = v.number;
        if (spec.decode.gpu_eighths() + spec.decode.exact_eighths() > 8)
          fail(name, decode["exact_share"], "decode.exact_share: with decode.gpu_share it may not pass 1");
      }
      if (decode["gpu"]) {
        const auto v = to_param(name, "decode.gpu", decode["gpu"]);
        if (v.kind != ops::ParamValue::Kind::kBool) fail(name, decode["gpu"], "decode.gpu: expected true or false");
        spec.decode.gpu = v.boolean;
      }
      if (decode["dct_scaling"]) {
        const auto v = to_param(name, "decode.dct_scaling", decode["dct_scaling"]);
        if (v.kind != ops::ParamValue::Kind::kBool) fail(name, decode["dct_scaling"], "decode.dct_scaling: expected true or false");
        spec.decode.dct_scaling = v.boolean;
      }
      if (decode["max_pixels"]) {
        const auto v = to_param(name, "decode.max_pixels", decode["max_pixels"]);
        if (v.kind != ops::ParamValue::Kind::kNumber || v.number < 1 || v.number > 9.0e15 ||
            v.number != std::floor(v.number))
          fail(name, decode["max_pixels"], "decode.max_pixels: expected a positive integer");
        spec.decode.max_pixels = static_cast<uint64_t>(v.number);
      }
    }
    const YAML::Node ops_node = root["ops"];
    if (!ops_node || ops_node.IsNull()) {
      // An empty chain decodes and writes the image as it is.
    } else if (!ops_node.IsSequence()) {
      fail(name, ops_node, "ops: expected a list");
    } else {
      for (const auto& op : ops_node) spec.ops.push_back(parse_op(name, op));
    }
    if (const YAML::Node output = root["output"]; output && !output.IsNull()) {
      if (!output.IsMap()) fail(name, output, "output: expected a mapping");
      check_keys(name, output, " in output", {"layout"});
      if (output["layout"]) {
        const auto layout = parse_layout(name_of(name, output["layout"], "output.layout"));
        if (!layout) fail(name, output["layout"], "output.layout: expected HWC or CHW");
        spec.output.layout = *layout;
        spec.output.layout_given = true;
      }
    }
  } catch (const YAML::Exception& e) {
    throw Error(name, "spec", fmt::format("line {}: {}", e.mark.line + 1, e.msg));
  }
  return spec;
}

Spec load_spec(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path, "spec", "is a folder, not a spec file");
  std::ifstream in(path);
  if (!in) throw Error(path, "spec", "cannot open the spec file");
  std::stringstream text;
  text << in.rdbuf();
  Spec spec = parse_spec(text.str(), path);
  if (!spec.replacement.empty() && std::filesystem::path(spec.replacement).is_relative())
    spec.replacement = (std::filesystem::path(path).parent_path() / spec.replacement).string();
  return spec;
}

}  // namespace gpuaug::pipeline
