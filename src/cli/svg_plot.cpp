// Hand-written SVG for the curves of `zili plot`: a fixed layout in pixels, "nice" ticks
// (1, 2 or 5 times a power of ten) and fixed-precision numbers, so one input gives one file.
#include "cli/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace zili::cli {
namespace {

constexpr double kWidth = 720;
constexpr double kPanelHeight = 250;
constexpr double kLegendRowHeight = 22;
constexpr double kPlotLeft = 72, kPlotRight = kWidth - 20;
constexpr double kPlotTop = 34, kPlotBottom = kPanelHeight - 42;  // within a panel
constexpr int kTargetTicks = 5;

// Colour of run i (Tableau 10), repeating past ten runs.
const char* run_colour(size_t run) {
  static const char* colours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return colours[run % 10];
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string px(double v) {
  return fmt::format("{:.1f}", v);
}

// An axis from lo to hi with ticks at every `step`, both ends on a tick.
struct Axis {
  double lo, hi, step;
  int decimals;  // digits after the point in tick labels
};

double nice_step(double rough) {
  const double power = std::pow(10.0, std::floor(std::log10(rough)));
  const double fraction = rough / power;
  return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
}

Axis make_axis(double lo, double hi, double min_step) {
  if (hi - lo < 1e-12 * std::max(1.0, std::abs(hi))) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad, hi += pad;
  }
  Axis axis;
  axis.step = std::max(nice_step((hi - lo) / (kTargetTicks - 1)), min_step);
  axis.lo = std::floor(lo / axis.step + 1e-9) * axis.step;
  axis.hi = std::ceil(hi / axis.step - 1e-9) * axis.step;
  axis.decimals = std::max(0, static_cast<int>(-std::floor(std::log10(axis.step) + 1e-9)));
  return axis;
}

std::vector<double> ticks(const Axis& axis) {
  std::vector<double> out;
  const long first = std::lround(axis.lo / axis.step), last = std::lround(axis.hi / axis.step);
  for (long i = first; i <= last; ++i) out.push_back(static_cast<double>(i) * axis.step);
  return out;
}

std::string tick_label(const Axis& axis, double value) {
  if (std::abs(value) < axis.step * 1e-6) value = 0;  // no "-0.0"
  return fmt::format("{:.{}f}", value, axis.decimals);
}

// Maps data coordinates of one panel to pixels.
struct Frame {
  Axis x, y;
  double top;  // the panel's offset in the document
  double px_x(double v) const {
    return kPlotLeft + (v - x.lo) / (x.hi - x.lo) * (kPlotRight - kPlotLeft);
  }
  double px_y(double v) const {
    return top + kPlotBottom - (v - y.lo) / (y.hi - y.lo) * (kPlotBottom - kPlotTop);
  }
};

// A circle of radius r at (x, y) as path data, for the dots of evaluation values.
std::string dot(double x, double y, double r) {
  return fmt::format("M{} {}a{} {} 0 1 0 {} 0a{} {} 0 1 0 {} 0", px(x - r), px(y), px(r), px(r),
                     px(2 * r), px(r), px(r), px(-2 * r));
}

void draw_panel(std::string& svg, const Panel& panel, const std::vector<std::string>& run_names,
                double top) {
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo;
  double y_lo = x_lo, y_hi = -x_lo;
  for (const RunCurves& run : panel.runs)
    for (const Curve* curve : {&run.train, &run.eval})
      for (size_t i = 0; i < curve->steps.size(); ++i) {
        x_lo = std::min(x_lo, curve->steps[i]), x_hi = std::max(x_hi, curve->steps[i]);
        y_lo = std::min(y_lo, curve->values[i]), y_hi = std::max(y_hi, curve->values[i]);
      }
  if (panel.unit_interval) y_lo = std::min(y_lo, 0.0), y_hi = std::max(y_hi, 1.0);
  const Frame frame{make_axis(x_lo, x_hi, 1), make_axis(y_lo, y_hi, 0), top};
  const double left = kPlotLeft, right = kPlotRight;
  const double plot_top = top + kPlotTop, bottom = top + kPlotBottom;

  svg += fmt::format("<g class=\"panel\">\n<text x=\"{}\" y=\"{}\" class=\"title\">{}</text>\n",
                     px(kWidth / 2), px(top + 22), xml_escape(panel.title));
  for (double v : ticks(frame.y)) {
    const double y = frame.px_y(v);
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"grid\"/>\n", px(left),
                       px(y), px(right), px(y));
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"ytick\">{}</text>\n", px(left - 6),
                       px(y + 4), tick_label(frame.y, v));
  }
  for (double v : ticks(frame.x)) {
    const double x = frame.px_x(v);
    svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\n", px(x),
                       px(bottom), px(x), px(bottom + 5));
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"xtick\">{}</text>\n", px(x),
                       px(bottom + 18), tick_label(frame.x, v));
  }
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n",
                     px(left), px(plot_top), px(right - left), px(bottom - plot_top));
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"xlabel\">step</text>\n",
                     px((left + right) / 2), px(bottom + 34));

  for (size_t r = 0; r < panel.runs.size(); ++r) {
    const RunCurves& run = panel.runs[r];
    const std::string name = xml_escape(run_names[r]);
    if (!run.train.steps.empty()) {
      std::string points;
      // A single point is drawn as a zero-length line, which the round cap shows as a dot.
      const size_t count = std::max<size_t>(run.train.steps.size(), 2);
      for (size_t i = 0; i < count; ++i) {
        const size_t j = std::min(i, run.train.steps.size() - 1);
        points += fmt::format("{}{},{}", i ? " " : "", px(frame.px_x(run.train.steps[j])),
                              px(frame.px_y(run.train.values[j])));
      }
      svg += fmt::format(
          "<polyline class=\"train\" stroke=\"{}\" points=\"{}\"><title>{} train</title>"
          "</polyline>\n",
          run_colour(r), points, name);
    }
    if (!run.eval.steps.empty()) {
      std::string path;
      for (size_t i = 0; i < run.eval.steps.size(); ++i)
        path += dot(frame.px_x(run.eval.steps[i]), frame.px_y(run.eval.values[i]), 3.5);
      svg +=
          fmt::format("<path class=\"eval\" fill=\"{}\" d=\"{}\"><title>{} eval</title></path>\n",
                      run_colour(r), path, name);
    }
  }
  svg += "</g>\n";
}

