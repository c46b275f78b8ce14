// JUnit XML reports (`run --junit FILE`), in the dialect Jenkins and GitLab
// read (harness/test/data/junit.xsd describes it):
//
//   <testsuites>               the whole command
//     <testsuite>              one per scenario file, in run order
//       <properties>           the command line
//       <testcase>             one per scenario, matrix cell and repetition
//         <properties>         seed, reproduction command
//         <failure>            findings (verdict FAIL)
//         <error>              a harness or environment error, or an interrupted run
//         <skipped>            not run: an earlier run was interrupted
//         <system-out>         seed, reproduction command, kept run directory
//
// classname: the scenario file's path without its extension (relative to the
// working directory when under it), '/' turned into '.'
// ("scenarios.smoke.pipe-one-to-one"), because Jenkins splits a classname
// at its last dot into package and class; the path itself is the testcase's
// `file` attribute (GitLab shows it).  name: the scenario's name, which ends
// in its matrix cell's label, plus " (repetition K)" when repeated (K from 1).
//
// Every string goes through xml_text()/xml_attribute(): XML 1.0 cannot carry
// most control characters at all (not even as character references), and
// evidence, sanitizer stacks or a command line may hold them, or bytes that
// are not UTF-8.  Those are replaced, so the document is always well formed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ipctorture/report.hpp"

namespace ipct {

// A scenario the command meant to run but did not (an earlier run was
// interrupted): a <skipped> testcase, so that the report lists every case.
struct NotRun {
    std::string file, name;
    std::string reason;
};

// Element text: & < > escaped, a carriage return kept as &#13;, other control
// characters XML 1.0 forbids (and U+FFFE, U+FFFF) written as the visible
// text "\xHH" / "\u{FFFE}", every byte that is not part of well-formed UTF-8
// (overlong forms, surrogates, > U+10FFFF, truncated sequences) replaced by
// U+FFFD.
std::string xml_text(std::string_view s);
// As xml_text(), and also " ' escaped and tab, newline, carriage return as
// character references (an attribute value's whitespace is otherwise
// normalised to spaces by every parser).
std::string xml_attribute(std::string_view s);

// The testcase's classname and name, as described above.
std::string junit_classname(const std::string& file);
std::string junit_case_name(const ScenarioReport& r);

// The JUnit document for one command's runs.  per_kind caps the findings
// written out per kind (the counts in the failure message stay exact).
std::string junit_xml(const std::vector<ScenarioReport>& reps, const std::vector<NotRun>& not_run,
                      const std::string& command, std::size_t per_kind = 5);

// Writes text to path atomically: a temporary file in the same directory,
// then rename(), so that a reader (or a killed run) never sees half a file.
// Throws EnvironmentError naming the path and the reason.
void write_file_atomically(const std::string& path, const std::string& text);
// Throws EnvironmentError if a file cannot be created in path's directory
// (checked before the runs, so a long run does not end in an unwritable path).
void check_writable(const std::string& path);

}  // namespace ipct
