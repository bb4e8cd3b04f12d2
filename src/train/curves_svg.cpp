// curves.svg: the book's Animator plot (train loss '-', train acc 'm--', test acc 'g-.' against
// the epoch) as a self-contained SVG document.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "strata/train/report.hpp"

namespace strata::train {
namespace {

// Plot area in SVG user units; the legend sits right of it.
constexpr double kWidth = 720, kHeight = 440;
constexpr double kLeft = 70, kRight = 560, kTop = 50, kBottom = 380;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

std::string escape(const std::string& text) {
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

// The smallest step of the form {1, 2, 2.5, 5} x 10^k that covers [0, range] in at most
// max_ticks steps.
double tick_step(double range, int max_ticks, bool integer) {
  for (double scale = integer ? 1.0 : 1e-3;; scale *= 10.0)
    for (double m : {1.0, 2.0, 2.5, 5.0}) {
      const double step = m * scale;
      if (integer && step != std::floor(step)) continue;
      if (range / step <= max_ticks) return step;
    }
}

struct Series {
  const char* id;
  const char* name;
  const char* color;
  const char* dash;  // stroke-dasharray; "" for solid
  double EpochMetrics::*value;
};

std::string dash_attribute(const Series& s) {
  return *s.dash ? std::string(" stroke-dasharray=\"") + s.dash + "\"" : std::string();
}

constexpr Series kSeries[] = {
    {"train-loss", "train loss", "#1f77b4", "", &EpochMetrics::loss},
    {"train-acc", "train acc", "#bf00bf", "6,4", &EpochMetrics::train_acc},
    {"test-acc", "test acc", "#008000", "8,3,2,3", &EpochMetrics::test_acc},
};

}  // namespace

std::string curves_svg(const std::vector<EpochMetrics>& history, int64_t epochs, const std::string& title) {
  const double x_lo = epochs > 1 ? 1.0 : 0.0;
  const double x_hi = epochs > 1 ? static_cast<double>(epochs) : 2.0;
  double y_max = 1.0;
  for (const EpochMetrics& m : history)
    for (const Series& s : kSeries)
      if (std::isfinite(m.*s.value)) y_max = std::max(y_max, m.*s.value);
  const double y_step = tick_step(y_max, 8, false);
  const double y_hi = std::ceil(y_max / y_step - 1e-9) * y_step;
  const double x_step = tick_step(x_hi - x_lo, 10, true);

  auto px = [&](double x) { return kLeft + (x - x_lo) / (x_hi - x_lo) * (kRight - kLeft); };
  auto py = [&](double y) { return kBottom - y / y_hi * (kBottom - kTop); };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" + num(kHeight) +
         "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) + "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  svg += "<title>" + escape(title) + "</title>\n";
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + num((kLeft + kRight) / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"14\">" +
         escape(title) + "</text>\n";

  // Grid, ticks and tick labels.
  svg += "<g id=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double y = 0; y <= y_hi + 1e-9; y += y_step)
    svg += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(kRight) + "\" y2=\"" + num(py(y)) +
           "\"/>\n";
  for (double x = x_lo; x <= x_hi + 1e-9; x += x_step)
    svg += "<line x1=\"" + num(px(x)) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(px(x)) + "\" y2=\"" + num(kBottom) +
           "\"/>\n";
  svg += "</g>\n<g id=\"axes\" stroke=\"black\" stroke-width=\"1\">\n";
  svg += "<rect x=\"" + num(kLeft) + "\" y=\"" + num(kTop) + "\" width=\"" + num(kRight - kLeft) + "\" height=\"" +
         num(kBottom - kTop) + "\" fill=\"none\"/>\n";
  for (double y = 0; y <= y_hi + 1e-9; y += y_step)
    svg += "<line x1=\"" + num(kLeft - 5) + "\" y1=\"" + num(py(y)) + "\" x2=\"" + num(kLeft) + "\" y2=\"" +
           num(py(y)) + "\"/>\n";
  for (double x = x_lo; x <= x_hi + 1e-9; x += x_step)
    svg += "<line x1=\"" + num(px(x)) + "\" y1=\"" + num(kBottom) + "\" x2=\"" + num(px(x)) + "\" y2=\"" +
           num(kBottom + 5) + "\"/>\n";
  svg += "</g>\n<g id=\"tick-labels\" fill=\"black\">\n";
  for (double y = 0; y <= y_hi + 1e-9; y += y_step)
    svg +=
        "<text x=\"" + num(kLeft - 8) + "\" y=\"" + num(py(y) + 4) + "\" text-anchor=\"end\">" + label(y) + "</text>\n";
  for (double x = x_lo; x <= x_hi + 1e-9; x += x_step)
    svg += "<text x=\"" + num(px(x)) + "\" y=\"" + num(kBottom + 20) + "\" text-anchor=\"middle\">" + label(x) +
           "</text>\n";
  svg += "<text x=\"" + num((kLeft + kRight) / 2) + "\" y=\"" + num(kBottom + 42) +
         "\" text-anchor=\"middle\">epoch</text>\n</g>\n";

  // The curves: a polyline and a marker per epoch.
  for (const Series& s : kSeries) {
    svg += std::string("<g id=\"") + s.id + "\" stroke=\"" + s.color + "\" fill=\"" + s.color + "\">\n";
    std::string points;
    for (const EpochMetrics& m : history) {
      if (!std::isfinite(m.*s.value)) continue;
      if (!points.empty()) points += ' ';
      points += num(px(static_cast<double>(m.epoch)));
      points += ',';
      points += num(py(m.*s.value));
    }
    svg += "<polyline fill=\"none\" stroke-width=\"2\"" + dash_attribute(s) + " points=\"" + points + "\"/>\n";
    for (const EpochMetrics& m : history)
      if (std::isfinite(m.*s.value))
        svg += "<circle cx=\"" + num(px(static_cast<double>(m.epoch))) + "\" cy=\"" + num(py(m.*s.value)) +
               "\" r=\"3\"/>\n";
    svg += "</g>\n";
  }

  // Legend.
  svg += "<g id=\"legend\">\n";
  double y = kTop + 10;
  for (const Series& s : kSeries) {
    svg += "<line x1=\"" + num(kRight + 20) + "\" y1=\"" + num(y) + "\" x2=\"" + num(kRight + 50) + "\" y2=\"" +
           num(y) + "\" stroke=\"" + s.color + "\" stroke-width=\"2\"" + dash_attribute(s) + "/>\n";
    svg += "<text x=\"" + num(kRight + 58) + "\" y=\"" + num(y + 4) + "\">" + s.name + "</text>\n";
    y += 22;
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace strata::train
