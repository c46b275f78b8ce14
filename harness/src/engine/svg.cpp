#include "ipctorture/svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ipct::svg {

namespace {

constexpr const char* kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence at s[i], 0 if it is not one.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    std::size_t n = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}

// 1, 2 or 5 times a power of ten, the smallest at least raw.
double nice_step(double raw) {
    if (!(raw > 0)) return 1;
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (m * p >= raw * (1 - 1e-9)) return m * p;
    return 10 * p;
}

}  // namespace

std::string escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + s.size() / 8);
    for (std::size_t i = 0; i < s.size();) {
        const char c = s[i];
        const std::size_t n = utf8_length(s, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
            continue;
        }
        if (n > 1) {
            out.append(s.substr(i, n));
            i += n;
            continue;
        }
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
            case '\'':
                out += "&#39;";
                break;
            case '\n':
            case '\t':
                out += c;
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
                    out += kReplacement;
                else
                    out += c;
        }
        ++i;
    }
    return out;
}

std::string duration_text(double ns) {
    char b[48];
    const double a = std::fabs(ns);
    if (a < 1e3)
        std::snprintf(b, sizeof b, "%.0f ns", ns);
    else if (a < 1e6)
        std::snprintf(b, sizeof b, "%.3g \xC2\xB5s", ns / 1e3);
    else if (a < 1e9)
        std::snprintf(b, sizeof b, "%.3g ms", ns / 1e6);
    else
        std::snprintf(b, sizeof b, "%.3g s", ns / 1e9);
    return b;
}

std::string count_text(double v) {
    char b[48];
    const double a = std::fabs(v);
    if (a < 1e3)
        std::snprintf(b, sizeof b, "%.3g", v);
    else if (a < 1e6)
        std::snprintf(b, sizeof b, "%.3gk", v / 1e3);
    else if (a < 1e9)
        std::snprintf(b, sizeof b, "%.3gM", v / 1e6);
    else
        std::snprintf(b, sizeof b, "%.3gG", v / 1e9);
    return b;
}

std::vector<Tick> linear_ticks(double lo, double hi, int target, const Format& f) {
    std::vector<Tick> t;
    if (!(hi > lo) || target < 1) return t;
    const double step = nice_step((hi - lo) / target);
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
        const double clean = std::fabs(v) < step * 1e-9 ? 0.0 : v;
        t.push_back(Tick{clean, f(clean)});
    }
    return t;
}

std::vector<Tick> log_ticks(double lo, double hi, const Format& f) {
    std::vector<Tick> t;
    if (!(lo > 0) || !(hi > lo)) return t;
    for (int e = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
         std::pow(10.0, e) <= hi * (1 + 1e-9); ++e)
        t.push_back(Tick{std::pow(10.0, e), f(std::pow(10.0, e))});
    if (t.empty()) t = {Tick{lo, f(lo)}, Tick{hi, f(hi)}};
    return t;
}

Scale nice_linear(double lo, double hi) {
    if (!std::isfinite(lo) || !std::isfinite(hi)) return Scale{0, 1, false};
    if (hi < lo) std::swap(lo, hi);
    if (hi == lo) {
        const double pad = lo == 0 ? 1 : std::fabs(lo) / 2;
        lo -= lo == 0 ? 0 : pad;
        hi += pad;
    }
    const double step = nice_step((hi - lo) / 5);
    return Scale{std::floor(lo / step + 1e-9) * step, std::ceil(hi / step - 1e-9) * step, false};
}

Scale nice_log(double lo, double hi) {
    lo = lo > 0 ? lo : 1;
    hi = std::max(hi, lo);
    double a = std::pow(10.0, std::floor(std::log10(lo) + 1e-9));
    double b = std::pow(10.0, std::ceil(std::log10(hi) - 1e-9));
    if (b <= a) b = a * 10;
    return Scale{a, b, true};
}

Chart::Chart(std::string id, int width, int height)
    : id_(std::move(id)), width_(width), height_(height) {}

void Chart::margins(int left, int right, int top, int bottom) {
    left_ = left;
    right_ = right;
    top_ = top;
    bottom_ = bottom;
}

void Chart::x_axis(Scale s, std::string title, Format f) {
    has_x_ = true;
    xs_ = s;
    x_title_ = std::move(title);
    xf_ = std::move(f);
}

void Chart::y_axis(Scale s, std::string title, Format f) {
    has_y_ = true;
    ys_ = s;
    y_title_ = std::move(title);
    yf_ = std::move(f);
}

double Chart::map(const Scale& s, double v, double p0, double p1) const {
    double u = 0;
    if (s.log) {
        const double lv = std::log10(std::max(v, s.lo));
        const double a = std::log10(s.lo), b = std::log10(s.hi);
        u = b > a ? (lv - a) / (b - a) : 0;
    } else {
        u = s.hi > s.lo ? (v - s.lo) / (s.hi - s.lo) : 0;
    }
    if (!std::isfinite(u)) u = 0;
    u = std::clamp(u, 0.0, 1.0);
    return p0 + u * (p1 - p0);
}

