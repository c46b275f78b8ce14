// The bench's HTML page (`bench --html FILE`): one self-contained file (inline
// CSS and SVG, no script, nothing fetched) with the machine facts, the
// THROUGHPUT, LATENCY and COMPARISON tables, the cells not measured, the
// failures, and a bar chart of the harness-on / raw throughput ratio per
// cell.
//
// The page is drawn from the very object `bench --json FILE` writes, never
// from the bench's own structures, so the two cannot disagree and a saved
// JSON can be turned into a page later (`bench --from-json F --html H`).
// Every member is read leniently: a missing one, or a null (a NaN the JSON
// writer could not spell), shows as "-".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace ipct {

// The page; `source`, when not empty, is named at the top as where the
// figures were read from (a saved JSON file).
std::string bench_html(const nlohmann::json& bench, const std::string& source = "");

// Writes bench_html() to path; EnvironmentError if it cannot.
void write_bench_html(const std::string& path, const nlohmann::json& bench,
                      const std::string& source = "");

// `bench --from-json JSON --html HTML`: the page of a saved bench JSON.  Exit
// status 0, 2 the JSON cannot be read or is not a bench's (said on stderr),
// 3 the page cannot be written.
int bench_html_from_json(const std::string& json_path, const std::string& html_path);

}  // namespace ipct