// Legend entries: one per run when there are several, then the line/dot key when any
// panel has evaluation values. Laid out left to right, wrapping at the page width.
struct LegendEntry {
  std::string label;
  std::string colour;
  bool dot;
};

std::vector<std::vector<LegendEntry>> legend_rows(const Plot& plot) {
  std::vector<LegendEntry> entries;
  if (plot.run_names.size() > 1)
    for (size_t r = 0; r < plot.run_names.size(); ++r)
      entries.push_back({plot.run_names[r], run_colour(r), false});
  bool any_eval = false;
  for (const Panel& panel : plot.panels)
    for (const RunCurves& run : panel.runs) any_eval |= !run.eval.steps.empty();
  if (any_eval) {
    const std::string key_colour = plot.run_names.size() > 1 ? "#555555" : run_colour(0);
    entries.push_back({"train", key_colour, false});
    entries.push_back({"eval", key_colour, true});
  }
  std::vector<std::vector<LegendEntry>> rows;
  double x = kPlotLeft;
  for (LegendEntry& entry : entries) {
    const double width = 34 + 7.0 * static_cast<double>(entry.label.size()) + 18;
    if (rows.empty() || (x + width > kWidth && !rows.back().empty()))
      rows.emplace_back(), x = kPlotLeft;
    rows.back().push_back(std::move(entry));
    x += width;
  }
  return rows;
}

void draw_legend(std::string& svg, const std::vector<std::vector<LegendEntry>>& rows) {
  svg += "<g class=\"legend\">\n";
  for (size_t row = 0; row < rows.size(); ++row) {
    const double y = 16 + kLegendRowHeight * static_cast<double>(row);
    double x = kPlotLeft;
    for (const LegendEntry& entry : rows[row]) {
      if (entry.dot)
        svg += fmt::format("<path class=\"eval\" fill=\"{}\" d=\"{}\"/>\n", entry.colour,
                           dot(x + 14, y - 4, 3.5));
      else
        svg += fmt::format(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"train\" "
            "stroke=\"{}\"/>\n",
            px(x), px(y - 4), px(x + 28), px(y - 4), entry.colour);
      svg += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", px(x + 34), px(y),
                         xml_escape(entry.label));
      x += 34 + 7.0 * static_cast<double>(entry.label.size()) + 18;
    }
  }
  svg += "</g>\n";
}

}  // namespace

std::string render_svg(const Plot& plot) {
  const auto rows = legend_rows(plot);
  const double legend_height = rows.empty() ? 0 : kLegendRowHeight * rows.size() + 6;
  const double height = legend_height + kPanelHeight * static_cast<double>(plot.panels.size());
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"sans-serif\" font-size=\"12\">\n",
      px(kWidth), px(height));
  svg +=
      "<style>\n"
      ".title{font-size:14px;font-weight:bold;text-anchor:middle}\n"
      ".xtick,.xlabel{text-anchor:middle}\n"
      ".ytick{text-anchor:end}\n"
      ".grid{stroke:#e0e0e0;stroke-width:1}\n"
      ".axis{stroke:#444444;stroke-width:1}\n"
      ".frame{fill:none;stroke:#444444;stroke-width:1}\n"
      ".train{fill:none;stroke-width:1.5;stroke-linejoin:round;stroke-linecap:round}\n"
      ".eval{stroke:#ffffff;stroke-width:0.8}\n"
      "</style>\n";
  svg +=
      fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", px(kWidth), px(height));
  if (!rows.empty()) draw_legend(svg, rows);
  for (size_t p = 0; p < plot.panels.size(); ++p)
    draw_panel(svg, plot.panels[p], plot.run_names,
               legend_height + kPanelHeight * static_cast<double>(p));
  svg += "</svg>\n";
  return svg;
}

}  // namespace zili::cli