double Chart::px(double x) const {
    return map(xs_, x, left_, width_ - right_);
}

double Chart::py(double y) const {
    return map(ys_, y, height_ - bottom_, top_);
}

void Chart::bar(double x0, double x1, double y, std::string_view cls, std::string_view title) {
    const double a = px(x0), b = std::max(px(x1), a + 1);
    const double top = py(y), base = height_ - bottom_;
    body_ += "<rect class=\"" + escape(cls) + "\" x=\"" + num(a) + "\" y=\"" + num(top) +
             "\" width=\"" + num(b - a) + "\" height=\"" + num(base - top) + "\"><title>" +
             escape(title) + "</title></rect>";
}

void Chart::band(double x0, double x1, double top, double h, std::string_view cls,
                 std::string_view title) {
    const double a = px(x0), b = std::max(px(x1), a + 2);
    body_ += "<rect class=\"" + escape(cls) + "\" x=\"" + num(a) + "\" y=\"" + num(top) +
             "\" width=\"" + num(b - a) + "\" height=\"" + num(h) + "\"><title>" + escape(title) +
             "</title></rect>";
}

void Chart::marker(double x, double y_px, std::string_view cls, std::string_view title) {
    const double cx = px(x);
    const double r = 6;
    body_ += "<path class=\"" + escape(cls) + "\" d=\"M" + num(cx) + " " + num(y_px - r) + " L" +
             num(cx + r) + " " + num(y_px) + " L" + num(cx) + " " + num(y_px + r) + " L" +
             num(cx - r) + " " + num(y_px) + " Z\"><title>" + escape(title) + "</title></path>";
}

void Chart::label(double x_px, double y_px, std::string_view text, std::string_view anchor,
                  std::string_view cls) {
    body_ += "<text x=\"" + num(x_px) + "\" y=\"" + num(y_px) + "\" text-anchor=\"" +
             escape(anchor) + "\"" + (cls.empty() ? "" : " class=\"" + escape(cls) + "\"") + ">" +
             escape(text) + "</text>";
}

std::string Chart::axes() const {
    std::string s;
    const double x0 = left_, x1 = width_ - right_, y0 = height_ - bottom_, y1 = top_;
    if (has_x_) {
        s += "<line class=\"axis\" x1=\"" + num(x0) + "\" y1=\"" + num(y0) + "\" x2=\"" + num(x1) +
             "\" y2=\"" + num(y0) + "\"/>";
        const std::vector<Tick> ticks =
            xs_.log ? log_ticks(xs_.lo, xs_.hi, xf_) : linear_ticks(xs_.lo, xs_.hi, 6, xf_);
        for (const Tick& t : ticks) {
            const double x = px(t.value);
            s += "<line class=\"tick\" x1=\"" + num(x) + "\" y1=\"" + num(y0) + "\" x2=\"" +
                 num(x) + "\" y2=\"" + num(y0 + 5) + "\"/><text class=\"tick-label\" x=\"" +
                 num(x) + "\" y=\"" + num(y0 + 17) + "\" text-anchor=\"middle\">" +
                 escape(t.label) + "</text>";
        }
        s += "<text class=\"axis-title\" x=\"" + num((x0 + x1) / 2) + "\" y=\"" +
             num(height_ - 6.0) + "\" text-anchor=\"middle\">" + escape(x_title_) + "</text>";
    }
    if (has_y_) {
        s += "<line class=\"axis\" x1=\"" + num(x0) + "\" y1=\"" + num(y0) + "\" x2=\"" + num(x0) +
             "\" y2=\"" + num(y1) + "\"/>";
        const std::vector<Tick> ticks =
            ys_.log ? log_ticks(ys_.lo, ys_.hi, yf_) : linear_ticks(ys_.lo, ys_.hi, 4, yf_);
        for (const Tick& t : ticks) {
            const double y = py(t.value);
            s += "<line class=\"tick\" x1=\"" + num(x0 - 5) + "\" y1=\"" + num(y) + "\" x2=\"" +
                 num(x0) + "\" y2=\"" + num(y) + "\"/><line class=\"grid\" x1=\"" + num(x0) +
                 "\" y1=\"" + num(y) + "\" x2=\"" + num(x1) + "\" y2=\"" + num(y) +
                 "\"/><text class=\"tick-label\" x=\"" + num(x0 - 8) + "\" y=\"" + num(y + 4) +
                 "\" text-anchor=\"end\">" + escape(t.label) + "</text>";
        }
        s += "<text class=\"axis-title\" transform=\"translate(14 " + num((y0 + y1) / 2) +
             ") rotate(-90)\" text-anchor=\"middle\">" + escape(y_title_) + "</text>";
    }
    return s;
}

std::string Chart::str() const {
    return "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + escape(id_) + "\" width=\"" +
           std::to_string(width_) + "\" height=\"" + std::to_string(height_) + "\" viewBox=\"0 0 " +
           std::to_string(width_) + " " + std::to_string(height_) + "\" role=\"img\">" + axes() +
           body_ + "</svg>";
}

}  // namespace ipct::svg
