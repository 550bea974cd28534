// The pieces of a training run around the math: the learning-rate schedule (against
// numbers worked out by hand from transformers' formulas), AdamW state saved and restored
// exactly, checkpoint folders that are complete or absent, and the metrics log trimmed on
// resume.
#include <catch2/catch.hpp>

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>

#include "train/checkpoint.h"
#include "train/lr_schedule.h"
#include "train/metrics_log.h"
#include "train/optimizer_state.h"
#include "train/run_folder.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace zili::train;

namespace {

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("zili_test_train_run_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("learning-rate schedules match transformers' multipliers", "[lr]") {
  // peak 1e-3, 10 steps, 2 of warmup. Warmup: lr(s) = peak * s / 2 -> 0, 5e-4.
  // After it, progress p = (s - 2) / 8.
  LrPlan plan{1e-3, LrSchedule::linear, 2, 10};
  CHECK(learning_rate(plan, 0) == 0.0);
  CHECK(learning_rate(plan, 1) == Approx(5e-4));
  // linear: peak * (1 - p): s=2 -> 1e-3, s=6 -> p=0.5 -> 5e-4, s=9 -> p=7/8 -> 1.25e-4
  CHECK(learning_rate(plan, 2) == Approx(1e-3));
  CHECK(learning_rate(plan, 6) == Approx(5e-4));
  CHECK(learning_rate(plan, 9) == Approx(1.25e-4));
  CHECK(learning_rate(plan, 10) == Approx(0.0).margin(1e-15));
  // cosine: peak * 0.5 (1 + cos(pi p)): s=4 -> p=1/4 -> 0.5 (1 + 0.70711) = 0.85355 -> 8.5355e-4
  plan.schedule = LrSchedule::cosine;
  CHECK(learning_rate(plan, 1) == Approx(5e-4));
  CHECK(learning_rate(plan, 4) == Approx(8.5355339e-4));
  CHECK(learning_rate(plan, 6) == Approx(5e-4));
  // s=8 -> p=3/4 -> 0.5 (1 - 0.70711) = 0.14645 -> 1.4645e-4
  CHECK(learning_rate(plan, 8) == Approx(1.4644661e-4));
  plan.schedule = LrSchedule::constant;
  CHECK(learning_rate(plan, 1) == Approx(5e-4));
  CHECK(learning_rate(plan, 9) == Approx(1e-3));
  // warmup from a ratio: ceil(0.1 * 25) = 3; explicit steps win.
  CHECK(warmup_steps_for(0, 0.1, 25) == 3);
  CHECK(warmup_steps_for(7, 0.1, 25) == 7);
  CHECK(parse_lr_schedule("cosine") == LrSchedule::cosine);
  CHECK_THROWS_WITH(parse_lr_schedule("cosin"), Catch::Contains("use cosine, linear or constant"));
}

TEST_CASE("AdamW state saved and restored gives bit-identical later steps", "[optimizer]") {
  const fs::path dir = fresh_dir("adamw");
  torch::manual_seed(3);
  auto make_params = [] {
    torch::manual_seed(5);
    return std::vector<torch::Tensor>{torch::randn({4, 3}).requires_grad_(true),
                                      torch::randn({5}).requires_grad_(true)};
  };
  // Gradients of a fixed function of the parameters.
  auto step = [](torch::optim::AdamW& optimizer, std::vector<torch::Tensor>& params, int i) {
    optimizer.zero_grad();
    torch::Tensor loss = (params[0].sin() * (i + 1)).sum() + params[1].pow(3).sum();
    loss.backward();
    optimizer.step();
  };
  AdamWSettings settings;
  settings.lr = 1e-2;
  settings.weight_decay = 0.1;

  auto a = make_params();
  auto opt_a = make_adamw({a[0]}, {a[1]}, settings);
  for (int i = 0; i < 3; ++i) step(*opt_a, a, i);
  save_adamw_state(*opt_a, (dir / "opt.safetensors").string());
  for (int i = 3; i < 6; ++i) step(*opt_a, a, i);

  // A second optimizer over copies of the parameters after step 3, restored from the file.
  auto b = make_params();
  auto opt_tmp = make_adamw({b[0]}, {b[1]}, settings);
  for (int i = 0; i < 3; ++i) step(*opt_tmp, b, i);
  std::vector<torch::Tensor> c = {b[0].detach().clone().requires_grad_(true),
                                  b[1].detach().clone().requires_grad_(true)};
  auto opt_c = make_adamw({c[0]}, {c[1]}, settings);
  load_adamw_state(*opt_c, (dir / "opt.safetensors").string());
  for (int i = 3; i < 6; ++i) step(*opt_c, c, i);
  CHECK(torch::equal(a[0], c[0]));
  CHECK(torch::equal(a[1], c[1]));

  // Without the restored state the steps differ (the test can fail).
  std::vector<torch::Tensor> d = {b[0].detach().clone().requires_grad_(true),
                                  b[1].detach().clone().requires_grad_(true)};
  auto opt_d = make_adamw({d[0]}, {d[1]}, settings);
  for (int i = 3; i < 6; ++i) step(*opt_d, d, i);
  CHECK_FALSE(torch::equal(a[0], d[0]));

  // A state file of another shape is refused by name.
  std::vector<torch::Tensor> e = {torch::zeros({3, 3}, torch::requires_grad()),
                                  torch::zeros({5}, torch::requires_grad())};
  auto opt_e = make_adamw({e[0]}, {e[1]}, settings);
  CHECK_THROWS_WITH(load_adamw_state(*opt_e, (dir / "opt.safetensors").string()),
                    Catch::Contains("state.0.exp_avg") && Catch::Contains("another run"));
  auto opt_f = make_adamw({e[0]}, {}, settings);
  CHECK_THROWS_WITH(load_adamw_state(*opt_f, (dir / "opt.safetensors").string()),
                    Catch::Contains("2 parameters, this run trains 1"));
}

TEST_CASE("checkpoint folders are complete or absent, newest found, old ones pruned",
          "[checkpoint]") {
  const fs::path run = fresh_dir("ckpt");
  fs::create_directories(run / "checkpoints");
  torch::Tensor p = torch::ones({2}, torch::requires_grad());
  auto optimizer = make_adamw({p}, {}, AdamWSettings{});
  TrainerState state;
  state.step = 7;
  state.epoch = 1;
  state.next_batch = 3;
  state.tokens_seen = 99;
  state.fingerprint = "abc";
  torch::manual_seed(11);
  const torch::Tensor rng_before = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint((run / "checkpoints/step-7").string(), state, *optimizer,
                  [](const std::string& dir) { zili::write_file_atomic(dir + "/w.txt", "w"); });
  for (const char* file :
       {"w.txt", "optimizer.safetensors", "rng_state.safetensors", "trainer_state.json"})
    CHECK(fs::exists(run / "checkpoints/step-7" / file));

  // A save that fails half-way leaves no step-N folder and the previous one intact.
  CHECK_THROWS(save_checkpoint((run / "checkpoints/step-9").string(), state, *optimizer,
                               [](const std::string&) { zili::fail("disk full"); }));
  CHECK_FALSE(fs::exists(run / "checkpoints/step-9"));
  // A staging folder left by a killed process is ignored, and pruned.
  fs::create_directories(run / "checkpoints/step-12.tmp-1-abc");
  fs::create_directories(run / "checkpoints/step-10");  // complete ones are folders too
  CHECK(latest_checkpoint(run.string()) == (run / "checkpoints/step-10").string());
  fs::remove_all(run / "checkpoints/step-10");
  CHECK(latest_checkpoint(run.string()) == (run / "checkpoints/step-7").string());

  torch::randn({100});  // move the generator on
  auto restored_optimizer = make_adamw({p}, {}, AdamWSettings{});
  TrainerState restored =
      load_checkpoint((run / "checkpoints/step-7").string(), *restored_optimizer);
  CHECK(restored.step == 7);
  CHECK(restored.epoch == 1);
  CHECK(restored.next_batch == 3);
  CHECK(restored.tokens_seen == 99);
  CHECK(restored.fingerprint == "abc");
  CHECK(torch::equal(at::detail::getDefaultCPUGenerator().get_state(), rng_before));

  for (int step : {8, 9, 10}) {
    state.step = step;
    save_checkpoint((run / ("checkpoints/step-" + std::to_string(step))).string(), state,
                    *optimizer, [](const std::string&) {});
  }
  prune_checkpoints(run.string(), 2);
  CHECK_FALSE(fs::exists(run / "checkpoints/step-7"));
  CHECK_FALSE(fs::exists(run / "checkpoints/step-8"));
  CHECK(fs::exists(run / "checkpoints/step-9"));
  CHECK(fs::exists(run / "checkpoints/step-10"));
  CHECK_FALSE(fs::exists(run / "checkpoints/step-12.tmp-1-abc"));
}

TEST_CASE("the metrics log is trimmed back to the checkpoint on resume", "[metrics]") {
  const fs::path dir = fresh_dir("metrics");
  const std::string path = (dir / "metrics.jsonl").string();
  {
    MetricsLog log(path, -1);
    for (int step : {10, 20, 30}) log.write({{"step", step}, {"loss", 1.0 / step}});
  }
  {
    std::ofstream cut(path, std::ios::app);
    cut << "{\"step\": 40, \"lo";  // a line a kill -9 cut short
  }
  {
    MetricsLog log(path, 20);
    log.write({{"step", 30}, {"loss", 0.5}});
  }
  const std::string text = zili::read_file(path);
  CHECK(text ==
        "{\"loss\":0.1,\"step\":10}\n{\"loss\":0.05,\"step\":20}\n"
        "{\"loss\":0.5,\"step\":30}\n");
}

TEST_CASE("run folders: a new run refuses a used folder, resume needs a run", "[run]") {
  const fs::path dir = fresh_dir("run");
  RunFolder run = create_run_folder((dir / "a").string(), "lr = 1\n");
  CHECK(zili::read_file(run.config()) == "lr = 1\n");
  CHECK_THROWS_WITH(create_run_folder((dir / "a").string(), ""), Catch::Contains("--resume"));
  CHECK_THROWS_WITH(open_run_folder((dir / "none").string()), Catch::Contains("not a run folder"));
  zili::write_file_atomic((dir / "x.txt").string(), "hello");
  const std::string first = fingerprint_files({(dir / "x.txt").string()});
  // FNV-1a 64 of "hello", worked out independently: a430d84680aabd0b.
  CHECK(first == "a430d84680aabd0b");
  zili::write_file_atomic((dir / "x.txt").string(), "hellp");
  CHECK(fingerprint_files({(dir / "x.txt").string()}) != first);
}
