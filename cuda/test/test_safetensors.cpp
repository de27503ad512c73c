// The safetensors reader and model loader turn every malformed input into a bad_model error that names the
// problem, never a crash: truncated headers, offsets out of range, dtype/shape mismatches, missing and
// mis-shaped tensors, truncated files.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "errors.h"
#include "json.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

std::string image(const std::string& header, const std::string& data) {
  std::string out;
  uint64_t n = header.size();
  for (int i = 0; i < 8; i++) out += static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

void expect_error(const std::string& bytes, const std::string& needle) {
  try {
    parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "test.safetensors");
  } catch (const EngineError& e) {
    CHECK(e.code() == "bad_model");
    if (std::string(e.what()).find(needle) == std::string::npos) {
      std::cerr << "message '" << e.what() << "' lacks '" << needle << "'\n";
      std::exit(1);
    }
    std::cout << "  rejected: " << e.what() << "\n";
    return;
  }
  std::cerr << "accepted a bad file (expected '" << needle << "')\n";
  std::exit(1);
}

void expect_load_error(const std::string& dir, const std::string& needle) {
  try {
    load_model_dir(dir);
  } catch (const EngineError& e) {
    CHECK(e.code() == "bad_model");
    if (std::string(e.what()).find(needle) == std::string::npos) {
      std::cerr << "message '" << e.what() << "' lacks '" << needle << "'\n";
      std::exit(1);
    }
    std::cout << "  rejected: " << e.what() << "\n";
    return;
  }
  std::cerr << "loaded a bad model (expected '" << needle << "')\n";
  std::exit(1);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main() {
  const std::string good_header = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  const std::string data(16, '\0');
  auto ok = parse_safetensors(reinterpret_cast<const uint8_t*>(image(good_header, data).data()),
                              8 + good_header.size() + 16, "ok");
  CHECK(ok.size() == 1 && ok[0].numel() == 4);
  std::cout << "parser:\n";
  expect_error("abc", "truncated header");
  expect_error(image(good_header, data).substr(0, 20), "truncated header");
  expect_error(image("{not json", ""), "header");
  expect_error(image(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,32]}})", data), "out of range");
  expect_error(image(R"({"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,16]}})", data), "do not match dtype");
  expect_error(image(R"({"a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}})", data), "do not match dtype");
  expect_error(image(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", data), "unknown dtype");
  expect_error(image(R"({"a":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,16]}})", data), "bad shape");
  expect_error(image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[8,4]}})", data), "bad data_offsets");
  expect_error(image(R"({"a":[1,2]})", data), "not an object");

  std::cout << "loader:\n";
  const std::string dir = make_temp_dir("st");
  SynthSpec spec;
  write_synthetic_model(dir, spec);
  auto model = load_model_dir(dir);
  CHECK(model->layers.size() == 2 && model->lm_head != model->embed);
  const std::string file = dir + "/model.safetensors", full = read_all(file);
  write_file(file, full.substr(0, full.size() - 100));
  expect_load_error(dir, "out of range");
  // A config that disagrees with the tensors names the first mis-shaped tensor.
  write_file(file, full);
  const std::string config = read_all(dir + "/config.json");
  Json cfg = Json::parse(config);
  cfg.set("intermediate_size", 96);
  write_file(dir + "/config.json", cfg.dump());
  expect_load_error(dir, "mlp.gate_proj.weight has shape [128, 64], expected [96, 64]");
  cfg.set("intermediate_size", 128);
  cfg.set("num_hidden_layers", 3);
  write_file(dir + "/config.json", cfg.dump());
  expect_load_error(dir, "missing tensor model.layers.2.input_layernorm.weight");
  cfg.set("num_hidden_layers", 2);
  Json archs = Json::array();
  archs.push("GPT2LMHeadModel");
  cfg.set("architectures", archs);
  write_file(dir + "/config.json", cfg.dump());
  expect_load_error(dir, "unsupported architecture");
  write_file(dir + "/config.json", "{");
  expect_load_error(dir, "config.json");
  ::unlink((dir + "/config.json").c_str());
  expect_load_error(dir, "config.json");
  std::cout << "PASS\n";
  return 0;
}
