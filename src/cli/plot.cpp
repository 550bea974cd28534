// `zili plot RUN [RUN2 ...] [--out FILE.svg]`: reads each run's metrics.jsonl and draws its
// training curves (loss, and for DPO runs reward accuracy and margin) as one SVG file.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <numeric>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/svg_plot.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace zili::cli {
namespace {

// The panels, in page order: title, the training key and the evaluation key of metrics.jsonl.
struct Quantity {
  const char* title;
  const char* train_key;
  const char* eval_key;
  bool unit_interval;
};
const Quantity kQuantities[] = {
    {"loss", "loss", "eval_loss", false},
    {"reward accuracy", "rewards/accuracies", "eval_rewards/accuracies", true},
    {"reward margin", "rewards/margins", "eval_rewards/margins", false},
};
constexpr size_t kQuantityCount = std::size(kQuantities);

// Both curves of every quantity of one run, in step order.
using RunMetrics = std::vector<RunCurves>;  // indexed like kQuantities

void sort_by_step(Curve& curve) {
  std::vector<size_t> order(curve.steps.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return curve.steps[a] < curve.steps[b]; });
  Curve sorted;
  for (size_t i : order)
    sorted.steps.push_back(curve.steps[i]), sorted.values.push_back(curve.values[i]);
  curve = std::move(sorted);
}

RunMetrics read_run(const std::string& run) {
  if (!std::filesystem::is_directory(run))
    fail("{}: no such folder (give the --out folder of a zili sft or zili dpo run)", run);
  const std::string path = (std::filesystem::path(run) / "metrics.jsonl").string();
  if (!std::filesystem::exists(path))
    fail("{}: not a run folder (no metrics.jsonl; give the --out folder of zili sft or zili dpo)",
         run);
  const std::string text = read_file(path);
  RunMetrics metrics(kQuantityCount);
  std::istringstream lines(text);
  std::string line;
  size_t line_number = 0, values = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.is_object()) {
      // A last line without its newline is being written by a live run: plot the rest.
      if (lines.eof() && !text.empty() && text.back() != '\n') break;
      fail("{}:{}: not a JSON object (metrics.jsonl holds one object per line)", path, line_number);
    }
    const auto step = record.find("step");
    const bool has_step = step != record.end() && step->is_number();
    for (size_t q = 0; q < kQuantityCount; ++q)
      for (bool eval : {false, true}) {
        const auto value = record.find(eval ? kQuantities[q].eval_key : kQuantities[q].train_key);
        if (value == record.end() || value->is_null()) continue;  // null: a NaN was logged
        if (!value->is_number() || !has_step)
          fail("{}:{}: \"{}\" needs a number and a numeric \"step\" beside it", path, line_number,
               value.key());
        Curve& curve = eval ? metrics[q].eval : metrics[q].train;
        curve.steps.push_back(step->get<double>());
        curve.values.push_back(value->get<double>());
        ++values;
      }
  }
  if (values == 0)
    fail("{}: no numeric loss or reward values to plot (has the run logged a step yet?)", path);
  for (RunCurves& curves : metrics) sort_by_step(curves.train), sort_by_step(curves.eval);
  return metrics;
}

// The run's name in the legend: its folder as given, without a trailing slash.
std::string run_name(std::string run) {
  while (run.size() > 1 && run.back() == '/') run.pop_back();
  return run;
}

void run_plot(const std::vector<std::string>& runs, std::string out) {
  if (out.empty()) {
    if (runs.size() > 1)
      fail("several runs need --out FILE.svg (RUN/curves.svg is the default for one run)");
    out = (std::filesystem::path(runs[0]) / "curves.svg").string();
  }
  Plot plot;
  std::vector<RunMetrics> metrics;
  for (const std::string& run : runs) {
    metrics.push_back(read_run(run));
    plot.run_names.push_back(run_name(run));
  }
  check_writable_file(out);
  for (size_t q = 0; q < kQuantityCount; ++q) {
    Panel panel{kQuantities[q].title, {}, kQuantities[q].unit_interval};
    bool any = false;
    for (const RunMetrics& run : metrics) {
      panel.runs.push_back(run[q]);
      any |= !run[q].train.steps.empty() || !run[q].eval.steps.empty();
    }
    if (any) plot.panels.push_back(std::move(panel));
  }
  write_file_atomic(out, render_svg(plot));
  std::string titles;
  for (const Panel& panel : plot.panels) titles += (titles.empty() ? "" : ", ") + panel.title;
  std::printf("wrote %s (%s)\n", out.c_str(), titles.c_str());
}

}  // namespace

void add_plot_command(CLI::App& root) {
  auto runs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = root.add_subcommand(
      "plot", "Draw the loss and reward curves of one or more runs as an SVG file");
  cmd->add_option("runs", *runs, "run folders (the --out of zili sft or zili dpo)")->required();
  cmd->add_option("--out", *out, "SVG file to write (default RUN/curves.svg for one run)");
  cmd->callback([runs, out] { run_plot(*runs, *out); });
}

}  // namespace zili::cli
