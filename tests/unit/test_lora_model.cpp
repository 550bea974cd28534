// LoRA on a model: PEFT's targeting rules, new adapters change nothing, the disabled guard
// gives the base logits bit for bit, save/load round trip, and the mismatch errors.
#include <catch2/catch.hpp>

#include "model_fixtures.h"

#include <filesystem>
#include <fstream>

#include "io/peft_adapter.h"
#include "lora/lora_model.h"
#include "model/load.h"
#include "model/presets.h"
#include "model/random_init.h"
#include "util/error.h"

using namespace zili;

namespace {

model::ModelConfig tiny() {
  return model::preset_config("tiny", 97);
}

using test::random_model;

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("zili-lora-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

torch::Tensor logits_of(model::LlamaForCausalLMImpl& net, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  return net.logits(net.forward(ids));
}

}  // namespace

TEST_CASE("targeting follows PEFT: suffix match, all-linear, layers_to_transform") {
  io::AdapterConfig config;
  config.target_modules = {"q_proj", "v_proj"};
  auto modules = lora::targeted_modules(tiny(), config, "test");
  REQUIRE(modules == std::vector<std::string>{
                         "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                         "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"});
  config.target_modules = {"all-linear"};
  REQUIRE(lora::targeted_modules(tiny(), config, "test").size() == 2 * 7);
  config.layers_to_transform = std::vector<int64_t>{1};
  modules = lora::targeted_modules(tiny(), config, "test");
  REQUIRE(modules.size() == 7);
  for (const auto& m : modules) REQUIRE(m.starts_with("model.layers.1."));
  config.layers_to_transform.reset();
  config.target_modules = {"self_attn.o_proj"};  // a longer suffix also matches
  REQUIRE(lora::targeted_modules(tiny(), config, "test").size() == 2);
  config.target_regex = R"(.*\.0\.mlp\.(gate|up)_proj)";
  REQUIRE(lora::targeted_modules(tiny(), config, "test") ==
          std::vector<std::string>{"model.layers.0.mlp.gate_proj", "model.layers.0.mlp.up_proj"});
  config.target_regex.reset();
  config.target_modules = {"c_attn"};
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("test") && Catch::Contains("select no layer"));
  // PEFT loads an adapter when some target matches; a new adapter wants every target to.
  config.target_modules = {"q_proj", "c_attn"};
  REQUIRE(lora::targeted_modules(tiny(), config, "test").size() == 2);
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "--lora-targets", true),
                      Catch::Contains("\"c_attn\" matches no layer"));
}

// Patterns fuzz_adapter_config found: nested quantifiers (".*+") took libstdc++'s backtracking
// matcher exponential time in the module name's length; a repetition count beyond a long is
// undefined behaviour inside its compiler, and large counts blow its automaton up.
TEST_CASE("regex targets: nested quantifiers match at once, oversized patterns are refused") {
  io::AdapterConfig config;
  config.target_regex = R"(.*+\.(q|k)_proj)";
  REQUIRE(lora::targeted_modules(tiny(), config, "test") ==
          std::vector<std::string>{
              "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
              "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.k_proj"});
  config.target_regex = R"((.*)*(.*)*(.*)*_projx)";  // exponential for a backtracking matcher
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("select no layer"));
  config.target_regex = R"(model\.layers\.\d{1,2}\.mlp\..{4}_proj)";        // small counts are fine
  REQUIRE(lora::targeted_modules(tiny(), config, "test").size() == 2 * 2);  // gate, down
  config.target_regex = "x{8888888888888888888}";
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("repeats a part more than 16 times"));
  config.target_regex = "a{2}b{2}c{2}d{2}e{2}";
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("5 repetition counts (at most 4)"));
  config.target_regex = std::string(513, 'a');
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("513 characters (at most 512)"));
  config.target_regex = R"((q)\1_proj)";
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("back-reference"));
  config.target_regex = R"(a\88888888888888888888)";  // the number alone overflowed a long
  REQUIRE_THROWS_WITH(lora::targeted_modules(tiny(), config, "test"),
                      Catch::Contains("back-reference"));
}

