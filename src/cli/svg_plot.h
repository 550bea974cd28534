// Line charts of training curves as hand-written SVG text: one panel per quantity, stacked,
// each with axes, tick labels and a title; a legend names the runs when there are several.
// The output depends only on the input (fixed layout and number formats), so it diffs well.
#pragma once

#include <string>
#include <vector>

namespace zili::cli {

// One quantity of one run: (step, value) pairs in step order.
struct Curve {
  std::vector<double> steps;
  std::vector<double> values;
};

// A run's curves in one panel: training values as a line, evaluation values as dots.
struct RunCurves {
  Curve train;
  Curve eval;
};

struct Panel {
  std::string title;
  std::vector<RunCurves> runs;  // one per run, in the order of Plot::run_names
  bool unit_interval = false;   // the y axis spans 0 to 1 (accuracies)
};

struct Plot {
  std::vector<std::string> run_names;
  std::vector<Panel> panels;
};

// The whole SVG document for `plot` (at least one panel).
std::string render_svg(const Plot& plot);

}  // namespace zili::cli
