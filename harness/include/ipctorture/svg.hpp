// A small SVG writer for the HTML report's charts: a plot area with two
// axes (linear or logarithmic, with ticks, tick labels and a title each),
// bars, lines, markers and text.  Everything it writes is escaped; no
// script, no external resource.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace ipct::svg {

// Text for HTML or SVG, in element content or a quoted attribute: & < > " '
// become entities; bytes that are not valid UTF-8, and control characters
// other than tab and newline, become U+FFFD.
std::string escape(std::string_view s);

// "12 ns", "3.4 us" (with the micro sign), "5.6 ms", "7.89 s".
std::string duration_text(double ns);
// "950", "12.3k", "4.5M": a count or rate with a metric suffix.
std::string count_text(double v);

struct Scale {
    double lo = 0;
    double hi = 1;
    bool log = false;  // lo > 0 then
};

struct Tick {
    double value;
    std::string label;
};

using Format = std::function<std::string(double)>;

// About `target` ticks on 1-2-5 steps inside [lo, hi].
std::vector<Tick> linear_ticks(double lo, double hi, int target, const Format& f);
// Powers of ten inside [lo, hi] (lo > 0); at least lo and hi if none.
std::vector<Tick> log_ticks(double lo, double hi, const Format& f);

// A linear scale over [lo, hi] widened to the 1-2-5 steps around it; a
// degenerate range (lo == hi) is widened to a unit around it.
Scale nice_linear(double lo, double hi);
// A log scale from the decade at or below lo to the decade above hi
// (lo, hi > 0; non-positive values are taken as 1).
Scale nice_log(double lo, double hi);

class Chart {
  public:
    // id: the svg element's id; width and height in pixels.
    Chart(std::string id, int width, int height);

    void x_axis(Scale s, std::string title, Format f);
    void y_axis(Scale s, std::string title, Format f);
    // Pixel position of a data value (clamped to the plot area).
    double px(double x) const;
    double py(double y) const;

    // A bar over [x0, x1] from the y axis's bottom to y; title is a tooltip.
    void bar(double x0, double x1, double y, std::string_view cls, std::string_view title);
    // A horizontal band over [x0, x1] at pixel row [top, top + h] (timelines).
    void band(double x0, double x1, double top, double h, std::string_view cls,
              std::string_view title);
    // A marker (a small diamond) at data x and pixel row y.
    void marker(double x, double y_px, std::string_view cls, std::string_view title);
    // Text at pixel coordinates; anchor: start, middle, end.
    void label(double x_px, double y_px, std::string_view text, std::string_view anchor = "start",
               std::string_view cls = "");
    // Left edge of the plot area and its bottom, in pixels.
    int left() const { return left_; }
    int top() const { return top_; }
    int plot_width() const { return width_ - left_ - right_; }
    int plot_height() const { return height_ - top_ - bottom_; }
    void margins(int left, int right, int top, int bottom);

    // The whole <svg> element; axes drawn only where set.
    std::string str() const;

  private:
    double map(const Scale& s, double v, double p0, double p1) const;
    std::string axes() const;
    std::string id_;
    int width_;
    int height_;
    int left_ = 70, right_ = 20, top_ = 10, bottom_ = 45;
    bool has_x_ = false, has_y_ = false;
    Scale xs_, ys_;
    std::string x_title_, y_title_;
    Format xf_, yf_;
    std::string body_;
};

}  // namespace ipct::svg