TEST_CASE("layer lists: ranges and single layers") {
  REQUIRE(lora::parse_layer_list("0-3", 8) == std::vector<int64_t>{0, 1, 2, 3});
  REQUIRE(lora::parse_layer_list("0,2,5-6", 8) == std::vector<int64_t>{0, 2, 5, 6});
  REQUIRE_THROWS_AS(lora::parse_layer_list("a-b", 8), Error);
  REQUIRE_THROWS_AS(lora::parse_layer_list("5-2", 8), Error);
  REQUIRE_THROWS_WITH(lora::parse_layer_list("0-4000000000", 8), Catch::Contains("cannot read"));
  REQUIRE_THROWS_WITH(lora::parse_layer_list("6-9", 8), Catch::Contains("layers 0-7"));
}

TEST_CASE("a new adapter changes nothing; a trained one does; disabled gives the base exactly") {
  auto net = random_model(tiny(), 1);
  torch::manual_seed(2);
  torch::Tensor ids = torch::randint(0, 97, {2, 9}, torch::kInt64);
  torch::Tensor base = logits_of(*net, ids);

  io::AdapterConfig config;
  config.target_modules = {"all-linear"};
  config.r = 4;
  lora::LoraModel lora = lora::LoraModel::create(*net, config, 7);
  REQUIRE(lora.entries().size() == 14);
  REQUIRE(lora.parameters().size() == 28);
  for (const auto& p : lora.parameters()) REQUIRE(p.requires_grad());
  for (const auto& p : net->parameters()) REQUIRE_FALSE(p.requires_grad());
  // B = 0: the update is exactly zero, so the logits are those of the base, bit for bit.
  REQUIRE(torch::equal(logits_of(*net, ids), base));

  {
    torch::NoGradGuard no_grad;
    for (const auto& e : lora.entries()) e.adapter->lora_b.normal_(0, 0.3);
  }
  torch::Tensor adapted = logits_of(*net, ids);
  REQUIRE((adapted - base).abs().max().item<double>() > 1e-2);
  {
    lora::AdaptersDisabled off(lora);
    REQUIRE(torch::equal(logits_of(*net, ids), base));  // bit for bit
  }
  REQUIRE(torch::equal(logits_of(*net, ids), adapted));  // back on after the guard
}

TEST_CASE("new adapters are initialised as PEFT does, from the seed") {
  auto net = random_model(tiny(), 1);
  io::AdapterConfig config;
  config.target_modules = {"up_proj"};  // in = 64, so the kaiming bound is 1/8
  config.r = 16;
  auto first = lora::LoraModel::create(*net, config, 5);
  torch::Tensor a = first.entries()[0].adapter->lora_a.detach().clone();
  REQUIRE(a.abs().max().item<double>() <= 0.125);
  REQUIRE(a.abs().max().item<double>() > 0.11);  // uniform over the whole range
  REQUIRE(torch::equal(lora::LoraModel::create(*net, config, 5).entries()[0].adapter->lora_a, a));
  REQUIRE_FALSE(
      torch::equal(lora::LoraModel::create(*net, config, 6).entries()[0].adapter->lora_a, a));
  config.init_lora_weights = "gaussian";  // N(0, 1/r^2): std 1/16
  config.target_modules = {"all-linear"};
  auto gaussian = lora::LoraModel::create(*net, config, 5);
  std::vector<torch::Tensor> as;
  for (const auto& e : gaussian.entries()) as.push_back(e.adapter->lora_a.detach().flatten());
  REQUIRE(torch::cat(as).std().item<double>() == Approx(1.0 / 16).epsilon(0.05));
  for (const auto& e : gaussian.entries())
    REQUIRE(e.adapter->lora_b.abs().max().item<double>() == 0);
}

TEST_CASE("save and load round trip in the PEFT layout") {
  auto net = random_model(tiny(), 1);
  io::AdapterConfig config;
  config.target_modules = {"q_proj", "down_proj"};
  config.r = 3;
  config.lora_alpha = 7;
  config.use_rslora = true;
  lora::LoraModel lora = lora::LoraModel::create(*net, config, 3);
  {
    torch::NoGradGuard no_grad;
    for (const auto& e : lora.entries()) e.adapter->lora_b.normal_(0, 0.3);
  }
  const std::string dir = temp_dir("roundtrip");
  lora.save(dir);
  torch::Tensor ids = torch::randint(0, 97, {1, 7}, torch::kInt64);
  torch::Tensor before = logits_of(*net, ids);

  auto fresh = random_model(tiny(), 1);
  lora::LoraModel loaded = lora::LoraModel::load(*fresh, dir);
  REQUIRE(loaded.config().use_rslora);
  REQUIRE(loaded.config().scaling() == Approx(7 / std::sqrt(3.0)));
  REQUIRE(loaded.entries().size() == 4);
  REQUIRE(torch::equal(logits_of(*fresh, ids), before));
  auto file = io::SafetensorsFile::open(dir + "/adapter_model.safetensors");
  REQUIRE(file->find("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight")->shape ==
          std::vector<int64_t>{3, 64});
  REQUIRE(file->find("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight")->shape ==
          std::vector<int64_t>{64, 3});
}

TEST_CASE("an adapter that does not fit the base is one error naming the tensor and shapes") {
  auto net = random_model(tiny(), 1);
  io::AdapterConfig config;
  config.target_modules = {"q_proj"};
  config.r = 4;
  const std::string dir = temp_dir("mismatch");
  lora::LoraModel::create(*net, config, 1).save(dir);

  // Another model: wider hidden size.
  model::ModelConfig wide = tiny();
  wide.hidden_size = 128;
  wide.head_dim = 32;
  auto other = random_model(wide, 1);
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*other, dir),
                      Catch::Contains("model.layers.0.self_attn.q_proj.lora_A.weight") &&
                          Catch::Contains("[4, 64]") && Catch::Contains("[4, 128]"));

  // Another r in the config than in the weights.
  nlohmann::json json = io::adapter_config_json(config);
  json["r"] = 8;
  std::ofstream(dir + "/adapter_config.json") << json.dump();
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*net, dir),
                      Catch::Contains("[4, 64]") && Catch::Contains("[8, 64]"));

  // A target the base lacks, and PEFT features zili does not implement.
  json["r"] = 4;
  json["target_modules"] = {"c_attn"};
  std::ofstream(dir + "/adapter_config.json") << json.dump();
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*net, dir), Catch::Contains("c_attn"));
  json["target_modules"] = {"q_proj"};
  json["use_dora"] = true;
  std::ofstream(dir + "/adapter_config.json") << json.dump();
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*net, dir),
                      Catch::Contains("use_dora") && Catch::Contains("DoRA"));
  json["use_dora"] = false;
  json["rank_pattern"] = {{"q_proj", 2}};
  std::ofstream(dir + "/adapter_config.json") << json.dump();
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*net, dir), Catch::Contains("rank_pattern"));

  // A tensor missing for a targeted module, and one for a module not targeted.
  json["rank_pattern"] = nlohmann::json::object();
  json["target_modules"] = {"q_proj", "k_proj"};
  std::ofstream(dir + "/adapter_config.json") << json.dump();
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*net, dir),
                      Catch::Contains("no tensor") &&
                          Catch::Contains("model.layers.0.self_attn.k_proj.lora_A.weight"));
  json["target_modules"] = {"q_proj"};
  json["layers_to_transform"] = {1};
  std::ofstream(dir + "/adapter_config.json") << json.dump();
  REQUIRE_THROWS_WITH(lora::LoraModel::load(*net, dir),
                      Catch::Contains("model.layers.0.self_attn.q_proj.lora_A.weight") &&
                          Catch::Contains("does not target"));
}
